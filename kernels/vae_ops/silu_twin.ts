/**
 * Plain float64 twin of SiLU, x·σ(x), and its derivative: the activation after every
 * GroupNorm of the SD VAE encoder but the attention's. On the GPU it is fused into
 * `group_norm.wgsl` (the `SILU` constant), so it never costs a pass of its own.
 *
 * @module
 */

/**
 * SiLU(x) = x·σ(x).
 *
 * @example
 * ```ts
 * import { siluTwin } from "./silu_twin.ts";
 * console.log(siluTwin(0), siluTwin(1).toFixed(4)); // 0 0.7311
 * ```
 */
export function siluTwin(x: number): number {
  return x / (1 + Math.exp(-x));
}

/**
 * SiLU′(x) = σ(x)·(1 + x·(1 − σ(x))).
 *
 * @example
 * ```ts
 * import { siluGradTwin } from "./silu_twin.ts";
 * console.log(siluGradTwin(0)); // 0.5
 * ```
 */
export function siluGradTwin(x: number): number {
  const s = 1 / (1 + Math.exp(-x));
  return s * (1 + x * (1 - s));
}
