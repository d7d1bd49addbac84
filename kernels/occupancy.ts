/**
 * WebGPU wrapper of `occupancy.wgsl`: the temporal occupancy grid of SPEC.md §3.2,
 * decoupled from the field. One update is
 *
 * 1. `setUpdate({ step, sliceTimes })` (host: uniforms and the per-slice times),
 * 2. per chunk: `encodePoints(pass, k)` → the caller evaluates σ at `points`/`times`
 *    into `sigma` → `encodeEma(pass, k)`,
 * 3. `encodeThreshold(pass)`: mean over every slice on the GPU, threshold
 *    min(mean, densityThresh), bitfield rebuild. Nothing is read back.
 *
 * Initial state (after `create` or `reset`): grid all zeros and every bit set, so the
 * first march before any update is not empty. The original starts from zeros too and
 * runs its first update at step 0 before the first march (`Animate124 main:
 * nerf/utils.py:1341-1343`), so the all-set bitfield only matters if a caller marches
 * before updating.
 *
 * Twin: `occupancy_twin.ts`, which also documents the grid and bitfield layouts.
 *
 * @module
 */
import type { Gpu } from "./gpu.ts";
import { wordsPerSlice } from "./occupancy_twin.ts";
import { requireFinite, requireInt } from "./validate.ts";

const WG = 64;
const RED = 256;

/** Options for {@linkcode OccupancyGrid.create}; every field has the SPEC.md default. */
export interface OccupancyGridOptions {
  /** Cells per axis (128; the CPU preset uses 32 or 64). At least 2. */
  res?: number;
  /** Temporal slices S (16; 1 for the static stage). */
  slices?: number;
  /** Cells per points/EMA chunk, i.e. per field call (default one slice, res³). */
  chunkCells?: number;
  /** EMA decay (0.95). */
  decay?: number;
  /** Upper bound of the threshold (`density_thresh` 10). */
  densityThresh?: number;
  /** Seed of the cell jitter (0). */
  seed?: number;
  /** σ of chunk point i is read at `sigma[i·sigmaStride]` (1; 4 reads a raw `[N][4]` buffer's first column). */
  sigmaStride?: number;
  /** A caller-owned σ buffer of at least chunkCells·sigmaStride floats; default: one is allocated. */
  sigmaBuffer?: GPUBuffer;
}

/** Binds buffers to explicit binding numbers (entry points use different subsets). */
interface Pipelines {
  points: GPUComputePipeline;
  ema: GPUComputePipeline;
  partial: GPUComputePipeline;
  final: GPUComputePipeline;
  pack: GPUComputePipeline;
}

/**
 * The occupancy grid built once: pipelines, buffers, per-chunk uniforms and bind groups.
 *
 * Buffers: `grid` f32 `[S·res³]`; `bits` u32 `[S][ceil(res³/32)]`; `stats` f32
 * `[mean, threshold]` of the last `encodeThreshold`; `points` `[chunkCells][3]`, `times`
 * `[chunkCells]` and `sigma` for the chunk being updated.
 *
 * @example One update of a 4³ static grid with a constant field
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { OccupancyGrid } from "./occupancy.ts";
 * const gpu = await acquireGpu({ log: null });
 * const occ = await OccupancyGrid.create(gpu, { res: 4, slices: 1 });
 * occ.setUpdate({ step: 0, sliceTimes: [0.5] });
 * gpu.upload(occ.sigma, new Float32Array(64).fill(2));
 * gpu.submit((e) => {
 *   const p = e.beginComputePass();
 *   occ.encodePoints(p, 0);
 *   occ.encodeEma(p, 0);
 *   occ.encodeThreshold(p);
 *   p.end();
 * });
 * console.log(new Float32Array(await gpu.read(occ.stats))[1]); // 2
 * gpu.destroy();
 * ```
 */
