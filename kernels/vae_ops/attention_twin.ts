/**
 * Plain float64 twin of the VAE mid block's single-head spatial self-attention core
 * (`attention.wgsl`): with q, k, v `[N][C][T]` (channel-major, T = H·W tokens, the layout
 * a 1x1 convolution of NCHW activations writes),
 *   P = softmax_j(qᵢ·kⱼ/√C),  o[c][i] = Σⱼ P[i][j]·v[c][j].
 * The to_q / to_k / to_v / to_out linear layers, GroupNorm and residual around it are
 * separate ops.
 *
 * @module
 */
import { requireInt } from "../validate.ts";

/**
 * Sizes of one attention call.
 *
 * @example
 * ```ts
 * import type { AttentionShape } from "./attention_twin.ts";
 * // The SD VAE mid block at a 512² input: 512 channels over 64·64 tokens.
 * const shape: AttentionShape = { batch: 1, channels: 512, tokens: 64 * 64 };
 * console.log(shape.tokens); // 4096
 * ```
 */
export interface AttentionShape {
  /** N. */
  batch: number;
  /** C, the head width (the scale is 1/√C). */
  channels: number;
  /** T = H·W. */
  tokens: number;
}

/**
 * Checks a shape.
 *
 * @example
 * ```ts
 * import { attentionShape } from "./attention_twin.ts";
 * console.log(attentionShape({ batch: 1, channels: 4, tokens: 9 }).tokens); // 9
 * ```
 */
export function attentionShape(shape: AttentionShape): AttentionShape {
  return {
    batch: requireInt("batch", shape.batch, { min: 1 }),
    channels: requireInt("channels", shape.channels, { min: 1 }),
    tokens: requireInt("tokens", shape.tokens, { min: 1 }),
  };
}

/** Inputs of the attention twins. */
export interface AttentionTwinInputs {
  /** q `[N][C][T]`. */
  query: ArrayLike<number>;
  /** k `[N][C][T]`. */
  key: ArrayLike<number>;
  /** v `[N][C][T]`. */
  value: ArrayLike<number>;
}

// P `[T][T]` of image n.
function probabilities(s: AttentionShape, x: AttentionTwinInputs, n: number): Float64Array {
  const { channels: C, tokens: T } = s;
  const base = n * C * T;
  const scale = 1 / Math.sqrt(C);
  const p = new Float64Array(T * T);
  for (let i = 0; i < T; i++) {
    let max = -Infinity;
    for (let j = 0; j < T; j++) {
      let d = 0;
      for (let c = 0; c < C; c++) d += x.query[base + c * T + i]! * x.key[base + c * T + j]!;
      p[i * T + j] = d * scale;
      max = Math.max(max, d * scale);
    }
    let sum = 0;
    for (let j = 0; j < T; j++) {
      p[i * T + j] = Math.exp(p[i * T + j]! - max);
      sum += p[i * T + j]!;
    }
    for (let j = 0; j < T; j++) p[i * T + j]! /= sum;
  }
  return p;
}

/**
 * o = v·Pᵀ per image, `[N][C][T]`.
 *
 * @example
 * ```ts
 * import { attentionTwin } from "./attention_twin.ts";
 * // Equal keys: every query averages the values.
 * const o = attentionTwin(
 *   { batch: 1, channels: 1, tokens: 2 },
 *   { query: [1, 2], key: [3, 3], value: [10, 20] },
 * );
 * console.log(o); // Float64Array(2) [ 15, 15 ]
 * ```
 */
export function attentionTwin(shape: AttentionShape, inputs: AttentionTwinInputs): Float64Array {
  const s = attentionShape(shape);
  const { channels: C, tokens: T } = s;
  const out = new Float64Array(s.batch * C * T);
  for (let n = 0; n < s.batch; n++) {
    const p = probabilities(s, inputs, n);
    const base = n * C * T;
    for (let c = 0; c < C; c++) {
      for (let i = 0; i < T; i++) {
        let o = 0;
        for (let j = 0; j < T; j++) o += p[i * T + j]! * inputs.value[base + c * T + j]!;
        out[base + c * T + i] = o;
      }
    }
  }
  return out;
}

/** Gradients returned by {@linkcode attentionBackwardTwin}, each `[N][C][T]`. */
export interface AttentionGradients {
  /** dL/dq. */
  gradQuery: Float64Array;
  /** dL/dk. */
  gradKey: Float64Array;
  /** dL/dv. */
  gradValue: Float64Array;
}

/**
 * The vector–Jacobian product of {@linkcode attentionTwin} for an upstream dL/do:
 * dv = do·P, dP = doᵀ·v, dS = P∘(dP − rowsum(P∘dP)), dq = k·dSᵀ/√C, dk = q·dS/√C.
 *
 * @example
 * ```ts
 * import { attentionBackwardTwin } from "./attention_twin.ts";
 * const g = attentionBackwardTwin(
 *   { batch: 1, channels: 1, tokens: 2 },
 *   { query: [1, 2], key: [3, 3], value: [10, 20], gradOutput: [1, 1] },
 * );
 * console.log(g.gradValue); // Float64Array(2) [ 1, 1 ]
 * ```
 */
export function attentionBackwardTwin(
  shape: AttentionShape,
  inputs: AttentionTwinInputs & { gradOutput: ArrayLike<number> },
): AttentionGradients {
  const s = attentionShape(shape);
  const { channels: C, tokens: T } = s;
  const scale = 1 / Math.sqrt(C);
  const size = s.batch * C * T;
  const gradQuery = new Float64Array(size);
  const gradKey = new Float64Array(size);
  const gradValue = new Float64Array(size);
  const dO = inputs.gradOutput;
  for (let n = 0; n < s.batch; n++) {
    const p = probabilities(s, inputs, n);
    const base = n * C * T;
    const dS = new Float64Array(T * T);
    for (let i = 0; i < T; i++) {
      let row = 0;
      for (let j = 0; j < T; j++) {
        let dp = 0;
        for (let c = 0; c < C; c++) dp += dO[base + c * T + i]! * inputs.value[base + c * T + j]!;
        dS[i * T + j] = dp;
        row += p[i * T + j]! * dp;
      }
      for (let j = 0; j < T; j++) dS[i * T + j] = p[i * T + j]! * (dS[i * T + j]! - row);
    }
    for (let c = 0; c < C; c++) {
      for (let i = 0; i < T; i++) {
        for (let j = 0; j < T; j++) {
          const ci = base + c * T + i;
          const cj = base + c * T + j;
          gradValue[cj]! += dO[ci]! * p[i * T + j]!;
          gradQuery[ci]! += scale * dS[i * T + j]! * inputs.key[cj]!;
          gradKey[cj]! += scale * dS[i * T + j]! * inputs.query[ci]!;
        }
      }
    }
  }
  return { gradQuery, gradKey, gradValue };
}
