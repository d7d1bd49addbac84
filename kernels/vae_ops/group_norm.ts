/**
 * The VAE encoder's GroupNorm on the GPU (`group_norm.wgsl`), SiLU optionally fused on its
 * output: forward, dL/dx and, when asked for, dL/dγ and dL/dβ. NCHW activations.
 *
 * @module
 */
import type { Gpu } from "../gpu.ts";
import { requireBuffer, runAndRead, upload } from "./_buffers.ts";
import {
  type GroupNormGeometry,
  groupNormGeometry,
  type GroupNormShape,
} from "./group_norm_twin.ts";

/** Workgroup size of every `group_norm.wgsl` entry point. */
export const GROUP_NORM_WORKGROUP = 256;

/** Buffers bound once by {@linkcode GroupNorm.create}. */
export interface GroupNormBuffers {
  /** x `[N][C][H][W]`. */
  input: GPUBuffer;
  /** γ `[C]`. */
  gamma: GPUBuffer;
  /** β `[C]`. */
  beta: GPUBuffer;
  /** y, same shape as x, overwritten by the forward pass. */
  output: GPUBuffer;
  /** dL/dy; needed for the backward pass. */
  gradOutput?: GPUBuffer;
  /** dL/dx, written (or added to: `accumulateGradInput`) by the backward pass. */
  gradInput?: GPUBuffer;
  /** dL/dγ, added to by the backward pass; omit (with `gradBeta`) for frozen weights. */
  gradGamma?: GPUBuffer;
  /** dL/dβ, added to by the backward pass. */
  gradBeta?: GPUBuffer;
}

/** Options of {@linkcode GroupNorm.create}. */
export interface GroupNormOptions extends GroupNormBuffers {
  /** Geometry, ε and whether SiLU follows. */
  shape: GroupNormShape;
  /** Add dL/dx into `gradInput` instead of overwriting it. */
  accumulateGradInput?: boolean;
}

interface Step {
  pipeline: GPUComputePipeline;
  group: GPUBindGroup;
  /** Workgroups (reductions) or threads (element-wise). */
  count: number;
  elementwise: boolean;
}

/**
 * A GroupNorm with pipelines, statistics buffers, uniforms and bind groups built once.
 * The forward pass saves each group's mean and 1/√(var + ε) in `stats`, which the
 * backward pass reads: run the forward pass on the same input first.
 *
 * @example GroupNorm + SiLU of one image
 * ```ts
 * import { acquireGpu } from "../gpu.ts";
 * import { GroupNorm } from "./group_norm.ts";
 * const gpu = await acquireGpu({ log: null });
 * const b = (v: number[]) => gpu.createBuffer(new Float32Array(v));
 * const norm = await GroupNorm.create(gpu, {
 *   shape: { batch: 1, channels: 2, height: 1, width: 2, groups: 1, silu: true },
 *   input: b([1, 2, 3, 4]), gamma: b([1, 1]), beta: b([0, 0]), output: b([0, 0, 0, 0]),
 * });
 * gpu.submit((e) => { const p = e.beginComputePass(); norm.encodeForward(p); p.end(); });
 * const y = new Float32Array(await gpu.read(norm.output));
 * console.log([...y].map((v) => v.toFixed(3)).join(" ")); // -0.278 -0.174 0.273 1.064
 * gpu.destroy();
 * ```
 */
export class GroupNorm {
  /** The checked geometry. */
  readonly geometry: GroupNormGeometry;
  /** y. */
  readonly output: GPUBuffer;
  /** `[N·G][2]`: mean and 1/√(var + ε) of the last forward pass. */
  readonly stats: GPUBuffer;
  readonly #forward: Step[];
  readonly #backward: Step[];
  readonly #owned: GPUBuffer[];

  private constructor(parts: {
    geometry: GroupNormGeometry;
    output: GPUBuffer;
    stats: GPUBuffer;
    forward: Step[];
    backward: Step[];
    owned: GPUBuffer[];
  }) {
    this.geometry = parts.geometry;
    this.output = parts.output;
    this.stats = parts.stats;
    this.#forward = parts.forward;
    this.#backward = parts.backward;
    this.#owned = parts.owned;
  }

