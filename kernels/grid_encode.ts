/**
 * The keyframed multi-resolution grid encoding on the GPU (SPEC.md §2.1–2.2): forward
 * lookup with the keyframe blend and the coarse-to-fine level mask, and the backward
 * scatter-add into the grid gradients.
 *
 * @module
 */
import type { BufferRange, Gpu } from "./gpu.ts";
import { chunkFloats, type GridLayout, MAX_GRID_CHUNKS } from "./grid_config.ts";
import { requireInt } from "./validate.ts";

/** Threads per workgroup of the grid kernels (one thread per point and level). */
export const GRID_WORKGROUP = 64;

/** Levels the uniform level table has room for (the grid config allows at most 32). */
const MAX_LEVELS = 32;

/**
 * Generates the `grid_access` WGSL fragment for a layout: the layout constants
 * (`GRID_L`, `GRID_F`, `GRID_K`, `GRID_KPC`, `GRID_STRIDE`, `GRID_HASH`), one read-only
 * parameter binding per chunk starting at `firstBinding`, one atomic gradient binding
 * per chunk right after them, and the accessors `grid_read(k, i)` and
 * `grid_grad_add(k, i, v)` (float atomic add) that address float `i` of keyframe `k`. Entry points bind only
 * what they use, so a forward pipeline never needs the gradient buffers.
 *
 * @param layout the grid layout
 * @param options `firstBinding`: binding number of chunk 0's parameters
 * @returns WGSL source for `#include "grid_access"`
 *
 * @example
 * ```ts
 * import { gridLayout } from "./grid_config.ts";
 * import { gridAccessFragment } from "./grid_encode.ts";
 * const layout = gridLayout({ levels: 2, log2TableSize: 8, finestResolution: 32 });
 * const wgsl = gridAccessFragment(layout, { firstBinding: 5 });
 * console.log(wgsl.includes("fn grid_read")); // true
 * ```
 */
export function gridAccessFragment(
  layout: GridLayout,
  options: { firstBinding: number },
): string {
  const first = requireInt("firstBinding", options.firstBinding, { min: 0 });
  const c = layout.config;
  const chunks = layout.chunks;
  const lines = [
    `const GRID_L: u32 = ${c.levels}u;`,
    `const GRID_F: u32 = ${c.featuresPerLevel}u;`,
    `const GRID_K: u32 = ${c.keyframes}u;`,
    `const GRID_KPC: u32 = ${layout.keyframesPerChunk}u;`,
    `const GRID_STRIDE: u32 = ${layout.keyframeStride}u;`,
    `const GRID_HASH: bool = ${c.indexMode === "hash"};`,
  ];
  for (let i = 0; i < chunks; i++) {
    lines.push(`@group(0) @binding(${first + i}) var<storage, read> grid_p${i}: array<f32>;`);
  }
  for (let i = 0; i < chunks; i++) {
    lines.push(
      `@group(0) @binding(${
        first + chunks + i
      }) var<storage, read_write> grid_g${i}: array<atomic<u32>>;`,
    );
  }
  // A switch on the chunk index: WGSL cannot index an array of storage bindings.
  const cases = (body: (i: number) => string) =>
    Array.from(
      { length: chunks },
      (_, i) => i === chunks - 1 ? `    default: { ${body(i)} }` : `    case ${i}u: { ${body(i)} }`,
    ).join(
      "\n",
    );
  lines.push(
    "fn grid_read(k: u32, i: u32) -> f32 {",
    "  let c = k / GRID_KPC;",
    "  let j = (k - c * GRID_KPC) * GRID_STRIDE + i;",
    "  switch c {",
    cases((i) => `return grid_p${i}[j];`),
    "  }",
    "}",
    "fn grid_grad_add(k: u32, i: u32, v: f32) {",
    "  if (v == 0.0) { return; }",
    "  let c = k / GRID_KPC;",
    "  let j = (k - c * GRID_KPC) * GRID_STRIDE + i;",
    "  switch c {",
    cases((i) => `grid_add${i}(j, v);`),
    "  }",
    "}",
  );
  // Float add as a compare-and-swap loop on the f32 bits, with one
  // copy per binding: Deno 2.9's naga rejects storage pointers as function arguments
  // (no unrestricted_pointer_parameters), so atomic_add_f32(&buf[i], v) cannot compile.
  for (let i = 0; i < chunks; i++) {
    lines.push(
      `fn grid_add${i}(j: u32, v: f32) {`,
      `  var old = atomicLoad(&grid_g${i}[j]);`,
      "  loop {",
      "    let next = bitcast<u32>(bitcast<f32>(old) + v);",
      `    let r = atomicCompareExchangeWeak(&grid_g${i}[j], old, next);`,
      "    if (r.exchanged) { break; }",
      "    old = r.old_value;",
      "  }",
      "}",
    );
  }
  return lines.join("\n") + "\n";
}

