/**
 * A {@linkcode Prior} whose denoiser is the exact oracle of SPEC.md §10.4: each call asks
 * a `targets` callback for every item's conditional and unconditional target images
 * (CPU, pixel values in [0, 1]), uploads them and runs the shared SDS path.
 *
 * @module
 */
import type { Gpu } from "../kernels/gpu.ts";
import { requireInt } from "../kernels/validate.ts";
import type { Denoiser, DenoiseRequest } from "./denoiser.ts";
import { OracleDenoiser, type OracleTargetSet } from "./oracle_denoiser.ts";
import type { Prior, PriorConditioning, PriorRequest } from "./prior.ts";
import { SdsPrior } from "./sds_prior.ts";
import type { SdsOptions } from "./sds_options.ts";

/**
 * Which item of a call the targets are asked for.
 *
 * @example Two 2-frame clips of 1×1 frames in one call: the callback sees each item once
 * ```ts
 * import { acquireGpu } from "../kernels/gpu.ts";
 * import { orbitCamera, REFERENCE_POSE } from "../kernels/camera.ts";
 * import { seededRandom } from "../kernels/random.ts";
 * import { type OracleItem, OraclePrior } from "./oracle_prior.ts";
 * import { MODELSCOPE_SDS } from "./sds_options.ts";
 * const gpu = await acquireGpu({ log: null });
 * const seen: OracleItem[] = [];
 * const prior = await OraclePrior.create(gpu, {
 *   width: 1, height: 1, maxItems: 2, framesPerItem: 2, maxTargets: 1, sds: MODELSCOPE_SDS,
 *   targets: (_c, item) => {
 *     seen.push(item);
 *     const clip = new Float32Array(item.frames * item.width * item.height * 3).fill(0.5);
 *     return { cond: [clip], uncond: [clip] };
 *   },
 * });
 * const cam = orbitCamera(REFERENCE_POSE, { width: 1, height: 1 });
 * prior.score({
 *   images: gpu.createBuffer(new Float32Array(12)), count: 4, width: 1, height: 1,
 *   grad: gpu.createBuffer(48), random: seededRandom(2),
 *   conditioning: { cameras: [cam, cam, cam, cam], times: [0, 1, 0, 1] },
 * });
 * console.log(seen.map((i) => `${i.index}:${i.firstFrame}+${i.frames}`)); // [ "0:0+2", "1:2+2" ]
 * prior.destroy();
 * gpu.destroy();
 * ```
 */
export interface OracleItem {
  /** Item index in the call. */
  index: number;
  /** Its first frame: its cameras and times are `conditioning.cameras[firstFrame + f]`. */
  firstFrame: number;
  /** Frames per item. */
  frames: number;
  /** Frame width W. */
  width: number;
  /** Frame height H. */
  height: number;
}

/**
 * Returns one item's target sets: each target `[frames·H·W·3]` RGB in [0, 1], laid out
 * like the images (a whole clip for a video prior).
 *
 * @example A target whose grey level follows the scene time of the item's first frame
 * ```ts
 * import type { OracleTargets } from "./oracle_prior.ts";
 * const greyAtTime: OracleTargets = (conditioning, item) => {
 *   const grey = conditioning.times[item.firstFrame]!;
 *   const target = new Float32Array(item.frames * item.width * item.height * 3).fill(grey);
 *   return { cond: [target], uncond: [target, target.map(() => 1)] };
 * };
 * const set = greyAtTime(
 *   { cameras: [], times: [0, 0.25] },
 *   { index: 1, firstFrame: 1, frames: 1, width: 2, height: 1 },
 * );
 * console.log(set.cond[0], set.uncond.length); // Float32Array(6) [ 0.25, 0.25, 0.25, 0.25, 0.25, 0.25 ] 2
 * ```
 */
export type OracleTargets = (conditioning: PriorConditioning, item: OracleItem) => OracleTargetSet;

/**
 * Options of {@linkcode OraclePrior.create}.
 *
 * @example A named 2×2 image oracle with the Zero123 constants
 * ```ts
 * import { acquireGpu } from "../kernels/gpu.ts";
 * import { OraclePrior, type OraclePriorOptions } from "./oracle_prior.ts";
 * import { ZERO123_SDS } from "./sds_options.ts";
 * const gpu = await acquireGpu({ log: null });
 * const grey = new Float32Array(12).fill(0.5);
 * const options: OraclePriorOptions = {
 *   name: "oracle-grey", width: 2, height: 2, maxItems: 1, framesPerItem: 1, maxTargets: 2,
 *   sds: ZERO123_SDS, targets: () => ({ cond: [grey], uncond: [grey, grey.map(() => 1)] }),
 * };
 * const prior = await OraclePrior.create(gpu, options);
 * console.log(prior.name, prior.sdsPrior.perItem); // oracle-grey 12
 * prior.destroy();
 * gpu.destroy();
 * ```
 */