  /** Checks the buffers, compiles the pipelines (cached) and binds, once. */
  static async create(gpu: Gpu, options: GroupNormOptions): Promise<GroupNorm> {
    const g = groupNormGeometry(options.shape);
    const total = g.batch * g.channels * g.pixels;
    const need = (name: string, buffer: GPUBuffer, floats: number) =>
      requireBuffer(gpu, name, { buffer, floats });
    need("input", options.input, total);
    need("gamma", options.gamma, g.channels);
    need("beta", options.beta, g.channels);
    need("output", options.output, total);
    const params = options.gradGamma !== undefined || options.gradBeta !== undefined;
    if (params && (options.gradGamma === undefined || options.gradBeta === undefined)) {
      throw new RangeError("Invalid option gradGamma: bind gradGamma and gradBeta together");
    }
    if ((params || options.gradInput !== undefined) && options.gradOutput === undefined) {
      throw new RangeError("Invalid option gradOutput: required when any gradient is bound");
    }
    if (options.gradOutput !== undefined) need("gradOutput", options.gradOutput, total);
    if (options.gradInput !== undefined) need("gradInput", options.gradInput, total);
    if (params) {
      need("gradGamma", options.gradGamma!, g.channels);
      need("gradBeta", options.gradBeta!, g.channels);
    }
    const pipe = (entryPoint: string) =>
      gpu.pipeline("vae_ops/group_norm", { entryPoint, constants: { SILU: g.silu ? 1 : 0 } });
    const words = new ArrayBuffer(32);
    const view = new DataView(words);
    [g.batch, g.channels, g.pixels, g.groups, g.channels / g.groups].forEach((v, i) =>
      view.setUint32(4 * i, v, true)
    );
    view.setFloat32(20, g.eps, true);
    view.setUint32(24, options.accumulateGradInput ? 1 : 0, true);
    const uniform = gpu.createUniform(32, "group_norm uniforms");
    gpu.upload(uniform, new Uint8Array(words));
    const stats = gpu.createBuffer(8 * g.batch * g.groups, { label: "group_norm stats" });
    const owned = [uniform, stats];
    const common = { 0: options.input, 1: options.gamma, 2: options.beta, 4: stats, 10: uniform };
    const step = async (
      entryPoint: string,
      extra: Record<number, GPUBuffer>,
      count: number,
      elementwise: boolean,
    ): Promise<Step> => {
      const pipeline = await pipe(entryPoint);
      // Layout "auto" keeps only the bindings an entry point uses.
      const used: Record<number, GPUBuffer> = {};
      const uses: Record<string, number[]> = {
        stats: [0, 4, 10],
        apply: [0, 1, 2, 3, 4, 10],
        grad_stats: [0, 1, 2, 4, 5, 7, 10],
        grad_in: [0, 1, 2, 4, 5, 6, 7, 10],
        grad_params: [0, 1, 2, 4, 5, 8, 9, 10],
      };
      const all: Record<number, GPUBuffer> = { ...common, ...extra };
      for (const b of uses[entryPoint]!) used[b] = all[b]!;
      return { pipeline, group: gpu.bindGroup(pipeline, used), count, elementwise };
    };
    const groupsTotal = g.batch * g.groups;
    const forward = [
      await step("stats", {}, groupsTotal, false),
      await step("apply", { 3: options.output }, total, true),
    ];
    const backward: Step[] = [];
    if (options.gradInput !== undefined || params) {
      const gradStats = gpu.createBuffer(8 * groupsTotal, { label: "group_norm grad stats" });
      owned.push(gradStats);
      const extra: Record<number, GPUBuffer> = { 5: options.gradOutput!, 7: gradStats };
      if (options.gradInput !== undefined) {
        backward.push(await step("grad_stats", extra, groupsTotal, false));
        backward.push(await step("grad_in", { ...extra, 6: options.gradInput }, total, true));
      }
      if (params) {
        backward.push(
          await step(
            "grad_params",
            { ...extra, 8: options.gradGamma!, 9: options.gradBeta! },
            g.channels,
            false,
          ),
        );
      }
    }
    return new GroupNorm({ geometry: g, output: options.output, stats, forward, backward, owned });
  }

