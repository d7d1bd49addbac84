/**
 * The occupancy seed of a single-image run: the cells whose centre projects into the
 * (dilated) reference mask from the reference camera. An opaque object at t = 0 lies
 * inside this cone, since anything outside it would show in the reference image, so
 * the seed only removes space the reference proves empty.
 *
 * Why a seed at all: the original grows its object out of the density blob at the
 * centre over thousands of steps, and only occupied cells are ever sampled, so a few
 * hundred CPU steps cannot reach an off-centre object (the same finding as `mask_hull.ts`
 * for the fit task). This is a deviation from the original, switched off with
 * `occupancySeed: 0`.
 *
 * @module
 */
import { orbitCamera, REFERENCE_POSE } from "../kernels/camera.ts";
import { requireInt } from "../kernels/validate.ts";
import { dilatedMask, inMask } from "./mask_hull.ts";

/**
 * Flags (0/1, one per cell, x-major like the occupancy grid) of the reference
 * silhouette's cone.
 *
 * @param mask `[size²]` reference mask (1 inside), row-major
 * @param size side of the mask
 * @param options `res`: cells per axis; `dilate`: mask dilation in pixels (default 1)
 * @returns `[res³]` flags
 *
 * @example A centred disc seeds the middle cell of a 3³ grid, not the corner
 * ```ts
 * import { silhouetteCone } from "./silhouette_cone.ts";
 * const size = 32;
 * const mask = new Uint8Array(size * size).map((_, i) =>
 *   Math.hypot((i % size) - 15.5, Math.floor(i / size) - 15.5) < 4 ? 1 : 0
 * );
 * const cone = silhouetteCone(mask, size, { res: 3, dilate: 0 });
 * console.log(cone[13], cone[0]); // 1 0
 * ```
 */
export function silhouetteCone(
  mask: ArrayLike<number>,
  size: number,
  options: { res: number; dilate?: number },
): Float32Array {
  const res = requireInt("res", options.res, { min: 2 });
  requireInt("mask size", size, { min: 2 });
  if (mask.length !== size * size) {
    throw new RangeError(`Invalid mask: expected ${size * size} values, got ${mask.length}`);
  }
  const alpha = Float64Array.from(mask);
  const m = dilatedMask(alpha, size, requireInt("dilate", options.dilate ?? 1, { min: 0 }));
  const camera = orbitCamera(REFERENCE_POSE, { width: size, height: size });
  const out = new Float32Array(res ** 3);
  const p: [number, number, number] = [0, 0, 0];
  for (let c = 0; c < out.length; c++) {
    const ix = Math.floor(c / (res * res)), iy = Math.floor(c / res) % res, iz = c % res;
    p[0] = (2 * ix + 1) / res - 1;
    p[1] = (2 * iy + 1) / res - 1;
    p[2] = (2 * iz + 1) / res - 1;
    if (inMask(camera, m, p)) out[c] = 1;
  }
  return out;
}
