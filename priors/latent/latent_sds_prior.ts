/**
 * Score distillation in a VAE's latent space (SPEC.md §4): a {@linkcode Prior} that
 * encodes the renders with an {@linkcode ImageLatentEncoder}, runs an inner
 * {@linkcode SdsPrior} in latent space (`channels` = the latent's, `space: "latent"`) around
 * any {@linkcode Denoiser}, and sends dL/dz back through the encoder into the caller's
 * image gradient.
 *
 * Each {@linkcode LatentSdsPrior.score} draws from `request.random`, in this order: the
 * posterior noise seed, then what the inner prior draws (timesteps, then its noise seed).
 *
 * @module
 */
import type { Gpu } from "../../kernels/gpu.ts";
import { requireFinite, requireInt } from "../../kernels/validate.ts";
import type { Denoiser } from "../denoiser.ts";
import type { Prior, PriorRequest } from "../prior.ts";
import type { SdsOptions } from "../sds_options.ts";
import { SdsPrior } from "../sds_prior.ts";
import type { ImageLatentEncoder } from "./image_latent_encoder.ts";

/**
 * Options of {@linkcode LatentSdsPrior.create}.
 *
 * @example
 * ```ts
 * import type { LatentSdsPriorOptions } from "./latent_sds_prior.ts";
 * import { SD_SDS } from "../sds_options.ts";
 * const partial: Partial<LatentSdsPriorOptions> = { name: "sd", sds: SD_SDS, maxItems: 1 };
 * console.log(partial.sds!.guidanceScale); // 100
 * ```
 */
export interface LatentSdsPriorOptions {
  /** Name for logs. */
  name: string;
  /** Renders to latents and back; the prior owns it from now on. */
  encoder: ImageLatentEncoder;
  /** The noise predictor in latent space; the prior owns it from now on. */
  denoiser: Denoiser;
  /** The prior's constants. */
  sds: SdsOptions;
  /** Largest items per call; `maxItems × framesPerItem` is at most the encoder's `maxFrames`. */
  maxItems: number;
  /**
   * Frames per item: 1 (the default) for image priors, the clip length F for a video prior,
   * which then draws one timestep per clip and sees each clip's latents as one item,
   * frame-major `[F][c][h][w]` as the encoder writes them.
   */
  framesPerItem?: number;
  /** Objects destroyed with the prior (ORT sessions' companions such as text embeddings). */
  owned?: { destroy(): void }[];
}

/**
 * The latent SDS prior.
 *
 * @example A tiny VAE and a denoiser that predicts ε̂ = 0 (so g = −w(t)·ε)
 * ```ts
 * import { acquireGpu } from "../../kernels/gpu.ts";
 * import { orbitCamera, REFERENCE_POSE } from "../../kernels/camera.ts";
 * import { seededRandom } from "../../kernels/random.ts";
 * import { vaeEncoderPlan } from "../../kernels/vae_ops/vae_encoder_twin.ts";
 * import { SD_SDS } from "../sds_options.ts";
 * import { ImageLatentEncoder } from "./image_latent_encoder.ts";
 * import { LatentSdsPrior } from "./latent_sds_prior.ts";
 * const gpu = await acquireGpu({ log: null });
 * const config = { channels: [4, 8], groups: 2, layersPerBlock: 1 };
 * const plan = vaeEncoderPlan(config, { height: 8, width: 8 });
 * const weights = Object.fromEntries(Object.entries(plan.tensors).map(([k, s]) =>
 *   [k, new Float32Array(s.reduce((a, b) => a * b)).map((_, i) => 0.05 * Math.sin(i))]));
 * const encoder = await ImageLatentEncoder.create(gpu, {
 *   width: 8, height: 8, maxFrames: 1, inputWidth: 8, inputHeight: 8, vae: { weights, config },
 * });
 * const zero = { name: "zero", predict() {}, destroy() {} };
 * const prior = await LatentSdsPrior.create(gpu, {
 *   name: "tiny", encoder, denoiser: zero, sds: SD_SDS, maxItems: 1,
 * });
 * const grad = gpu.createBuffer(4 * 192);
 * await prior.score({
 *   images: gpu.createBuffer(new Float32Array(192).fill(0.5)), count: 1, width: 8, height: 8, grad,
 *   conditioning: { cameras: [orbitCamera(REFERENCE_POSE, { width: 8, height: 8 })], times: [0] },
 *   random: seededRandom(3),
 * });
 * const g = new Float32Array(await gpu.read(grad));
 * console.log(prior.sdsPrior.perItem, g.some((v) => v !== 0)); // 64 true
 * prior.destroy();
 * gpu.destroy();
 * ```
 */
