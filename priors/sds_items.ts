/**
 * The per-item constants both SDS kernels read (`SdsItem` in `sds_noise.wgsl` and
 * `sds_grad.wgsl`): √ᾱ, √(1 − ᾱ) and the gradient coefficient c of the item's timestep.
 *
 * @module
 */
import { alphaBar } from "./noise_schedule.ts";
import type { SdsVariant } from "./sds_options.ts";

/** Bytes of one `SdsItem` (four f32). */
export const SDS_ITEM_BYTES = 16;

/** One item's timestep and λ (λ already scaled, e.g. by Zero123's angle/180°). */
export interface SdsItemInput {
  /** Integer timestep in [0, 999]. */
  t: number;
  /** λ of this item (ignored by the x̂₀ variant). */
  lambda: number;
}

/**
 * The coefficient c of g = c·(ε̂ − ε): λ·(1 − ᾱ_t) for SDS, √((1 − ᾱ_t)/ᾱ_t) for the
 * x̂₀ target (SPEC.md §4).
 *
 * @param item timestep and λ
 * @param variant `sds` or `x0`
 * @returns c
 *
 * @example
 * ```ts
 * import { sdsCoefficient } from "./sds_items.ts";
 * console.log(sdsCoefficient({ t: 999, lambda: 2 }, "sds").toFixed(4)); // 1.9907
 * ```
 */
export function sdsCoefficient(item: SdsItemInput, variant: SdsVariant): number {
  const ab = alphaBar(item.t);
  return variant === "sds" ? item.lambda * (1 - ab) : Math.sqrt((1 - ab) / ab);
}

/**
 * Packs items into the `array<SdsItem>` layout.
 *
 * @param items one entry per item
 * @param variant `sds` or `x0`
 * @returns `[items][4]` f32: √ᾱ, √(1 − ᾱ), c, 0
 *
 * @example
 * ```ts
 * import { packSdsItems } from "./sds_items.ts";
 * console.log(packSdsItems([{ t: 0, lambda: 1 }], "sds").length); // 4
 * ```
 */
export function packSdsItems(
  items: readonly SdsItemInput[],
  variant: SdsVariant,
): Float32Array<ArrayBuffer> {
  const out = new Float32Array(4 * items.length);
  items.forEach((item, k) => {
    const ab = alphaBar(item.t);
    out[4 * k] = Math.sqrt(ab);
    out[4 * k + 1] = Math.sqrt(1 - ab);
    out[4 * k + 2] = sdsCoefficient(item, variant);
  });
  return out;
}