export interface OraclePriorOptions {
  /** Frame width W. */
  width: number;
  /** Frame height H. */
  height: number;
  /** Largest items per call. */
  maxItems: number;
  /** Frames per item: 1 for image priors, 16 for the video prior. */
  framesPerItem: number;
  /** Largest targets per set (≤ 256; the target buffers are preallocated for it). */
  maxTargets: number;
  /** The SDS constants (a preset of `sds_options.ts`). */
  sds: SdsOptions;
  /** The target sets of each item of a call. */
  targets: OracleTargets;
  /** Name for logs; `oracle` by default. */
  name?: string;
  /** Reference direction for Zero123's angle scale; +z by default. */
  referenceDirection?: readonly [number, number, number];
}

/** The oracle plus the callback that fills its targets before each prediction. */
class TargetedOracle implements Denoiser {
  readonly name = "oracle";
  readonly #oracle: OracleDenoiser;
  readonly #targets: OracleTargets;

  constructor(oracle: OracleDenoiser, targets: OracleTargets) {
    this.#oracle = oracle;
    this.#targets = targets;
  }

  predict(request: DenoiseRequest): void {
    for (let index = 0; index < request.items; index++) {
      const set = this.#targets(request.conditioning, {
        index,
        firstFrame: index * request.framesPerItem,
        frames: request.framesPerItem,
        width: request.width,
        height: request.height,
      });
      this.#oracle.setTargets(index, set);
    }
    this.#oracle.predict(request);
  }

  destroy(): void {
    this.#oracle.destroy();
  }
}

/**
 * The oracle prior. Synchronous: `score` has queued all its work when it returns.
 *
 * @example Two noisy steps toward a target
 * ```ts
 * import { acquireGpu } from "../kernels/gpu.ts";
 * import { orbitCamera, REFERENCE_POSE } from "../kernels/camera.ts";
 * import { seededRandom } from "../kernels/random.ts";
 * import { OraclePrior } from "./oracle_prior.ts";
 * import { SD_SDS } from "./sds_options.ts";
 * const gpu = await acquireGpu({ log: null });
 * const target = new Float32Array(2 * 2 * 3).fill(0.8);
 * const prior = await OraclePrior.create(gpu, {
 *   width: 2, height: 2, maxItems: 1, framesPerItem: 1, maxTargets: 2, sds: SD_SDS,
 *   targets: () => ({ cond: [target], uncond: [target, new Float32Array(12)] }),
 * });
 * const grad = gpu.createBuffer(48);
 * prior.score({
 *   images: gpu.createBuffer(new Float32Array(12).fill(0.2)), count: 1, width: 2, height: 2,
 *   grad, conditioning: { cameras: [orbitCamera(REFERENCE_POSE, { width: 2, height: 2 })], times: [0] },
 *   random: seededRandom(3),
 * });
 * console.log(prior.timesteps.length, new Float32Array(await gpu.read(prior.loss))[0]! > 0); // 1 true
 * gpu.destroy();
 * ```
 */
export class OraclePrior implements Prior {
  /** Name for logs. */
  readonly name: string;
  /** One f32: the latest call's loss. */
  readonly loss: GPUBuffer;
  /** The SDS path around the oracle (its noise and prediction buffers can be read in tests). */
  readonly sdsPrior: SdsPrior;

  private constructor(sdsPrior: SdsPrior) {
    this.sdsPrior = sdsPrior;
    this.name = sdsPrior.name;
    this.loss = sdsPrior.loss;
  }

  /** Builds the oracle, its target buffers and the SDS kernels; call once. */
  static async create(gpu: Gpu, options: OraclePriorOptions): Promise<OraclePrior> {
    const width = requireInt("width", options.width, { min: 1 });
    const height = requireInt("height", options.height, { min: 1 });
    const frames = requireInt("framesPerItem", options.framesPerItem, { min: 1 });
    if (typeof options.targets !== "function") {
      throw new TypeError(
        `Invalid option targets: expected a function, got ${typeof options.targets}`,
      );
    }
    const oracle = await OracleDenoiser.create(gpu, {
      maxItems: options.maxItems,
      perItem: frames * width * height * 3,
      maxTargets: options.maxTargets,
    });
    const sdsPrior = await SdsPrior.create(gpu, {
      name: options.name ?? "oracle",
      width,
      height,
      maxItems: options.maxItems,
      framesPerItem: frames,
      sds: options.sds,
      denoiser: new TargetedOracle(oracle, options.targets),
      ...(options.referenceDirection === undefined
        ? {}
        : { referenceDirection: options.referenceDirection }),
    });
    return new OraclePrior(sdsPrior);
  }

  /** Timesteps of the latest call, one per item. */
  get timesteps(): readonly number[] {
    return this.sdsPrior.timesteps;
  }

  /** Adds weight·dL/dimage into `request.grad`; queues all work before returning. */
  score(request: PriorRequest): void {
    this.sdsPrior.score(request);
  }

  /** Frees every buffer. */
  destroy(): void {
    this.sdsPrior.destroy();
  }
}
