/**
 * The time total-variation regulariser on the GPU (SPEC.md §2.2): the loss reduced
 * into a one-float buffer and λ·∂L_tv/∂θ scattered into the grid gradients, with no
 * read-back.
 *
 * @module
 */
import type { Gpu } from "./gpu.ts";
import { type GridLayout, MAX_GRID_CHUNKS } from "./grid_config.ts";
import {
  createGridBuffers,
  GRID_WORKGROUP,
  gridAccessFragment,
  levelTableWords,
  readGridBuffers,
} from "./grid_encode.ts";
import { timeTvNorm } from "./time_tv_twin.ts";
import { requireFinite, requireInt } from "./validate.ts";

export { TIME_TV_LITERAL_DIVISOR } from "./time_tv_twin.ts";

/** Buffers and settings of a {@linkcode TimeTv}. */
export interface TimeTvOptions {
  /** Parameter chunk buffers of the keyframe grids. */
  params: GPUBuffer[];
  /** Gradient chunk buffers; needed for the backward pass. */
  grads?: GPUBuffer[];
  /** The B sample points `[B][3]`, drawn by the caller (uniform in [−1, 1]³ each step). */
  points: GPUBuffer;
  /** B, the number of points. */
  batch: number;
  /** Weight λ of the gradient (SPEC.md: 0.1); defaults to 1. */
  lambda?: number;
}

interface TvPipes {
  forward: GPUComputePipeline;
  backward: GPUComputePipeline;
  reduce: GPUComputePipeline;
}

interface TvGroups {
  forward: GPUBindGroup;
  backward: GPUBindGroup | null;
  reduce: GPUBindGroup;
}

/**
 * Time TV with pipelines, uniforms and bind groups built once. `loss` (one f32) holds
 * the unweighted L_tv after {@linkcode TimeTv.encodeForward} or
 * {@linkcode TimeTv.encodeBackward}; the backward pass also accumulates λ·∂L_tv/∂θ into
 * `grads` (clear them before a step). Neither allocates.
 *
 * @example
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { gridLayout, initGridValues } from "./grid_config.ts";
 * import { createGridBuffers } from "./grid_encode.ts";
 * import { seededRandom } from "./random.ts";
 * import { TimeTv } from "./time_tv.ts";
 * const gpu = await acquireGpu({ log: null });
 * const layout = gridLayout({ levels: 2, log2TableSize: 8, keyframes: 3 });
 * const values = initGridValues(layout, seededRandom(1), { copyFirst: false });
 * const tv = await TimeTv.create(gpu, layout, {
 *   params: createGridBuffers(gpu, layout, { values }),
 *   grads: createGridBuffers(gpu, layout),
 *   points: gpu.createBuffer(new Float32Array([0.1, 0.2, 0.3])),
 *   batch: 1,
 *   lambda: 0.1,
 * });
 * gpu.submit((e) => { const p = e.beginComputePass(); tv.encodeBackward(p); p.end(); });
 * console.log(new Float32Array(await gpu.read(tv.loss))[0]! > 0); // true
 * gpu.destroy();
 * ```
 */
export class TimeTv {
  /** One f32: L_tv (without λ). */
  readonly loss: GPUBuffer;
  /** The layout the pipelines were built for. */
  readonly layout: GridLayout;
  readonly #gpu: Gpu;
  readonly #uniform: GPUBuffer;
  readonly #words: Uint32Array<ArrayBuffer>;
  readonly #partials: GPUBuffer;
  readonly #threads: number;
  readonly #pipes: TvPipes;
  readonly #groups: TvGroups;

  private constructor(
    gpu: Gpu,
    layout: GridLayout,
    parts: {
      loss: GPUBuffer;
      uniform: GPUBuffer;
      words: Uint32Array<ArrayBuffer>;
      partials: GPUBuffer;
      threads: number;
      pipes: TvPipes;
      groups: TvGroups;
    },
  ) {
    this.#gpu = gpu;
    this.layout = layout;
    this.loss = parts.loss;
    this.#uniform = parts.uniform;
    this.#words = parts.words;
    this.#partials = parts.partials;
    this.#threads = parts.threads;
    this.#pipes = parts.pipes;
    this.#groups = parts.groups;
  }

