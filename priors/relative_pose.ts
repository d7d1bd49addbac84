/**
 * Zero-1-to-3's pose offsets of an orbit camera from the reference view (SPEC.md §3.1
 * "Offsets", §4): Δθ and Δr as differences, Δφ wrapped to [−180°, 180°).
 *
 * @module
 */
import { type OrbitPose, REFERENCE_POSE } from "../kernels/camera.ts";
import type { RelativePose } from "./prior.ts";

/**
 * The offsets of `pose` from `reference`.
 *
 * @param pose the camera's orbit pose
 * @param reference the reference view; defaults to {@linkcode REFERENCE_POSE}
 * @returns Δθ, Δφ (wrapped) and Δr
 *
 * @example A quarter turn the other way is −90°
 * ```ts
 * import { REFERENCE_POSE } from "../kernels/camera.ts";
 * import { relativePoseOf } from "./relative_pose.ts";
 * const back = relativePoseOf({ ...REFERENCE_POSE, phiDeg: REFERENCE_POSE.phiDeg + 270 });
 * console.log(back.dTheta, back.dPhi, back.dRadius); // 0 -90 0
 * ```
 */
export function relativePoseOf(
  pose: Readonly<OrbitPose>,
  reference: Readonly<OrbitPose> = REFERENCE_POSE,
): RelativePose {
  const dPhi = ((((pose.phiDeg - reference.phiDeg) % 360) + 540) % 360) - 180;
  return {
    dTheta: pose.thetaDeg - reference.thetaDeg,
    dPhi,
    dRadius: pose.radius - reference.radius,
  };
}
