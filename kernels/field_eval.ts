/**
 * Evaluates the field (keyframed grid encoding, then the MLP) over a point buffer whose
 * count lives on the GPU, in chunks so that the `[N][L·F]` features fit one storage
 * binding, and runs the matching backward pass.
 *
 * @module
 */
import { CHUNK_COUNT_STRIDE, ChunkCounts } from "./chunk_counts.ts";
import type { Field } from "./field.ts";
import type { Gpu } from "./gpu.ts";
import { GRID_WORKGROUP, GridEncoder } from "./grid_encode.ts";
import { Mlp } from "./mlp.ts";
import { requireInt } from "./validate.ts";

/**
 * Buffers and sizes of a {@linkcode FieldEval}.
 *
 * @example 130 points in chunks of 64
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { Field } from "./field.ts";
 * import { FieldEval, type FieldEvalOptions } from "./field_eval.ts";
 * const gpu = await acquireGpu({ log: null });
 * const field = await Field.create(gpu, { grid: { levels: 2, log2TableSize: 8 } });
 * const n = 130;
 * const raw = gpu.createBuffer(n * 16);
 * const options: FieldEvalOptions = {
 *   points: gpu.createBuffer(new Float32Array(n * 3).fill(0.25)),
 *   times: gpu.createBuffer(new Float32Array(n)),
 *   count: gpu.createBuffer(new Uint32Array([n])),
 *   raw,
 *   maxPoints: n,
 *   chunk: 64,
 * };
 * const ev = await FieldEval.create(gpu, field, options);
 * gpu.submit((e) => { const p = e.beginComputePass(); ev.encodeForward(p); p.end(); });
 * const out = new Float32Array(await gpu.read(raw));
 * // Same point, so the last chunk's single point matches the first chunk's.
 * console.log(ev.chunk, ev.chunks, out[0] === out[4 * (n - 1)]); // 64 3 true
 * ev.destroy();
 * field.destroy();
 * gpu.destroy();
 * ```
 */
export interface FieldEvalOptions {
  /** `[N][3]` points. */
  points: GPUBuffer;
  /** `[N]` times. */
  times: GPUBuffer;
  /** `count[0]` = N, possibly written on the GPU. */
  count: GPUBuffer;
  /** Output `[N][4]` raw MLP outputs. */
  raw: GPUBuffer;
  /** `[N][4]` dL/draw; enables the backward pass. */
  dRaw?: GPUBuffer;
  /** Largest N. */
  maxPoints: number;
  /** Points per chunk (a multiple of 64); defaults to what fits 64 MiB of features. */
  chunk?: number;
}

/**
 * Chunked field evaluation, built once. `encodeForward` writes `raw` for `count[0]`
 * points; `encodeBackward` recomputes the features chunk by chunk, then adds dL/dθ into
 * the field's gradient buffers.
 *
 * @example
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { Field } from "./field.ts";
 * import { FieldEval } from "./field_eval.ts";
 * const gpu = await acquireGpu({ log: null });
 * const field = await Field.create(gpu, { grid: { levels: 2, log2TableSize: 8 } });
 * const raw = gpu.createBuffer(16);
 * const ev = await FieldEval.create(gpu, field, {
 *   points: gpu.createBuffer(new Float32Array([0.1, 0.2, 0.3])),
 *   times: gpu.createBuffer(new Float32Array([0])),
 *   count: gpu.createBuffer(new Uint32Array([1])),
 *   raw,
 *   maxPoints: 1,
 * });
 * gpu.submit((e) => { const p = e.beginComputePass(); ev.encodeForward(p); p.end(); });
 * console.log(new Float32Array(await gpu.read(raw)).length); // 4
 * gpu.destroy();
 * ```
 */
export class FieldEval {
  /** Points per chunk. */
  readonly chunk: number;
  readonly #counts: ChunkCounts;
  readonly #grids: GridEncoder[];
  readonly #mlps: Mlp[];
  readonly #features: GPUBuffer;
  readonly #featureGrads: GPUBuffer | null;

  private constructor(parts: {
    chunk: number;
    counts: ChunkCounts;
    grids: GridEncoder[];
    mlps: Mlp[];
    features: GPUBuffer;
    featureGrads: GPUBuffer | null;
  }) {
    this.chunk = parts.chunk;
    this.#counts = parts.counts;
    this.#grids = parts.grids;
    this.#mlps = parts.mlps;
    this.#features = parts.features;
    this.#featureGrads = parts.featureGrads;
  }