  /** Compiles the pipelines (cached per layout) and binds the buffers, once. */
  static async create(gpu: Gpu, layout: GridLayout, options: TimeTvOptions): Promise<TimeTv> {
    const C = layout.chunks;
    if (C > MAX_GRID_CHUNKS) {
      throw new RangeError(`Invalid grid: expected at most ${MAX_GRID_CHUNKS} chunks, got ${C}`);
    }
    if (options.params.length !== C) {
      throw new RangeError(
        `Invalid option params: expected ${C} chunk buffers, got ${options.params.length}`,
      );
    }
    const batch = requireInt("batch", options.batch, { min: 0 });
    const lambda = requireFinite("lambda", options.lambda ?? 1);
    // Backward binds the partial sums, the points and both sets of chunks.
    const needed = 2 + 2 * C;
    const limit = gpu.limits.maxStorageBuffersPerShaderStage;
    if (options.grads !== undefined && needed > limit) {
      throw new RangeError(
        `Invalid grid: time TV needs ${needed} storage buffers per stage for ${C} chunks, the device allows ${limit}; raise maxStorageBufferBindingSize so fewer chunks are needed`,
      );
    }
    const threads = batch * layout.config.levels;
    const partialCount = Math.ceil(threads / GRID_WORKGROUP);
    const fragments = { grid_access: gridAccessFragment(layout, { firstBinding: 4 }) };
    const [forward, backward, reduce] = await Promise.all(
      ["forward", "backward", "reduce"].map((entryPoint) =>
        gpu.pipeline("time_tv", { fragments, entryPoint })
      ),
    );
    const words = levelTableWords(layout, { header: [batch, partialCount] });
    const uniform = gpu.createUniform(words.byteLength, "time_tv uniforms");
    const loss = gpu.createBuffer(4, { label: "time_tv loss" });
    const partials = gpu.createBuffer(Math.max(1, partialCount) * 4, {
      label: "time_tv partials",
    });
    const base: [number, GPUBuffer][] = [[1, partials], [2, uniform], [3, options.points]];
    const paramEntries = options.params.map((b, i): [number, GPUBuffer] => [4 + i, b]);
    let backwardGroup: GPUBindGroup | null = null;
    if (options.grads !== undefined) {
      if (options.grads.length !== C) {
        throw new RangeError(
          `Invalid option grads: expected ${C} chunk buffers, got ${options.grads.length}`,
        );
      }
      backwardGroup = gpu.bindGroup(
        backward!,
        Object.fromEntries([
          ...base,
          ...paramEntries,
          ...options.grads.map((b, i): [number, GPUBuffer] => [4 + C + i, b]),
        ]),
      );
    }
    const tv = new TimeTv(gpu, layout, {
      loss,
      uniform,
      words,
      partials,
      threads,
      pipes: { forward: forward!, backward: backward!, reduce: reduce! },
      groups: {
        forward: gpu.bindGroup(forward!, Object.fromEntries([...base, ...paramEntries])),
        backward: backwardGroup,
        reduce: gpu.bindGroup(
          reduce!,
          Object.fromEntries([[0, loss], [1, partials], [2, uniform]]),
        ),
      },
    });
    tv.setLambda(lambda);
    return tv;
  }

