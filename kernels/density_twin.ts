/**
 * Float64 twin of `density.wgsl`.
 *
 * @module
 */
import { blob } from "./shade_twin.ts";

/**
 * σ = exp(raw₀ + blob(x)) for `[N][3]` points and `[N][4]` raw outputs.
 *
 * @example
 * ```ts
 * import { densityTwin } from "./density_twin.ts";
 * console.log(densityTwin([0, 0, 0], { raw: [0, 0, 0, 0] })[0]); // e^10
 * ```
 */
export function densityTwin(
  points: ArrayLike<number>,
  options: { raw: ArrayLike<number> },
): Float64Array {
  const n = Math.floor(points.length / 3);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const x = [points[3 * i]!, points[3 * i + 1]!, points[3 * i + 2]!];
    out[i] = Math.exp(options.raw[4 * i]! + blob(x));
  }
  return out;
}
