/**
 * Float64 twin of `oracle_denoiser.wgsl`: the exact posterior-mean denoiser of a finite
 * target set (SPEC.md §10.4), in z space.
 *
 * @module
 */
import { alphaBar } from "./noise_schedule.ts";

/** Inputs of {@linkcode oracleDenoiserTwin}; targets are in z = 2y − 1 space. */
export interface OracleDenoiserInputs {
  /** z_t, `[items][perItem]`. */
  noisy: ArrayLike<number>;
  /** Integer timestep of each item. */
  timesteps: readonly number[];
  /** Elements per item. */
  perItem: number;
  /** Conditional targets per item: `cond[item][k]` of `perItem` values. */
  cond: readonly (readonly ArrayLike<number>[])[];
  /** Unconditional targets per item. */
  uncond: readonly (readonly ArrayLike<number>[])[];
}

/** Outputs of {@linkcode oracleDenoiserTwin}, `[items][perItem]` unless noted. */
export interface OracleDenoiserResult {
  epsCond: Float64Array;
  epsUncond: Float64Array;
  x0Cond: Float64Array;
  x0Uncond: Float64Array;
  /** Posterior weights per item over the conditional targets. */
  weightsCond: number[][];
  /** Posterior weights per item over the unconditional targets. */
  weightsUncond: number[][];
}

/**
 * Softmax posterior weights of targets given z_t: softmax_k(−‖z_t − √ᾱ·y_k‖²/(2(1 − ᾱ))).
 *
 * @param noisy z_t of one item
 * @param targets the item's targets in z space
 * @param ab ᾱ
 * @returns the weights, summing to 1
 *
 * @example
 * ```ts
 * import { posteriorWeights } from "./oracle_denoiser_twin.ts";
 * console.log(posteriorWeights([0.1], [[0], [1]], 0.5).map((w) => w > 0.5)); // [ true, false ]
 * ```
 */
export function posteriorWeights(
  noisy: ArrayLike<number>,
  targets: readonly ArrayLike<number>[],
  ab: number,
): number[] {
  const sa = Math.sqrt(ab);
  const logits = targets.map((y) => {
    let s = 0;
    for (let e = 0; e < noisy.length; e++) s += (noisy[e]! - sa * y[e]!) ** 2;
    return -s / (2 * (1 - ab));
  });
  const m = Math.max(...logits);
  const w = logits.map((l) => Math.exp(l - m));
  const sum = w.reduce((a, b) => a + b, 0);
  return w.map((v) => v / sum);
}

/**
 * Computes x̂₀ and ε̂ = (z_t − √ᾱ·x̂₀)/√(1 − ᾱ) for both sets of every item.
 *
 * @param inputs z_t, timesteps and targets
 * @returns predictions, posterior means and weights
 *
 * @example With one target, x̂₀ is that target
 * ```ts
 * import { oracleDenoiserTwin } from "./oracle_denoiser_twin.ts";
 * const r = oracleDenoiserTwin({
 *   noisy: [0.3, -0.2], timesteps: [500], perItem: 2, cond: [[[0.5, 1]]], uncond: [[[0.5, 1]]],
 * });
 * console.log(Array.from(r.x0Cond)); // [ 0.5, 1 ]
 * ```
 */
export function oracleDenoiserTwin(inputs: OracleDenoiserInputs): OracleDenoiserResult {
  const P = inputs.perItem, items = inputs.timesteps.length;
  const out: OracleDenoiserResult = {
    epsCond: new Float64Array(items * P),
    epsUncond: new Float64Array(items * P),
    x0Cond: new Float64Array(items * P),
    x0Uncond: new Float64Array(items * P),
    weightsCond: [],
    weightsUncond: [],
  };
  for (let item = 0; item < items; item++) {
    const ab = alphaBar(inputs.timesteps[item]!);
    const zt = Array.from({ length: P }, (_, e) => inputs.noisy[item * P + e]!);
    const sets = [
      [inputs.cond[item]!, out.x0Cond, out.epsCond, out.weightsCond],
      [inputs.uncond[item]!, out.x0Uncond, out.epsUncond, out.weightsUncond],
    ] as const;
    for (const [targets, x0, eps, weights] of sets) {
      const w = posteriorWeights(zt, targets, ab);
      weights.push(w);
      for (let e = 0; e < P; e++) {
        let m = 0;
        targets.forEach((y, k) => m += w[k]! * y[e]!);
        x0[item * P + e] = m;
        eps[item * P + e] = (zt[e]! - Math.sqrt(ab) * m) / Math.sqrt(1 - ab);
      }
    }
  }
  return out;
}
