/**
 * The SD VAE encoder (diffusers AutoencoderKL `encoder` + `quant_conv`) as a plan of
 * blocks shared by the GPU encoder and this float64 twin, with the twin's forward pass
 * and its vector–Jacobian product down to the pixels.
 *
 * @module
 */
import { requireFinite, requireInt } from "../validate.ts";
import { attentionBackwardTwin, attentionTwin } from "./attention_twin.ts";
import { conv2dBackwardTwin, conv2dGeometry, type Conv2dShape, conv2dTwin } from "./conv2d_twin.ts";
import { groupNormBackwardTwin, type GroupNormShape, groupNormTwin } from "./group_norm_twin.ts";

/**
 * Architecture of an AutoencoderKL encoder; defaults are SD v1.5's.
 *
 * @example
 * ```ts
 * import { type VaeEncoderConfig, vaeEncoderPlan } from "./vae_encoder_twin.ts";
 * const tiny: VaeEncoderConfig = { channels: [8, 16], groups: 4 };
 * console.log(vaeEncoderPlan(tiny, { height: 16, width: 16 }).latent); // { channels: 4, height: 8, width: 8 }
 * ```
 */
export interface VaeEncoderConfig {
  /** `block_out_channels`; defaults to [128, 256, 512, 512]. */
  channels?: number[];
  /** `layers_per_block`; defaults to 2. */
  layersPerBlock?: number;
  /** `norm_num_groups`; defaults to 32. */
  groups?: number;
  /** GroupNorm ε; defaults to 1e-6. */
  eps?: number;
  /** `in_channels`; defaults to 3. */
  inChannels?: number;
  /** `latent_channels`; defaults to 4 (the moments hold twice as many). */
  latentChannels?: number;
}

/**
 * One block of the plan; `prefix` is its tensor-name prefix in diffusers' state dict.
 *
 * @example
 * ```ts
 * import { type VaeBlock, vaeBlockOutput, vaeEncoderPlan } from "./vae_encoder_twin.ts";
 * const plan = vaeEncoderPlan({ channels: [8, 16], groups: 4, layersPerBlock: 1 }, { height: 16, width: 16 });
 * const attention: VaeBlock = plan.blocks.find((b) => b.kind === "attention")!;
 * console.log(attention.prefix, vaeBlockOutput(attention)); // encoder.mid_block.attentions.0 { channels: 16, height: 8, width: 8 }
 * ```
 */
export type VaeBlock =
  | { kind: "conv"; prefix: string; shape: Conv2dShape }
  | { kind: "norm"; prefix: string; shape: GroupNormShape }
  | { kind: "resnet"; prefix: string; in: number; out: number; height: number; width: number }
  | { kind: "attention"; prefix: string; channels: number; height: number; width: number };

/**
 * The encoder unrolled for one input size.
 *
 * @example
 * ```ts
 * import { type VaeEncoderPlan, vaeEncoderPlan } from "./vae_encoder_twin.ts";
 * const plan: VaeEncoderPlan = vaeEncoderPlan({}, { height: 256, width: 256 });
 * console.log(plan.input, plan.latent, plan.groups); // { channels: 3, height: 256, width: 256 } { channels: 4, height: 32, width: 32 } 32
 * ```
 */
export interface VaeEncoderPlan {
  /** Blocks in forward order; block i reads activation i and writes activation i + 1. */
  blocks: VaeBlock[];
  /** Input `[1][inChannels][H][W]` sizes. */
  input: { channels: number; height: number; width: number };
  /** Latent (not moments) sizes. */
  latent: { channels: number; height: number; width: number };
  /** Groups and ε of every GroupNorm. */
  groups: number;
  /** GroupNorm ε. */
  eps: number;
  /** Every weight tensor the plan reads, with its shape. */
  tensors: Record<string, number[]>;
}

/**
 * Unrolls a config for an input of `size` (batch 1): conv_in, down blocks of resnets
 * (each but the last ending in a stride-2 Downsample2D padded right and bottom), the mid
 * block (resnet, attention, resnet), conv_norm_out + SiLU, conv_out, quant_conv.
 *
 * @example
 * ```ts
 * import { vaeEncoderPlan } from "./vae_encoder_twin.ts";
 * const plan = vaeEncoderPlan({}, { height: 512, width: 512 });
 * console.log(plan.blocks.length, Object.keys(plan.tensors).length, plan.latent.height); // 18 108 64
 * ```
 */
