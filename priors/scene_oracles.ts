/**
 * The four oracle priors of a synthetic scene (SPEC.md §10.4), standing in for the
 * diffusion models when no weights are around. Targets are ground-truth renders
 * (`scenes/ground_truth.ts`, albedo over the step's background colour) at the request's
 * resolution:
 *
 * | Builder | Stands in for | cond set | uncond set |
 * |---|---|---|---|
 * | {@linkcode createImageOracle} | SD v1.5 (stage 2) | t = 0 renders from fixed views (pose unknown: the posterior picks) | cond ∪ background-only image ∪ colour-rotated (RGB → GBR) fixed views |
 * | {@linkcode createViewOracle} | Zero-1-to-3 | t = 0 render at the requested camera | cond ∪ fixed views at t = 0 |
 * | {@linkcode createVideoOracle} | ModelScope T2V | the clip at the requested cameras and times (one item) | cond ∪ the same cameras frozen at the first and at the last time |
 * | {@linkcode createFrameOracle} | ControlNet-tile (x̂₀, B = 2) | the frame at its camera and time | cond ∪ the same camera at t ∓ 0.25 |
 *
 * Every uncond set contains the cond target, so when the render equals the target the
 * low-noise posterior of both sets is that target, ε̂_c = ε̂_u = ε and the gradient is
 * about 0 for any CFG scale; the other uncond members make CFG push away from what the
 * unconditional model would also accept (another view, a frozen clip, another time).
 *
 * @module
 */
import { type Camera, orbitCamera, type OrbitPose, REFERENCE_POSE } from "../kernels/camera.ts";
import type { Gpu } from "../kernels/gpu.ts";
import { requireInt } from "../kernels/validate.ts";
import { renderCameraGroundTruth } from "../scenes/ground_truth.ts";
import type { Scene } from "../scenes/scene_config.ts";
import { type OracleItem, OraclePrior } from "./oracle_prior.ts";
import type { PriorConditioning } from "./prior.ts";
import {
  CONTROLNET_SDS,
  MODELSCOPE_SDS,
  SD_SDS,
  type SdsOptions,
  ZERO123_SDS,
} from "./sds_options.ts";

/**
 * A linear RGB colour, each channel in [0, 1].
 *
 * @example The fixed views over a blue background keep it where the ball is absent
 * ```ts
 * import { parseScene } from "../scenes/scene_config.ts";
 * import { type Rgb, SceneTargets } from "./scene_oracles.ts";
 * const scene = parseScene(
 *   "name: a\nmotion_prompt: A ball.\nprimitives: [{ type: sphere, radius: 0.5, color: [1, 0, 0] }]",
 * );
 * const blue: Rgb = [0, 0, 1];
 * const views = new SceneTargets(scene, { width: 8, height: 8 }).fixedViews(blue);
 * console.log(views.length, Array.from(views[0]!.subarray(0, 3))); // 8 [ 0, 0, 1 ]
 * ```
 */
export type Rgb = readonly [number, number, number];

/**
 * Options shared by the scene oracle builders.
 *
 * @example Two fixed views, targets shared by the image and the view oracle
 * ```ts
 * import { acquireGpu } from "../kernels/gpu.ts";
 * import { parseScene } from "../scenes/scene_config.ts";
 * import {
 *   createImageOracle, createViewOracle, FIXED_VIEWS, type SceneOracleOptions, SceneTargets,
 * } from "./scene_oracles.ts";
 * const scene = parseScene(
 *   "name: a\nmotion_prompt: A ball.\nprimitives: [{ type: sphere, radius: 0.5, color: [1, 0, 0] }]",
 * );
 * const base: SceneOracleOptions = { width: 8, height: 8, subsamples: 2, views: FIXED_VIEWS.slice(0, 2) };
 * const options: SceneOracleOptions = { ...base, targets: new SceneTargets(scene, base) };
 * const item = { index: 0, firstFrame: 0, frames: 1, width: 8, height: 8 };
 * // cond: 2 fixed views; uncond: those, the background-only image, 2 colour-rotated views.
 * console.log(options.targets!.image({ cameras: [], times: [] }, item).uncond.length); // 5
 * const gpu = await acquireGpu({ log: null });
 * const image = await createImageOracle(gpu, scene, options);
 * const view = await createViewOracle(gpu, scene, options);
 * console.log(image.name, view.name); // oracle-image oracle-view
 * image.destroy();
 * view.destroy();
 * gpu.destroy();
 * ```
 */
