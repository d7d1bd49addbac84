/**
 * The per-prior constants of score distillation (SPEC.md §4 table) as a plain options
 * object, and the four presets of the original.
 *
 * @module
 */
import { requireFinite, requireOneOf } from "../kernels/validate.ts";
import { timestepRange } from "./noise_schedule.ts";

/**
 * Classifier-free guidance convention (SPEC.md §4, §9):
 * - `standard`: ε̂ = ε_c + s·(ε_c − ε_u) (SD, ModelScope, ControlNet; effective scale s + 1);
 * - `zero123`: ε̂ = ε_u + s·(ε_c − ε_u) (`Animate124 main: guidance/zero123_diffusers_utils.py:203`).
 *
 * @example SD's constants with Zero123's CFG formula still validate
 * ```ts
 * import { type CfgConvention, SD_SDS, validateSdsOptions } from "./sds_options.ts";
 * const cfg: CfgConvention = "zero123";
 * console.log(validateSdsOptions({ ...SD_SDS, cfg }).cfg, SD_SDS.cfg); // zero123 standard
 * ```
 */
export type CfgConvention = "standard" | "zero123";

/**
 * The gradient variant:
 * - `sds`: ∂L/∂z = λ·(1 − ᾱ)·(ε̂ − ε)/B, logged loss ½‖g‖²/B;
 * - `x0`: ∂L/∂z = √((1 − ᾱ)/ᾱ)·(ε̂ − ε)/B, the x̂₀-target loss ½‖z − x̂₀‖²/B of the
 *   refinement stage (`Animate124 main: guidance/cn_utils.py:366-373`); λ is not applied.
 *
 * @example The two variants' coefficients c at t = 500 (λ = 1)
 * ```ts
 * import { sdsCoefficient } from "./sds_items.ts";
 * import type { SdsVariant } from "./sds_options.ts";
 * const variants: SdsVariant[] = ["sds", "x0"];
 * console.log(variants.map((v) => sdsCoefficient({ t: 500, lambda: 1 }, v).toFixed(3))); // [ "0.724", "1.618" ]
 * ```
 */
export type SdsVariant = "sds" | "x0";

/**
 * The constants of one prior's score distillation.
 *
 * @example A custom prior: SD's constants with CFG 7.5 and a wider timestep range
 * ```ts
 * import { timestepRange } from "./noise_schedule.ts";
 * import { SD_SDS, type SdsOptions, validateSdsOptions } from "./sds_options.ts";
 * const mine: SdsOptions = { ...SD_SDS, guidanceScale: 7.5, timeRange: [0.02, 0.98] };
 * console.log(timestepRange(validateSdsOptions(mine).timeRange)); // [ 20, 980 ]
 * ```
 */
export interface SdsOptions {
  /** CFG scale s. */
  readonly guidanceScale: number;
  /** Which of the two CFG formulas. */
  readonly cfg: CfgConvention;
  /** λ, the gradient weight of the `sds` variant (ignored by `x0`). */
  readonly lambda: number;
  /** Fractional timestep range [a, b]: t ~ U{⌊1000a⌋..⌊1000b⌋}. */
  readonly timeRange: readonly [number, number];
  /** B, the divisor of ∂L/∂z and of the logged loss (the leading latent dimension). */
  readonly batchDivisor: number;
  /** `sds` or `x0` (x̂₀ target). */
  readonly variant: SdsVariant;
  /** One t shared by every item of a call (ControlNet's two frames) instead of one each. */
  readonly sharedTimestep: boolean;
  /** Scale λ per item by angle/180° between its camera and the reference (Zero123). */
  readonly angleScale: boolean;
}

/**
 * SD v1.5 in stage 2: CFG 100 (standard), λ 1, t 200–600, g injected directly (B = 1).
 *
 * @example
 * ```ts
 * import { timestepRange } from "./noise_schedule.ts";
 * import { SD_SDS } from "./sds_options.ts";
 * console.log(SD_SDS.guidanceScale, SD_SDS.cfg, timestepRange(SD_SDS.timeRange)); // 100 standard [ 200, 600 ]
 * ```
 */
