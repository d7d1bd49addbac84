/**
 * Camera poses for fitting: the static training distribution of SPEC.md §3.1 and a
 * held-out scoring set that training never draws.
 *
 * @module
 */
import type { OrbitPose } from "../kernels/camera.ts";
import { requireInt } from "../kernels/validate.ts";
import type { RngStream } from "./rng_stream.ts";

/** Orbit radius of training and test cameras (SPEC.md §3.1). */
export const ORBIT_RADIUS = 1.8;
/** Vertical field of view of training and test cameras, degrees. */
export const ORBIT_FOVY = 40;
/** Probability of the upper-hemisphere branch (`uniform_sphere_rate`). */
export const UNIFORM_SPHERE_RATE = 0.5;

const RAD = 180 / Math.PI;

/**
 * Draws one training pose: with p 0.5 the direction normalize(U(−1,1), U(0,1), U(−1,1))
 * (upper hemisphere), otherwise θ ~ U[45°, 135°], φ ~ U[−180°, 180°]; r 1.8, fovy 40°.
 *
 * @param rng the run's random stream
 * @returns the pose in degrees
 *
 * @example
 * ```ts
 * import { RngStream } from "./rng_stream.ts";
 * import { sampleTrainingPose } from "./training_cameras.ts";
 * const pose = sampleTrainingPose(new RngStream(1));
 * console.log(pose.radius, pose.thetaDeg <= 135); // 1.8 true
 * ```
 */
export function sampleTrainingPose(rng: RngStream): OrbitPose {
  if (rng.next() < UNIFORM_SPHERE_RATE) {
    const x = rng.uniform(-1, 1);
    const y = rng.uniform(0, 1);
    const z = rng.uniform(-1, 1);
    const n = Math.sqrt(Math.max(x * x + y * y + z * z, 1e-20));
    return {
      radius: ORBIT_RADIUS,
      thetaDeg: Math.acos(Math.min(1, y / n)) * RAD,
      phiDeg: Math.atan2(x, z) * RAD,
      fovyDeg: ORBIT_FOVY,
    };
  }
  return {
    radius: ORBIT_RADIUS,
    thetaDeg: rng.uniform(45, 135),
    phiDeg: rng.uniform(-180, 180),
    fovyDeg: ORBIT_FOVY,
  };
}

/** One held-out view: a pose and a time. */
export interface HeldOutView {
  pose: OrbitPose;
  time: number;
}

/**
 * The held-out scoring set: `views` azimuths at θ = 90° placed half a step off the
 * turntable's (φ = (i + ½)·360°/views + 7°, so none coincides with an export view either)
 * crossed with `times` times (k + ½)/times, the midpoints between the training clock's
 * keyframes. Training draws continuous poses and times, so it meets none of these
 * exactly.
 *
 * @param options number of azimuths and of times
 * @returns views × times entries, time-major
 *
 * @example
 * ```ts
 * import { heldOutViews } from "./training_cameras.ts";
 * const set = heldOutViews({ views: 4, times: 2 });
 * console.log(set.length, set[0]!.time); // 8 0.25
 * ```
 */
export function heldOutViews(options: { views: number; times: number }): HeldOutView[] {
  const views = requireInt("evalViews", options.views, { min: 1 });
  const times = requireInt("evalTimes", options.times, { min: 1 });
  const out: HeldOutView[] = [];
  for (let k = 0; k < times; k++) {
    for (let i = 0; i < views; i++) {
      out.push({
        pose: {
          radius: ORBIT_RADIUS,
          thetaDeg: 90,
          phiDeg: ((i + 0.5) * 360) / views + 7,
          fovyDeg: ORBIT_FOVY,
        },
        time: (k + 0.5) / times,
      });
    }
  }
  return out;
}
