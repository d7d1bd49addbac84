/**
 * Float64 twin of `composite.wgsl`: front-to-back compositing of packed samples with
 * early termination, forward and backward
 * (Animate124 main: raymarching/src/raymarching.cu:543-558; SPEC §3.3).
 *
 * @module
 */

/** The walk stops after the sample where the transmittance falls below this. */
export const TRANSMITTANCE_THRESHOLD = 1e-4;

/** Inputs of {@linkcode compositeTwin} and {@linkcode compositeBackwardTwin}. */
export interface CompositeInputs {
  /** `[R][2]` per ray: first sample, sample count. */
  rayInfo: ArrayLike<number>;
  /** `[S][2]` per sample: t after the step, dt. */
  ts: ArrayLike<number>;
  /** `[S]` density. */
  sigma: ArrayLike<number>;
  /** `[S][3]` colour. */
  colour: ArrayLike<number>;
  /** `[S][3]` normal. */
  normal: ArrayLike<number>;
  /** Background RGB. */
  background: ArrayLike<number>;
}

/** Outputs of {@linkcode compositeTwin}. */
export interface CompositeOutputs {
  /** `[R][3]` Σ w c + (1 − A)·bg. */
  image: Float64Array;
  /** `[R]` A = Σ w. */
  alpha: Float64Array;
  /** `[R]` Σ w·t. */
  depth: Float64Array;
  /** `[R][3]` Σ w (n + 1)/2. */
  normalImage: Float64Array;
  /** `[S]` weights w (zero after the stop). */
  weights: Float64Array;
}

/** Upstream gradients for {@linkcode compositeBackwardTwin}. */
export interface CompositeGrads {
  /** `[R][3]` dL/dimage. */
  image: ArrayLike<number>;
  /** `[R]` dL/dalpha. */
  alpha: ArrayLike<number>;
  /** `[R]` dL/ddepth. */
  depth: ArrayLike<number>;
  /** `[R][3]` dL/dnormalImage (reaches the normals only: detached weights). */
  normalImage: ArrayLike<number>;
  /** Optional `[S]` dL/dweights, e.g. from the entropy regulariser (SPEC §5.5). */
  weights?: ArrayLike<number>;
}

/** Gradients returned by {@linkcode compositeBackwardTwin}. */
export interface CompositeInputGrads {
  /** `[S]` dL/dσ. */
  sigma: Float64Array;
  /** `[S][3]` dL/dcolour. */
  colour: Float64Array;
  /** `[S][3]` dL/dnormal. */
  normal: Float64Array;
}

interface RayWalk {
  /** Samples the walk used (the rest are after the stop). */
  used: number;
  /** w_k and T_{k+1} of the used samples. */
  w: Float64Array;
  tAfter: Float64Array;
}

function walk(inputs: CompositeInputs, first: number, n: number): RayWalk {
  const w = new Float64Array(n);
  const tAfter = new Float64Array(n);
  let t = 1;
  let used = 0;
  for (let k = 0; k < n; k++) {
    const i = first + k;
    const a = 1 - Math.exp(-inputs.sigma[i]! * inputs.ts[2 * i + 1]!);
    w[k] = a * t;
    t *= 1 - a;
    tAfter[k] = t;
    used = k + 1;
    if (t < TRANSMITTANCE_THRESHOLD) break;
  }
  return { used, w, tAfter };
}

/**
 * Forward compositing of every ray.
 *
 * @param inputs per-ray ranges, per-sample ts, σ, colour, normal and the background
 * @returns image, alpha, depth, normal image and per-sample weights
 *
 * @example
 * ```ts
 * import { compositeTwin } from "./composite_twin.ts";
 * const out = compositeTwin({
 *   rayInfo: [0, 1], ts: [1, 0.5], sigma: [Math.log(4)], colour: [1, 0, 0],
 *   normal: [0, 0, 1], background: [1, 1, 1],
 * });
 * console.log(out.alpha[0], out.image[1]); // ≈0.5 ≈0.5
 * ```
 */
