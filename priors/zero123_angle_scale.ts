/**
 * Zero123's per-call gradient scale angle/180° (`zero123_grad_scale='angle'`, SPEC.md §4):
 * about 0 at the reference view and 1 opposite it.
 *
 * @module
 */

/**
 * The angle between two camera directions (e.g. camera centres seen from the origin),
 * divided by 180°.
 *
 * @param cameraDir direction of the current camera (any length > 0)
 * @param referenceDir direction of the reference camera (any length > 0)
 * @returns angle/180° in [0, 1]
 * @throws {RangeError} when a direction is zero or not finite
 *
 * @example
 * ```ts
 * import { zero123AngleScale } from "./zero123_angle_scale.ts";
 * console.log(zero123AngleScale([1, 0, 0], [0, 0, 1])); // 0.5
 * ```
 */
export function zero123AngleScale(
  cameraDir: readonly [number, number, number],
  referenceDir: readonly [number, number, number],
): number {
  const na = Math.hypot(...cameraDir), nb = Math.hypot(...referenceDir);
  for (const [name, n, v] of [["cameraDir", na, cameraDir], ["referenceDir", nb, referenceDir]]) {
    if (!(typeof n === "number" && Number.isFinite(n) && n > 0)) {
      throw new RangeError(
        `Invalid option ${name}: expected a finite non-zero vector, got ${JSON.stringify(v)}`,
      );
    }
  }
  const dot = cameraDir[0] * referenceDir[0] + cameraDir[1] * referenceDir[1] +
    cameraDir[2] * referenceDir[2];
  const cos = Math.min(1, Math.max(-1, dot / (na * nb)));
  return Math.acos(cos) / Math.PI;
}
