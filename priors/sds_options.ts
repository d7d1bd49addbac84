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
 */
export type CfgConvention = "standard" | "zero123";

/**
 * The gradient variant:
 * - `sds`: ∂L/∂z = λ·(1 − ᾱ)·(ε̂ − ε)/B, logged loss ½‖g‖²/B;
 * - `x0`: ∂L/∂z = √((1 − ᾱ)/ᾱ)·(ε̂ − ε)/B, the x̂₀-target loss ½‖z − x̂₀‖²/B of the
 *   refinement stage (`Animate124 main: guidance/cn_utils.py:366-373`); λ is not applied.
 */
export type SdsVariant = "sds" | "x0";

/** The constants of one prior's score distillation. */
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

/** SD v1.5 in stage 2: CFG 100 (standard), λ 1, t 200–600, g injected directly (B = 1). */
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

/** ModelScope T2V in stages 3–4: CFG 100 (standard), λ 1, t 20–980, one clip, B = 1. */
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

/** Zero123-XL: CFG 5 in the Zero123 form, λ 40·angle/180°, t 200–600, B = 1. */
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