export class LatentSdsPrior implements Prior {
  /** Name for logs. */
  readonly name: string;
  /** One f32: the latest call's loss (the inner prior's, in latent space). */
  readonly loss: GPUBuffer;
  /** The encoder. */
  readonly encoder: ImageLatentEncoder;
  /** The inner latent-space SDS prior (timesteps, λ, ε and ε̂ of the latest call). */
  readonly sdsPrior: SdsPrior;
  /** Largest items per call. */
  readonly maxItems: number;
  /** Frames per item (`request.count` is in frames). */
  readonly framesPerItem: number;
  readonly #gpu: Gpu;
  readonly #owned: { destroy(): void }[];

  private constructor(
    gpu: Gpu,
    parts: { options: LatentSdsPriorOptions; sdsPrior: SdsPrior },
  ) {
    this.#gpu = gpu;
    this.name = parts.options.name;
    this.encoder = parts.options.encoder;
    this.sdsPrior = parts.sdsPrior;
    this.loss = parts.sdsPrior.loss;
    this.maxItems = parts.options.maxItems;
    this.framesPerItem = parts.options.framesPerItem ?? 1;
    this.#owned = parts.options.owned ?? [];
  }

  /**
   * Builds the inner SDS prior on the encoder's latent sizes; call once.
   *
   * @param gpu the device the encoder and the denoiser use
   * @param options encoder, denoiser, constants and batch size
   * @returns the prior
   */
  static async create(gpu: Gpu, options: LatentSdsPriorOptions): Promise<LatentSdsPrior> {
    const framesPerItem = requireInt("framesPerItem", options.framesPerItem ?? 1, {
      min: 1,
      max: options.encoder.maxFrames,
    });
    const maxItems = requireInt("maxItems", options.maxItems, {
      min: 1,
      max: Math.floor(options.encoder.maxFrames / framesPerItem),
    });
    const l = options.encoder.latentShape;
    const sdsPrior = await SdsPrior.create(gpu, {
      name: options.name,
      width: l.width,
      height: l.height,
      channels: l.channels,
      space: "latent",
      maxItems,
      framesPerItem,
      sds: options.sds,
      denoiser: options.denoiser,
    });
    return new LatentSdsPrior(gpu, {
      options: { ...options, maxItems, framesPerItem },
      sdsPrior,
    });
  }

  /**
   * Adds weight·dL/dimage of `request.images` into `request.grad` and writes the loss.
   *
   * @param request renders, gradient, conditioning and random source
   * @returns a promise settling once all work is queued
   */
  async score(request: PriorRequest): Promise<void> {
    const enc = this.encoder;
    if (request.width !== enc.width || request.height !== enc.height) {
      throw new RangeError(
        `Invalid option width/height: prior ${this.name} scores ${enc.width}×${enc.height} renders, got ${request.width}×${request.height}`,
      );
    }
    // A partial clip is named as one before the range check, whose bounds say less.
    if (Number.isInteger(request.count) && request.count % this.framesPerItem !== 0) {
      throw new RangeError(
        `Invalid option count: prior ${this.name} scores clips of ${this.framesPerItem} frames, got ${request.count} frames`,
      );
    }
    const count = requireInt("count", request.count, {
      min: this.framesPerItem,
      max: this.maxItems * this.framesPerItem,
    });
    const weight = requireFinite("weight", request.weight ?? 1);
    const seed = Math.floor(request.random() * 4294967296) >>> 0;
    enc.encode(request.images, count, seed);
    this.#gpu.submit((e) => e.clearBuffer(enc.gradLatents));
    const l = enc.latentShape;
    await this.sdsPrior.score({
      ...request,
      images: enc.latents,
      width: l.width,
      height: l.height,
      grad: enc.gradLatents,
      count,
      weight,
    });
    // A zero weight leaves dL/dz at zero: the loss is logged, the chain is skipped.
    if (weight !== 0) enc.backward(request.grad, count);
  }

  /** Frees the inner prior (and its denoiser), the encoder and the owned objects. */
  destroy(): void {
    this.sdsPrior.destroy();
    this.encoder.destroy();
    for (const o of this.#owned) o.destroy();
  }
}
