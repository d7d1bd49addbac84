/**
 * Float64 twin of the tiny MLP (kernels/mlp.wgsl, mlp_backward.wgsl): plain loops in
 * the parameter layout of {@linkcode mlpLayout}, written to be obviously correct.
 *
 * @module
 */
import { type MlpConfig, mlpLayout } from "./mlp.ts";

/** Inputs of {@linkcode mlpForwardTwin}. */
export interface MlpTwinInputs {
  /** Flat parameters `W1 [H][In]`, `b1 [H]`, `W2 [Out][H]`, `b2 [Out]`. */
  params: ArrayLike<number>;
  /** Features `[N][In]`. */
  features: ArrayLike<number>;
}

function batch(features: ArrayLike<number>, input: number): number {
  const n = features.length / input;
  if (!Number.isInteger(n)) {
    throw new RangeError(
      `Invalid features: expected a multiple of ${input} floats, got ${features.length}`,
    );
  }
  return n;
}

/**
 * raw[i][c] = b2[c] + Σ_j W2[c][j]·relu(b1[j] + Σ_k W1[j][k]·x[i][k]).
 *
 * @example
 * ```ts
 * import { mlpForwardTwin } from "./mlp_twin.ts";
 * // 1 → 1 → 1: relu(2·3 + 1)·4 + 5 = 33
 * const raw = mlpForwardTwin({ input: 1, hidden: 1, output: 1 }, {
 *   params: [2, 1, 4, 5],
 *   features: [3],
 * });
 * console.log(raw[0]); // 33
 * ```
 */
export function mlpForwardTwin(
  config: Partial<MlpConfig>,
  inputs: MlpTwinInputs,
): Float64Array {
  const L = mlpLayout(config);
  const { input, hidden, output } = L.config;
  const p = inputs.params;
  const x = inputs.features;
  const n = batch(x, input);
  const raw = new Float64Array(n * output);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < output; c++) raw[i * output + c] = p[L.b2 + c]!;
    for (let j = 0; j < hidden; j++) {
      let z = p[L.b1 + j]!;
      for (let k = 0; k < input; k++) z += p[L.w1 + j * input + k]! * x[i * input + k]!;
      const h = Math.max(z, 0);
      for (let c = 0; c < output; c++) raw[i * output + c]! += p[L.w2 + c * hidden + j]! * h;
    }
  }
  return raw;
}

/** Inputs of {@linkcode mlpBackwardTwin}. */
export interface MlpTwinBackwardInputs extends MlpTwinInputs {
  /** dL/draw `[N][Out]`. */
  dRaw: ArrayLike<number>;
}

/** Gradients from {@linkcode mlpBackwardTwin}. */
export interface MlpTwinGradients {
  /** dL/dfeatures `[N][In]`. */
  dFeatures: Float64Array;
  /** dL/dparams in the parameter layout (not accumulated into anything). */
  dParams: Float64Array;
}

/**
 * Chain rule through the two layers. ReLU passes the gradient only where its input is
 * strictly positive, as PyTorch does.
 *
 * @example
 * ```ts
 * import { mlpBackwardTwin } from "./mlp_twin.ts";
 * const g = mlpBackwardTwin({ input: 1, hidden: 1, output: 1 }, {
 *   params: [2, 1, 4, 5],
 *   features: [3],
 *   dRaw: [1],
 * });
 * console.log(g.dFeatures[0], Array.from(g.dParams)); // 8 [12, 4, 7, 1]
 * ```
 */
export function mlpBackwardTwin(
  config: Partial<MlpConfig>,
  inputs: MlpTwinBackwardInputs,
): MlpTwinGradients {
  const L = mlpLayout(config);
  const { input, hidden, output } = L.config;
  const p = inputs.params;
  const x = inputs.features;
  const dy = inputs.dRaw;
  const n = batch(x, input);
  if (dy.length !== n * output) {
    throw new RangeError(`Invalid dRaw: expected ${n * output} floats, got ${dy.length}`);
  }
  const dFeatures = new Float64Array(n * input);
  const dParams = new Float64Array(L.size);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < hidden; j++) {
      let z = p[L.b1 + j]!;
      for (let k = 0; k < input; k++) z += p[L.w1 + j * input + k]! * x[i * input + k]!;
      const h = Math.max(z, 0);
      let dh = 0;
      for (let c = 0; c < output; c++) {
        const g = dy[i * output + c]!;
        dh += p[L.w2 + c * hidden + j]! * g;
        dParams[L.w2 + c * hidden + j]! += g * h;
      }
      const dz = z > 0 ? dh : 0;
      dParams[L.b1 + j]! += dz;
      for (let k = 0; k < input; k++) {
        dParams[L.w1 + j * input + k]! += dz * x[i * input + k]!;
        dFeatures[i * input + k]! += dz * p[L.w1 + j * input + k]!;
      }
    }
    for (let c = 0; c < output; c++) dParams[L.b2 + c]! += dy[i * output + c]!;
  }
  return { dFeatures, dParams };
}