export function vaeEncoderPlan(
  config: VaeEncoderConfig,
  size: { height: number; width: number },
): VaeEncoderPlan {
  const channels = config.channels ?? [128, 256, 512, 512];
  if (channels.length === 0) throw new RangeError("Invalid option channels: expected at least one");
  const groups = requireInt("groups", config.groups ?? 32, { min: 1 });
  channels.forEach((c, i) => {
    requireInt(`channels[${i}]`, c, { min: 1 });
    if (c % groups !== 0) {
      throw new RangeError(
        `Invalid option channels[${i}]: expected a multiple of groups ${groups}, got ${c}`,
      );
    }
  });
  const layers = requireInt("layersPerBlock", config.layersPerBlock ?? 2, { min: 1 });
  const eps = requireFinite("eps", config.eps ?? 1e-6, { min: 0 });
  const inChannels = requireInt("inChannels", config.inChannels ?? 3, { min: 1 });
  const latentChannels = requireInt("latentChannels", config.latentChannels ?? 4, { min: 1 });
  let height = requireInt("height", size.height, { min: 1 });
  let width = requireInt("width", size.width, { min: 1 });
  const blocks: VaeBlock[] = [];
  const tensors: Record<string, number[]> = {};
  const conv = (prefix: string, shape: Conv2dShape) => {
    blocks.push({ kind: "conv", prefix, shape });
    convTensors(tensors, prefix, shape);
  };
  const resnet = (prefix: string, cin: number, cout: number) => {
    blocks.push({ kind: "resnet", prefix, in: cin, out: cout, height, width });
    tensors[`${prefix}.norm1.weight`] = [cin];
    tensors[`${prefix}.norm1.bias`] = [cin];
    tensors[`${prefix}.conv1.weight`] = [cout, cin, 3, 3];
    tensors[`${prefix}.conv1.bias`] = [cout];
    tensors[`${prefix}.norm2.weight`] = [cout];
    tensors[`${prefix}.norm2.bias`] = [cout];
    tensors[`${prefix}.conv2.weight`] = [cout, cout, 3, 3];
    tensors[`${prefix}.conv2.bias`] = [cout];
    if (cin !== cout) {
      tensors[`${prefix}.conv_shortcut.weight`] = [cout, cin, 1, 1];
      tensors[`${prefix}.conv_shortcut.bias`] = [cout];
    }
  };
  const base = { batch: 1 };
  conv("encoder.conv_in", {
    ...base,
    inChannels,
    outChannels: channels[0]!,
    height,
    width,
    kernel: 3,
  });
  let c = channels[0]!;
  channels.forEach((out, i) => {
    for (let j = 0; j < layers; j++) {
      resnet(`encoder.down_blocks.${i}.resnets.${j}`, c, out);
      c = out;
    }
    if (i < channels.length - 1) {
      const shape: Conv2dShape = {
        ...base,
        inChannels: c,
        outChannels: c,
        height,
        width,
        kernel: 3,
        stride: 2,
        padding: { top: 0, left: 0, bottom: 1, right: 1 },
      };
      conv(`encoder.down_blocks.${i}.downsamplers.0.conv`, shape);
      const g = conv2dGeometry(shape);
      height = g.outHeight;
      width = g.outWidth;
    }
  });
  resnet("encoder.mid_block.resnets.0", c, c);
  const attn = "encoder.mid_block.attentions.0";
  blocks.push({ kind: "attention", prefix: attn, channels: c, height, width });
  tensors[`${attn}.group_norm.weight`] = [c];
  tensors[`${attn}.group_norm.bias`] = [c];
  for (const lin of ["to_q", "to_k", "to_v", "to_out.0"]) {
    tensors[`${attn}.${lin}.weight`] = [c, c];
    tensors[`${attn}.${lin}.bias`] = [c];
  }
  resnet("encoder.mid_block.resnets.1", c, c);
  const norm: GroupNormShape = { ...base, channels: c, height, width, groups, eps, silu: true };
  blocks.push({ kind: "norm", prefix: "encoder.conv_norm_out", shape: norm });
  tensors["encoder.conv_norm_out.weight"] = [c];
  tensors["encoder.conv_norm_out.bias"] = [c];
  const m = 2 * latentChannels;
  conv("encoder.conv_out", { ...base, inChannels: c, outChannels: m, height, width, kernel: 3 });
  conv("quant_conv", { ...base, inChannels: m, outChannels: m, height, width, kernel: 1 });
  return {
    blocks,
    input: { channels: inChannels, height: size.height, width: size.width },
    latent: { channels: latentChannels, height, width },
    groups,
    eps,
    tensors,
  };
}

