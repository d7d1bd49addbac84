/**
 * Float64 twin of `sds_grad.wgsl`, written from the formulas of SPEC.md §4: the x̂₀
 * variant builds x̂₀ = (z_t − √(1 − ᾱ)·ε̂)/√ᾱ and differentiates ½‖z − sg(x̂₀)‖²/B,
 * instead of the kernel's closed form √((1 − ᾱ)/ᾱ)·(ε̂ − ε).
 *
 * @module
 */
import { alphaBar } from "./noise_schedule.ts";
import type { SdsOptions } from "./sds_options.ts";
import { type SdsSpace, sdsSpaceMap } from "./sds_noise_twin.ts";

/** Inputs of {@linkcode sdsGradTwin}, `[items][perItem]` arrays. */
export interface SdsGradInputs {
  /** Pixels x in [0, 1] (or latents z, with `space: "latent"`). */
  image: ArrayLike<number>;
  /** ε the noise kernel drew. */
  noise: ArrayLike<number>;
  /** ε̂_cond of the denoiser. */
  epsCond: ArrayLike<number>;
  /** ε̂_uncond of the denoiser. */
  epsUncond: ArrayLike<number>;
  /** Integer timestep of each item. */
  timesteps: readonly number[];
  /** λ of each item (already angle-scaled where the prior does that). */
  lambdas: readonly number[];
  /** Elements per item. */
  perItem: number;
  /** Caller weight on the added gradient. */
  weight: number;
  /** Gradient to add into (left untouched; the sum is returned). */
  grad?: ArrayLike<number>;
  /** The prior's constants. */
  sds: Pick<SdsOptions, "guidanceScale" | "cfg" | "batchDivisor" | "variant">;
  /** Input space; defaults to `pixel` (z = 2x − 1, so dL/dx = 2·dL/dz). */
  space?: SdsSpace;
}

/**
 * CFG combination of the two predictions.
 *
 * @param ec ε̂_cond
 * @param eu ε̂_uncond
 * @param sds scale and convention
 * @returns ε̂
 *
 * @example
 * ```ts
 * import { cfgCombine } from "./sds_grad_twin.ts";
 * console.log(cfgCombine(1, 0, { guidanceScale: 2, cfg: "standard" })); // 3
 * console.log(cfgCombine(1, 0, { guidanceScale: 2, cfg: "zero123" })); // 2
 * ```
 */
export function cfgCombine(
  ec: number,
  eu: number,
  sds: Pick<SdsOptions, "guidanceScale" | "cfg">,
): number {
  const base = sds.cfg === "standard" ? ec : eu;
  return base + sds.guidanceScale * (ec - eu);
}

/**
 * Computes the gradient added into `grad` and the logged loss in float64.
 *
 * @param inputs pixels, noise, predictions, timesteps and constants
 * @returns `grad` + weight·(dz/dx)·∂L/∂z, the loss and ∂L/∂z
 *
 * @example
 * ```ts
 * import { sdsGradTwin } from "./sds_grad_twin.ts";
 * const r = sdsGradTwin({
 *   image: [0.5], noise: [0], epsCond: [1], epsUncond: [1], timesteps: [999], lambdas: [1],
 *   perItem: 1, weight: 1,
 *   sds: { guidanceScale: 100, cfg: "standard", batchDivisor: 1, variant: "sds" },
 * });
 * console.log(r.grad[0]!.toFixed(4)); // 1.9907
 * ```
 */
export function sdsGradTwin(
  inputs: SdsGradInputs,
): { grad: Float64Array; loss: number; dLdz: Float64Array } {
  const n = inputs.timesteps.length * inputs.perItem;
  const grad = new Float64Array(n);
  const dLdz = new Float64Array(n);
  const B = inputs.sds.batchDivisor;
  const map = sdsSpaceMap(inputs.space ?? "pixel");
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const item = Math.floor(i / inputs.perItem);
    const ab = alphaBar(inputs.timesteps[item]!);
    const eHat = cfgCombine(inputs.epsCond[i]!, inputs.epsUncond[i]!, inputs.sds);
    const eps = inputs.noise[i]!;
    let g: number;
    if (inputs.sds.variant === "sds") {
      g = inputs.lambdas[item]! * (1 - ab) * (eHat - eps);
    } else {
      const z = map.scale * inputs.image[i]! + map.offset;
      const zt = Math.sqrt(ab) * z + Math.sqrt(1 - ab) * eps;
      const x0 = (zt - Math.sqrt(1 - ab) * eHat) / Math.sqrt(ab);
      g = z - x0;
    }
    if (Number.isNaN(g)) g = 0;
    loss += (0.5 * g * g) / B;
    dLdz[i] = g / B;
    grad[i] = (inputs.grad?.[i] ?? 0) + inputs.weight * map.scale * dLdz[i]!;
  }
  return { grad, loss, dLdz };
}
