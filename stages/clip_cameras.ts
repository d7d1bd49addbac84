/**
 * Cameras of one training clip for the dynamic stages (SPEC.md §3.1, `Animate124 main:
 * dnerf/provider.py:18-117`), and the offsets from the reference view that Zero123 and
 * the view-dependent prompt read.
 *
 * @module
 */
import { type OrbitPose, REFERENCE_POSE } from "../kernels/camera.ts";
import { requireFinite, requireInt } from "../kernels/validate.ts";
import { CLIP_FRAMES } from "./clip_times.ts";
import type { RngStream } from "./rng_stream.ts";
import { sampleTrainingPose } from "./training_cameras.ts";

/** Probability that a clip's camera moves (`--dynamic_cam_rate`). */
export const DYNAMIC_CAM_RATE = 0.9;
/** Half-width of the polar sweep Δθ ~ U(−45°, 45°). */
export const MAX_POLAR_SWEEP_DEG = 45;
/** Half-width of the azimuth sweep Δφ ~ U(−90°, 90°). */
export const MAX_AZIMUTH_SWEEP_DEG = 90;

/** Options for {@linkcode sampleClipCameras}; the defaults are SPEC.md §3.1's. */
export interface ClipCamerasOptions {
  /** Frames per clip F, an integer ≥ 1. Default 16. */
  frames?: number;
  /** Probability of a moving camera, in [0, 1]. Default 0.9. */
  dynamicCamRate?: number;
}

/** The cameras of one clip. */
export interface ClipCameras {
  /** One pose per frame, in degrees; all the same object's values when `moving` is false. */
  poses: OrbitPose[];
  /** Whether the camera sweeps over the clip. Moving clips use the plain prompt (§3.1). */
  moving: boolean;
  /** The sweep (Δθ, Δφ) in degrees over a full F frames; zeros for a static camera. */
  sweepDeg: { theta: number; phi: number };
}

/**
 * Draws the cameras of one clip. With p = `dynamicCamRate` the start (θ₀, φ₀) is a
 * training pose ({@linkcode sampleTrainingPose}), then Δθ ~ U(−45°, 45°) and
 * Δφ ~ U(−90°, 90°), and frame i sits at (θ₀ + (i/F)·Δθ, φ₀ + (i/F)·Δφ). The sweep is
 * not clamped (`scale_delta` off), so θ can leave [0°, 180°]; the orbit formula then
 * lands on the far side of the pole, as in the original. Otherwise one training pose
 * serves every frame.
 *
 * Draw order follows the original: the moving/static coin, the pose, then Δθ and Δφ.
 *
 * @param rng the run's random stream
 * @param options clip length and moving-camera rate
 * @returns per-frame poses (r 1.8, fovy 40°) and whether they move
 * @throws {RangeError} naming the option when one is out of range
 *
 * @example Frame 0 is the drawn start of the sweep
 * ```ts
 * import { RngStream } from "./rng_stream.ts";
 * import { sampleClipCameras } from "./clip_cameras.ts";
 * const clip = sampleClipCameras(new RngStream(5), { dynamicCamRate: 1 });
 * const [a, b] = [clip.poses[0]!, clip.poses[1]!];
 * const step = b.phiDeg - a.phiDeg - clip.sweepDeg.phi / 16;
 * console.log(clip.poses.length, clip.moving, Math.abs(step) < 1e-9); // 16 true true
 * ```
 */
export function sampleClipCameras(rng: RngStream, options: ClipCamerasOptions = {}): ClipCameras {
  const frames = requireInt("frames", options.frames ?? CLIP_FRAMES, { min: 1 });
  const rate = requireFinite("dynamicCamRate", options.dynamicCamRate ?? DYNAMIC_CAM_RATE, {
    min: 0,
    max: 1,
  });
  const moving = rng.next() < rate;
  const start = sampleTrainingPose(rng);
  if (!moving) {
    return {
      poses: Array.from({ length: frames }, () => ({ ...start })),
      moving,
      sweepDeg: { theta: 0, phi: 0 },
    };
  }
  const theta = rng.uniform(-MAX_POLAR_SWEEP_DEG, MAX_POLAR_SWEEP_DEG);
  const phi = rng.uniform(-MAX_AZIMUTH_SWEEP_DEG, MAX_AZIMUTH_SWEEP_DEG);
  const poses = Array.from({ length: frames }, (_, i) => ({
    ...start,
    thetaDeg: start.thetaDeg + (i / frames) * theta,
    phiDeg: start.phiDeg + (i / frames) * phi,
  }));
  return { poses, moving, sweepDeg: { theta, phi } };
}

