/**
 * The one interface every prior implements, oracle or diffusion model: given rendered
 * images on the GPU, add the prior's dL/dimage into a caller's gradient buffer and write
 * its loss into its own small `loss` buffer, with no read-back.
 *
 * Images and gradients share the renderer's layout: `[count][H·W][3]` f32 RGB in [0, 1],
 * row-major pixels, one entry per image or clip frame (docs/kernels.md "composited
 * images"). A call may hold several items: each image is an item, or, for a video prior,
 * each clip of `framesPerItem` frames is one.
 *
 * @example Score a grey image with an oracle that wants white
 * ```ts
 * import { acquireGpu } from "../kernels/gpu.ts";
 * import { orbitCamera, REFERENCE_POSE } from "../kernels/camera.ts";
 * import { seededRandom } from "../kernels/random.ts";
 * import type { Prior, PriorRequest } from "./prior.ts";
 * import { OraclePrior } from "./oracle_prior.ts";
 * import { SD_SDS } from "./sds_options.ts";
 * const gpu = await acquireGpu({ log: null });
 * const white = new Float32Array(4 * 4 * 3).fill(1);
 * const prior: Prior = await OraclePrior.create(gpu, {
 *   width: 4, height: 4, maxItems: 1, framesPerItem: 1, maxTargets: 2, sds: SD_SDS,
 *   targets: () => ({ cond: [white], uncond: [white, white.map(() => 0)] }),
 * });
 * const grad = gpu.createBuffer(4 * 48);
 * const request: PriorRequest = {
 *   images: gpu.createBuffer(new Float32Array(48).fill(0.5)), count: 1, width: 4, height: 4,
 *   grad, conditioning: { cameras: [orbitCamera(REFERENCE_POSE, { width: 4, height: 4 })], times: [0] },
 *   random: seededRandom(1),
 * };
 * await prior.score(request);
 * const g = new Float32Array(await gpu.read(grad));
 * console.log(g.every((v) => v < 0)); // true: descending raises the pixels toward white
 * gpu.destroy();
 * ```
 *
 * @module
 */
import type { Camera } from "../kernels/camera.ts";

/**
 * Zero123's camera offsets from the reference view (SPEC.md §3.1 "Offsets").
 *
 * @example Offsets of the camera at φ = 270°, handed to the view oracle with that camera
 * ```ts
 * import { acquireGpu } from "../kernels/gpu.ts";
 * import { orbitCamera, REFERENCE_POSE } from "../kernels/camera.ts";
 * import { seededRandom } from "../kernels/random.ts";
 * import { parseScene } from "../scenes/scene_config.ts";
 * import type { RelativePose } from "./prior.ts";
 * import { createViewOracle } from "./scene_oracles.ts";
 * const pose = { ...REFERENCE_POSE, phiDeg: 270 };
 * const relativePose: RelativePose = {
 *   dTheta: pose.thetaDeg - REFERENCE_POSE.thetaDeg,
 *   dPhi: ((pose.phiDeg - REFERENCE_POSE.phiDeg + 540) % 360) - 180,
 *   dRadius: pose.radius - REFERENCE_POSE.radius,
 * };
 * const gpu = await acquireGpu({ log: null });
 * const scene = parseScene(
 *   "name: a\nmotion_prompt: A ball.\nprimitives: [{ type: sphere, radius: 0.5, color: [1, 0, 0] }]",
 * );
 * const prior = await createViewOracle(gpu, scene, { width: 4, height: 4 });
 * prior.score({
 *   images: gpu.createBuffer(192), count: 1, width: 4, height: 4, grad: gpu.createBuffer(192),
 *   conditioning: { cameras: [orbitCamera(pose, { width: 4, height: 4 })], times: [0], relativePose },
 *   random: seededRandom(5),
 * });
 * console.log(relativePose.dPhi, prior.sdsPrior.lambdas[0]!.toFixed(3)); // -90 20.000
 * prior.destroy();
 * gpu.destroy();
 * ```
 */
export interface RelativePose {
  /** Δθ in degrees. */
  dTheta: number;
  /** Δφ in degrees, wrapped to [−180, 180]. */
  dPhi: number;
  /** Δr. */
  dRadius: number;
}

/**
 * What the prior is conditioned on, per call.
 *
 * @example The background colour reaches the targets: a black one gives black corners
 * ```ts
 * import { orbitCamera, REFERENCE_POSE } from "../kernels/camera.ts";
 * import { parseScene } from "../scenes/scene_config.ts";
 * import type { PriorConditioning } from "./prior.ts";
 * import { SceneTargets } from "./scene_oracles.ts";
 * const scene = parseScene(
 *   "name: a\nmotion_prompt: A ball.\nprimitives: [{ type: sphere, radius: 0.5, color: [1, 0, 0] }]",
 * );
 * const conditioning: PriorConditioning = {
 *   prompt: "a red ball",
 *   cameras: [orbitCamera(REFERENCE_POSE, { width: 64, height: 64 })],
 *   times: [0],
 *   background: [0, 0, 0],
 * };
 * const targets = new SceneTargets(scene, { width: 8, height: 8 });
 * const item = { index: 0, firstFrame: 0, frames: 1, width: 8, height: 8 };
 * const target = targets.view(conditioning, item).cond[0]!;
 * console.log(target[0], target[3 * (4 * 8 + 4)]!.toFixed(2)); // 0 1.00 (corner, centre red)
 * ```
 */
