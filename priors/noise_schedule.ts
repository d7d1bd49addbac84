/**
 * The 1000-step "scaled linear" DDPM/DDIM noise schedule shared by SD v1.5, Zero-1-to-3,
 * ModelScope T2V and ControlNet (beta_start 0.00085, beta_end 0.012; SPEC.md §4), the
 * timestep draw t ~ U{⌊1000a⌋..⌊1000b⌋} and the SDS weight w(t) = 1 − ᾱ_t.
 *
 * @module
 */
import { requireFinite, requireInt } from "../kernels/validate.ts";

/**
 * Number of training timesteps of every prior's scheduler.
 *
 * @example The ᾱ table and the widest timestep range both span it
 * ```ts
 * import { alphasCumprod, TRAIN_TIMESTEPS, timestepRange } from "./noise_schedule.ts";
 * console.log(TRAIN_TIMESTEPS, alphasCumprod().length, timestepRange([0, 1])); // 1000 1000 [ 0, 999 ]
 * ```
 */
export const TRAIN_TIMESTEPS = 1000;
/** β of the first timestep. */
export const BETA_START = 0.00085;
/** β of the last timestep. */
export const BETA_END = 0.012;

let table: Float64Array | null = null;

/**
 * ᾱ_t for t = 0..999: betas = linspace(√β₀, √β₁, 1000)², ᾱ = cumprod(1 − β), in float64
 * (diffusers builds it in float32; the two agree to ~1e-7 relative).
 *
 * @returns a fresh copy of the 1000 values
 *
 * @example
 * ```ts
 * import { alphasCumprod } from "./noise_schedule.ts";
 * console.log(alphasCumprod().length); // 1000
 * ```
 */
export function alphasCumprod(): Float64Array {
  return schedule().slice();
}

function schedule(): Float64Array {
  if (table !== null) return table;
  const out = new Float64Array(TRAIN_TIMESTEPS);
  const s0 = Math.sqrt(BETA_START), s1 = Math.sqrt(BETA_END);
  let prod = 1;
  for (let i = 0; i < TRAIN_TIMESTEPS; i++) {
    const s = s0 + ((s1 - s0) * i) / (TRAIN_TIMESTEPS - 1);
    prod *= 1 - s * s;
    out[i] = prod;
  }
  table = out;
  return out;
}

/**
 * ᾱ_t of integer timestep `t` in [0, 999].
 *
 * @param t the timestep
 * @returns the cumulative product of 1 − β up to and including t
 * @throws {RangeError} when t is not an integer in [0, 999]
 *
 * @example
 * ```ts
 * import { alphaBar } from "./noise_schedule.ts";
 * console.log(alphaBar(0), alphaBar(999).toFixed(5)); // 0.99915 0.00466
 * ```
 */
export function alphaBar(t: number): number {
  requireInt("t", t, { min: 0, max: TRAIN_TIMESTEPS - 1 });
  return schedule()[t]!;
}

/**
 * The SDS weight w(t) = 1 − ᾱ_t (SPEC.md §4).
 *
 * @param t integer timestep in [0, 999]
 * @returns 1 − ᾱ_t
 *
 * @example
 * ```ts
 * import { sdsWeight } from "./noise_schedule.ts";
 * console.log(sdsWeight(999).toFixed(5)); // 0.99534
 * ```
 */
export function sdsWeight(t: number): number {
  return 1 - alphaBar(t);
}

/**
 * Inclusive integer timestep range [⌊1000a⌋, ⌊1000b⌋] of a fractional range [a, b].
 *
 * @param range fractions a ≤ b in [0, 1)
 * @returns [t_min, t_max]
 *
 * @example
 * ```ts
 * import { timestepRange } from "./noise_schedule.ts";
 * console.log(timestepRange([0.02, 0.98])); // [ 20, 980 ]
 * ```
 */
export function timestepRange(range: readonly [number, number]): [number, number] {
  const a = requireFinite("timeRange[0]", range[0], { min: 0, max: 1 });
  const b = requireFinite("timeRange[1]", range[1], { min: a, max: 1 });
  // Plain floor of the float product, like the original's int(num_train_timesteps · a)
  // (`Animate124 main: guidance/sd_utils.py`).
  const lo = Math.floor(a * TRAIN_TIMESTEPS);
  const hi = Math.floor(b * TRAIN_TIMESTEPS);
  return [lo, Math.min(hi, TRAIN_TIMESTEPS - 1)];
}

/**
 * Draws t ~ U{⌊1000a⌋..⌊1000b⌋} inclusive, one call of `random` per draw.
 *
 * @param random uniform generator in [0, 1)
 * @param range fractional range [a, b] (e.g. [0.2, 0.6] gives 200..600)
 * @returns the integer timestep
 *
 * @example
 * ```ts
 * import { sampleTimestep } from "./noise_schedule.ts";
 * console.log(sampleTimestep(() => 0.999999, [0.2, 0.6])); // 600
 * ```
 */
export function sampleTimestep(random: () => number, range: readonly [number, number]): number {
  const [lo, hi] = timestepRange(range);
  const u = random();
  return Math.min(hi, lo + Math.floor(u * (hi - lo + 1)));
}
