/**
 * Float64 twin of `chunk_counts.wgsl`: per-chunk counts and dispatch sizes.
 *
 * @module
 */

/**
 * Counts of each chunk of `chunk` points when `total` points exist, and the workgroup
 * counts of the grid encoder (`levels` threads a point) and MLP dispatches.
 *
 * @example
 * ```ts
 * import { chunkCountsTwin } from "./chunk_counts_twin.ts";
 * const c = chunkCountsTwin(100, { chunk: 64, chunks: 3, levels: 16, workgroup: 64 });
 * console.log(c.counts); // [64, 36, 0]
 * ```
 */
export function chunkCountsTwin(
  total: number,
  options: { chunk: number; chunks: number; levels: number; workgroup: number },
): { counts: number[]; gridGroups: number[]; mlpGroups: number[] } {
  const counts: number[] = [];
  for (let c = 0; c < options.chunks; c++) {
    counts.push(Math.max(0, Math.min(total - c * options.chunk, options.chunk)));
  }
  return {
    counts,
    gridGroups: counts.map((n) => Math.ceil((n * options.levels) / options.workgroup)),
    mlpGroups: counts.map((n) => Math.ceil(n / options.workgroup)),
  };
}
