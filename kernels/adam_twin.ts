/**
 * Float64 twin of the Adam step (kernels/adam.wgsl): PyTorch's `torch.optim.Adam`
 * update without weight decay, plus optional clip-by-value of the gradient first.
 *
 * @module
 */
import { type AdamHyper, resolveAdamHyper } from "./adam.ts";

/** One parameter tensor with its moments, updated in place. */
export interface AdamTwinTensor {
  params: Float64Array;
  /** First moment (exp_avg). */
  m: Float64Array;
  /** Second moment (exp_avg_sq). */
  v: Float64Array;
}

/**
 * A tensor with zero moments, as a fresh `torch.optim.Adam` starts.
 *
 * @example
 * ```ts
 * import { adamTwinTensor } from "./adam_twin.ts";
 * console.log(adamTwinTensor([1, 2]).m); // Float64Array(2) [ 0, 0 ]
 * ```
 */
export function adamTwinTensor(params: ArrayLike<number>): AdamTwinTensor {
  return {
    params: Float64Array.from(params),
    m: new Float64Array(params.length),
    v: new Float64Array(params.length),
  };
}

/** Options of {@linkcode adamStepTwin}: the 1-based step t, lr and the hyperparameters. */
export interface AdamTwinStepOptions extends Partial<AdamHyper> {
  /** Step number t ≥ 1 (after the increment, as PyTorch counts). */
  step: number;
  /** Learning rate. */
  lr: number;
}

/**
 * One Adam step on `tensor` with gradient `grads`:
 * g ← clamp(g, ±clip) if clip > 0; m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²;
 * p ← p − lr·(m/(1−β1^t)) / (√(v/(1−β2^t)) + ε).
 *
 * @example The first step moves each parameter by about lr·sign(g)
 * ```ts
 * import { adamStepTwin, adamTwinTensor } from "./adam_twin.ts";
 * const t = adamTwinTensor([1, 1]);
 * adamStepTwin(t, [3, -0.2], { step: 1, lr: 0.01 });
 * console.log(t.params); // ≈ [0.99, 1.01]
 * ```
 */
export function adamStepTwin(
  tensor: AdamTwinTensor,
  grads: ArrayLike<number>,
  options: AdamTwinStepOptions,
): void {
  const { step, lr, ...partial } = options;
  const { beta1, beta2, eps, clip } = resolveAdamHyper(partial);
  if (!Number.isInteger(step) || step < 1) {
    throw new RangeError(`Invalid step: expected an integer >= 1, got ${step}`);
  }
  const { params, m, v } = tensor;
  if (grads.length !== params.length || m.length !== params.length || v.length !== params.length) {
    throw new RangeError(
      `Invalid Adam tensor: params ${params.length}, grads ${grads.length}, m ${m.length}, v ${v.length}`,
    );
  }
  const bc1 = 1 - beta1 ** step;
  const bc2 = 1 - beta2 ** step;
  for (let i = 0; i < params.length; i++) {
    let g = grads[i]!;
    if (clip > 0) g = Math.min(Math.max(g, -clip), clip);
    m[i] = beta1 * m[i]! + (1 - beta1) * g;
    v[i] = beta2 * v[i]! + (1 - beta2) * g * g;
    params[i] = params[i]! - lr * (m[i]! / bc1) / (Math.sqrt(v[i]! / bc2) + eps);
  }
}
