/**
 * Helpers the latent prior tests share: a WebGPU runtime with the toolkit's view of its
 * device, buffers read as float64, a score with `mapAsync` counted (the priors must not
 * read back), and the float64 chain of one rendered frame through the tiny VAE of the
 * fixtures (bilinear resize to 16², encoder, posterior sample) and its backward.
 */
import { Gpu } from "../../../kernels/gpu.ts";
import { posteriorBackwardTwin, posteriorTwin } from "../../../kernels/vae_ops/posterior_twin.ts";
import {
  vaeEncoderBackwardTwin,
  vaeEncoderPlan,
  vaeEncoderTwin,
  type VaeWeights,
} from "../../../kernels/vae_ops/vae_encoder_twin.ts";
import {
  imageResizeBackwardTwin,
  imageResizeTwin,
} from "../../../priors/latent/image_resize_twin.ts";
import type { LatentSdsPrior } from "../../../priors/latent/latent_sds_prior.ts";
import { latentNoiseTwin } from "../../../priors/latent/latent_noise_twin.ts";
import { OrtRuntime } from "../../../priors/onnx/ort_runtime.ts";
import type { PriorRequest } from "../../../priors/prior.ts";
import { TINY_VAE } from "./_sd_folder.ts";

/** The fixtures' VAE input side: 16², so 4 × 8 × 8 latents. */
export const VAE_SIZE = 16;
/** Latent values per frame of the fixtures' VAE. */
export const LATENT_PER_FRAME = 4 * 8 * 8;
/** The SD VAE's scaling factor. */
export const VAE_SCALE = 0.18215;

/** An ONNX runtime on WebGPU and the toolkit's view of its device. */
export async function webgpuRuntime(): Promise<{ runtime: OrtRuntime; gpu: Gpu }> {
  const runtime = await OrtRuntime.create();
  return { runtime, gpu: Gpu.wrap(runtime.device!, { log: null }) };
}

/** The first `floats` values of a float32 buffer, as float64. */
export async function readFloat64(
  gpu: Gpu,
  buffer: GPUBuffer,
  floats: number,
): Promise<Float64Array> {
  return Float64Array.from(new Float32Array(await gpu.read(buffer)).slice(0, floats));
}

/** Runs one score with `mapAsync` counted; returns the count. */
export async function scoreCounted(
  prior: LatentSdsPrior,
  request: PriorRequest,
): Promise<number> {
  let maps = 0;
  const mapAsync = GPUBuffer.prototype.mapAsync;
  GPUBuffer.prototype.mapAsync = function (...args) {
    maps++;
    return mapAsync.apply(this, args);
  };
  try {
    await prior.score(request);
  } finally {
    GPUBuffer.prototype.mapAsync = mapAsync;
  }
  return maps;
}

/** One frame's forward chain in float64, kept for its backward. */
export interface LatentChainTwin {
  /** The resized frame, the VAE's `[3][16][16]` input in [−1, 1]. */
  x: Float64Array;
  /** The VAE's moments (μ then log σ²). */
  moments: Float64Array;
  /** The posterior's noise of this frame. */
  noise: Float64Array;
  /** The scaled posterior sample z. */
  z: Float64Array;
}

const PLAN = vaeEncoderPlan(TINY_VAE, { height: VAE_SIZE, width: VAE_SIZE });
const POSTERIOR = { batch: 1, channels: 4, height: 8, width: 8, scale: VAE_SCALE };

function resizeShape(size: { width: number; height: number }) {
  return { inWidth: size.width, inHeight: size.height, outWidth: VAE_SIZE, outHeight: VAE_SIZE };
}

/**
 * Frame `frame` of `images` (`[n][H·W][3]`) through resize → VAE → posterior sample × 0.18215
 * with the noise the prior draws from `seed`.
 */
export function encodeChainTwin(
  weights: VaeWeights,
  images: ArrayLike<number>,
  options: { width: number; height: number; seed: number; frame?: number },
): LatentChainTwin {
  const frame = options.frame ?? 0;
  const x = imageResizeTwin(resizeShape(options), images, frame);
  const moments = vaeEncoderTwin(PLAN, weights, x);
  const noise = latentNoiseTwin(options.seed, { frame, count: LATENT_PER_FRAME });
  return { x, moments, noise, z: posteriorTwin(POSTERIOR, { moments, noise }) };
}

/** dL/dz of one frame back through the posterior, the VAE and the resize to its pixels. */
export function pixelGradientTwin(
  weights: VaeWeights,
  chain: LatentChainTwin,
  options: { width: number; height: number; gradLatents: ArrayLike<number> },
): Float64Array {
  const dMoments = posteriorBackwardTwin(POSTERIOR, {
    moments: chain.moments,
    noise: chain.noise,
    gradOutput: options.gradLatents,
  });
  const dx = vaeEncoderBackwardTwin(PLAN, weights, { input: chain.x, gradOutput: dMoments });
  return imageResizeBackwardTwin(resizeShape(options), dx);
}

/** The seed the prior's latent noise draws from a request's `random`. */
export function noiseSeed(random: () => number): number {
  return Math.floor(random() * 4294967296) >>> 0;
}
