/**
 * A small seeded random generator, so runs, tests and benchmarks are repeatable.
 *
 * @module
 */

/**
 * Returns a generator of uniform numbers in [0, 1) from a 32-bit seed (mulberry32).
 *
 * @example
 * ```ts
 * import { seededRandom } from "./random.ts";
 * const rand = seededRandom(1);
 * console.log(rand() < 1);
 * ```
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Returns a standard normal sample generator built on {@linkcode seededRandom}.
 *
 * @example
 * ```ts
 * import { seededNormal } from "./random.ts";
 * const normal = seededNormal(7);
 * console.log(Number.isFinite(normal()));
 * ```
 */
export function seededNormal(seed: number): () => number {
  const u = seededRandom(seed);
  return () => {
    const a = Math.max(u(), 1e-12);
    return Math.sqrt(-2 * Math.log(a)) * Math.cos(2 * Math.PI * u());
  };
}