/**
 * The level table as uniform words: a header of 4 u32 (`header[0]` is written first),
 * then per level the float32 bits of s_l, R_l, T_l and the entry offset. The scale is
 * passed bit-exact from the host so the kernel never recomputes it (SPEC.md §9).
 *
 * @example
 * ```ts
 * import { gridLayout } from "./grid_config.ts";
 * import { levelTableWords } from "./grid_encode.ts";
 * const words = levelTableWords(gridLayout({ levels: 2, log2TableSize: 8 }), { header: [2] });
 * console.log(words.length); // 132
 * ```
 */
export function levelTableWords(
  layout: GridLayout,
  options: { header?: number[] } = {},
): Uint32Array<ArrayBuffer> {
  const words = new Uint32Array(4 + 4 * MAX_LEVELS);
  const f32 = new Float32Array(words.buffer);
  (options.header ?? []).slice(0, 4).forEach((v, i) => (words[i] = v));
  layout.levels.forEach((lv, l) => {
    f32[4 + 4 * l] = lv.scale;
    words[5 + 4 * l] = lv.resolution;
    words[6 + 4 * l] = lv.size;
    words[7 + 4 * l] = lv.offset;
  });
  return words;
}

/**
 * Creates the chunk buffers of a grid layout (parameters, gradients or optimiser
 * state), zeroed or filled with one Float32Array per keyframe (length at least
 * entries·F; longer arrays are cut at the keyframe stride).
 *
 * @example
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { gridLayout, initGridValues } from "./grid_config.ts";
 * import { createGridBuffers } from "./grid_encode.ts";
 * import { seededRandom } from "./random.ts";
 * const gpu = await acquireGpu({ log: null });
 * const layout = gridLayout({ levels: 2, log2TableSize: 8, keyframes: 3 });
 * const bufs = createGridBuffers(gpu, layout, { values: initGridValues(layout, seededRandom(1)) });
 * console.log(bufs.length); // 1
 * gpu.destroy();
 * ```
 */
export function createGridBuffers(
  gpu: Gpu,
  layout: GridLayout,
  options: { values?: ArrayLike<number>[]; label?: string } = {},
): GPUBuffer[] {
  const label = options.label ?? "grid";
  const values = options.values;
  if (values !== undefined) checkKeyframeArrays(layout, values, "values");
  const buffers: GPUBuffer[] = [];
  for (let c = 0; c < layout.chunks; c++) {
    buffers.push(gpu.createBuffer(chunkFloats(layout, c) * 4, { label: `${label} chunk ${c}` }));
  }
  if (values !== undefined) {
    const stride = layout.keyframeStride;
    values.forEach((v, k) => {
      const data = new Float32Array(stride);
      const m = Math.min(v.length, stride);
      for (let i = 0; i < m; i++) data[i] = v[i]!;
      const chunk = Math.floor(k / layout.keyframesPerChunk);
      const at = (k % layout.keyframesPerChunk) * stride * 4;
      gpu.upload(buffers[chunk]!, data, at);
    });
  }
  return buffers;
}

