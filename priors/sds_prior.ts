/**
 * A {@linkcode Prior} built from the shared score-distillation path and any
 * {@linkcode Denoiser}: draw t and a noise seed, noise the render (`sds_noise`), let the
 * denoiser predict ε̂_cond and ε̂_uncond, then guide and add the gradient (`sds_grad`).
 * Only the denoiser differs between the oracles and, later, the ONNX Runtime UNets.
 *
 * @module
 */
import { cameraCentre } from "../kernels/camera.ts";
import type { Gpu } from "../kernels/gpu.ts";
import { requireFinite, requireInt, requireOneOf } from "../kernels/validate.ts";
import type { Denoiser } from "./denoiser.ts";
import { sampleTimestep } from "./noise_schedule.ts";
import type { Prior, PriorRequest } from "./prior.ts";
import { packSdsItems, SDS_ITEM_BYTES, type SdsItemInput } from "./sds_items.ts";
import { SdsGrad } from "./sds_grad.ts";
import { SdsNoise } from "./sds_noise.ts";
import type { SdsSpace } from "./sds_noise_twin.ts";
import { type SdsOptions, validateSdsOptions } from "./sds_options.ts";
import { zero123AngleScale } from "./zero123_angle_scale.ts";

/**
 * Options of {@linkcode SdsPrior.create}.
 *
 * @example The oracle denoiser with fixed targets behind the SDS path
 * ```ts
 * import { acquireGpu } from "../kernels/gpu.ts";
 * import { orbitCamera, REFERENCE_POSE } from "../kernels/camera.ts";
 * import { seededRandom } from "../kernels/random.ts";
 * import { OracleDenoiser } from "./oracle_denoiser.ts";
 * import { SD_SDS } from "./sds_options.ts";
 * import { SdsPrior, type SdsPriorOptions } from "./sds_prior.ts";
 * const gpu = await acquireGpu({ log: null });
 * const denoiser = await OracleDenoiser.create(gpu, { maxItems: 2, perItem: 3, maxTargets: 2 });
 * for (const item of [0, 1]) denoiser.setTargets(item, { cond: [[1, 1, 1]], uncond: [[1, 1, 1], [0, 0, 0]] });
 * const options: SdsPriorOptions = {
 *   name: "white", width: 1, height: 1, maxItems: 2, framesPerItem: 1, sds: SD_SDS, denoiser,
 * };
 * const prior = await SdsPrior.create(gpu, options);
 * const cam = orbitCamera(REFERENCE_POSE, { width: 1, height: 1 });
 * prior.score({
 *   images: gpu.createBuffer(new Float32Array(6).fill(0.5)), count: 2, width: 1, height: 1,
 *   grad: gpu.createBuffer(24), conditioning: { cameras: [cam, cam], times: [0, 0] },
 *   random: seededRandom(9),
 * });
 * const inRange = prior.timesteps.every((t) => t >= 200 && t <= 600);
 * console.log(prior.name, prior.perItem, prior.timesteps.length, inRange); // white 3 2 true
 * prior.destroy();
 * gpu.destroy();
 * ```
 */
export interface SdsPriorOptions {
  /** Name for logs. */
  name: string;
  /** Frame width W the prior scores. */
  width: number;
  /** Frame height H. */
  height: number;
  /** Largest items per call. */
  maxItems: number;
  /** Frames per item: 1 for image priors, the clip length for a video prior. */
  framesPerItem: number;
  /** The prior's constants. */
  sds: SdsOptions;
  /** The noise predictor; the prior owns it from now on (destroyed with it). */
  denoiser: Denoiser;
  /** Reference camera direction for Zero123's angle scale; +z (the reference view) by default. */
  referenceDirection?: readonly [number, number, number];
  /**
   * Values per pixel: 3 (RGB, the default) or a latent's channel count (4 for SD's VAE).
   * Only the element count depends on it: the layout is whatever the denoiser expects.
   */
  channels?: number;
  /**
   * `pixel` (default): inputs in [0, 1] map to z = 2x − 1 and the gradient carries the
   * factor 2; `latent`: inputs are z itself (a VAE encoder's
   * posterior sample) and the gradient is dL/dz.
   */
  space?: SdsSpace;
}