function convTensors(tensors: Record<string, number[]>, prefix: string, s: Conv2dShape): void {
  tensors[`${prefix}.weight`] = [s.outChannels, s.inChannels, s.kernel, s.kernel];
  tensors[`${prefix}.bias`] = [s.outChannels];
}

/**
 * Output channels, height and width of a block.
 *
 * @example
 * ```ts
 * import { vaeBlockOutput, vaeEncoderPlan } from "./vae_encoder_twin.ts";
 * const plan = vaeEncoderPlan({ channels: [8, 16], groups: 4 }, { height: 16, width: 16 });
 * console.log(vaeBlockOutput(plan.blocks[0]!)); // { channels: 8, height: 16, width: 16 }
 * ```
 */
export function vaeBlockOutput(b: VaeBlock): { channels: number; height: number; width: number } {
  switch (b.kind) {
    case "conv": {
      const g = conv2dGeometry(b.shape);
      return { channels: g.outChannels, height: g.outHeight, width: g.outWidth };
    }
    case "norm":
      return { channels: b.shape.channels, height: b.shape.height, width: b.shape.width };
    case "resnet":
      return { channels: b.out, height: b.height, width: b.width };
    case "attention":
      return { channels: b.channels, height: b.height, width: b.width };
  }
}

/**
 * Weights by diffusers tensor name, row-major as in the state dict.
 *
 * @example
 * ```ts
 * import { type VaeWeights, vaeEncoderPlan, vaeEncoderTwin } from "./vae_encoder_twin.ts";
 * const plan = vaeEncoderPlan({ channels: [4], groups: 2, layersPerBlock: 1 }, { height: 2, width: 2 });
 * const weights: VaeWeights = Object.fromEntries(
 *   Object.entries(plan.tensors).map(([k, s]) => [k, new Float64Array(s.reduce((a, b) => a * b))]),
 * );
 * // With every other weight zero, the moments are quant_conv's bias: μ, then logvar.
 * weights["quant_conv.bias"] = [1, 2, 3, 4, -1, -2, -3, -4];
 * const moments = vaeEncoderTwin(plan, weights, new Float64Array(12));
 * console.log(moments[0], moments[16]); // 1 -1
 * ```
 */
export type VaeWeights = Record<string, ArrayLike<number>>;

/**
 * The shapes of the sub-ops of a resnet block: norm1, conv1, norm2, conv2 and the
 * optional 1x1 shortcut.
 *
 * @example
 * ```ts
 * import { resnetShapes } from "./vae_encoder_twin.ts";
 * const s = resnetShapes({ kind: "resnet", prefix: "r", in: 8, out: 16, height: 4, width: 4 }, { groups: 4, eps: 1e-6 });
 * console.log(s.shortcut?.kernel, s.norm2.channels); // 1 16
 * ```
 */
export function resnetShapes(
  b: Extract<VaeBlock, { kind: "resnet" }>,
  norm: { groups: number; eps: number },
): {
  norm1: GroupNormShape;
  conv1: Conv2dShape;
  norm2: GroupNormShape;
  conv2: Conv2dShape;
  shortcut: Conv2dShape | null;
} {
  const hw = { batch: 1, height: b.height, width: b.width };
  return {
    norm1: { ...hw, channels: b.in, ...norm, silu: true },
    conv1: { ...hw, inChannels: b.in, outChannels: b.out, kernel: 3 },
    norm2: { ...hw, channels: b.out, ...norm, silu: true },
    conv2: { ...hw, inChannels: b.out, outChannels: b.out, kernel: 3 },
    shortcut: b.in === b.out ? null : { ...hw, inChannels: b.in, outChannels: b.out, kernel: 1 },
  };
}

function weight(w: VaeWeights, name: string): ArrayLike<number> {
  const t = w[name];
  if (t === undefined) throw new Error(`Cannot run the VAE encoder: tensor ${name} missing`);
  return t;
}

