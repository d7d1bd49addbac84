/**
 * Float64 twin of `normal_points.wgsl`: the finite-difference point set of the
 * normals (Animate124 main: dnerf/network_4dgrid.py:248-302).
 *
 * @module
 */

/** Finite-difference step ε of the normals (SPEC §2.4). */
export const FD_EPSILON = 0.01;

/** Number of point blocks per sample: the sample, then ±x, ±y, ±z. */
export const FD_BLOCKS = 7;

/**
 * Writes the point of `block` (0 the sample, then +x, −x, +y, −y, +z, −z) for the
 * sample at `positions[3i..3i+2]` into `out[0..2]`. Shifted points are clamped to
 * [−1, 1]³ as a whole, as the original's `(x + offset).clamp(-bound, bound)` does
 * (Animate124 main: dnerf/network_4dgrid.py:260-275).
 *
 * @example
 * ```ts
 * import { fdPoint } from "./normal_points_twin.ts";
 * const out = new Float64Array(3);
 * fdPoint([0.995, 0, 0], { index: 0, block: 1, out });
 * console.log(out[0]); // 1 (clamped)
 * ```
 */
export function fdPoint(
  positions: ArrayLike<number>,
  options: { index: number; block: number; out: Float64Array },
): Float64Array {
  const { index, block, out } = options;
  for (let c = 0; c < 3; c++) out[c] = positions[3 * index + c]!;
  if (block === 0) return out;
  const axis = Math.floor((block - 1) / 2);
  out[axis] = out[axis]! + ((block - 1) % 2 === 0 ? FD_EPSILON : -FD_EPSILON);
  for (let c = 0; c < 3; c++) out[c] = Math.min(1, Math.max(-1, out[c]!));
  return out;
}

/** Result of {@linkcode normalPointsTwin}. */
export interface NormalPointsResult {
  /** `[7][S][3]` points. */
  points: Float64Array;
  /** `[7][S]` times, or null when no times were given. */
  times: Float64Array | null;
}

/**
 * Builds the `[7][S][3]` finite-difference point set (and `[7][S]` times when given)
 * from `[S][3]` sample positions.
 *
 * @param positions `[S][3]` sample positions
 * @param options per-sample times `[S]`
 * @returns the point set and its times
 *
 * @example
 * ```ts
 * import { normalPointsTwin } from "./normal_points_twin.ts";
 * const { points, times } = normalPointsTwin([0, 0, 0], { times: [0.5] });
 * console.log(points.length, points[3], times?.[6]); // 21 0.01 0.5
 * ```
 */
export function normalPointsTwin(
  positions: ArrayLike<number>,
  options: { times?: ArrayLike<number> } = {},
): NormalPointsResult {
  const s = Math.floor(positions.length / 3);
  const points = new Float64Array(FD_BLOCKS * s * 3);
  const times = options.times === undefined ? null : new Float64Array(FD_BLOCKS * s);
  const q = new Float64Array(3);
  for (let block = 0; block < FD_BLOCKS; block++) {
    for (let i = 0; i < s; i++) {
      fdPoint(positions, { index: i, block, out: q });
      points.set(q, 3 * (block * s + i));
      if (times !== null) times[block * s + i] = options.times![i]!;
    }
  }
  return { points, times };
}