export interface SceneOracleOptions {
  /** Frame width W of the renders the prior scores. */
  width: number;
  /** Frame height H. */
  height: number;
  /** Anti-aliasing of the targets: k×k rays per pixel (default 1). */
  subsamples?: number;
  /** Fixed views of the image prior's cond set and the view prior's uncond set; 8 azimuths on the equator by default. */
  views?: readonly OrbitPose[];
  /** The SDS constants; the builder's SPEC.md preset by default. */
  sds?: SdsOptions;
  /**
   * Targets to share between builders (their fixed views are rendered once); built from
   * the options above when absent.
   */
  targets?: SceneTargets;
}

/**
 * The default fixed views: r 1.8, θ 90°, φ = 0°, 45°, …, 315°, fovy 40°.
 *
 * @example
 * ```ts
 * import { FIXED_VIEWS } from "./scene_oracles.ts";
 * console.log(FIXED_VIEWS.length, FIXED_VIEWS.map((v) => v.phiDeg).join(" ")); // 8 0 45 90 135 180 225 270 315
 * ```
 */
export const FIXED_VIEWS: readonly OrbitPose[] = Object.freeze(
  Array.from({ length: 8 }, (_, k) => Object.freeze({ ...REFERENCE_POSE, phiDeg: 45 * k })),
);

const WHITE: Rgb = [1, 1, 1];

/**
 * Target sets of one item (an `OracleTargetSet` of `oracle_denoiser.ts`).
 *
 * @example The frame prior's sets: the frame, and the same camera 0.25 earlier and later
 * ```ts
 * import { orbitCamera, REFERENCE_POSE } from "../kernels/camera.ts";
 * import { parseScene } from "../scenes/scene_config.ts";
 * import { type SceneTargetSet, SceneTargets } from "./scene_oracles.ts";
 * const scene = parseScene(
 *   "name: a\nmotion_prompt: A ball.\nprimitives: [{ type: sphere, radius: 0.5, color: [1, 0, 0] }]",
 * );
 * const targets = new SceneTargets(scene, { width: 4, height: 4 });
 * const cam = orbitCamera(REFERENCE_POSE, { width: 4, height: 4 });
 * const set: SceneTargetSet = targets.frame(
 *   { cameras: [cam], times: [0.5] },
 *   { index: 0, firstFrame: 0, frames: 1, width: 4, height: 4 },
 * );
 * console.log(set.cond.length, set.uncond.length, set.uncond[0] === set.cond[0]); // 1 3 true
 * ```
 */
export interface SceneTargetSet {
  /** Conditional targets, RGB in [0, 1]. */
  cond: Float32Array[];
  /** Unconditional targets. */
  uncond: Float32Array[];
}

/**
 * `camera` at another resolution: the same pose and field of view, with focal length and
 * principal point scaled as `orbitCamera` builds them (focal ∝ H, cx = H/2, cy = W/2).
 *
 * @param camera the camera
 * @param size the new width and height
 * @returns the resized camera (`camera` itself when the size already matches)
 *
 * @example
 * ```ts
 * import { orbitCamera, REFERENCE_POSE } from "../kernels/camera.ts";
 * import { resizeCamera } from "./scene_oracles.ts";
 * const cam = resizeCamera(orbitCamera(REFERENCE_POSE, { width: 128, height: 128 }), { width: 64, height: 64 });
 * console.log(cam.focal.toFixed(2)); // 87.92
 * ```
 */
export function resizeCamera(camera: Camera, size: { width: number; height: number }): Camera {
  if (camera.width === size.width && camera.height === size.height) return camera;
  return {
    c2w: camera.c2w,
    focal: (camera.focal * size.height) / camera.height,
    cx: size.height / 2,
    cy: size.width / 2,
    width: size.width,
    height: size.height,
  };
}

/**
 * Ground-truth target images of one scene at one resolution, with the fixed-view renders
 * cached (over black, with their coverage, so any background composites exactly).
 *
 * @example The view target is the ground truth at the requested camera, t = 0
 * ```ts
 * import { orbitCamera, REFERENCE_POSE } from "../kernels/camera.ts";
 * import { parseScene } from "../scenes/scene_config.ts";
 * import { SceneTargets } from "./scene_oracles.ts";
 * const scene = parseScene(
 *   "name: a\nmotion_prompt: A ball.\nprimitives: [{ type: sphere, radius: 0.5, color: [1, 0, 0] }]",
 * );
 * const targets = new SceneTargets(scene, { width: 8, height: 8 });
 * const cam = orbitCamera(REFERENCE_POSE, { width: 8, height: 8 });
 * const set = targets.view({ cameras: [cam], times: [0.7] }, { index: 0, firstFrame: 0, frames: 1, width: 8, height: 8 });
 * console.log(set.cond.length, set.uncond.length, set.cond[0]!.length); // 1 9 192
 * ```
 */