export class OccupancyGrid {
  /** Cells per axis. */
  readonly res: number;
  /** Temporal slices S. */
  readonly slices: number;
  /** Cells per slice, res³. */
  readonly cells: number;
  /** Bitfield words per slice. */
  readonly wordsPerSlice: number;
  /** Cells per chunk (the last chunk may be shorter). */
  readonly chunkCells: number;
  /** Number of chunks covering S·res³ cells. */
  readonly chunks: number;
  /** EMA values `[S·res³]`. */
  readonly grid: GPUBuffer;
  /** Occupancy bitfield `[S][wordsPerSlice]`. */
  readonly bits: GPUBuffer;
  /** `[mean, threshold]` of the last threshold pass. */
  readonly stats: GPUBuffer;
  /** Sample positions of the current chunk `[chunkCells][3]`. */
  readonly points: GPUBuffer;
  /** Sample times of the current chunk `[chunkCells]`. */
  readonly times: GPUBuffer;
  /** σ of the current chunk, read at i·sigmaStride. */
  readonly sigma: GPUBuffer;
  readonly #gpu: Gpu;
  readonly #p: Pipelines;
  readonly #config: GPUBuffer;
  readonly #configData = new ArrayBuffer(48);
  readonly #sliceTimes: GPUBuffer;
  readonly #partials: GPUBuffer;
  readonly #chunkUniforms: GPUBuffer[] = [];
  readonly #pointGroups: GPUBindGroup[] = [];
  readonly #emaGroups: GPUBindGroup[] = [];
  readonly #partialGroup: GPUBindGroup;
  readonly #finalGroup: GPUBindGroup;
  readonly #packGroup: GPUBindGroup;
  readonly #ownsSigma: boolean;
  #prepared = false;

