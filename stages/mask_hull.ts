/**
 * A visual-hull occupancy prior from training masks: the cells of the occupancy grid
 * that project inside the ground-truth alpha of every one of a few training views taken
 * at the same time (union over a few times per slice).
 *
 * Why: the original grows its object out of the density blob at the centre under score
 * distillation, so its first occupancy update (at step 0) marks only the blob. Fitting
 * to renders of a whole scene from that state starves everything outside the blob of
 * samples. Carving the grid from the training masks (data the fit already uses) starts
 * the occupancy where the object is; the schedule of SPEC.md §3.2 then takes over.
 *
 * @module
 */
import { type Camera, orbitCamera } from "../kernels/camera.ts";
import { requireInt } from "../kernels/validate.ts";
import { renderCameraGroundTruth } from "../scenes/ground_truth.ts";
import type { Scene } from "../scenes/scene_config.ts";
import { RngStream } from "./rng_stream.ts";
import { sampleTrainingPose } from "./training_cameras.ts";

/** Options of {@linkcode maskHull}. */
export interface MaskHullOptions {
  /** Occupancy cells per axis. */
  res: number;
  /** Occupancy time slices. */
  slices: number;
  /** Training views carved against at each time (default 8). */
  views?: number;
  /** Times per slice whose hulls are unioned (default 3). */
  timesPerSlice?: number;
  /** Side of the mask renders (default 32). */
  size?: number;
  /** Mask dilation in pixels, covering a cell's extent around its centre (default 2). */
  dilate?: number;
  /** Seed of the views. */
  seed?: number;
}

/** Marks every pixel within `r` (Chebyshev) of a covered one. */
export function dilatedMask(alpha: Float64Array, size: number, r: number): Uint8Array {
  const out = new Uint8Array(size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      if (!(alpha[y * size + x]! > 0)) continue;
      for (let dy = -r; dy <= r; dy++) {
        for (let dx = -r; dx <= r; dx++) {
          const u = x + dx, v = y + dy;
          if (u >= 0 && v >= 0 && u < size && v < size) out[v * size + u] = 1;
        }
      }
    }
  }
  return out;
}

/** Whether world point p projects into the mask (or outside the image: no evidence). */
export function inMask(camera: Camera, mask: Uint8Array, p: [number, number, number]): boolean {
  const m = camera.c2w;
  const d0 = p[0] - m[3]!, d1 = p[1] - m[7]!, d2 = p[2] - m[11]!;
  // Camera coordinates: columns of the rotation are right, up, f (camera looks along −f).
  const xc = m[0]! * d0 + m[4]! * d1 + m[8]! * d2;
  const yc = m[1]! * d0 + m[5]! * d1 + m[9]! * d2;
  const zc = m[2]! * d0 + m[6]! * d1 + m[10]! * d2;
  if (zc >= 0) return true;
  const i = Math.floor(camera.cx + (camera.focal * xc) / -zc);
  const j = Math.floor(camera.cy - (camera.focal * yc) / -zc);
  if (i < 0 || j < 0 || i >= camera.width || j >= camera.height) return true;
  return mask[j * camera.width + i] === 1;
}

/**
 * Carves the occupancy prior of `scene`: 1 where a cell may hold the object during its
 * slice, 0 where some training view at every sampled time sees background through it.
 *
 * @param scene the scene (its ground-truth alpha is the mask)
 * @param options grid shape and carving controls
 * @returns `[S][res³]` flags in the occupancy grid's cell order ((ix·res + iy)·res + iz)
 *
 * @example
 * ```ts
 * import { parseScene } from "../scenes/scene_config.ts";
 * import { maskHull } from "./mask_hull.ts";
 * const scene = parseScene("name: a\nmotion_prompt: A ball.\nprimitives: [{ type: sphere, radius: 0.3, color: [1, 0, 0] }]");
 * const hull = maskHull(scene, { res: 8, slices: 1 });
 * console.log(hull[(4 * 8 + 4) * 8 + 4], hull[0]); // 1 0
 * ```
 */
export function maskHull(scene: Scene, options: MaskHullOptions): Float32Array {
  const res = requireInt("res", options.res, { min: 2 });
  const slices = requireInt("slices", options.slices, { min: 1 });
  const views = requireInt("views", options.views ?? 8, { min: 1 });
  const times = requireInt("timesPerSlice", options.timesPerSlice ?? 3, { min: 1 });
  const size = requireInt("size", options.size ?? 32, { min: 4 });
  const dilate = requireInt("dilate", options.dilate ?? 2, { min: 0 });
  const rng = new RngStream((options.seed ?? 0) ^ 0x4ab1);
  const cells = res ** 3;
  const out = new Float32Array(slices * cells);
  const p: [number, number, number] = [0, 0, 0];
  for (let s = 0; s < slices; s++) {
    for (let j = 0; j < times; j++) {
      const time = (s + (j + 0.5) / times) / slices;
      const cams = Array.from({ length: views }, () => {
        const camera = orbitCamera(sampleTrainingPose(rng), { width: size, height: size });
        const gt = renderCameraGroundTruth(scene, camera, { time, background: [1, 1, 1] });
        return { camera, mask: dilatedMask(gt.alpha, size, dilate) };
      });
      for (let c = 0; c < cells; c++) {
        if (out[s * cells + c] === 1) continue;
        const ix = Math.floor(c / (res * res)), iy = Math.floor(c / res) % res, iz = c % res;
        p[0] = ((2 * ix + 1) / res) - 1;
        p[1] = ((2 * iy + 1) / res) - 1;
        p[2] = ((2 * iz + 1) / res) - 1;
        if (cams.every(({ camera, mask }) => inMask(camera, mask, p))) out[s * cells + c] = 1;
      }
    }
  }
  return out;
}
