/**
 * Float64 twin of `sds_noise.wgsl`: the same PCG uniforms, Box–Muller in float64, and
 * z_t = √ᾱ·z + √(1 − ᾱ)·ε with z = 2x − 1 (pixels) or z = x (latents).
 *
 * @module
 */
import { hashUniform } from "../kernels/occupancy_twin.ts";
import { alphaBar } from "./noise_schedule.ts";

/**
 * What the SDS kernels take as input: `pixel` values x in [0, 1], mapped to z = 2x − 1,
 * or `latent` values taken as z directly (a VAE's posterior sample).
 *
 * @example
 * ```ts
 * import { type SdsSpace, sdsSpaceMap } from "./sds_noise_twin.ts";
 * const spaces: SdsSpace[] = ["pixel", "latent"];
 * console.log(spaces.map((s) => sdsSpaceMap(s).scale)); // [ 2, 1 ]
 * ```
 */
export type SdsSpace = "pixel" | "latent";

/**
 * The affine map z = scale·x + offset of a space; `scale` is also dz/dx, the factor the
 * gradient kernel applies.
 *
 * @param space `pixel` or `latent`
 * @returns scale and offset
 *
 * @example
 * ```ts
 * import { sdsSpaceMap } from "./sds_noise_twin.ts";
 * console.log(sdsSpaceMap("pixel")); // { scale: 2, offset: -1 }
 * ```
 */
export function sdsSpaceMap(space: SdsSpace): { scale: number; offset: number } {
  if (space === "pixel") return { scale: 2, offset: -1 };
  if (space === "latent") return { scale: 1, offset: 0 };
  throw new RangeError(
    `Invalid option space: expected one of pixel, latent, got ${JSON.stringify(space)}`,
  );
}

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
  /** Input space; defaults to `pixel`. */
  space?: SdsSpace;
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
  const map = sdsSpaceMap(inputs.space ?? "pixel");
  for (let i = 0; i < n; i++) {
    const ab = alphaBar(inputs.timesteps[Math.floor(i / inputs.perItem)]!);
    const e = gaussianTwin(inputs.seed, i);
    noise[i] = e;
    const z = map.scale * inputs.image[i]! + map.offset;
    noisy[i] = Math.sqrt(ab) * z + Math.sqrt(1 - ab) * e;
  }
  return { noise, noisy };
}