export class SceneTargets {
  /** The scene. */
  readonly scene: Scene;
  /** Target width. */
  readonly width: number;
  /** Target height. */
  readonly height: number;
  /** Anti-aliasing subsamples. */
  readonly subsamples: number;
  /** The fixed views. */
  readonly views: readonly OrbitPose[];
  #fixed: { rgb: Float64Array; alpha: Float64Array }[] | null = null;

  /**
   * Prepares the targets of `scene`; the fixed views are rendered on first use.
   *
   * @param scene the ground-truth scene
   * @param options resolution, anti-aliasing and fixed views
   */
  constructor(scene: Scene, options: Omit<SceneOracleOptions, "sds" | "targets">) {
    this.scene = scene;
    this.width = requireInt("width", options.width, { min: 1 });
    this.height = requireInt("height", options.height, { min: 1 });
    this.subsamples = requireInt("subsamples", options.subsamples ?? 1, { min: 1 });
    this.views = options.views ?? FIXED_VIEWS;
    if (this.views.length < 1) {
      throw new RangeError("Invalid option views: expected at least one pose, got 0");
    }
  }

  /**
   * Ground truth of `camera` (resized to the target resolution) at `time` over `background`.
   *
   * @param camera the camera
   * @param options scene time and background colour
   * @returns RGB `[H·W·3]` in [0, 1]
   */
  render(camera: Camera, options: { time: number; background: Rgb }): Float32Array {
    const cam = resizeCamera(camera, { width: this.width, height: this.height });
    const out = renderCameraGroundTruth(this.scene, cam, {
      time: options.time,
      subsamples: this.subsamples,
      background: [...options.background],
    });
    return Float32Array.from(out.rgb);
  }

  /**
   * The fixed views at t = 0 over `background` (rendered once, then composited).
   *
   * @param background the background colour
   * @returns one RGB image per fixed view
   */
  fixedViews(background: Rgb): Float32Array[] {
    this.#fixed ??= this.views.map((pose) => {
      const cam = orbitCamera(pose, { width: this.width, height: this.height });
      const r = renderCameraGroundTruth(this.scene, cam, {
        time: 0,
        subsamples: this.subsamples,
        background: [0, 0, 0],
      });
      return { rgb: r.rgb, alpha: r.alpha };
    });
    // C = A·albedo + (1 − A)·bg is linear in bg, also after averaging sub-rays.
    return this.#fixed.map(({ rgb, alpha }) =>
      Float32Array.from(rgb, (v, i) => v + (1 - alpha[Math.floor(i / 3)]!) * background[i % 3]!)
    );
  }

  #background(c: PriorConditioning): Rgb {
    return c.background ?? WHITE;
  }

  /**
   * Image-prior sets: cond = fixed views at t = 0; uncond = cond ∪ background-only ∪
   * colour-rotated fixed views.
   */
  image(c: PriorConditioning, _item: OracleItem): SceneTargetSet {
    const bg = this.#background(c);
    const cond = this.fixedViews(bg);
    const empty = Float32Array.from({ length: 3 * this.width * this.height }, (_, i) => bg[i % 3]!);
    const rotated = cond.map((img) =>
      Float32Array.from(img, (_, i) => img[i - (i % 3) + ((i + 1) % 3)]!)
    );
    return { cond, uncond: [...cond, empty, ...rotated] };
  }

  /** View-prior sets: cond = the requested camera at t = 0; uncond = cond ∪ fixed views. */
  view(c: PriorConditioning, item: OracleItem): SceneTargetSet {
    const bg = this.#background(c);
    const target = this.render(c.cameras[item.firstFrame]!, { time: 0, background: bg });
    return { cond: [target], uncond: [target, ...this.fixedViews(bg)] };
  }

  /**
   * Video-prior sets for one clip item: cond = the clip at its cameras and times; uncond =
   * cond ∪ the same cameras with the scene frozen at the first and at the last time.
   */
  video(c: PriorConditioning, item: OracleItem): SceneTargetSet {
    const bg = this.#background(c);
    const frames = Array.from({ length: item.frames }, (_, f) => item.firstFrame + f);
    const clip = (time: (frame: number) => number) => {
      const out = new Float32Array(item.frames * 3 * this.width * this.height);
      frames.forEach((frame, f) =>
        out.set(
          this.render(c.cameras[frame]!, { time: time(frame), background: bg }),
          f * 3 * this.width * this.height,
        )
      );
      return out;
    };
    const cond = clip((frame) => c.times[frame]!);
    const first = c.times[frames[0]!]!, last = c.times[frames.at(-1)!]!;
    return { cond: [cond], uncond: [cond, clip(() => first), clip(() => last)] };
  }

  /** Frame-prior sets: cond = the frame at its camera and time; uncond = cond ∪ t ∓ 0.25. */
  frame(c: PriorConditioning, item: OracleItem): SceneTargetSet {
    const bg = this.#background(c);
    const cam = c.cameras[item.firstFrame]!, time = c.times[item.firstFrame]!;
    const target = this.render(cam, { time, background: bg });
    const at = (t: number) =>
      this.render(cam, { time: Math.min(1, Math.max(0, t)), background: bg });
    return { cond: [target], uncond: [target, at(time - 0.25), at(time + 0.25)] };
  }
}

