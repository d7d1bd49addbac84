/**
 * Float64 twin of `sample_times.wgsl`.
 *
 * @module
 */

/**
 * Time of every sample from its ray's frame.
 *
 * @example
 * ```ts
 * import { sampleTimesTwin } from "./sample_times_twin.ts";
 * console.log(sampleTimesTwin([0, 5], { raysPerFrame: 4, frameTimes: [0.1, 0.7] })); // [0.1, 0.7]
 * ```
 */
export function sampleTimesTwin(
  rayIndex: ArrayLike<number>,
  options: { raysPerFrame: number; frameTimes: ArrayLike<number> },
): Float64Array {
  const frames = options.frameTimes.length;
  return Float64Array.from(
    rayIndex,
    (r) => options.frameTimes[Math.min(Math.floor(r / options.raysPerFrame), frames - 1)]!,
  );
}