/**
 * The SDS prior. Each {@linkcode SdsPrior.score} draws, in this order from
 * `request.random`, one timestep per item (or one for all when `sds.sharedTimestep`),
 * then a 32-bit noise seed; uploads the per-item constants; submits the noise pass, the
 * denoiser's work and the gradient pass; and returns without reading back.
 *
 * @example See `oracle_prior.ts`, which builds one around the oracle denoiser.
 * ```ts
 * import { SD_SDS } from "./sds_options.ts";
 * console.log(SD_SDS.guidanceScale); // 100
 * ```
 */
export class SdsPrior implements Prior {
  /** Name for logs. */
  readonly name: string;
  /** One f32: the latest call's loss, ½‖g‖²/B (SDS) or ½‖z − x̂₀‖²/B (x̂₀ variant). */
  readonly loss: GPUBuffer;
  /** The constants. */
  readonly sds: SdsOptions;
  /** Frame width. */
  readonly width: number;
  /** Frame height. */
  readonly height: number;
  /** Frames per item. */
  readonly framesPerItem: number;
  /** Largest items per call. */
  readonly maxItems: number;
  /** Values per pixel (3 for RGB, 4 for SD latents). */
  readonly channels: number;
  /** Input space of `request.images` and `request.grad`. */
  readonly space: SdsSpace;
  /** Elements per item (framesPerItem × H × W × channels). */
  readonly perItem: number;
  /** The denoiser. */
  readonly denoiser: Denoiser;
  /** ε of the latest call, `[items][perItem]` (z space). */
  readonly noise: GPUBuffer;
  /** z_t of the latest call. */
  readonly noisy: GPUBuffer;
  /** ε̂_cond of the latest call. */
  readonly epsCond: GPUBuffer;
  /** ε̂_uncond of the latest call. */
  readonly epsUncond: GPUBuffer;
  readonly #gpu: Gpu;
  readonly #items: GPUBuffer;
  readonly #noiseOp: SdsNoise;
  readonly #gradOp: SdsGrad;
  readonly #reference: readonly [number, number, number];
  #timesteps: number[] = [];
  #lambdas: number[] = [];

  private constructor(
    gpu: Gpu,
    parts: {
      options: SdsPriorOptions;
      perItem: number;
      buffers: Record<"items" | "noise" | "noisy" | "epsCond" | "epsUncond", GPUBuffer>;
      noiseOp: SdsNoise;
      gradOp: SdsGrad;
    },
  ) {
    const o = parts.options;
    this.#gpu = gpu;
    this.name = o.name;
    this.sds = o.sds;
    this.width = o.width;
    this.height = o.height;
    this.framesPerItem = o.framesPerItem;
    this.maxItems = o.maxItems;
    this.perItem = parts.perItem;
    this.channels = parts.perItem / (o.framesPerItem * o.width * o.height);
    this.space = o.space ?? "pixel";
    this.denoiser = o.denoiser;
    this.#items = parts.buffers.items;
    this.noise = parts.buffers.noise;
    this.noisy = parts.buffers.noisy;
    this.epsCond = parts.buffers.epsCond;
    this.epsUncond = parts.buffers.epsUncond;
    this.#noiseOp = parts.noiseOp;
    this.#gradOp = parts.gradOp;
    this.loss = parts.gradOp.loss;
    this.#reference = o.referenceDirection ?? [0, 0, 1];
  }

  /** Builds the buffers and both SDS kernels; call once. */
  static async create(gpu: Gpu, options: SdsPriorOptions): Promise<SdsPrior> {
    const width = requireInt("width", options.width, { min: 1 });
    const height = requireInt("height", options.height, { min: 1 });
    const maxItems = requireInt("maxItems", options.maxItems, { min: 1 });
    const frames = requireInt("framesPerItem", options.framesPerItem, { min: 1 });
    validateSdsOptions(options.sds);
    const channels = requireInt("channels", options.channels ?? 3, { min: 1 });
    requireOneOf("space", options.space ?? "pixel", ["pixel", "latent"] as const);
    const perItem = frames * width * height * channels;
    const maxElements = maxItems * perItem;
    const f = (label: string) =>
      gpu.createBuffer(4 * maxElements, { label: `${options.name} ${label}` });
    const buffers = {
      items: gpu.createBuffer(SDS_ITEM_BYTES * maxItems, { label: `${options.name} items` }),
      noise: f("noise"),
      noisy: f("noisy"),
      epsCond: f("eps cond"),
      epsUncond: f("eps uncond"),
    };
    const [noiseOp, gradOp] = await Promise.all([
      SdsNoise.create(gpu, {
        items: buffers.items,
        noise: buffers.noise,
        noisy: buffers.noisy,
        maxElements,
      }),
      SdsGrad.create(gpu, {
        noise: buffers.noise,
        epsCond: buffers.epsCond,
        epsUncond: buffers.epsUncond,
        items: buffers.items,
        maxElements,
      }),
    ]);
    return new SdsPrior(gpu, { options, perItem, buffers, noiseOp, gradOp });
  }

