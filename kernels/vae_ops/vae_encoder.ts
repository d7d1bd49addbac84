/**
 * The SD VAE encoder on the GPU with its backward pass (SPEC.md §4 "Encode", §10.2):
 * conv2d, GroupNorm (+ SiLU), attention and posterior ops composed along
 * {@linkcode vaeEncoderPlan}, weights loaded from a diffusers `vae/` safetensors file.
 * The weights are frozen: the backward pass gives dL/dpixels only.
 *
 * @module
 */
import { readSafetensors } from "../../io/safetensors.ts";
import type { Gpu } from "../gpu.ts";
import { Attention } from "./attention.ts";
import { Conv2d } from "./conv2d.ts";
import type { Conv2dShape } from "./conv2d_twin.ts";
import { GroupNorm } from "./group_norm.ts";
import type { GroupNormShape } from "./group_norm_twin.ts";
import { Posterior } from "./posterior.ts";
import { SD_VAE_SCALE } from "./posterior_twin.ts";
import {
  resnetShapes,
  type VaeBlock,
  vaeBlockOutput,
  type VaeEncoderConfig,
  type VaeEncoderPlan,
  vaeEncoderPlan,
  type VaeWeights,
} from "./vae_encoder_twin.ts";

/**
 * Options of {@linkcode VaeEncoder.create}.
 *
 * @example
 * ```ts
 * import type { VaeEncoderOptions } from "./vae_encoder.ts";
 * import { vaeEncoderPlan } from "./vae_encoder_twin.ts";
 * const config = { channels: [4, 8], groups: 2, layersPerBlock: 1 };
 * const tensors = vaeEncoderPlan(config, { height: 8, width: 8 }).tensors;
 * const options: VaeEncoderOptions = {
 *   config,
 *   height: 8,
 *   width: 8,
 *   weights: Object.fromEntries(
 *     Object.entries(tensors).map(([k, s]) => [k, new Float32Array(s.reduce((a, b) => a * b))]),
 *   ),
 *   backward: false,
 * };
 * // VaeEncoder.create(gpu, options) unrolls the same plan.
 * console.log(vaeEncoderPlan(options.config ?? {}, options).latent); // { channels: 4, height: 4, width: 4 }
 * ```
 */
export interface VaeEncoderOptions {
  /** Architecture; defaults are SD v1.5's. */
  config?: VaeEncoderConfig;
  /** Input height H (a multiple of 2^(blocks − 1) keeps every Downsample exact). */
  height: number;
  /** Input width W. */
  width: number;
  /** Weights by diffusers name (see {@linkcode loadVaeEncoderWeights}). */
  weights: VaeWeights;
  /** Build the backward pass; defaults to true. */
  backward?: boolean;
  /** The posterior's scale s; defaults to 0.18215. */
  scale?: number;
}

// One recorded command: a dispatch group inside a compute pass, or a buffer copy between passes.
type Command =
  | { pass: (p: GPUComputePassEncoder) => void }
  | { copy: { from: GPUBuffer; to: GPUBuffer; bytes: number } };

/**
 * The encoder for one input size, with every op, activation and gradient buffer built
 * once. Write the image (already mapped to [−1, 1]) into `input` and standard normal
 * noise into `noise`; {@linkcode VaeEncoder.encodeForward} leaves the moments and z in
 * `moments` and `latent`. Write dL/dz into `gradLatent`;
 * {@linkcode VaeEncoder.encodeBackward} (after a forward pass on the same input) leaves
 * dL/dinput in `gradInput`.
 *
 * @example A tiny random encoder
 * ```ts
 * import { acquireGpu } from "../gpu.ts";
 * import { VaeEncoder } from "./vae_encoder.ts";
 * import { vaeEncoderPlan } from "./vae_encoder_twin.ts";
 * const gpu = await acquireGpu({ log: null });
 * const config = { channels: [4, 8], groups: 2, layersPerBlock: 1 };
 * const plan = vaeEncoderPlan(config, { height: 8, width: 8 });
 * const weights = Object.fromEntries(
 *   Object.entries(plan.tensors).map(([k, s]) => [k, new Float32Array(s.reduce((a, b) => a * b)).fill(0.05)]),
 * );
 * const vae = await VaeEncoder.create(gpu, { config, height: 8, width: 8, weights });
 * gpu.upload(vae.input, new Float32Array(3 * 64).fill(0.5));
 * gpu.upload(vae.gradLatent!, new Float32Array(4 * 16).fill(1));
 * gpu.submit((e) => { vae.encodeForward(e); vae.encodeBackward(e); });
 * const dx = new Float32Array(await gpu.read(vae.gradInput!));
 * console.log(vae.plan.latent, dx.length); // { channels: 4, height: 4, width: 4 } 192
 * gpu.destroy();
 * ```
 */
