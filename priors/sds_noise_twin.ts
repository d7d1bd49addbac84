/**
 * Float64 twin of `sds_noise.wgsl`: the same PCG uniforms, Box–Muller in float64, and
 * z_t = √ᾱ·(2x − 1) + √(1 − ᾱ)·ε.
 *
 * @module
 */
import { hashUniform } from "../kernels/occupancy_twin.ts";
import { alphaBar } from "./noise_schedule.ts";

/** The `step` key of the noise stream (`NOISE_STREAM` in `sds_noise.wgsl`). */
export const NOISE_STREAM = 0x5d5;

/**
 * The standard normal draw of element `i` under `seed`, as `sds_noise.wgsl` makes it.
 *
 * @param seed 32-bit call seed
 * @param i element index
 * @returns ε_i
 *
 * @example
 * ```ts
 * import { gaussianTwin } from "./sds_noise_twin.ts";
 * console.log(gaussianTwin(1, 0) === gaussianTwin(1, 0)); // true
 * ```
 */
export function gaussianTwin(seed: number, i: number): number {
  const u1 = 1 - hashUniform({ seed, step: NOISE_STREAM, a: i, b: 0 });
  const u2 = hashUniform({ seed, step: NOISE_STREAM, a: i, b: 1 });
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(Math.PI * (2 * u2 - 1));
}

/** Inputs of {@linkcode sdsNoiseTwin}. */
export interface SdsNoiseInputs {
  /** Pixels x in [0, 1], `[items][perItem]`. */
  image: ArrayLike<number>;
  /** Integer timestep of each item. */
  timesteps: readonly number[];
  /** Elements per item. */
  perItem: number;
  /** 32-bit call seed. */
  seed: number;
}

/**
 * Computes ε and z_t in float64.
 *
 * @param inputs pixels, per-item timesteps and the seed
 * @returns ε and z_t, `[items][perItem]`
 *
 * @example
 * ```ts
 * import { sdsNoiseTwin } from "./sds_noise_twin.ts";
 * const r = sdsNoiseTwin({ image: [0.5, 1], timesteps: [0], perItem: 2, seed: 3 });
 * console.log(r.noise.length, r.noisy.length); // 2 2
 * ```
 */
export function sdsNoiseTwin(
  inputs: SdsNoiseInputs,
): { noise: Float64Array; noisy: Float64Array } {
  const n = inputs.timesteps.length * inputs.perItem;
  const noise = new Float64Array(n);
  const noisy = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const ab = alphaBar(inputs.timesteps[Math.floor(i / inputs.perItem)]!);
    const e = gaussianTwin(inputs.seed, i);
    noise[i] = e;
    noisy[i] = Math.sqrt(ab) * (2 * inputs.image[i]! - 1) + Math.sqrt(1 - ab) * e;
  }
  return { noise, noisy };
}