  /** Sets λ, the weight of the gradient the backward pass scatters. */
  setLambda(lambda: number): void {
    requireFinite("lambda", lambda);
    const f32 = new Float32Array(this.#words.buffer);
    const norm = timeTvNorm(this.layout, { batch: this.#words[0]! });
    f32[2] = norm;
    f32[3] = 2 * lambda * norm;
    this.#gpu.upload(this.#uniform, this.#words);
  }

  /** Records the loss computation into `loss`. */
  encodeForward(pass: GPUComputePassEncoder): void {
    this.#gpu.dispatch(
      pass,
      this.#pipes.forward,
      this.#groups.forward,
      this.#threads,
      GRID_WORKGROUP,
    );
    this.#reduce(pass);
  }

  /** Records the loss computation and the λ-weighted gradient scatter into `grads`. */
  encodeBackward(pass: GPUComputePassEncoder): void {
    if (this.#groups.backward === null) {
      throw new Error("TimeTv was created without grads: no backward pass");
    }
    this.#gpu.dispatch(
      pass,
      this.#pipes.backward,
      this.#groups.backward,
      this.#threads,
      GRID_WORKGROUP,
    );
    this.#reduce(pass);
  }

  #reduce(pass: GPUComputePassEncoder): void {
    pass.setPipeline(this.#pipes.reduce);
    pass.setBindGroup(0, this.#groups.reduce);
    pass.dispatchWorkgroups(1);
  }

  /** Releases the buffers this object created (loss, partial sums, uniforms). */
  destroy(): void {
    for (const b of [this.loss, this.#uniform, this.#partials]) b.destroy();
  }
}

/** Inputs of the time-TV one-shot helpers. */
export interface TimeTvInputs {
  /** One parameter array per keyframe. */
  params: ArrayLike<number>[];
  /** The B sample points `[B][3]`. */
  points: ArrayLike<number>;
}

async function runOnce(
  gpu: Gpu,
  layout: GridLayout,
  options: TimeTvInputs & { lambda?: number; backward: boolean },
): Promise<{ loss: number; grads: Float32Array[] | null }> {
  if (options.points.length % 3 !== 0) {
    throw new RangeError(
      `Invalid option points: expected a multiple of 3 floats, got ${options.points.length}`,
    );
  }
  const params = createGridBuffers(gpu, layout, { values: options.params });
  const grads = options.backward ? createGridBuffers(gpu, layout, { label: "grads" }) : null;
  const points = gpu.createBuffer(Float32Array.from(options.points), { label: "tv points" });
  const tv = await TimeTv.create(gpu, layout, {
    params,
    points,
    batch: options.points.length / 3,
    ...(grads === null ? {} : { grads }),
    ...(options.lambda === undefined ? {} : { lambda: options.lambda }),
  });
  gpu.submit((e) => {
    const pass = e.beginComputePass();
    if (options.backward) tv.encodeBackward(pass);
    else tv.encodeForward(pass);
    pass.end();
  });
  const loss = new Float32Array(await gpu.read(tv.loss))[0]!;
  const out = grads === null ? null : await readGridBuffers(gpu, layout, grads);
  tv.destroy();
  for (const b of [...params, ...(grads ?? []), points]) b.destroy();
  return { loss, grads: out };
}

/**
 * One-shot L_tv (upload, run, read back) for tests and benchmarks.
 *
 * @example
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { gridLayout } from "./grid_config.ts";
 * import { timeTvOnce } from "./time_tv.ts";
 * const gpu = await acquireGpu({ log: null });
 * const layout = gridLayout({ levels: 2, log2TableSize: 8, keyframes: 2 });
 * const params = [0, 1].map((k) => new Float32Array(layout.keyframeStride).fill(k));
 * console.log(await timeTvOnce(gpu, layout, { params, points: [0, 0, 0] })); // 0.25
 * gpu.destroy();
 * ```
 */
export async function timeTvOnce(
  gpu: Gpu,
  layout: GridLayout,
  options: TimeTvInputs,
): Promise<number> {
  return (await runOnce(gpu, layout, { ...options, backward: false })).loss;
}

/**
 * One-shot backward (upload, run, read back): L_tv and λ·∂L_tv/∂θ per keyframe.
 *
 * @example
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { gridLayout } from "./grid_config.ts";
 * import { timeTvBackwardOnce } from "./time_tv.ts";
 * const gpu = await acquireGpu({ log: null });
 * const layout = gridLayout({ levels: 2, log2TableSize: 8, keyframes: 2 });
 * const params = [0, 1].map((k) => new Float32Array(layout.keyframeStride).fill(k));
 * const { loss, grads } = await timeTvBackwardOnce(gpu, layout, {
 *   params,
 *   points: [0, 0, 0],
 *   lambda: 0.1,
 * });
 * console.log(loss, grads.length); // 0.25 2
 * gpu.destroy();
 * ```
 */
export async function timeTvBackwardOnce(
  gpu: Gpu,
  layout: GridLayout,
  options: TimeTvInputs & { lambda: number },
): Promise<{ loss: number; grads: Float32Array[] }> {
  const r = await runOnce(gpu, layout, { ...options, backward: true });
  return { loss: r.loss, grads: r.grads! };
}