export class VaeEncoder {
  /** The unrolled architecture. */
  readonly plan: VaeEncoderPlan;
  /** x `[1][C][H][W]` in [−1, 1], written by the caller. */
  readonly input: GPUBuffer;
  /** n `[1][c][h][w]`, written by the caller. */
  readonly noise: GPUBuffer;
  /** Moments `[1][2c][h][w]`: μ, then logvar. */
  readonly moments: GPUBuffer;
  /** z = s·(μ + σ·n) `[1][c][h][w]`. */
  readonly latent: GPUBuffer;
  /** dL/dz, written by the caller before the backward pass. */
  readonly gradLatent: GPUBuffer | undefined;
  /** dL/dx after the backward pass. */
  readonly gradInput: GPUBuffer | undefined;
  readonly #forward: Command[];
  readonly #backward: Command[];
  readonly #owned: GPUBuffer[];
  readonly #ops: { destroy(): void }[];

  private constructor(parts: {
    plan: VaeEncoderPlan;
    input: GPUBuffer;
    noise: GPUBuffer;
    moments: GPUBuffer;
    latent: GPUBuffer;
    gradLatent: GPUBuffer | undefined;
    gradInput: GPUBuffer | undefined;
    forward: Command[];
    backward: Command[];
    owned: GPUBuffer[];
    ops: { destroy(): void }[];
  }) {
    this.plan = parts.plan;
    this.input = parts.input;
    this.noise = parts.noise;
    this.moments = parts.moments;
    this.latent = parts.latent;
    this.gradLatent = parts.gradLatent;
    this.gradInput = parts.gradInput;
    this.#forward = parts.forward;
    this.#backward = parts.backward;
    this.#owned = parts.owned;
    this.#ops = parts.ops;
  }