/**
 * Reads chunk buffers back as one Float32Array per keyframe (length keyframeStride).
 * For tests and checkpoints, never inside a training step.
 *
 * @example
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { gridLayout } from "./grid_config.ts";
 * import { createGridBuffers, readGridBuffers } from "./grid_encode.ts";
 * const gpu = await acquireGpu({ log: null });
 * const layout = gridLayout({ levels: 2, log2TableSize: 8, keyframes: 2 });
 * const back = await readGridBuffers(gpu, layout, createGridBuffers(gpu, layout));
 * console.log(back.length); // 2
 * gpu.destroy();
 * ```
 */
export async function readGridBuffers(
  gpu: Gpu,
  layout: GridLayout,
  buffers: GPUBuffer[],
): Promise<Float32Array[]> {
  checkChunks(layout, buffers, "buffers");
  const out: Float32Array[] = [];
  for (let c = 0; c < layout.chunks; c++) {
    const all = new Float32Array(await gpu.read(buffers[c]!));
    const count = chunkFloats(layout, c) / layout.keyframeStride;
    for (let k = 0; k < count; k++) {
      out.push(all.slice(k * layout.keyframeStride, (k + 1) * layout.keyframeStride));
    }
  }
  return out;
}

function checkChunks(layout: GridLayout, buffers: GPUBuffer[] | undefined, name: string): void {
  if (buffers === undefined || buffers.length !== layout.chunks) {
    throw new RangeError(
      `Invalid option ${name}: expected ${layout.chunks} chunk buffers, got ${buffers?.length}`,
    );
  }
  buffers.forEach((b, c) => {
    if (b.size < chunkFloats(layout, c) * 4) {
      throw new RangeError(
        `Invalid option ${name}[${c}]: expected at least ${
          chunkFloats(layout, c) * 4
        } bytes, got ${b.size}`,
      );
    }
  });
}

function checkKeyframeArrays(layout: GridLayout, values: ArrayLike<number>[], name: string): void {
  const k = layout.config.keyframes;
  const need = layout.entries * layout.config.featuresPerLevel;
  if (values.length !== k) {
    throw new RangeError(
      `Invalid option ${name}: expected ${k} per-keyframe arrays, got ${values.length}`,
    );
  }
  values.forEach((v, i) => {
    if (v.length < need) {
      throw new RangeError(
        `Invalid option ${name}[${i}]: expected at least ${need} floats, got ${v.length}`,
      );
    }
  });
}

/** GPU buffers a {@linkcode GridEncoder} binds; all are created by the caller. */
export interface GridEncoderOptions {
  /** Parameter chunk buffers (see {@linkcode createGridBuffers}). */
  params: GPUBuffer[];
  /** Gradient chunk buffers (same layout, f32 bits); needed for the backward pass. */
  grads?: GPUBuffer[];
  /** Points `[N][3]` in [−1, 1]³. */
  points: GPUBuffer | BufferRange;
  /** Times `[N]` in [0, 1] (clamped). */
  times: GPUBuffer | BufferRange;
  /** `count[0]` = number of points N (may be written on the GPU). */
  count: GPUBuffer | BufferRange;
  /** Output features `[N][L·F]`. */
  features: GPUBuffer | BufferRange;
  /** dL/dfeatures `[N][L·F]`; needed for the backward pass. */
  featureGrads?: GPUBuffer | BufferRange;
  /** Upper bound on N, used for direct dispatches. */
  maxPoints: number;
  /** Levels kept by the coarse-to-fine mask; defaults to all. */
  activeLevels?: number;
}

