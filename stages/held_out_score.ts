/**
 * Scoring a fitted field on held-out cameras and times against the scene's ground truth:
 * PSNR and SSIM per view, means overall and per time.
 *
 * @module
 */
import { orbitCamera } from "../kernels/camera.ts";
import { requireInt } from "../kernels/validate.ts";
import { renderCameraGroundTruth } from "../scenes/ground_truth.ts";
import type { Scene } from "../scenes/scene_config.ts";
import { type FittedModel, renderFieldViews } from "./field_renders.ts";
import { boxDownsample, psnr, ssim } from "./image_metrics.ts";
import { heldOutViews } from "./training_cameras.ts";

/**
 * Scores of one time.
 *
 * @example
 * ```ts
 * import { acquireGpu } from "../kernels/gpu.ts";
 * import { Field } from "../kernels/field.ts";
 * import { OccupancyGrid } from "../kernels/occupancy.ts";
 * import { parseScene } from "../scenes/scene_config.ts";
 * import { scoreHeldOut, type TimeScore } from "./held_out_score.ts";
 * const gpu = await acquireGpu({ log: null });
 * const scene = parseScene(
 *   "name: a\nmotion_prompt: A ball.\nprimitives: [{ type: sphere, radius: 0.5, color: [1, 0, 0] }]",
 * );
 * const field = await Field.create(gpu, { grid: { levels: 2, log2TableSize: 8 } });
 * const occupancy = await OccupancyGrid.create(gpu, { res: 8, slices: 1 });
 * const m = await scoreHeldOut(scene, { gpu, field, occupancy, dt: 0.05 }, {
 *   views: 1, times: 2, size: 12, subsamples: 1,
 * });
 * // Held-out times sit at the middles of `times` equal intervals.
 * const perTime: TimeScore[] = m.perTime;
 * console.log(perTime.map((p) => p.time)); // [ 0.25, 0.75 ]
 * gpu.destroy();
 * ```
 */
export interface TimeScore {
  /** Scene time in [0, 1]. */
  time: number;
  /** Mean PSNR over the views at this time, dB. */
  psnr: number;
  /** Mean SSIM over the views at this time. */
  ssim: number;
}

/**
 * What {@linkcode scoreHeldOut} returns (and `metrics.json` holds).
 *
 * @example
 * ```ts
 * import { acquireGpu } from "../kernels/gpu.ts";
 * import { Field } from "../kernels/field.ts";
 * import { OccupancyGrid } from "../kernels/occupancy.ts";
 * import { parseScene } from "../scenes/scene_config.ts";
 * import { type HeldOutMetrics, scoreHeldOut } from "./held_out_score.ts";
 * const gpu = await acquireGpu({ log: null });
 * const scene = parseScene(
 *   "name: a\nmotion_prompt: A ball.\nprimitives: [{ type: sphere, radius: 0.5, color: [1, 0, 0] }]",
 * );
 * const field = await Field.create(gpu, { grid: { levels: 2, log2TableSize: 8 } });
 * const occupancy = await OccupancyGrid.create(gpu, { res: 8, slices: 1 });
 * const m: HeldOutMetrics = await scoreHeldOut(scene, { gpu, field, occupancy, dt: 0.05 }, {
 *   views: 2, times: 1, size: 12, subsamples: 1,
 * });
 * console.log(m.views.length, m.resolution, m.ssim <= 1); // 2 12 true
 * gpu.destroy();
 * ```
 */
export interface HeldOutMetrics {
  /** Mean PSNR over the held-out set, dB. */
  psnr: number;
  /** Mean SSIM over the held-out set. */
  ssim: number;
  /** Means per held-out time. */
  perTime: TimeScore[];
  /** Every view: azimuth, time and scores. */
  views: { phiDeg: number; time: number; psnr: number; ssim: number }[];
  /** Side of the renders. */
  resolution: number;
}

/** Options of {@linkcode scoreHeldOut}. */
export interface ScoreOptions {
  /** Held-out azimuths at θ = 90°. */
  views: number;
  /** Held-out times per azimuth. */
  times: number;
  /** Side of the square renders. */
  size: number;
  /**
   * Sub-rays per pixel side, for the ground truth and the field alike: both are rendered
   * at `size·subsamples` and box-filtered to `size`, so a field that matched the scene
   * exactly would score the same as the truth against itself.
   */
  subsamples: number;
  /** Called with (done, total) after each view. */
  onView?: (done: number, total: number) => void;
  /** Receives each render and its ground truth, e.g. to save a comparison image. */
  onImages?: (index: number, render: Float32Array, truth: Float64Array) => void;
}

/**
 * Renders the held-out set of {@linkcode heldOutViews} and compares each view with the
 * ground truth at the same camera and time (white background, albedo).
 *
 * @param scene the scene the field was fitted to
 * @param model the fitted field
 * @param options set size, render size and ground-truth anti-aliasing
 * @returns mean PSNR/SSIM, per-time means and per-view scores
 *
 * @example
 * ```ts
 * import { acquireGpu } from "../kernels/gpu.ts";
 * import { Field } from "../kernels/field.ts";
 * import { OccupancyGrid } from "../kernels/occupancy.ts";
 * import { parseScene } from "../scenes/scene_config.ts";
 * import { scoreHeldOut } from "./held_out_score.ts";
 * const gpu = await acquireGpu({ log: null });
 * const scene = parseScene("name: a\nmotion_prompt: A ball.\nprimitives: [{ type: sphere, radius: 0.5, color: [1, 0, 0] }]");
 * const field = await Field.create(gpu, { grid: { levels: 2, log2TableSize: 8 } });
 * const occupancy = await OccupancyGrid.create(gpu, { res: 8, slices: 1 });
 * const m = await scoreHeldOut(scene, { gpu, field, occupancy, dt: 0.05 }, {
 *   views: 1, times: 1, size: 12, subsamples: 1,
 * });
 * console.log(Number.isFinite(m.psnr)); // true
 * gpu.destroy();
 * ```
 */
export async function scoreHeldOut(
  scene: Scene,
  model: FittedModel,
  options: ScoreOptions,
): Promise<HeldOutMetrics> {
  const set = heldOutViews({ views: options.views, times: options.times });
  const size = options.size;
  const k = requireInt("subsamples", options.subsamples, { min: 1, max: 8 });
  const views: HeldOutMetrics["views"] = [];
  let i = 0;
  for await (const render of renderFieldViews(model, set, { size: size * k })) {
    const view = set[i]!;
    const truth = renderCameraGroundTruth(
      scene,
      orbitCamera(view.pose, { width: size, height: size }),
      { time: view.time, subsamples: k, background: [1, 1, 1] },
    );
    const clamped = boxDownsample(render.rgb, { size, k });
    views.push({
      phiDeg: view.pose.phiDeg,
      time: view.time,
      psnr: psnr(clamped, truth.rgb),
      ssim: ssim(clamped, truth.rgb, { width: size, height: size }),
    });
    options.onImages?.(i, clamped, truth.rgb);
    i++;
    options.onView?.(i, set.length);
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const times = [...new Set(views.map((v) => v.time))];
  return {
    psnr: mean(views.map((v) => v.psnr)),
    ssim: mean(views.map((v) => v.ssim)),
    perTime: times.map((time) => {
      const at = views.filter((v) => v.time === time);
      return { time, psnr: mean(at.map((v) => v.psnr)), ssim: mean(at.map((v) => v.ssim)) };
    }),
    views,
    resolution: size,
  };
}