  /** Uploads the weights, allocates every activation and builds every op, once. */
  static async create(gpu: Gpu, options: VaeEncoderOptions): Promise<VaeEncoder> {
    const plan = vaeEncoderPlan(options.config ?? {}, options);
    const backward = options.backward ?? true;
    const owned: GPUBuffer[] = [];
    const ops: { destroy(): void }[] = [];
    const buffer = (floats: number, label: string) => {
      const b = gpu.createBuffer(floats * 4, { label });
      owned.push(b);
      return b;
    };
    const weight = (name: string): GPUBuffer => {
      const t = options.weights[name];
      const shape = plan.tensors[name]!;
      const size = shape.reduce((a, b) => a * b, 1);
      if (t === undefined) {
        throw new Error(`Cannot load VAE weights: tensor ${name} missing`);
      }
      if (t.length !== size) {
        throw new RangeError(
          `Cannot load VAE weights: tensor ${name} has ${t.length} values, expected ${size} for shape [${shape}]`,
        );
      }
      const b = gpu.createBuffer(Float32Array.from(t), { label: name });
      owned.push(b);
      return b;
    };
    const sizeOf = (s: { channels: number; height: number; width: number }) =>
      s.channels * s.height * s.width;
    const acts = [buffer(sizeOf(plan.input), "vae input")];
    const grads = backward ? [buffer(sizeOf(plan.input), "vae dL/dinput")] : [];
    for (const b of plan.blocks) {
      acts.push(buffer(sizeOf(vaeBlockOutput(b)), `${b.prefix} output`));
      if (backward) grads.push(buffer(sizeOf(vaeBlockOutput(b)), `${b.prefix} gradient`));
    }
    const forward: Command[] = [];
    const back: Command[][] = [];
    const conv = async (
      prefix: string,
      shape: Conv2dShape,
      io: {
        input: GPUBuffer;
        output: GPUBuffer;
        gradOutput?: GPUBuffer | undefined;
        gradInput?: GPUBuffer | undefined;
        accumulateOutput?: boolean;
        accumulateGradInput?: boolean;
      },
    ) => {
      const op = await Conv2d.create(gpu, {
        shape,
        input: io.input,
        output: io.output,
        weight: weight(`${prefix}.weight`),
        bias: weight(`${prefix}.bias`),
        accumulateOutput: io.accumulateOutput ?? false,
        accumulateGradInput: io.accumulateGradInput ?? false,
        ...(backward && io.gradInput !== undefined
          ? { gradOutput: io.gradOutput!, gradInput: io.gradInput }
          : {}),
      });
      ops.push(op);
      return op;
    };
    const norm = async (
      prefix: string,
      shape: GroupNormShape,
      io: {
        input: GPUBuffer;
        output: GPUBuffer;
        gradOutput?: GPUBuffer | undefined;
        gradInput?: GPUBuffer | undefined;
        accumulateGradInput?: boolean;
      },
    ) => {
      const op = await GroupNorm.create(gpu, {
        shape,
        input: io.input,
        output: io.output,
        gamma: weight(`${prefix}.weight`),
        beta: weight(`${prefix}.bias`),
        accumulateGradInput: io.accumulateGradInput ?? false,
        ...(backward && io.gradInput !== undefined
          ? { gradOutput: io.gradOutput!, gradInput: io.gradInput }
          : {}),
      });
      ops.push(op);
      return op;
    };
    const groupNorm = { groups: plan.groups, eps: plan.eps };
    for (let i = 0; i < plan.blocks.length; i++) {
      const b = plan.blocks[i]!;
      const x = acts[i]!;
      const y = acts[i + 1]!;
      const dx = grads[i];
      const dy = grads[i + 1];
      const fw: Command[] = [];
      const bw: Command[] = [];
      if (b.kind === "conv" || b.kind === "norm") {
        const io = { input: x, output: y, gradOutput: dy, gradInput: dx };
        const op = b.kind === "conv"
          ? await conv(b.prefix, b.shape, io)
          : await norm(b.prefix, b.shape, io);
        fw.push({ pass: (p) => op.encodeForward(p) });
        bw.push({ pass: (p) => op.encodeBackward(p) });
      } else if (b.kind === "resnet") {
        await resnetCommands(b, { x, y, dx, dy }, { fw, bw });
      } else {
        await attentionCommands(b, { x, y, dx, dy }, { fw, bw });
      }
      forward.push(...fw);
      back.push(bw);
    }

    async function resnetCommands(
      b: Extract<VaeBlock, { kind: "resnet" }>,
      io: { x: GPUBuffer; y: GPUBuffer; dx: GPUBuffer | undefined; dy: GPUBuffer | undefined },
      out: { fw: Command[]; bw: Command[] },
    ): Promise<void> {
      const s = resnetShapes(b, groupNorm);
      const hw = b.height * b.width;
      const grad = (floats: number, label: string) =>
        backward ? buffer(floats, `${b.prefix} ${label}`) : undefined;
      const a1 = buffer(b.in * hw, `${b.prefix} a1`);
      const h1 = buffer(b.out * hw, `${b.prefix} h1`);
      const a2 = buffer(b.out * hw, `${b.prefix} a2`);
      const da1 = grad(b.in * hw, "da1");
      const dh1 = grad(b.out * hw, "dh1");
      const da2 = grad(b.out * hw, "da2");
      const n1 = await norm(`${b.prefix}.norm1`, s.norm1, {
        input: io.x,
        output: a1,
        gradOutput: da1,
        gradInput: io.dx,
        accumulateGradInput: true,
      });
      const c1 = await conv(`${b.prefix}.conv1`, s.conv1, {
        input: a1,
        output: h1,
        gradOutput: dh1,
        gradInput: da1,
      });
      const n2 = await norm(`${b.prefix}.norm2`, s.norm2, {
        input: h1,
        output: a2,
        gradOutput: da2,
        gradInput: dh1,
      });
      const c2 = await conv(`${b.prefix}.conv2`, s.conv2, {
        input: a2,
        output: io.y,
        gradOutput: io.dy,
        gradInput: da2,
        accumulateOutput: true,
      });
      const bytes = b.out * hw * 4;
      if (s.shortcut === null) {
        out.fw.push({ copy: { from: io.x, to: io.y, bytes } });
      } else {
        const sc = await conv(`${b.prefix}.conv_shortcut`, s.shortcut, {
          input: io.x,
          output: io.y,
          gradOutput: io.dy,
          gradInput: io.dx,
        });
        out.fw.push({ pass: (p) => sc.encodeForward(p) });
        out.bw.push({ pass: (p) => sc.encodeBackward(p) });
      }
      out.fw.push({
        pass: (p) => {
          n1.encodeForward(p);
          c1.encodeForward(p);
          n2.encodeForward(p);
          c2.encodeForward(p);
        },
      });
      if (s.shortcut === null && io.dy !== undefined && io.dx !== undefined) {
        out.bw.unshift({ copy: { from: io.dy, to: io.dx, bytes } });
      }
      // The shortcut (or the copy) writes dL/dx first; norm1's backward adds into it.
      out.bw.push({
        pass: (p) => {
          c2.encodeBackward(p);
          n2.encodeBackward(p);
          c1.encodeBackward(p);
          n1.encodeBackward(p);
        },
      });
    }

    async function attentionCommands(
      b: Extract<VaeBlock, { kind: "attention" }>,
      io: { x: GPUBuffer; y: GPUBuffer; dx: GPUBuffer | undefined; dy: GPUBuffer | undefined },
      out: { fw: Command[]; bw: Command[] },
    ): Promise<void> {
      const C = b.channels;
      const T = b.height * b.width;
      const hw = { batch: 1, height: b.height, width: b.width };
      const linear: Conv2dShape = { ...hw, inChannels: C, outChannels: C, kernel: 1 };
      const act = (label: string) => buffer(C * T, `${b.prefix} ${label}`);
      const grad = (label: string) => backward ? act(`d${label}`) : undefined;
      const [a, q, k, v, o] = ["a", "q", "k", "v", "o"].map(act) as [
        GPUBuffer,
        GPUBuffer,
        GPUBuffer,
        GPUBuffer,
        GPUBuffer,
      ];
      const [da, dq, dk, dv, dout] = ["a", "q", "k", "v", "o"].map(grad);
      const gn = await norm(`${b.prefix}.group_norm`, { ...hw, channels: C, ...groupNorm }, {
        input: io.x,
        output: a,
        gradOutput: da,
        gradInput: io.dx,
        accumulateGradInput: true,
      });
      const lin = (name: string, x: GPUBuffer, y: GPUBuffer, g: {
        dy: GPUBuffer | undefined;
        dx: GPUBuffer | undefined;
        accumulateGradInput?: boolean;
        accumulateOutput?: boolean;
      }) =>
        conv(`${b.prefix}.${name}`, linear, {
          input: x,
          output: y,
          gradOutput: g.dy,
          gradInput: g.dx,
          accumulateGradInput: g.accumulateGradInput ?? false,
          accumulateOutput: g.accumulateOutput ?? false,
        });
      const toQ = await lin("to_q", a, q, { dy: dq, dx: da });
      const toK = await lin("to_k", a, k, { dy: dk, dx: da, accumulateGradInput: true });
      const toV = await lin("to_v", a, v, { dy: dv, dx: da, accumulateGradInput: true });
      const toOut = await lin("to_out.0", o, io.y, {
        dy: io.dy,
        dx: dout,
        accumulateOutput: true,
      });
      const core = await Attention.create(gpu, {
        shape: { batch: 1, channels: C, tokens: T },
        query: q,
        key: k,
        value: v,
        output: o,
        ...(backward ? { gradOutput: dout!, gradQuery: dq!, gradKey: dk!, gradValue: dv! } : {}),
      });
      ops.push(core);
      out.fw.push({ copy: { from: io.x, to: io.y, bytes: C * T * 4 } });
      out.fw.push({
        pass: (p) => {
          gn.encodeForward(p);
          toQ.encodeForward(p);
          toK.encodeForward(p);
          toV.encodeForward(p);
          core.encodeForward(p);
          toOut.encodeForward(p);
        },
      });
      if (io.dy !== undefined && io.dx !== undefined) {
        out.bw.push({ copy: { from: io.dy, to: io.dx, bytes: C * T * 4 } });
        out.bw.push({
          pass: (p) => {
            toOut.encodeBackward(p);
            core.encodeBackward(p);
            toQ.encodeBackward(p);
            toK.encodeBackward(p);
            toV.encodeBackward(p);
            gn.encodeBackward(p);
          },
        });
      }
    }

    const latentFloats = sizeOf(plan.latent);
    const noise = buffer(latentFloats, "vae noise");
    const latent = buffer(latentFloats, "vae latent");
    const gradLatent = backward ? buffer(latentFloats, "vae dL/dz") : undefined;
    const moments = acts[acts.length - 1]!;
    const post = await Posterior.create(gpu, {
      shape: { batch: 1, ...plan.latent, scale: options.scale ?? SD_VAE_SCALE },
      moments,
      noise,
      latent,
      ...(backward ? { gradLatent: gradLatent!, gradMoments: grads[grads.length - 1]! } : {}),
    });
    ops.push(post);
    forward.push({ pass: (p) => post.encodeForward(p) });
    const backwardCommands: Command[] = backward ? [{ pass: (p) => post.encodeBackward(p) }] : [];
    for (let i = back.length - 1; i >= 0; i--) backwardCommands.push(...back[i]!);
    return new VaeEncoder({
      plan,
      input: acts[0]!,
      noise,
      moments,
      latent,
      gradLatent,
      gradInput: backward ? grads[0] : undefined,
      forward,
      backward: backwardCommands,
      owned,
      ops,
    });
  }