  private constructor(
    gpu: Gpu,
    p: Pipelines,
    o: Required<Omit<OccupancyGridOptions, "sigmaBuffer">> & {
      sigmaBuffer: GPUBuffer | undefined;
    },
  ) {
    this.#gpu = gpu;
    this.#p = p;
    this.res = o.res;
    this.slices = o.slices;
    this.cells = o.res ** 3;
    this.wordsPerSlice = wordsPerSlice(o.res);
    const total = this.cells * o.slices;
    this.chunkCells = Math.min(o.chunkCells, total);
    this.chunks = Math.ceil(total / this.chunkCells);
    this.grid = gpu.createBuffer(4 * total, { label: "occupancy grid" });
    this.bits = gpu.createBuffer(4 * o.slices * this.wordsPerSlice, { label: "occupancy bits" });
    this.stats = gpu.createBuffer(8, { label: "occupancy stats" });
    this.points = gpu.createBuffer(12 * this.chunkCells, { label: "occupancy points" });
    this.times = gpu.createBuffer(4 * this.chunkCells, { label: "occupancy times" });
    this.#ownsSigma = o.sigmaBuffer === undefined;
    this.sigma = o.sigmaBuffer ??
      gpu.createBuffer(4 * this.chunkCells * o.sigmaStride, { label: "occupancy sigma" });
    this.#config = gpu.createUniform(48, "occupancy config");
    this.#sliceTimes = gpu.createBuffer(4 * o.slices, { label: "occupancy slice times" });
    this.#partials = gpu.createBuffer(4 * RED, { label: "occupancy partial sums" });
    const u = new Uint32Array(this.#configData);
    const f = new Float32Array(this.#configData);
    u[0] = o.res;
    u[1] = o.slices;
    u[2] = this.cells;
    u[3] = this.wordsPerSlice;
    u[4] = total;
    u[5] = o.seed >>> 0;
    u[6] = 0;
    u[7] = o.sigmaStride;
    f[8] = o.decay;
    f[9] = o.densityThresh;
    gpu.upload(this.#config, u);
    for (let k = 0; k < this.chunks; k++) {
      const start = k * this.chunkCells;
      const chunk = gpu.createUniform(16, `occupancy chunk ${k}`);
      gpu.upload(chunk, new Uint32Array([start, Math.min(this.chunkCells, total - start), 0, 0]));
      this.#chunkUniforms.push(chunk);
      this.#pointGroups.push(gpu.bindGroup(p.points, {
        0: this.#config,
        1: chunk,
        2: this.#sliceTimes,
        3: this.points,
        4: this.times,
      }));
      this.#emaGroups.push(gpu.bindGroup(p.ema, {
        0: this.#config,
        1: chunk,
        5: this.sigma,
        6: this.grid,
      }));
    }
    this.#partialGroup = gpu.bindGroup(p.partial, {
      0: this.#config,
      6: this.grid,
      7: this.#partials,
    });
    this.#finalGroup = gpu.bindGroup(p.final, {
      0: this.#config,
      7: this.#partials,
      8: this.stats,
    });
    this.#packGroup = gpu.bindGroup(p.pack, {
      0: this.#config,
      6: this.grid,
      8: this.stats,
      9: this.bits,
    });
    this.reset();
  }

  /**
   * Validates the options, compiles the kernels and allocates the grid.
   *
   * @param gpu the device
   * @param options shape, chunking and EMA settings
   * @returns the grid in its initial state (zeros, every bit set)
   */
  static async create(gpu: Gpu, options: OccupancyGridOptions = {}): Promise<OccupancyGrid> {
    const res = requireInt("res", options.res ?? 128, { min: 2, max: 1024 });
    const slices = requireInt("slices", options.slices ?? 16, { min: 1, max: 256 });
    const total = res ** 3 * slices;
    const o = {
      res,
      slices,
      chunkCells: requireInt("chunkCells", options.chunkCells ?? res ** 3, { min: 1 }),
      decay: requireFinite("decay", options.decay ?? 0.95, { min: 0, max: 1 }),
      densityThresh: requireFinite("densityThresh", options.densityThresh ?? 10),
      seed: requireInt("seed", options.seed ?? 0, { min: 0, max: 2 ** 32 - 1 }),
      sigmaStride: requireInt("sigmaStride", options.sigmaStride ?? 1, { min: 1 }),
      sigmaBuffer: options.sigmaBuffer,
    };
    if (4 * total > gpu.limits.maxStorageBufferBindingSize) {
      throw new RangeError(
        `Invalid option res: ${slices}x${res}^3 cells need ${
          4 * total
        } bytes, over the device's maxStorageBufferBindingSize ${gpu.limits.maxStorageBufferBindingSize}`,
      );
    }
    const need = 4 * Math.min(o.chunkCells, total) * o.sigmaStride;
    if (o.sigmaBuffer !== undefined && o.sigmaBuffer.size < need) {
      throw new RangeError(
        `Invalid option sigmaBuffer: expected at least ${need} bytes, got ${o.sigmaBuffer.size}`,
      );
    }
    const [points, ema, partial, final, pack] = await Promise.all(
      ["points_main", "ema_main", "reduce_partial", "reduce_final", "pack_main"].map((entryPoint) =>
        gpu.pipeline("occupancy", { entryPoint })
      ),
    );
    return new OccupancyGrid(gpu, {
      points: points!,
      ema: ema!,
      partial: partial!,
      final: final!,
      pack: pack!,
    }, o);
  }

  /** Cells in chunk `k` (chunkCells except maybe for the last). */
  chunkCount(k: number): number {
    return Math.min(this.chunkCells, this.cells * this.slices - k * this.chunkCells);
  }

  /** Restores the initial state: grid zeros, every bit set, stats zero. */
  reset(): void {
    const gpu = this.#gpu;
    gpu.submit((e) => {
      e.clearBuffer(this.grid);
      e.clearBuffer(this.stats);
    });
    gpu.upload(this.bits, new Uint32Array(this.slices * this.wordsPerSlice).fill(0xffffffff));
  }

  /**
   * Sets the step (keys the cell jitter) and the per-slice times of the next update.
   *
   * @param update global step and `[S]` slice times from `occupancySliceTimes`
   */
  setUpdate(update: { step: number; sliceTimes: ArrayLike<number> }): void {
    const step = requireInt("step", update.step, { min: 0 });
    if (update.sliceTimes.length !== this.slices) {
      throw new RangeError(
        `Invalid option sliceTimes: expected ${this.slices} times, got ${update.sliceTimes.length}`,
      );
    }
    const times = new Float32Array(this.slices);
    for (let k = 0; k < this.slices; k++) {
      times[k] = requireFinite(`sliceTimes[${k}]`, update.sliceTimes[k]);
    }
    const u = new Uint32Array(this.#configData);
    u[6] = step >>> 0;
    this.#gpu.upload(this.#config, u);
    this.#gpu.upload(this.#sliceTimes, times);
    this.#prepared = true;
  }

  /**
   * Records the points kernel of chunk `k`: `points`/`times` then hold the cells
   * k·chunkCells … of the slice-major grid.
   *
   * @param pass an open compute pass
   * @param k chunk index in [0, chunks)
   */
  encodePoints(pass: GPUComputePassEncoder, k = 0): void {
    if (!this.#prepared) throw new Error("Cannot encode occupancy points: call setUpdate first");
    this.#gpu.dispatch(
      pass,
      this.#p.points,
      this.#group(this.#pointGroups, k),
      this.chunkCount(k),
      WG,
    );
  }

  /**
   * Records the EMA of chunk `k` from `sigma` (grid ← max(decay·grid, σ)).
   *
   * @param pass an open compute pass
   * @param k chunk index in [0, chunks)
   */
  encodeEma(pass: GPUComputePassEncoder, k = 0): void {
    this.#gpu.dispatch(pass, this.#p.ema, this.#group(this.#emaGroups, k), this.chunkCount(k), WG);
  }

  /**
   * Records the mean/threshold reduction and the bitfield rebuild.
   *
   * @param pass an open compute pass
   */
  encodeThreshold(pass: GPUComputePassEncoder): void {
    pass.setPipeline(this.#p.partial);
    pass.setBindGroup(0, this.#partialGroup);
    pass.dispatchWorkgroups(RED);
    pass.setPipeline(this.#p.final);
    pass.setBindGroup(0, this.#finalGroup);
    pass.dispatchWorkgroups(1);
    this.#gpu.dispatch(pass, this.#p.pack, this.#packGroup, this.slices * this.wordsPerSlice, WG);
  }

  #group(groups: GPUBindGroup[], k: number): GPUBindGroup {
    const g = groups[k];
    if (g === undefined) {
      throw new RangeError(
        `Invalid option chunk: expected an integer in [0, ${this.chunks - 1}], got ${k}`,
      );
    }
    return g;
  }

  /** Frees every buffer (not a caller-owned σ buffer). */
  destroy(): void {
    const own = [this.grid, this.bits, this.stats, this.points, this.times, this.#config];
    own.push(this.#sliceTimes, this.#partials, ...this.#chunkUniforms);
    if (this.#ownsSigma) own.push(this.sigma);
    for (const b of own) b.destroy();
  }
}

/** Options for {@linkcode runOccupancyUpdate}. */
export interface OccupancyUpdateOptions extends OccupancyGridOptions {
  /** Global step of the update. */
  step: number;
  /** `[S]` slice times. */
  sliceTimes: ArrayLike<number>;
  /** Grid before the update `[S·res³]`; default zeros. */
  grid?: Float32Array<ArrayBuffer>;
  /** σ at every cell `[S·res³]` (slice-major, as the points are written). */
  sigma: Float32Array<ArrayBuffer>;
}

/** Everything one update produced, read back. */
export interface OccupancyUpdateResult {
  points: Float32Array;
  times: Float32Array;
  grid: Float32Array;
  bits: Uint32Array;
  mean: number;
  threshold: number;
}

/**
 * One-shot helper for tests and benchmarks: runs one full update with given σ and reads
 * everything back. Training code uses {@linkcode OccupancyGrid}.
 *
 * @param gpu the device
 * @param options grid options, the step, slice times, the prior grid and σ
 * @returns points, times, grid, bitfield, mean and threshold
 *
 * @example
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { runOccupancyUpdate } from "./occupancy.ts";
 * const gpu = await acquireGpu({ log: null });
 * const sigma = new Float32Array(8);
 * sigma[5] = 4;
 * const r = await runOccupancyUpdate(gpu, { res: 2, slices: 1, step: 0, sliceTimes: [0.5], sigma });
 * console.log(r.threshold, r.bits[0]); // 0.5 32
 * gpu.destroy();
 * ```
 */
export async function runOccupancyUpdate(
  gpu: Gpu,
  options: OccupancyUpdateOptions,
): Promise<OccupancyUpdateResult> {
  const { step, sliceTimes, grid, sigma, ...gridOptions } = options;
  const occ = await OccupancyGrid.create(gpu, gridOptions);
  const total = occ.cells * occ.slices;
  if (sigma.length !== total) {
    throw new RangeError(`Invalid option sigma: expected ${total} values, got ${sigma.length}`);
  }
  if (grid !== undefined) gpu.upload(occ.grid, grid);
  occ.setUpdate({ step, sliceTimes });
  const points = new Float32Array(3 * total);
  const times = new Float32Array(total);
  const stride = options.sigmaStride ?? 1;
  for (let k = 0; k < occ.chunks; k++) {
    const n = occ.chunkCount(k);
    const start = k * occ.chunkCells;
    const s = new Float32Array(n * stride);
    for (let i = 0; i < n; i++) s[i * stride] = sigma[start + i]!;
    gpu.upload(occ.sigma, s);
    gpu.submit((e) => {
      const p = e.beginComputePass();
      occ.encodePoints(p, k);
      occ.encodeEma(p, k);
      p.end();
    });
    points.set(new Float32Array(await gpu.read(occ.points, { byteLength: 12 * n })), 3 * start);
    times.set(new Float32Array(await gpu.read(occ.times, { byteLength: 4 * n })), start);
  }
  gpu.submit((e) => {
    const p = e.beginComputePass();
    occ.encodeThreshold(p);
    p.end();
  });
  const stats = new Float32Array(await gpu.read(occ.stats));
  const result: OccupancyUpdateResult = {
    points,
    times,
    grid: new Float32Array(await gpu.read(occ.grid)),
    bits: new Uint32Array(await gpu.read(occ.bits)),
    mean: stats[0]!,
    threshold: stats[1]!,
  };
  occ.destroy();
  return result;
}