export interface PriorConditioning {
  /** Text prompt (text-conditioned priors). */
  prompt?: string;
  /** One camera per image or frame, at any resolution (oracles rescale to the request's). */
  cameras: readonly Camera[];
  /** One scene time in [0, 1] per image or frame. */
  times: readonly number[];
  /**
   * The solid background the render was composited over (SDS steps draw one per step,
   * SPEC.md §3.3); oracles render their targets over the same colour. White when absent.
   */
  background?: readonly [number, number, number];
  /** Zero123's pose offsets of the first frame. */
  relativePose?: RelativePose;
  /** ControlNet's control image, same layout as the images. */
  control?: GPUBuffer;
}

/**
 * One scoring call.
 *
 * @example With weight 0 the gradient is untouched while the loss is still logged
 * ```ts
 * import { acquireGpu } from "../kernels/gpu.ts";
 * import { orbitCamera, REFERENCE_POSE } from "../kernels/camera.ts";
 * import { seededRandom } from "../kernels/random.ts";
 * import { OraclePrior } from "./oracle_prior.ts";
 * import type { PriorRequest } from "./prior.ts";
 * import { SD_SDS } from "./sds_options.ts";
 * const gpu = await acquireGpu({ log: null });
 * const white = new Float32Array(12).fill(1);
 * const prior = await OraclePrior.create(gpu, {
 *   width: 2, height: 2, maxItems: 1, framesPerItem: 1, maxTargets: 2, sds: SD_SDS,
 *   targets: () => ({ cond: [white], uncond: [white, new Float32Array(12)] }),
 * });
 * const request: PriorRequest = {
 *   images: gpu.createBuffer(new Float32Array(12).fill(0.5)), count: 1, width: 2, height: 2,
 *   grad: gpu.createBuffer(48), weight: 0, random: seededRandom(4),
 *   conditioning: { cameras: [orbitCamera(REFERENCE_POSE, { width: 2, height: 2 })], times: [0] },
 * };
 * prior.score(request);
 * const grad = new Float32Array(await gpu.read(request.grad));
 * const loss = new Float32Array(await gpu.read(prior.loss))[0]!;
 * console.log(grad.every((g) => g === 0), loss > 0); // true true
 * prior.destroy();
 * gpu.destroy();
 * ```
 */
export interface PriorRequest {
  /** Rendered images `[count][H·W][3]` f32 in [0, 1] (the buffer may be larger). */
  images: GPUBuffer;
  /** Number of images or frames; a multiple of the prior's frames per item. */
  count: number;
  /** Image width W. */
  width: number;
  /** Image height H. */
  height: number;
  /** dL/dimage, same layout; the prior ADDS weight·dL/dimage into it. */
  grad: GPUBuffer;
  /** Weight on the added gradient; defaults to 1. The logged loss is unweighted. */
  weight?: number;
  /** Conditioning of this call. */
  conditioning: PriorConditioning;
  /** Uniform generator in [0, 1): the prior draws its timesteps and noise seed from it. */
  random: () => number;
}

/**
 * A prior. `score` encodes and submits its GPU work and returns without reading back;
 * `loss` then holds the loss of the latest call (one f32 at offset 0, unweighted). Await
 * `score`'s result: synchronous priors (the oracles) return `undefined` after submitting,
 * ONNX Runtime priors return a promise that settles once their work is queued.
 *
 * @example Code that trains against any prior only needs this interface
 * ```ts
 * import { acquireGpu, type Gpu } from "../kernels/gpu.ts";
 * import { orbitCamera, REFERENCE_POSE } from "../kernels/camera.ts";
 * import { seededRandom } from "../kernels/random.ts";
 * import { OraclePrior } from "./oracle_prior.ts";
 * import type { Prior } from "./prior.ts";
 * import { SD_SDS } from "./sds_options.ts";
 * async function lossOf(gpu: Gpu, prior: Prior, images: GPUBuffer): Promise<number> {
 *   await prior.score({
 *     images, count: 1, width: 2, height: 2, grad: gpu.createBuffer(48), random: seededRandom(6),
 *     conditioning: { cameras: [orbitCamera(REFERENCE_POSE, { width: 2, height: 2 })], times: [0] },
 *   });
 *   return new Float32Array(await gpu.read(prior.loss))[0]!;
 * }
 * const gpu = await acquireGpu({ log: null });
 * const grey = new Float32Array(12).fill(0.5);
 * const prior: Prior = await OraclePrior.create(gpu, {
 *   width: 2, height: 2, maxItems: 1, framesPerItem: 1, maxTargets: 1, sds: SD_SDS,
 *   targets: () => ({ cond: [grey], uncond: [grey] }),
 * });
 * const far = await lossOf(gpu, prior, gpu.createBuffer(new Float32Array(12).fill(1)));
 * const near = await lossOf(gpu, prior, gpu.createBuffer(grey));
 * console.log(prior.name, near < far); // oracle true
 * prior.destroy();
 * gpu.destroy();
 * ```
 */
export interface Prior {
  /** Short name for logs, e.g. `oracle-image`. */
  readonly name: string;
  /** One f32: the latest call's loss. */
  readonly loss: GPUBuffer;
  /** Adds weight·dL/dimage of `request.images` into `request.grad`. */
  score(request: PriorRequest): void | Promise<void>;
  /** Frees the prior's GPU buffers. */
  destroy(): void;
}