  /** Records the encoder and the posterior sample. */
  encodeForward(encoder: GPUCommandEncoder): void {
    run(encoder, this.#forward);
  }

  /** Records dL/dinput from dL/dz; needs the activations of a forward pass. */
  encodeBackward(encoder: GPUCommandEncoder): void {
    if (this.gradInput === undefined) {
      throw new Error("VaeEncoder was created with backward: false: no backward pass");
    }
    run(encoder, this.#backward);
  }

  /** Frees every buffer this object created (weights, activations, gradients). */
  destroy(): void {
    for (const op of this.#ops) op.destroy();
    for (const b of this.#owned) b.destroy();
  }
}

function run(encoder: GPUCommandEncoder, commands: Command[]): void {
  let pass: GPUComputePassEncoder | null = null;
  for (const c of commands) {
    if ("copy" in c) {
      pass?.end();
      pass = null;
      encoder.copyBufferToBuffer(c.copy.from, 0, c.copy.to, 0, c.copy.bytes);
    } else {
      pass ??= encoder.beginComputePass();
      c.pass(pass);
    }
  }
  pass?.end();
}

// Older diffusers checkpoints name the attention layers query/key/value/proj_attn.
const LEGACY_ATTENTION: Record<string, string> = {
  to_q: "query",
  to_k: "key",
  to_v: "value",
  "to_out.0": "proj_attn",
};

/**
 * Reads the encoder's tensors (and quant_conv's) from a diffusers `vae/` safetensors file,
 * F16 or F32, accepting the legacy attention names too.
 *
 * @param path the `diffusion_pytorch_model.safetensors` file
 * @param options the architecture (SD v1.5 by default)
 * @returns the weights by current diffusers name
 *
 * @example
 * ```ts
 * import { writeSafetensors } from "../../io/safetensors.ts";
 * import { loadVaeEncoderWeights } from "./vae_encoder.ts";
 * import { vaeEncoderPlan } from "./vae_encoder_twin.ts";
 * const config = { channels: [4], groups: 2, layersPerBlock: 1 };
 * const plan = vaeEncoderPlan(config, { height: 2, width: 2 });
 * const path = await Deno.makeTempFile({ suffix: ".safetensors" });
 * await writeSafetensors(path, Object.fromEntries(Object.entries(plan.tensors).map(([k, shape]) => [
 *   k, { dtype: "F32" as const, shape, data: new Float32Array(shape.reduce((a, b) => a * b)) },
 * ])));
 * const weights = await loadVaeEncoderWeights(path, { config });
 * console.log(Object.keys(weights).length); // 42
 * await Deno.remove(path);
 * ```
 */
export async function loadVaeEncoderWeights(
  path: string,
  options: { config?: VaeEncoderConfig } = {},
): Promise<VaeWeights> {
  // The tensor names do not depend on the input size.
  const plan = vaeEncoderPlan(options.config ?? {}, { height: 64, width: 64 });
  const { tensors } = await readSafetensors(path);
  const out: VaeWeights = {};
  for (const [name, shape] of Object.entries(plan.tensors)) {
    let t = tensors[name];
    if (t === undefined) {
      const legacy = name.replace(
        /\.(to_q|to_k|to_v|to_out\.0)\.(weight|bias)$/,
        (_, l, p) => `.${LEGACY_ATTENTION[l]}.${p}`,
      );
      t = tensors[legacy];
    }
    if (t === undefined) {
      throw new Error(`Cannot load VAE weights: tensor ${name} missing from ${path}`);
    }
    const size = shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== size) {
      throw new Error(
        `Cannot load VAE weights: tensor ${name} in ${path} has shape [${t.shape}], expected [${shape}]`,
      );
    }
    out[name] = Float32Array.from(t.data as ArrayLike<number>);
  }
  return out;
}