  /** Builds the per-chunk encoders and MLPs for fixed buffers. */
  static async create(gpu: Gpu, field: Field, options: FieldEvalOptions): Promise<FieldEval> {
    const dim = field.layout.outputDim;
    const maxPoints = requireInt("maxPoints", options.maxPoints, { min: 1 });
    const byBinding = Math.min(gpu.limits.maxStorageBufferBindingSize, 64 * 2 ** 20);
    const fit = Math.max(64, Math.floor(byBinding / (dim * 4) / 64) * 64);
    const chunk = Math.min(
      options.chunk === undefined ? fit : requireInt("chunk", options.chunk, { min: 64 }),
      Math.ceil(maxPoints / 64) * 64,
    );
    if (chunk % 64 !== 0) {
      throw new RangeError(`Invalid option chunk: expected a multiple of 64, got ${chunk}`);
    }
    const chunks = Math.ceil(maxPoints / chunk);
    const counts = await ChunkCounts.create(gpu, options.count, {
      chunk,
      chunks,
      levels: field.layout.config.levels,
      workgroup: GRID_WORKGROUP,
    });
    const features = gpu.createBuffer(chunk * dim * 4, { label: "features" });
    const featureGrads = options.dRaw === undefined
      ? null
      : gpu.createBuffer(chunk * dim * 4, { label: "feature grads" });
    const grids: GridEncoder[] = [];
    const mlps: Mlp[] = [];
    for (let c = 0; c < chunks; c++) {
      const n = Math.min(chunk, maxPoints - c * chunk);
      const count = { buffer: counts.counts, offset: c * CHUNK_COUNT_STRIDE, size: 4 };
      const points = { buffer: options.points, offset: c * chunk * 12, size: n * 12 };
      const times = { buffer: options.times, offset: c * chunk * 4, size: n * 4 };
      const raw = { buffer: options.raw, offset: c * chunk * 16, size: n * 16 };
      const gridOptions = {
        params: field.grid,
        points,
        times,
        count,
        features,
        maxPoints: n,
        ...(featureGrads === null ? {} : { grads: field.gridGrads, featureGrads }),
      };
      grids.push(await GridEncoder.create(gpu, field.layout, gridOptions));
      const backward = options.dRaw === undefined || featureGrads === null ? undefined : {
        dRaw: { buffer: options.dRaw, offset: c * chunk * 16, size: n * 16 },
        dFeatures: featureGrads,
        grads: field.mlpGrads,
      };
      mlps.push(
        await Mlp.create(gpu, {
          config: field.mlpLayout.config,
          maxBatch: n,
          params: field.mlp,
          features,
          raw,
          count,
          // On a CPU adapter every backward workgroup costs a weight load and a partials
          // row whether or not it gets samples, so a few workgroups per core are faster.
          ...(gpu.software ? { groups: Math.min(16, Math.ceil(n / 32)) } : {}),
          ...(backward === undefined ? {} : { backward }),
        }),
      );
    }
    return new FieldEval({ chunk, counts, grids, mlps, features, featureGrads });
  }

  /** Number of chunks. */
  get chunks(): number {
    return this.#grids.length;
  }

  /** Coarse-to-fine mask: levels ≥ `active` give zero features (SPEC.md §2.3). */
  setActiveLevels(active: number): void {
    for (const g of this.#grids) g.setActiveLevels(active);
  }

  /** Records the forward pass. */
  encodeForward(pass: GPUComputePassEncoder): void {
    this.#counts.encode(pass);
    const args = this.#counts.args;
    for (let c = 0; c < this.chunks; c++) {
      this.#grids[c]!.encodeForward(pass, { indirect: args, indirectOffset: c * 24 });
      this.#mlps[c]!.encodeForward(pass, { indirect: args, indirectOffset: c * 24 + 12 });
    }
  }

  /**
   * Records the backward pass from `dRaw`: recomputes each chunk's features (the shared
   * features buffer holds only the last chunk after a forward), then MLP and grid backward.
   */
  encodeBackward(pass: GPUComputePassEncoder): void {
    if (this.#featureGrads === null) {
      throw new Error("FieldEval was created without dRaw: no backward pass");
    }
    this.#counts.encode(pass);
    const args = this.#counts.args;
    for (let c = 0; c < this.chunks; c++) {
      this.#grids[c]!.encodeForward(pass, { indirect: args, indirectOffset: c * 24 });
      this.#mlps[c]!.encodeBackward(pass);
      this.#grids[c]!.encodeBackward(pass, { indirect: args, indirectOffset: c * 24 });
    }
  }

  /** Frees what this object allocated (not the caller's buffers or the field). */
  destroy(): void {
    this.#counts.destroy();
    this.#features.destroy();
    this.#featureGrads?.destroy();
    for (const g of this.#grids) g.destroy();
    for (const m of this.#mlps) m.destroy();
  }
}
