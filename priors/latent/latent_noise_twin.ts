/**
 * Float64 twin of `latent_noise.wgsl`: the posterior's standard normal draw, per frame.
 *
 * @module
 */
import { hashUniform } from "../../kernels/occupancy_twin.ts";

/** The `step` key of the posterior noise stream (`LATENT_STREAM` in `latent_noise.wgsl`). */
export const LATENT_STREAM = 0x1a7;

/**
 * The `count` normal draws of frame `frame` under `seed`.
 *
 * @param seed 32-bit call seed
 * @param options frame index and elements per frame
 * @returns n, `[count]`
 *
 * @example
 * ```ts
 * import { latentNoiseTwin } from "./latent_noise_twin.ts";
 * const a = latentNoiseTwin(7, { frame: 0, count: 4 });
 * const b = latentNoiseTwin(7, { frame: 1, count: 4 });
 * console.log(a.length, a[0] === b[0]); // 4 false
 * ```
 */
export function latentNoiseTwin(
  seed: number,
  options: { frame: number; count: number },
): Float64Array {
  const out = new Float64Array(options.count);
  for (let i = 0; i < options.count; i++) {
    const k = options.frame * options.count + i;
    const u1 = 1 - hashUniform({ seed, step: LATENT_STREAM, a: k, b: 0 });
    const u2 = hashUniform({ seed, step: LATENT_STREAM, a: k, b: 1 });
    out[i] = Math.sqrt(-2 * Math.log(u1)) * Math.cos(Math.PI * (2 * u2 - 1));
  }
  return out;
}