function convOf(w: VaeWeights, prefix: string) {
  return { weight: weight(w, `${prefix}.weight`), bias: weight(w, `${prefix}.bias`) };
}

function normOf(w: VaeWeights, prefix: string) {
  return { gamma: weight(w, `${prefix}.weight`), beta: weight(w, `${prefix}.bias`) };
}

function add(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  return Float64Array.from(a, (v, i) => v + b[i]!);
}

function attentionShapes(b: Extract<VaeBlock, { kind: "attention" }>) {
  const hw = { batch: 1, height: b.height, width: b.width };
  return {
    linear: { ...hw, inChannels: b.channels, outChannels: b.channels, kernel: 1 } as Conv2dShape,
    core: { batch: 1, channels: b.channels, tokens: b.height * b.width },
  };
}

function blockForward(
  plan: VaeEncoderPlan,
  b: VaeBlock,
  w: VaeWeights,
  x: ArrayLike<number>,
): Float64Array {
  const norm = { groups: plan.groups, eps: plan.eps };
  switch (b.kind) {
    case "conv":
      return conv2dTwin(b.shape, { input: x, ...convOf(w, b.prefix) });
    case "norm":
      return groupNormTwin(b.shape, { input: x, ...normOf(w, b.prefix) });
    case "resnet": {
      const s = resnetShapes(b, norm);
      const a1 = groupNormTwin(s.norm1, { input: x, ...normOf(w, `${b.prefix}.norm1`) });
      const h1 = conv2dTwin(s.conv1, { input: a1, ...convOf(w, `${b.prefix}.conv1`) });
      const a2 = groupNormTwin(s.norm2, { input: h1, ...normOf(w, `${b.prefix}.norm2`) });
      const h2 = conv2dTwin(s.conv2, { input: a2, ...convOf(w, `${b.prefix}.conv2`) });
      const sc = s.shortcut === null
        ? x
        : conv2dTwin(s.shortcut, { input: x, ...convOf(w, `${b.prefix}.conv_shortcut`) });
      return add(sc, h2);
    }
    case "attention": {
      const s = attentionShapes(b);
      const gn: GroupNormShape = { ...s.linear, channels: b.channels, ...norm };
      const a = groupNormTwin(gn, { input: x, ...normOf(w, `${b.prefix}.group_norm`) });
      const lin = (name: string, input: ArrayLike<number>) =>
        conv2dTwin(s.linear, { input, ...convOf(w, `${b.prefix}.${name}`) });
      const o = attentionTwin(s.core, {
        query: lin("to_q", a),
        key: lin("to_k", a),
        value: lin("to_v", a),
      });
      return add(x, lin("to_out.0", o));
    }
  }
}

