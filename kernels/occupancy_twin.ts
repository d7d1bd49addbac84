/**
 * Float64 twin of `occupancy.wgsl` (SPEC.md §3.2): sample points of an update, the EMA,
 * the threshold and the bitfield, plus the layout helpers shared with the marcher.
 *
 * Layouts: cell index inside a slice c = (ix·res + iy)·res + iz, grid `[S][res³]`;
 * bitfield `[S][ceil(res³/32)]` u32 words, cell c is bit (c & 31) of word c >> 5.
 *
 * @module
 */

/**
 * PCG hash of a 32-bit integer, bit-identical to `pcg` in the WGSL kernels.
 *
 * @param x any integer (taken modulo 2³²)
 * @returns a 32-bit unsigned hash
 *
 * @example
 * ```ts
 * import { pcgHash } from "./occupancy_twin.ts";
 * console.log(pcgHash(0) === pcgHash(0), pcgHash(1) !== pcgHash(2)); // true true
 * ```
 */
export function pcgHash(x: number): number {
  const state = (Math.imul(x >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/**
 * Seeded uniform in [0, 1) on a 2⁻²⁴ lattice keyed by (seed, step, a, b), identical to
 * `hash_uniform` in `occupancy.wgsl` and `march.wgsl`.
 *
 * @param key seed, step and two free integers
 * @returns the draw
 *
 * @example
 * ```ts
 * import { hashUniform } from "./occupancy_twin.ts";
 * const u = hashUniform({ seed: 1, step: 0, a: 2, b: 3 });
 * console.log(u >= 0 && u < 1); // true
 * ```
 */
export function hashUniform(key: { seed: number; step: number; a: number; b: number }): number {
  const h = pcgHash(pcgHash(pcgHash(pcgHash(key.b) ^ key.a) ^ key.step) ^ key.seed);
  return (h >>> 8) / 16777216;
}

/** Grid shape: res³ cells per slice, S slices. */
export interface OccupancyShape {
  /** Cells per axis (128 in the original). */
  res: number;
  /** Temporal slices S (16 dynamic, 1 static). */
  slices: number;
}

/**
 * u32 words of one slice's bitfield: ceil(res³ / 32).
 *
 * @param res cells per axis
 * @returns words per slice
 *
 * @example
 * ```ts
 * import { wordsPerSlice } from "./occupancy_twin.ts";
 * console.log(wordsPerSlice(16)); // 128
 * ```
 */
export function wordsPerSlice(res: number): number {
  return Math.ceil((res * res * res) / 32);
}

/**
 * The per-slice times of one update: (k+0.5)/S + U(±0.5/S), one draw per slice, made
 * on the host (`Animate124 main: dnerf/renderer.py:270-328`).
 *
 * @param slices S
 * @param rand a uniform [0, 1) generator, e.g. `seededRandom(seed)`
 * @returns S times in [0, 1]
 *
 * @example
 * ```ts
 * import { occupancySliceTimes } from "./occupancy_twin.ts";
 * import { seededRandom } from "./random.ts";
 * console.log(occupancySliceTimes(16, seededRandom(3)).length); // 16
 * ```
 */
export function occupancySliceTimes(slices: number, rand: () => number): Float64Array {
  const out = new Float64Array(slices);
  for (let k = 0; k < slices; k++) out[k] = (k + 0.5) / slices + (2 * rand() - 1) * 0.5 / slices;
  return out;
}

/** Options for {@linkcode occupancyPointsTwin}. */
export interface OccupancyPointsOptions extends OccupancyShape {
  /** Seed of the cell jitter. */
  seed: number;
  /** Global step of the update (keys the jitter). */
  step: number;
  /** Time of each slice for this update, `[S]`. */
  sliceTimes: ArrayLike<number>;
}

/**
 * Sample points and times of every cell of every slice (slice-major, then cell c):
 * x = (2c/(res−1) − 1)(1 − 1/res) + U(±1/res) per axis (`Animate124 main:
 * dnerf/renderer.py:270-328`).
 *
 * @param options shape, seed, step and slice times
 * @returns points `[S·res³][3]` and times `[S·res³]`
 *
 * @example
 * ```ts
 * import { occupancyPointsTwin } from "./occupancy_twin.ts";
 * const p = occupancyPointsTwin({ res: 2, slices: 1, seed: 0, step: 0, sliceTimes: [0.5] });
 * console.log(p.points.length, p.times[7]); // 24 0.5
 * ```
 */
export function occupancyPointsTwin(
  options: OccupancyPointsOptions,
): { points: Float64Array; times: Float64Array } {
  const { res, slices, seed, step } = options;
  const cells = res * res * res;
  const points = new Float64Array(3 * slices * cells);
  const times = new Float64Array(slices * cells);
  for (let s = 0; s < slices; s++) {
    for (let c = 0; c < cells; c++) {
      const idx = [Math.floor(c / (res * res)), Math.floor(c / res) % res, c % res];
      const g = s * cells + c;
      for (let a = 0; a < 3; a++) {
        const u = hashUniform({ seed, step, a: s, b: 3 * c + a });
        points[3 * g + a] = (2 * idx[a]! / (res - 1) - 1) * (1 - 1 / res) + (2 * u - 1) / res;
      }
      times[g] = options.sliceTimes[s]!;
    }
  }
  return { points, times };
}

/**
 * The EMA step grid ← max(decay·grid, σ), in place.
 *
 * @param grid `[S·res³]` EMA values, updated in place
 * @param sigma σ at the points of {@linkcode occupancyPointsTwin}, same order
 * @param options decay (0.95)
 *
 * @example
 * ```ts
 * import { occupancyEmaTwin } from "./occupancy_twin.ts";
 * const g = new Float64Array([10, 1]);
 * occupancyEmaTwin(g, [0, 5]);
 * console.log(g); // [9.5, 5]
 * ```
 */
export function occupancyEmaTwin(
  grid: Float64Array,
  sigma: ArrayLike<number>,
  options: { decay?: number } = {},
): void {
  const decay = options.decay ?? 0.95;
  for (let i = 0; i < grid.length; i++) grid[i] = Math.max(decay * grid[i]!, sigma[i]!);
}

/**
 * Mean of max(grid, 0) over all slices and threshold = min(mean, densityThresh).
 *
 * @param grid `[S·res³]` EMA values
 * @param options density threshold (10)
 * @returns the mean and the threshold
 *
 * @example
 * ```ts
 * import { occupancyThresholdTwin } from "./occupancy_twin.ts";
 * console.log(occupancyThresholdTwin(new Float64Array([1, 3]))); // { mean: 2, threshold: 2 }
 * ```
 */
export function occupancyThresholdTwin(
  grid: ArrayLike<number>,
  options: { densityThresh?: number } = {},
): { mean: number; threshold: number } {
  let sum = 0;
  for (let i = 0; i < grid.length; i++) sum += Math.max(grid[i]!, 0);
  const mean = sum / grid.length;
  return { mean, threshold: Math.min(mean, options.densityThresh ?? 10) };
}

/**
 * Packs the bitfield: a bit is set where grid > threshold.
 *
 * @param grid `[S·res³]` EMA values
 * @param options shape and threshold
 * @returns `[S][ceil(res³/32)]` u32 words
 *
 * @example
 * ```ts
 * import { packBitfieldTwin } from "./occupancy_twin.ts";
 * const g = new Float64Array(8).fill(0);
 * g[3] = 1;
 * console.log(packBitfieldTwin(g, { res: 2, slices: 1, threshold: 0.5 })[0]); // 8
 * ```
 */
export function packBitfieldTwin(
  grid: ArrayLike<number>,
  options: OccupancyShape & { threshold: number },
): Uint32Array<ArrayBuffer> {
  const cells = options.res ** 3;
  const words = wordsPerSlice(options.res);
  const bits = new Uint32Array(options.slices * words);
  for (let s = 0; s < options.slices; s++) {
    for (let c = 0; c < cells; c++) {
      if (grid[s * cells + c]! > options.threshold) {
        bits[s * words + (c >>> 5)]! |= 1 << (c & 31);
      }
    }
  }
  return bits;
}

/**
 * Looks up cell (ix, iy, iz) of `slice` in a bitfield.
 *
 * @param bits the bitfield
 * @param cell shape, slice and integer cell coordinates
 * @returns whether the cell is occupied
 *
 * @example
 * ```ts
 * import { isOccupied } from "./occupancy_twin.ts";
 * const bits = new Uint32Array([8]);
 * console.log(isOccupied(bits, { res: 2, slices: 1, slice: 0, ix: 0, iy: 1, iz: 1 })); // true
 * ```
 */
export function isOccupied(
  bits: ArrayLike<number>,
  cell: OccupancyShape & { slice: number; ix: number; iy: number; iz: number },
): boolean {
  const res = cell.res;
  const c = (cell.ix * res + cell.iy) * res + cell.iz;
  const word = bits[cell.slice * wordsPerSlice(res) + (c >>> 5)]!;
  return ((word >>> (c & 31)) & 1) === 1;
}
