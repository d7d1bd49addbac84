/**
 * Shading of SDS renders (SPEC.md §5.3): the static stage shows the prior `normal`
 * renders (a = 1) for its first 1000 cumulative steps, then 20 % textureless and 80 %
 * lambertian; the dynamic stage draws 20/80 throughout, and refinement is all lambertian.
 * The ambient ratio a is U(0.1, 1) except for `normal`. Without normals every SDS render
 * is `albedo`, drawing nothing from the stream.
 *
 * @module
 */
import type { ShadingMode } from "../kernels/shade_twin.ts";
import type { StageName } from "./animate_settings.ts";
import type { RngStream } from "./rng_stream.ts";

/** Steps during which the static stage shades SDS renders as normals (SPEC.md: 1000). */
export const NORMAL_SHADING_STEPS = 1000;

/** Fraction of textureless SDS renders in the static (after 1000 steps) and dynamic stages. */
export const TEXTURELESS_RATE = 0.2;

/**
 * Draws the shading of one SDS render.
 *
 * @example
 * ```ts
 * import { RngStream } from "./rng_stream.ts";
 * import { sdsShading } from "./sds_shading.ts";
 * const rng = new RngStream(1);
 * console.log(sdsShading("static", rng, { step: 10, normals: true }).shading); // normal
 * console.log(sdsShading("refine", rng, { step: 9000, normals: true }).shading); // lambertian
 * console.log(sdsShading("dynamic", rng, { step: 9000, normals: false }).shading); // albedo
 * ```
 */
export function sdsShading(
  stage: StageName,
  rng: RngStream,
  options: { step: number; normals: boolean },
): { shading: ShadingMode; ambient: number } {
  if (!options.normals) return { shading: "albedo", ambient: 1 };
  if (stage === "static" && options.step < NORMAL_SHADING_STEPS) {
    return { shading: "normal", ambient: 1 };
  }
  const textureless = stage !== "refine" && rng.next() < TEXTURELESS_RATE;
  return { shading: textureless ? "textureless" : "lambertian", ambient: rng.uniform(0.1, 1) };
}
