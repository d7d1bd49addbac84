/**
 * The replaceable middle of score distillation: a denoiser predicts the noise in z_t with
 * and without conditioning. The SDS path (`sds_prior.ts`) draws t and ε, runs the noise
 * kernel, hands z_t to a denoiser, and combines its two predictions. An oracle
 * (`oracle_denoiser.ts`) and, later, ONNX Runtime UNets implement this.
 *
 * @module
 */
import type { PriorConditioning } from "./prior.ts";

/**
 * One denoiser call. All buffers are `[items][perItem]` f32 in z space.
 *
 * @example One RGB pixel at t = 600: a lone conditional target gives back the noise
 * ```ts
 * import { acquireGpu } from "../kernels/gpu.ts";
 * import type { DenoiseRequest } from "./denoiser.ts";
 * import { alphaBar } from "./noise_schedule.ts";
 * import { OracleDenoiser } from "./oracle_denoiser.ts";
 * const gpu = await acquireGpu({ log: null });
 * const oracle = await OracleDenoiser.create(gpu, { maxItems: 1, perItem: 3, maxTargets: 2 });
 * oracle.setTargets(0, { cond: [[1, 0.5, 0]], uncond: [[1, 0.5, 0], [0, 0, 0]] });
 * const ab = alphaBar(600), z0 = [1, 0, -1], eps = [0.3, -0.2, 1];
 * const zt = z0.map((z, i) => Math.sqrt(ab) * z + Math.sqrt(1 - ab) * eps[i]!);
 * const request: DenoiseRequest = {
 *   noisy: gpu.createBuffer(new Float32Array(zt)), items: 1, perItem: 3, framesPerItem: 1,
 *   width: 1, height: 1, timesteps: [600], conditioning: { cameras: [], times: [0] },
 *   epsCond: gpu.createBuffer(12), epsUncond: gpu.createBuffer(12),
 * };
 * oracle.predict(request);
 * const epsCond = new Float32Array(await gpu.read(request.epsCond));
 * console.log(Array.from(epsCond, (v) => v.toFixed(2))); // [ "0.30", "-0.20", "1.00" ]
 * gpu.destroy();
 * ```
 */
export interface DenoiseRequest {
  /** z_t, written by the noise kernel. */
  noisy: GPUBuffer;
  /** Live items. */
  items: number;
  /** Elements per item (frames per item × H × W × 3 in pixel space). */
  perItem: number;
  /** Frames per item (1 for image priors, 16 for a clip). */
  framesPerItem: number;
  /** Image width W and height H of a frame. */
  width: number;
  /** Image height H. */
  height: number;
  /** Integer timestep in [0, 999] of each item. */
  timesteps: readonly number[];
  /** The call's conditioning (cameras and times for every frame of every item). */
  conditioning: PriorConditioning;
  /** Output ε̂_cond. */
  epsCond: GPUBuffer;
  /** Output ε̂_uncond. */
  epsUncond: GPUBuffer;
}

/**
 * Writes ε̂_cond and ε̂_uncond for a request. `predict` submits its own GPU work (the
 * queue orders it after the noise kernel and before the gradient kernel); it may return
 * a promise when the work is queued asynchronously (ONNX Runtime's `session.run`).
 *
 * @example A toy denoiser that predicts ε̂ = z_t for both branches, called directly
 * ```ts
 * import { acquireGpu } from "../kernels/gpu.ts";
 * import type { Denoiser } from "./denoiser.ts";
 * const gpu = await acquireGpu({ log: null });
 * const echo: Denoiser = {
 *   name: "echo",
 *   predict(request) {
 *     const bytes = 4 * request.items * request.perItem;
 *     gpu.submit((encoder) => {
 *       encoder.copyBufferToBuffer(request.noisy, 0, request.epsCond, 0, bytes);
 *       encoder.copyBufferToBuffer(request.noisy, 0, request.epsUncond, 0, bytes);
 *     });
 *   },
 *   destroy() {},
 * };
 * const epsUncond = gpu.createBuffer(12);
 * await echo.predict({
 *   noisy: gpu.createBuffer(new Float32Array([0.25, -0.5, 1])), items: 1, perItem: 3,
 *   framesPerItem: 1, width: 1, height: 1, timesteps: [500],
 *   conditioning: { cameras: [], times: [0] }, epsCond: gpu.createBuffer(12), epsUncond,
 * });
 * console.log(echo.name, new Float32Array(await gpu.read(epsUncond))); // echo Float32Array(3) [ 0.25, -0.5, 1 ]
 * echo.destroy();
 * gpu.destroy();
 * ```
 */
export interface Denoiser {
  /** Short name for logs. */
  readonly name: string;
  /** Records and submits the prediction. */
  predict(request: DenoiseRequest): void | Promise<void>;
  /** Frees the denoiser's GPU buffers. */
  destroy(): void;
}