/**
 * The grid encoding with pipelines, uniforms and bind groups built once. Record
 * {@linkcode GridEncoder.encodeForward} / {@linkcode GridEncoder.encodeBackward} into a
 * compute pass each step; neither allocates. The backward pass accumulates into
 * `grads`: clear them (e.g. `encoder.clearBuffer`) before a step.
 *
 * For indirect dispatch, build the arguments with
 * `IndirectArgs.create(gpu, count, { workgroupSize: GRID_WORKGROUP, multiplier: L })`,
 * because each point is handled by L threads.
 *
 * @example
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { gridLayout, initGridValues } from "./grid_config.ts";
 * import { createGridBuffers, GridEncoder } from "./grid_encode.ts";
 * import { seededRandom } from "./random.ts";
 * const gpu = await acquireGpu({ log: null });
 * const layout = gridLayout({ levels: 2, log2TableSize: 8, finestResolution: 32 });
 * const enc = await GridEncoder.create(gpu, layout, {
 *   params: createGridBuffers(gpu, layout, { values: initGridValues(layout, seededRandom(1)) }),
 *   points: gpu.createBuffer(new Float32Array([0.1, 0.2, 0.3])),
 *   times: gpu.createBuffer(new Float32Array([0])),
 *   count: gpu.createBuffer(new Uint32Array([1])),
 *   features: gpu.createBuffer(4 * layout.outputDim),
 *   maxPoints: 1,
 * });
 * gpu.submit((e) => { const p = e.beginComputePass(); enc.encodeForward(p); p.end(); });
 * await gpu.flush();
 * gpu.destroy();
 * ```
 */
export class GridEncoder {
  /** The layout the pipelines were built for. */
  readonly layout: GridLayout;
  readonly #gpu: Gpu;
  readonly #uniform: GPUBuffer;
  readonly #words: Uint32Array<ArrayBuffer>;
  readonly #forward: GPUComputePipeline;
  readonly #forwardGroup: GPUBindGroup;
  readonly #backward: GPUComputePipeline | null;
  readonly #backwardGroup: GPUBindGroup | null;
  readonly #threads: number;

  private constructor(
    gpu: Gpu,
    layout: GridLayout,
    parts: {
      uniform: GPUBuffer;
      words: Uint32Array<ArrayBuffer>;
      forward: GPUComputePipeline;
      forwardGroup: GPUBindGroup;
      backward: GPUComputePipeline | null;
      backwardGroup: GPUBindGroup | null;
      threads: number;
    },
  ) {
    this.#gpu = gpu;
    this.layout = layout;
    this.#uniform = parts.uniform;
    this.#words = parts.words;
    this.#forward = parts.forward;
    this.#forwardGroup = parts.forwardGroup;
    this.#backward = parts.backward;
    this.#backwardGroup = parts.backwardGroup;
    this.#threads = parts.threads;
  }

  /** Compiles the pipelines (cached per layout) and binds the buffers, once. */
  static async create(
    gpu: Gpu,
    layout: GridLayout,
    options: GridEncoderOptions,
  ): Promise<GridEncoder> {
    const L = layout.config.levels;
    if (L > MAX_LEVELS) {
      throw new RangeError(`Invalid grid: expected at most ${MAX_LEVELS} levels, got ${L}`);
    }
    if (layout.chunks > MAX_GRID_CHUNKS) {
      throw new RangeError(
        `Invalid grid: expected at most ${MAX_GRID_CHUNKS} chunks, got ${layout.chunks}`,
      );
    }
    checkChunks(layout, options.params, "params");
    const maxPoints = requireInt("maxPoints", options.maxPoints, { min: 0 });
    const active = requireInt("activeLevels", options.activeLevels ?? L, { min: 0, max: L });
    const fragments = { grid_access: gridAccessFragment(layout, { firstBinding: 5 }) };
    const [forward, backward] = await Promise.all([
      gpu.pipeline("grid_encode", { fragments, entryPoint: "forward" }),
      gpu.pipeline("grid_encode", { fragments, entryPoint: "backward" }),
    ]);
    const words = levelTableWords(layout, { header: [active] });
    const uniform = gpu.createUniform(words.byteLength, "grid_encode uniforms");
    gpu.upload(uniform, words);
    const common: [number, GPUBuffer | BufferRange][] = [
      [0, options.count],
      [1, uniform],
      [2, options.points],
      [3, options.times],
    ];
    const forwardGroup = gpu.bindGroup(
      forward,
      Object.fromEntries([
        ...common,
        [4, options.features],
        ...options.params.map((b, i): [number, GPUBuffer] => [5 + i, b]),
      ]),
    );
    let backwardGroup: GPUBindGroup | null = null;
    if (options.grads !== undefined || options.featureGrads !== undefined) {
      checkChunks(layout, options.grads, "grads");
      if (options.featureGrads === undefined) {
        throw new RangeError("Invalid option featureGrads: expected a GPUBuffer, got undefined");
      }
      const grads = options.grads!;
      backwardGroup = gpu.bindGroup(
        backward,
        Object.fromEntries([
          ...common,
          [4, options.featureGrads],
          ...grads.map((b, i): [number, GPUBuffer] => [5 + layout.chunks + i, b]),
        ]),
      );
    }
    return new GridEncoder(gpu, layout, {
      uniform,
      words,
      forward,
      forwardGroup,
      backward: backwardGroup === null ? null : backward,
      backwardGroup,
      threads: maxPoints * L,
    });
  }