/**
 * The image prior (stand-in for SD v1.5 in stage 2): one image per item, SD preset.
 *
 * @param gpu the device
 * @param scene the ground-truth scene
 * @param options resolution, anti-aliasing, fixed views, SDS constants
 * @returns the prior (items of one image, up to 4 per call)
 *
 * @example
 * ```ts
 * import { acquireGpu } from "../kernels/gpu.ts";
 * import { parseScene } from "../scenes/scene_config.ts";
 * import { createImageOracle } from "./scene_oracles.ts";
 * const gpu = await acquireGpu({ log: null });
 * const scene = parseScene(
 *   "name: a\nmotion_prompt: A ball.\nprimitives: [{ type: sphere, radius: 0.5, color: [1, 0, 0] }]",
 * );
 * const prior = await createImageOracle(gpu, scene, { width: 8, height: 8 });
 * console.log(prior.name); // oracle-image
 * gpu.destroy();
 * ```
 */
export function createImageOracle(
  gpu: Gpu,
  scene: Scene,
  options: SceneOracleOptions,
): Promise<OraclePrior> {
  const targets = options.targets ?? new SceneTargets(scene, options);
  return OraclePrior.create(gpu, {
    name: "oracle-image",
    width: targets.width,
    height: targets.height,
    maxItems: 4,
    framesPerItem: 1,
    maxTargets: 2 * targets.views.length + 1,
    sds: options.sds ?? SD_SDS,
    targets: (c, item) => targets.image(c, item),
  });
}

/**
 * The view prior (stand-in for Zero-1-to-3): Zero123 preset, λ scaled by angle/180°.
 *
 * @param gpu the device
 * @param scene the ground-truth scene
 * @param options resolution, anti-aliasing, fixed views, SDS constants
 * @returns the prior (items of one image, up to 4 per call)
 *
 * @example
 * ```ts
 * import { acquireGpu } from "../kernels/gpu.ts";
 * import { parseScene } from "../scenes/scene_config.ts";
 * import { createViewOracle } from "./scene_oracles.ts";
 * const gpu = await acquireGpu({ log: null });
 * const scene = parseScene(
 *   "name: a\nmotion_prompt: A ball.\nprimitives: [{ type: sphere, radius: 0.5, color: [1, 0, 0] }]",
 * );
 * const prior = await createViewOracle(gpu, scene, { width: 8, height: 8 });
 * console.log(prior.name, prior.sdsPrior.sds.cfg, prior.sdsPrior.maxItems); // oracle-view zero123 4
 * prior.destroy();
 * gpu.destroy();
 * ```
 */
export function createViewOracle(
  gpu: Gpu,
  scene: Scene,
  options: SceneOracleOptions,
): Promise<OraclePrior> {
  const targets = options.targets ?? new SceneTargets(scene, options);
  return OraclePrior.create(gpu, {
    name: "oracle-view",
    width: targets.width,
    height: targets.height,
    maxItems: 4,
    framesPerItem: 1,
    maxTargets: targets.views.length + 1,
    sds: options.sds ?? ZERO123_SDS,
    targets: (c, item) => targets.view(c, item),
  });
}