  /** Records the statistics pass and y = γ·x̂ + β (then SiLU). */
  encodeForward(pass: GPUComputePassEncoder): void {
    for (const s of this.#forward) this.#record(pass, s);
  }

  /** Records dL/dx (when bound), then dL/dγ and dL/dβ (when bound), from dL/dy. */
  encodeBackward(pass: GPUComputePassEncoder): void {
    for (const s of this.#backward) this.#record(pass, s);
  }

  #record(pass: GPUComputePassEncoder, s: Step): void {
    pass.setPipeline(s.pipeline);
    pass.setBindGroup(0, s.group);
    if (!s.elementwise) {
      pass.dispatchWorkgroups(s.count);
      return;
    }
    const groups = Math.ceil(s.count / GROUP_NORM_WORKGROUP);
    const y = Math.ceil(groups / 65535);
    pass.dispatchWorkgroups(Math.ceil(groups / y), y);
  }

  /** Frees the buffers this object created (uniforms, statistics). */
  destroy(): void {
    for (const b of this.#owned) b.destroy();
  }
}

/** Host arrays of the GroupNorm one-shot helpers. */
export interface GroupNormArrays {
  /** x `[N][C][H][W]`. */
  input: ArrayLike<number>;
  /** γ `[C]`. */
  gamma: ArrayLike<number>;
  /** β `[C]`. */
  beta: ArrayLike<number>;
}

/**
 * One-shot forward (upload, run, read back) for tests and benchmarks.
 *
 * @example
 * ```ts
 * import { acquireGpu } from "../gpu.ts";
 * import { groupNormOnce } from "./group_norm.ts";
 * const gpu = await acquireGpu({ log: null });
 * const y = await groupNormOnce(
 *   gpu,
 *   { batch: 1, channels: 1, height: 1, width: 2, groups: 1, eps: 0 },
 *   { input: [3, 5], gamma: [2], beta: [1] },
 * );
 * console.log(y); // Float32Array(2) [ -1, 3 ]
 * gpu.destroy();
 * ```
 */
export async function groupNormOnce(
  gpu: Gpu,
  shape: GroupNormShape,
  arrays: GroupNormArrays,
): Promise<Float32Array> {
  const input = upload(gpu, arrays.input);
  const gamma = upload(gpu, arrays.gamma);
  const beta = upload(gpu, arrays.beta);
  const output = gpu.createBuffer(arrays.input.length * 4);
  const norm = await GroupNorm.create(gpu, { shape, input, gamma, beta, output });
  const out = await runAndRead(gpu, (p) => norm.encodeForward(p), {
    outputs: { output },
    owned: [input, gamma, beta, output],
  });
  norm.destroy();
  return out.output;
}

/**
 * One-shot forward then backward (upload, run, read back): dL/dx, dL/dγ, dL/dβ.
 *
 * @example
 * ```ts
 * import { acquireGpu } from "../gpu.ts";
 * import { groupNormBackwardOnce } from "./group_norm.ts";
 * const gpu = await acquireGpu({ log: null });
 * const g = await groupNormBackwardOnce(
 *   gpu,
 *   { batch: 1, channels: 1, height: 1, width: 2, groups: 1, eps: 0 },
 *   { input: [3, 5], gamma: [2], beta: [1], gradOutput: [1, 0] },
 * );
 * console.log(g.gradInput, g.gradGamma, g.gradBeta); // Float32Array(2) [ 0, 0 ] Float32Array(1) [ -1 ] Float32Array(1) [ 1 ]
 * gpu.destroy();
 * ```
 */
export async function groupNormBackwardOnce(
  gpu: Gpu,
  shape: GroupNormShape,
  arrays: GroupNormArrays & { gradOutput: ArrayLike<number> },
): Promise<{ gradInput: Float32Array; gradGamma: Float32Array; gradBeta: Float32Array }> {
  const g = groupNormGeometry(shape);
  const input = upload(gpu, arrays.input);
  const gamma = upload(gpu, arrays.gamma);
  const beta = upload(gpu, arrays.beta);
  const gradOutput = upload(gpu, arrays.gradOutput);
  const output = gpu.createBuffer(arrays.input.length * 4);
  const gradInput = gpu.createBuffer(arrays.input.length * 4);
  const gradGamma = gpu.createBuffer(g.channels * 4);
  const gradBeta = gpu.createBuffer(g.channels * 4);
  const norm = await GroupNorm.create(gpu, {
    shape,
    input,
    gamma,
    beta,
    output,
    gradOutput,
    gradInput,
    gradGamma,
    gradBeta,
  });
  const out = await runAndRead(gpu, (p) => {
    norm.encodeForward(p);
    norm.encodeBackward(p);
  }, {
    outputs: { gradInput, gradGamma, gradBeta },
    owned: [input, gamma, beta, gradOutput, output, gradInput, gradGamma, gradBeta],
  });
  norm.destroy();
  return out;
}