  /** Sets the coarse-to-fine mask: levels ≥ `active` give zero features and no gradient. */
  setActiveLevels(active: number): void {
    requireInt("activeLevels", active, { min: 0, max: this.layout.config.levels });
    if (this.#words[0] === active) return;
    this.#words[0] = active;
    this.#gpu.upload(this.#uniform, this.#words, 0);
  }

  /** Records the forward pass: features for `count[0]` points. */
  encodeForward(
    pass: GPUComputePassEncoder,
    options: { indirect?: GPUBuffer; indirectOffset?: number } = {},
  ): void {
    this.#record(pass, this.#forward, this.#forwardGroup, options);
  }

  /** Records the backward pass: accumulates dL/dparams into `grads`. */
  encodeBackward(
    pass: GPUComputePassEncoder,
    options: { indirect?: GPUBuffer; indirectOffset?: number } = {},
  ): void {
    if (this.#backward === null || this.#backwardGroup === null) {
      throw new Error("GridEncoder was created without grads and featureGrads: no backward pass");
    }
    this.#record(pass, this.#backward, this.#backwardGroup, options);
  }

  #record(
    pass: GPUComputePassEncoder,
    pipeline: GPUComputePipeline,
    group: GPUBindGroup,
    options: { indirect?: GPUBuffer; indirectOffset?: number },
  ): void {
    const indirect = options.indirect;
    if (indirect === undefined) {
      this.#gpu.dispatch(pass, pipeline, group, this.#threads, GRID_WORKGROUP);
      return;
    }
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroupsIndirect(indirect, options.indirectOffset ?? 0);
  }

  /** Releases the uniform buffer (the bound buffers belong to the caller). */
  destroy(): void {
    this.#uniform.destroy();
  }
}

/** Inputs of the one-shot helpers {@linkcode gridEncodeOnce} and {@linkcode gridEncodeBackwardOnce}. */
export interface GridEncodeInputs {
  /** Points `[N][3]`. */
  points: ArrayLike<number>;
  /** Times `[N]`; defaults to all zero. */
  times?: ArrayLike<number>;
  /** Coarse-to-fine mask; defaults to all levels. */
  activeLevels?: number;
}

function pointInputs(gpu: Gpu, inputs: GridEncodeInputs) {
  if (inputs.points.length % 3 !== 0) {
    throw new RangeError(
      `Invalid option points: expected a multiple of 3 floats, got ${inputs.points.length}`,
    );
  }
  const n = inputs.points.length / 3;
  const times = inputs.times ?? new Float32Array(n);
  if (times.length !== n) {
    throw new RangeError(`Invalid option times: expected ${n} floats, got ${times.length}`);
  }
  return {
    n,
    points: gpu.createBuffer(Float32Array.from(inputs.points), { label: "points" }),
    times: gpu.createBuffer(Float32Array.from(times), { label: "times" }),
    count: gpu.createBuffer(new Uint32Array([n]), { label: "count" }),
  };
}

