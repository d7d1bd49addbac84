/**
 * Float64 twin of `f16_cast.wgsl`: round to the nearest float16 (ties to even) and back.
 *
 * @module
 */

/**
 * Rounds each value to the nearest float16, as `pack2x16float` does for values in range.
 *
 * @param values float values
 * @returns the float16 values, widened back to float64
 *
 * @example
 * ```ts
 * import { f16RoundTwin } from "./f16_cast_twin.ts";
 * console.log(Array.from(f16RoundTwin([1, 0.1, 65504]))); // [ 1, 0.0999755859375, 65504 ]
 * ```
 */
export function f16RoundTwin(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(values, (v) => Math.f16round(v));
}
