/**
 * The replaceable middle of score distillation: a denoiser predicts the noise in z_t with
 * and without conditioning. The SDS path (`sds_prior.ts`) draws t and ε, runs the noise
 * kernel, hands z_t to a denoiser, and combines its two predictions. An oracle
 * (`oracle_denoiser.ts`) and, later, ONNX Runtime UNets implement this.
 *
 * @module
 */
import type { PriorConditioning } from "./prior.ts";

/** One denoiser call. All buffers are `[items][perItem]` f32 in z space. */
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
 */
export interface Denoiser {
  /** Short name for logs. */
  readonly name: string;
  /** Records and submits the prediction. */
  predict(request: DenoiseRequest): void | Promise<void>;
  /** Frees the denoiser's GPU buffers. */
  destroy(): void;
}