  /** Timesteps drawn by the latest call, one per item. */
  get timesteps(): readonly number[] {
    return this.#timesteps;
  }

  /** λ of each item in the latest call (angle-scaled for Zero123). */
  get lambdas(): readonly number[] {
    return this.#lambdas;
  }

  /**
   * Adds weight·dL/dimage of `request.images` into `request.grad` and writes the loss.
   *
   * @param request images, gradient, conditioning and random source
   * @returns nothing for synchronous denoisers, else a promise settling once all work is queued
   */
  score(request: PriorRequest): void | Promise<void> {
    if (request.width !== this.width || request.height !== this.height) {
      throw new RangeError(
        `Invalid option width/height: prior ${this.name} scores ${this.width}×${this.height} frames, got ${request.width}×${request.height}`,
      );
    }
    const count = requireInt("count", request.count, {
      min: this.framesPerItem,
      max: this.maxItems * this.framesPerItem,
    });
    if (count % this.framesPerItem !== 0) {
      throw new RangeError(
        `Invalid option count: expected a multiple of ${this.framesPerItem} frames per item, got ${count}`,
      );
    }
    const weight = requireFinite("weight", request.weight ?? 1);
    const c = request.conditioning;
    if (c.cameras.length < count || c.times.length < count) {
      throw new RangeError(
        `Invalid option conditioning: expected ${count} cameras and times, got ${c.cameras.length} and ${c.times.length}`,
      );
    }
    const items = count / this.framesPerItem;
    const shared = this.sds.sharedTimestep
      ? sampleTimestep(request.random, this.sds.timeRange)
      : -1;
    const inputs: SdsItemInput[] = [];
    for (let k = 0; k < items; k++) {
      const t = shared >= 0 ? shared : sampleTimestep(request.random, this.sds.timeRange);
      const lambda = this.sds.angleScale
        ? this.sds.lambda *
          zero123AngleScale(cameraCentre(c.cameras[k * this.framesPerItem]!), this.#reference)
        : this.sds.lambda;
      inputs.push({ t, lambda });
    }
    const seed = Math.floor(request.random() * 4294967296) >>> 0;
    this.#timesteps = inputs.map((i) => i.t);
    this.#lambdas = inputs.map((i) => i.lambda);
    this.#gpu.upload(this.#items, packSdsItems(inputs, this.sds.variant));
    const elements = items * this.perItem;
    this.#noiseOp.set({ elements, perItem: this.perItem, seed, space: this.space });
    this.#gradOp.set({
      elements,
      perItem: this.perItem,
      sds: this.sds,
      weight,
      space: this.space,
    });
    this.#gpu.submit((encoder) => {
      const pass = encoder.beginComputePass({ label: `${this.name} sds_noise` });
      this.#noiseOp.encode(pass, request.images);
      pass.end();
    });
    const predicted = this.denoiser.predict({
      noisy: this.noisy,
      items,
      perItem: this.perItem,
      framesPerItem: this.framesPerItem,
      width: this.width,
      height: this.height,
      timesteps: this.#timesteps,
      conditioning: c,
      epsCond: this.epsCond,
      epsUncond: this.epsUncond,
    });
    const guide = () =>
      this.#gpu.submit((encoder) => {
        const pass = encoder.beginComputePass({ label: `${this.name} sds_grad` });
        this.#gradOp.encode(pass, request.grad);
        pass.end();
      });
    if (predicted instanceof Promise) return predicted.then(guide);
    guide();
  }

  /** Frees every buffer, the kernels and the denoiser. */
  destroy(): void {
    this.#noiseOp.destroy();
    this.#gradOp.destroy();
    this.denoiser.destroy();
    for (const b of [this.#items, this.noise, this.noisy, this.epsCond, this.epsUncond]) {
      b.destroy();
    }
  }
}