export const SD_SDS: SdsOptions = Object.freeze({
  guidanceScale: 100,
  cfg: "standard",
  lambda: 1,
  timeRange: Object.freeze([0.2, 0.6]) as readonly [number, number],
  batchDivisor: 1,
  variant: "sds",
  sharedTimestep: false,
  angleScale: false,
});

/**
 * ModelScope T2V in stages 3–4: CFG 100 (standard), λ 1, t 20–980, one clip, B = 1.
 *
 * @example
 * ```ts
 * import { timestepRange } from "./noise_schedule.ts";
 * import { MODELSCOPE_SDS } from "./sds_options.ts";
 * console.log(MODELSCOPE_SDS.guidanceScale, timestepRange(MODELSCOPE_SDS.timeRange)); // 100 [ 20, 980 ]
 * ```
 */
export const MODELSCOPE_SDS: SdsOptions = Object.freeze({
  guidanceScale: 100,
  cfg: "standard",
  lambda: 1,
  timeRange: Object.freeze([0.02, 0.98]) as readonly [number, number],
  batchDivisor: 1,
  variant: "sds",
  sharedTimestep: false,
  angleScale: false,
});

/**
 * Zero123-XL: CFG 5 in the Zero123 form, λ 40·angle/180°, t 200–600, B = 1.
 *
 * @example λ at a camera 90° from the reference view
 * ```ts
 * import { ZERO123_SDS } from "./sds_options.ts";
 * import { zero123AngleScale } from "./zero123_angle_scale.ts";
 * console.log(ZERO123_SDS.cfg, ZERO123_SDS.lambda * zero123AngleScale([1, 0, 0], [0, 0, 1])); // zero123 20
 * ```
 */
export const ZERO123_SDS: SdsOptions = Object.freeze({
  guidanceScale: 5,
  cfg: "zero123",
  lambda: 40,
  timeRange: Object.freeze([0.2, 0.6]) as readonly [number, number],
  batchDivisor: 1,
  variant: "sds",
  sharedTimestep: false,
  angleScale: true,
});

/**
 * ControlNet-tile + SD in stage 4: CFG 7.5 (standard), x̂₀ target, t 200–800 shared by
 * the two frames, B = 2, λ not applied.
 *
 * @example
 * ```ts
 * import { CONTROLNET_SDS } from "./sds_options.ts";
 * const { variant, batchDivisor, sharedTimestep } = CONTROLNET_SDS;
 * console.log(variant, batchDivisor, sharedTimestep); // x0 2 true
 * ```
 */
export const CONTROLNET_SDS: SdsOptions = Object.freeze({
  guidanceScale: 7.5,
  cfg: "standard",
  lambda: 1,
  timeRange: Object.freeze([0.2, 0.8]) as readonly [number, number],
  batchDivisor: 2,
  variant: "x0",
  sharedTimestep: true,
  angleScale: false,
});

/**
 * Checks every field of `options` and returns it unchanged.
 *
 * @param options the SDS constants
 * @returns `options`
 * @throws {RangeError} naming the bad field
 *
 * @example
 * ```ts
 * import { SD_SDS, validateSdsOptions } from "./sds_options.ts";
 * console.log(validateSdsOptions(SD_SDS).guidanceScale); // 100
 * ```
 */
export function validateSdsOptions(options: SdsOptions): SdsOptions {
  requireFinite("sds.guidanceScale", options.guidanceScale, { min: 0 });
  requireOneOf("sds.cfg", options.cfg, ["standard", "zero123"] as const);
  requireFinite("sds.lambda", options.lambda, { min: 0 });
  if (!Array.isArray(options.timeRange) || options.timeRange.length !== 2) {
    throw new RangeError(
      `Invalid option sds.timeRange: expected [a, b], got ${JSON.stringify(options.timeRange)}`,
    );
  }
  timestepRange(options.timeRange);
  requireFinite("sds.batchDivisor", options.batchDivisor, { min: 1e-12 });
  requireOneOf("sds.variant", options.variant, ["sds", "x0"] as const);
  if (typeof options.sharedTimestep !== "boolean") {
    throw new RangeError(
      `Invalid option sds.sharedTimestep: expected a boolean, got ${options.sharedTimestep}`,
    );
  }
  if (typeof options.angleScale !== "boolean") {
    throw new RangeError(
      `Invalid option sds.angleScale: expected a boolean, got ${options.angleScale}`,
    );
  }
  return options;
}