/**
 * One-shot forward encode (upload, run, read back) for tests and benchmarks.
 *
 * @param gpu the device
 * @param layout the grid layout
 * @param options per-keyframe parameters and the query points
 * @returns features `[N][L·F]`
 *
 * @example
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { gridLayout, initGridValues } from "./grid_config.ts";
 * import { gridEncodeOnce } from "./grid_encode.ts";
 * import { seededRandom } from "./random.ts";
 * const gpu = await acquireGpu({ log: null });
 * const layout = gridLayout({ levels: 2, log2TableSize: 8, finestResolution: 32 });
 * const params = initGridValues(layout, seededRandom(3));
 * const out = await gridEncodeOnce(gpu, layout, { params, points: [0, 0, 0.5] });
 * console.log(out.length); // 4
 * gpu.destroy();
 * ```
 */
export async function gridEncodeOnce(
  gpu: Gpu,
  layout: GridLayout,
  options: GridEncodeInputs & { params: ArrayLike<number>[] },
): Promise<Float32Array> {
  const io = pointInputs(gpu, options);
  const params = createGridBuffers(gpu, layout, { values: options.params });
  const features = gpu.createBuffer(io.n * layout.outputDim * 4, { label: "features" });
  const enc = await GridEncoder.create(gpu, layout, {
    params,
    points: io.points,
    times: io.times,
    count: io.count,
    features,
    maxPoints: io.n,
    ...(options.activeLevels === undefined ? {} : { activeLevels: options.activeLevels }),
  });
  gpu.submit((e) => {
    const pass = e.beginComputePass();
    enc.encodeForward(pass);
    pass.end();
  });
  const out = new Float32Array(await gpu.read(features)).slice(0, io.n * layout.outputDim);
  enc.destroy();
  for (const b of [...params, features, io.points, io.times, io.count]) b.destroy();
  return out;
}

/**
 * One-shot backward (upload, run, read back) for tests and benchmarks: the gradient
 * of Σ featureGrads·features with respect to every keyframe's parameters.
 *
 * @param gpu the device
 * @param layout the grid layout
 * @param options the query points and dL/dfeatures `[N][L·F]`
 * @returns one gradient array per keyframe (length keyframeStride)
 *
 * @example
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { gridLayout } from "./grid_config.ts";
 * import { gridEncodeBackwardOnce } from "./grid_encode.ts";
 * const gpu = await acquireGpu({ log: null });
 * const layout = gridLayout({ levels: 2, log2TableSize: 8, finestResolution: 32 });
 * const grads = await gridEncodeBackwardOnce(gpu, layout, {
 *   points: [0, 0, 0.5],
 *   featureGrads: [1, 1, 1, 1],
 * });
 * console.log(grads.length); // 1
 * gpu.destroy();
 * ```
 */
export async function gridEncodeBackwardOnce(
  gpu: Gpu,
  layout: GridLayout,
  options: GridEncodeInputs & { featureGrads: ArrayLike<number> },
): Promise<Float32Array[]> {
  const io = pointInputs(gpu, options);
  if (options.featureGrads.length !== io.n * layout.outputDim) {
    throw new RangeError(
      `Invalid option featureGrads: expected ${
        io.n * layout.outputDim
      } floats, got ${options.featureGrads.length}`,
    );
  }
  const params = createGridBuffers(gpu, layout, { label: "params" });
  const grads = createGridBuffers(gpu, layout, { label: "grads" });
  const features = gpu.createBuffer(4, { label: "features" });
  const featureGrads = gpu.createBuffer(Float32Array.from(options.featureGrads), {
    label: "featureGrads",
  });
  const enc = await GridEncoder.create(gpu, layout, {
    params,
    grads,
    points: io.points,
    times: io.times,
    count: io.count,
    features,
    featureGrads,
    maxPoints: io.n,
    ...(options.activeLevels === undefined ? {} : { activeLevels: options.activeLevels }),
  });
  gpu.submit((e) => {
    const pass = e.beginComputePass();
    enc.encodeBackward(pass);
    pass.end();
  });
  const out = await readGridBuffers(gpu, layout, grads);
  enc.destroy();
  for (const b of [...params, ...grads, features, featureGrads, io.points, io.times, io.count]) {
    b.destroy();
  }
  return out;
}