/**
 * Wraps an azimuth into (−180°, 180°]. The original keeps φ in [0°, 360°) and subtracts
 * 360° above 180° (`Animate124 main: dnerf/provider.py:203-206`), so +180° stays +180°.
 *
 * @param phiDeg any finite azimuth in degrees
 * @returns the same direction in (−180, 180]
 *
 * @example
 * ```ts
 * import { wrapAzimuthDeg } from "./clip_cameras.ts";
 * console.log(wrapAzimuthDeg(270), wrapAzimuthDeg(-180), wrapAzimuthDeg(540)); // -90 180 180
 * ```
 */
export function wrapAzimuthDeg(phiDeg: number): number {
  const wrapped = phiDeg - 360 * Math.ceil((phiDeg - 180) / 360);
  // ceil of an exact integer can round the wrong way by one ulp far from 0; pin the
  // result into the half-open interval.
  return wrapped <= -180 ? wrapped + 360 : wrapped > 180 ? wrapped - 360 : wrapped;
}

/** Offsets of a pose from the reference view (SPEC.md §3.1). */
export interface ReferenceOffsets {
  /** Δθ = θ − 90°, degrees. */
  polarDeg: number;
  /** Δφ = φ − 0° wrapped into (−180°, 180°], degrees. */
  azimuthDeg: number;
  /** Δr = r − 1.8. */
  radius: number;
}

/**
 * Offsets of `pose` from the reference pose (r 1.8, θ 90°, φ 0°): what Zero123's camera
 * embedding and the view-dependent prompt read. Dynamic clips use frame 0's.
 *
 * @param pose a pose in degrees
 * @returns (Δθ, Δφ wrapped, Δr)
 * @throws {RangeError} naming the field when a value is not finite
 *
 * @example
 * ```ts
 * import { referenceOffsets } from "./clip_cameras.ts";
 * console.log(referenceOffsets({ radius: 2, thetaDeg: 60, phiDeg: 300, fovyDeg: 40 }));
 * // { polarDeg: -30, azimuthDeg: -60, radius: 0.19999999999999996 }
 * ```
 */
export function referenceOffsets(pose: Readonly<OrbitPose>): ReferenceOffsets {
  const theta = requireFinite("thetaDeg", pose.thetaDeg);
  const phi = requireFinite("phiDeg", pose.phiDeg);
  const radius = requireFinite("radius", pose.radius);
  return {
    polarDeg: theta - REFERENCE_POSE.thetaDeg,
    azimuthDeg: wrapAzimuthDeg(phi - REFERENCE_POSE.phiDeg),
    radius: radius - REFERENCE_POSE.radius,
  };
}

const DEG = Math.PI / 180;

/**
 * Angle in degrees between the directions from the origin to the camera and to the
 * reference camera; radius plays no part. Zero123's SDS gradient is scaled by
 * angle/180 (`Animate124 main: guidance/zero123_diffusers_utils.py`, `angle_between`
 * with one reference view), so it vanishes at the reference and is full opposite it.
 *
 * @param pose a pose in degrees
 * @returns the angle in [0, 180]
 * @throws {RangeError} naming the field when an angle is not finite
 *
 * @example
 * ```ts
 * import { cameraAngleToReference } from "./clip_cameras.ts";
 * const side = cameraAngleToReference({ radius: 1.8, thetaDeg: 90, phiDeg: 90, fovyDeg: 40 });
 * console.log(Math.round(side)); // 90
 * ```
 */
export function cameraAngleToReference(pose: Readonly<OrbitPose>): number {
  const theta = requireFinite("thetaDeg", pose.thetaDeg) * DEG;
  const phi = requireFinite("phiDeg", pose.phiDeg) * DEG;
  const t0 = REFERENCE_POSE.thetaDeg * DEG;
  const p0 = REFERENCE_POSE.phiDeg * DEG;
  // Unit directions (sinθ sinφ, cosθ, sinθ cosφ); their dot product expands to this.
  const dot = Math.sin(theta) * Math.sin(t0) * Math.cos(phi - p0) +
    Math.cos(theta) * Math.cos(t0);
  return Math.acos(Math.min(1, Math.max(-1, dot))) / DEG;
}