export function compositeTwin(inputs: CompositeInputs): CompositeOutputs {
  const rays = Math.floor(inputs.rayInfo.length / 2);
  const image = new Float64Array(3 * rays);
  const alpha = new Float64Array(rays);
  const depth = new Float64Array(rays);
  const normalImage = new Float64Array(3 * rays);
  const weights = new Float64Array(inputs.sigma.length);
  for (let r = 0; r < rays; r++) {
    const first = inputs.rayInfo[2 * r]!;
    const n = inputs.rayInfo[2 * r + 1]!;
    const { used, w } = walk(inputs, first, n);
    for (let k = 0; k < used; k++) {
      const i = first + k;
      weights[i] = w[k]!;
      alpha[r] = alpha[r]! + w[k]!;
      depth[r] = depth[r]! + w[k]! * inputs.ts[2 * i]!;
      for (let c = 0; c < 3; c++) {
        image[3 * r + c] = image[3 * r + c]! + w[k]! * inputs.colour[3 * i + c]!;
        normalImage[3 * r + c] = normalImage[3 * r + c]! +
          w[k]! * (inputs.normal[3 * i + c]! + 1) / 2;
      }
    }
    for (let c = 0; c < 3; c++) {
      image[3 * r + c] = image[3 * r + c]! + (1 - alpha[r]!) * inputs.background[c]!;
    }
  }
  return { image, alpha, depth, normalImage, weights };
}

/**
 * Backward of {@linkcode compositeTwin}. With g_j = dI·(c_j − bg) + dA + dD·t_j + dw_j,
 * dL/dσ_i = dt_i (T_{i+1} g_i − Σ_{j>i} w_j g_j); the normal image is composited with
 * detached weights, so it reaches the normals but never σ (SPEC §3.3, §9).
 *
 * @param inputs the forward's inputs
 * @param grads upstream gradients
 * @returns dL/dσ, dL/dcolour and dL/dnormal
 *
 * @example
 * ```ts
 * import { compositeBackwardTwin } from "./composite_twin.ts";
 * const g = compositeBackwardTwin({
 *   rayInfo: [0, 1], ts: [1, 0.5], sigma: [1], colour: [1, 0, 0],
 *   normal: [0, 0, 1], background: [0, 0, 0],
 * }, { image: [0, 0, 0], alpha: [0], depth: [0], normalImage: [1, 1, 1] });
 * console.log(g.sigma[0], g.normal[0]! > 0); // 0 true
 * ```
 */
export function compositeBackwardTwin(
  inputs: CompositeInputs,
  grads: CompositeGrads,
): CompositeInputGrads {
  const rays = Math.floor(inputs.rayInfo.length / 2);
  const s = inputs.sigma.length;
  const sigma = new Float64Array(s);
  const colour = new Float64Array(3 * s);
  const normal = new Float64Array(3 * s);
  const bg = inputs.background;
  for (let r = 0; r < rays; r++) {
    const first = inputs.rayInfo[2 * r]!;
    const n = inputs.rayInfo[2 * r + 1]!;
    const { used, w, tAfter } = walk(inputs, first, n);
    const di = [0, 1, 2].map((c) => grads.image[3 * r + c]!);
    // A enters the image through (1 − A)·bg as well as directly.
    const da = grads.alpha[r]! - (di[0]! * bg[0]! + di[1]! * bg[1]! + di[2]! * bg[2]!);
    const g = new Float64Array(used);
    for (let k = 0; k < used; k++) {
      const i = first + k;
      g[k] = di[0]! * inputs.colour[3 * i]! + di[1]! * inputs.colour[3 * i + 1]! +
        di[2]! * inputs.colour[3 * i + 2]! + da + grads.depth[r]! * inputs.ts[2 * i]! +
        (grads.weights?.[i] ?? 0);
    }
    // Walk back, carrying Σ_{j>k} w_j g_j.
    let suffix = 0;
    for (let k = used - 1; k >= 0; k--) {
      const i = first + k;
      sigma[i] = inputs.ts[2 * i + 1]! * (tAfter[k]! * g[k]! - suffix);
      suffix += w[k]! * g[k]!;
      for (let c = 0; c < 3; c++) {
        colour[3 * i + c] = w[k]! * di[c]!;
        normal[3 * i + c] = w[k]! * grads.normalImage[3 * r + c]! / 2;
      }
    }
  }
  return { sigma, colour, normal };
}
