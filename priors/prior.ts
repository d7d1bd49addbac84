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

/** Zero123's camera offsets from the reference view (SPEC.md §3.1 "Offsets"). */
export interface RelativePose {
  /** Δθ in degrees. */
  dTheta: number;
  /** Δφ in degrees, wrapped to [−180, 180]. */
  dPhi: number;
  /** Δr. */
  dRadius: number;
}

/** What the prior is conditioned on, per call. */
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

/** One scoring call. */
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