/**
 * The video prior (stand-in for ModelScope T2V): one clip of `frames` frames per call.
 *
 * @param gpu the device
 * @param scene the ground-truth scene
 * @param options resolution, anti-aliasing, SDS constants and clip length (16 by default)
 * @returns the prior (one item of `frames` frames)
 *
 * @example Score a 2-frame clip of an empty render against the ball
 * ```ts
 * import { acquireGpu } from "../kernels/gpu.ts";
 * import { orbitCamera, REFERENCE_POSE } from "../kernels/camera.ts";
 * import { seededRandom } from "../kernels/random.ts";
 * import { parseScene } from "../scenes/scene_config.ts";
 * import { createVideoOracle } from "./scene_oracles.ts";
 * const gpu = await acquireGpu({ log: null });
 * const scene = parseScene(
 *   "name: a\nmotion_prompt: A ball.\nprimitives: [{ type: sphere, radius: 0.5, color: [1, 0, 0] }]",
 * );
 * const prior = await createVideoOracle(gpu, scene, { width: 4, height: 4, frames: 2 });
 * const cam = orbitCamera(REFERENCE_POSE, { width: 4, height: 4 });
 * prior.score({
 *   images: gpu.createBuffer(new Float32Array(96).fill(1)), count: 2, width: 4, height: 4,
 *   grad: gpu.createBuffer(384), conditioning: { cameras: [cam, cam], times: [0, 1] },
 *   random: seededRandom(7),
 * });
 * const loss = new Float32Array(await gpu.read(prior.loss))[0]!;
 * console.log(prior.name, prior.sdsPrior.framesPerItem, loss > 0); // oracle-video 2 true
 * prior.destroy();
 * gpu.destroy();
 * ```
 */
export function createVideoOracle(
  gpu: Gpu,
  scene: Scene,
  options: SceneOracleOptions & { frames?: number },
): Promise<OraclePrior> {
  const targets = options.targets ?? new SceneTargets(scene, options);
  return OraclePrior.create(gpu, {
    name: "oracle-video",
    width: targets.width,
    height: targets.height,
    maxItems: 1,
    framesPerItem: requireInt("frames", options.frames ?? 16, { min: 1 }),
    maxTargets: 3,
    sds: options.sds ?? MODELSCOPE_SDS,
    targets: (c, item) => targets.video(c, item),
  });
}

/**
 * The frame prior (stand-in for ControlNet-tile in stage 4): x̂₀ target, B = 2, up to two
 * frames per call sharing one t.
 *
 * @param gpu the device
 * @param scene the ground-truth scene
 * @param options resolution, anti-aliasing, SDS constants
 * @returns the prior (items of one frame, up to 2 per call)
 *
 * @example Two frames of one call share their timestep
 * ```ts
 * import { acquireGpu } from "../kernels/gpu.ts";
 * import { orbitCamera, REFERENCE_POSE } from "../kernels/camera.ts";
 * import { seededRandom } from "../kernels/random.ts";
 * import { parseScene } from "../scenes/scene_config.ts";
 * import { createFrameOracle } from "./scene_oracles.ts";
 * const gpu = await acquireGpu({ log: null });
 * const scene = parseScene(
 *   "name: a\nmotion_prompt: A ball.\nprimitives: [{ type: sphere, radius: 0.5, color: [1, 0, 0] }]",
 * );
 * const prior = await createFrameOracle(gpu, scene, { width: 4, height: 4 });
 * const cam = orbitCamera(REFERENCE_POSE, { width: 4, height: 4 });
 * prior.score({
 *   images: gpu.createBuffer(new Float32Array(96).fill(1)), count: 2, width: 4, height: 4,
 *   grad: gpu.createBuffer(384), conditioning: { cameras: [cam, cam], times: [0.2, 0.6] },
 *   random: seededRandom(8),
 * });
 * const [t0, t1] = prior.timesteps;
 * console.log(prior.name, prior.sdsPrior.sds.variant, t0 === t1); // oracle-frame x0 true
 * prior.destroy();
 * gpu.destroy();
 * ```
 */
export function createFrameOracle(
  gpu: Gpu,
  scene: Scene,
  options: SceneOracleOptions,
): Promise<OraclePrior> {
  const targets = options.targets ?? new SceneTargets(scene, options);
  return OraclePrior.create(gpu, {
    name: "oracle-frame",
    width: targets.width,
    height: targets.height,
    maxItems: 2,
    framesPerItem: 1,
    maxTargets: 3,
    sds: options.sds ?? CONTROLNET_SDS,
    targets: (c, item) => targets.frame(c, item),
  });
}
