/**
 * Plain float64 twin of the time total-variation regulariser (SPEC.md §2.2).
 *
 * @module
 */
import type { GridLayout } from "./grid_config.ts";
import { encodeKeyframeTwin, gridCornersTwin } from "./grid_encode_twin.ts";

/**
 * The literal 16 in the original's normaliser `/ ((K−1)·16)` (Animate124 main:
 * dnerf/network_4dgrid.py:375-388). It is kept as written even though the feature
 * sum runs over L·F = 32 dims.
 */
export const TIME_TV_LITERAL_DIVISOR = 16;

/**
 * The normaliser 1/(B·(K−1)·16) that turns Σ over points, pairs and dims into L_tv;
 * 0 for a single keyframe (no pairs).
 *
 * @example
 * ```ts
 * import { gridLayout } from "./grid_config.ts";
 * import { timeTvNorm } from "./time_tv_twin.ts";
 * console.log(timeTvNorm(gridLayout({ keyframes: 2 }), { batch: 1 })); // 0.0625
 * ```
 */
export function timeTvNorm(layout: GridLayout, options: { batch: number }): number {
  const pairs = layout.config.keyframes - 1;
  if (pairs === 0 || options.batch === 0) return 0;
  return 1 / (options.batch * pairs * TIME_TV_LITERAL_DIVISOR);
}

/** Inputs of the time-TV twins. */
export interface TimeTvTwinInputs {
  /** One parameter array per keyframe. */
  params: ArrayLike<number>[];
  /** The B sample points `[B][3]` (the caller draws them uniformly in [−1, 1]³). */
  points: ArrayLike<number>;
}

/**
 * L_tv = Σ_{k=0..K−2} mean_x ‖enc_k(x) − enc_{k+1}(x)‖² / ((K−1)·16), each enc without
 * blend or level mask.
 *
 * @example
 * ```ts
 * import { gridLayout } from "./grid_config.ts";
 * import { timeTvTwin } from "./time_tv_twin.ts";
 * const layout = gridLayout({ levels: 2, log2TableSize: 8, keyframes: 2 });
 * const params = [0, 1].map((k) => new Float64Array(layout.keyframeStride).fill(k));
 * console.log(timeTvTwin(layout, { params, points: [0, 0, 0] })); // 0.25 = 4 dims / 16
 * ```
 */
export function timeTvTwin(layout: GridLayout, options: TimeTvTwinInputs): number {
  const B = options.points.length / 3;
  const K = layout.config.keyframes;
  let sum = 0;
  for (let n = 0; n < B; n++) {
    const p = options.points;
    const point = [p[3 * n]!, p[3 * n + 1]!, p[3 * n + 2]!];
    const enc = options.params.map((params) => encodeKeyframeTwin(layout, { params, point }));
    for (let k = 0; k + 1 < K; k++) {
      for (let j = 0; j < layout.outputDim; j++) sum += (enc[k]![j]! - enc[k + 1]![j]!) ** 2;
    }
  }
  return sum * timeTvNorm(layout, { batch: B });
}

/**
 * λ·∂L_tv/∂θ for every keyframe grid.
 *
 * @returns one gradient array per keyframe (length keyframeStride)
 *
 * @example
 * ```ts
 * import { gridLayout } from "./grid_config.ts";
 * import { timeTvBackwardTwin } from "./time_tv_twin.ts";
 * const layout = gridLayout({ levels: 2, log2TableSize: 8, keyframes: 2 });
 * const params = [0, 1].map((k) => new Float64Array(layout.keyframeStride).fill(k));
 * const g = timeTvBackwardTwin(layout, { params, points: [0, 0, 0], lambda: 1 });
 * console.log(g[1]!.reduce((a, b) => a + b)); // 0.5 = 4 dims · 2 · 1/16
 * ```
 */
export function timeTvBackwardTwin(
  layout: GridLayout,
  options: TimeTvTwinInputs & { lambda: number },
): Float64Array[] {
  const { levels: L, featuresPerLevel: F, keyframes: K } = layout.config;
  const B = options.points.length / 3;
  const scale = 2 * options.lambda * timeTvNorm(layout, { batch: B });
  const grads = Array.from({ length: K }, () => new Float64Array(layout.keyframeStride));
  for (let n = 0; n < B; n++) {
    const p = options.points;
    const point = [p[3 * n]!, p[3 * n + 1]!, p[3 * n + 2]!];
    const enc = options.params.map((params) => encodeKeyframeTwin(layout, { params, point }));
    for (let l = 0; l < L; l++) {
      const cs = gridCornersTwin(layout, { level: l, point });
      if (cs === null) break;
      for (let k = 0; k < K; k++) {
        for (let f = 0; f < F; f++) {
          const j = l * F + f;
          // ∂/∂e_k of ‖e_{k−1} − e_k‖² + ‖e_k − e_{k+1}‖².
          let d = 0;
          if (k + 1 < K) d += enc[k]![j]! - enc[k + 1]![j]!;
          if (k > 0) d += enc[k]![j]! - enc[k - 1]![j]!;
          for (let c = 0; c < 8; c++) {
            grads[k]![cs.entries[c]! * F + f]! += scale * d * cs.weights[c]!;
          }
        }
      }
    }
  }
  return grads;
}