function blockBackward(
  plan: VaeEncoderPlan,
  b: VaeBlock,
  w: VaeWeights,
  io: { x: ArrayLike<number>; dy: ArrayLike<number> },
): Float64Array {
  const norm = { groups: plan.groups, eps: plan.eps };
  const { x, dy } = io;
  switch (b.kind) {
    case "conv":
      return conv2dBackwardTwin(b.shape, { input: x, ...convOf(w, b.prefix), gradOutput: dy })
        .gradInput;
    case "norm":
      return groupNormBackwardTwin(b.shape, { input: x, ...normOf(w, b.prefix), gradOutput: dy })
        .gradInput;
    case "resnet": {
      const s = resnetShapes(b, norm);
      const n1 = normOf(w, `${b.prefix}.norm1`);
      const n2 = normOf(w, `${b.prefix}.norm2`);
      const c1 = convOf(w, `${b.prefix}.conv1`);
      const c2 = convOf(w, `${b.prefix}.conv2`);
      const a1 = groupNormTwin(s.norm1, { input: x, ...n1 });
      const h1 = conv2dTwin(s.conv1, { input: a1, ...c1 });
      const a2 = groupNormTwin(s.norm2, { input: h1, ...n2 });
      const da2 = conv2dBackwardTwin(s.conv2, { input: a2, ...c2, gradOutput: dy }).gradInput;
      const dh1 = groupNormBackwardTwin(s.norm2, { input: h1, ...n2, gradOutput: da2 }).gradInput;
      const da1 = conv2dBackwardTwin(s.conv1, { input: a1, ...c1, gradOutput: dh1 }).gradInput;
      const dx = groupNormBackwardTwin(s.norm1, { input: x, ...n1, gradOutput: da1 }).gradInput;
      const dsc = s.shortcut === null ? dy : conv2dBackwardTwin(s.shortcut, {
        input: x,
        ...convOf(w, `${b.prefix}.conv_shortcut`),
        gradOutput: dy,
      }).gradInput;
      return add(dx, dsc);
    }
    case "attention": {
      const s = attentionShapes(b);
      const gn: GroupNormShape = { ...s.linear, channels: b.channels, ...norm };
      const nw = normOf(w, `${b.prefix}.group_norm`);
      const a = groupNormTwin(gn, { input: x, ...nw });
      const lw = (name: string) => convOf(w, `${b.prefix}.${name}`);
      const lin = (name: string, input: ArrayLike<number>) =>
        conv2dTwin(s.linear, { input, ...lw(name) });
      const qkv = { query: lin("to_q", a), key: lin("to_k", a), value: lin("to_v", a) };
      const o = attentionTwin(s.core, qkv);
      const dOut = conv2dBackwardTwin(s.linear, { input: o, ...lw("to_out.0"), gradOutput: dy })
        .gradInput;
      const g = attentionBackwardTwin(s.core, { ...qkv, gradOutput: dOut });
      const back = (name: string, gradOutput: ArrayLike<number>) =>
        conv2dBackwardTwin(s.linear, { input: a, ...lw(name), gradOutput }).gradInput;
      const da = add(
        add(back("to_q", g.gradQuery), back("to_k", g.gradKey)),
        back("to_v", g.gradValue),
      );
      return add(dy, groupNormBackwardTwin(gn, { input: x, ...nw, gradOutput: da }).gradInput);
    }
  }
}

/**
 * The encoder's moments `[1][2c][h][w]` (μ, then logvar) for an input `[1][C][H][W]`
 * already mapped to [−1, 1].
 *
 * @example
 * ```ts
 * import { vaeEncoderPlan, vaeEncoderTwin } from "./vae_encoder_twin.ts";
 * const plan = vaeEncoderPlan({ channels: [4], groups: 2, layersPerBlock: 1 }, { height: 2, width: 2 });
 * const weights = Object.fromEntries(
 *   Object.entries(plan.tensors).map(([k, s]) => [k, new Float64Array(s.reduce((a, b) => a * b)).fill(0.1)]),
 * );
 * console.log(vaeEncoderTwin(plan, weights, new Float64Array(12)).length); // 32
 * ```
 */
export function vaeEncoderTwin(
  plan: VaeEncoderPlan,
  weights: VaeWeights,
  input: ArrayLike<number>,
): Float64Array {
  let x: ArrayLike<number> = input;
  for (const b of plan.blocks) x = blockForward(plan, b, weights, x);
  return Float64Array.from(x);
}

/**
 * dL/dinput of the encoder for an upstream dL/dmoments (the posterior twin's backward
 * gives that from dL/dz).
 *
 * @example
 * ```ts
 * import { vaeEncoderBackwardTwin, vaeEncoderPlan } from "./vae_encoder_twin.ts";
 * const plan = vaeEncoderPlan({ channels: [4], groups: 2, layersPerBlock: 1 }, { height: 2, width: 2 });
 * const weights = Object.fromEntries(
 *   Object.entries(plan.tensors).map(([k, s]) => [k, new Float64Array(s.reduce((a, b) => a * b)).fill(0.1)]),
 * );
 * const dx = vaeEncoderBackwardTwin(plan, weights, { input: new Float64Array(12), gradOutput: new Float64Array(32).fill(1) });
 * console.log(dx.length); // 12
 * ```
 */
export function vaeEncoderBackwardTwin(
  plan: VaeEncoderPlan,
  weights: VaeWeights,
  io: { input: ArrayLike<number>; gradOutput: ArrayLike<number> },
): Float64Array {
  const acts: ArrayLike<number>[] = [io.input];
  for (const b of plan.blocks) acts.push(blockForward(plan, b, weights, acts[acts.length - 1]!));
  let dy: ArrayLike<number> = io.gradOutput;
  for (let i = plan.blocks.length - 1; i >= 0; i--) {
    dy = blockBackward(plan, plan.blocks[i]!, weights, { x: acts[i]!, dy });
  }
  return Float64Array.from(dy);
}
