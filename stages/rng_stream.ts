/**
 * A seeded random stream whose whole state is one 32-bit word, so a checkpoint can store
 * it and a resumed run draws exactly the numbers the uninterrupted run would have.
 *
 * @module
 */

/**
 * mulberry32 (the generator of `kernels/random.ts`) with its state exposed.
 *
 * @example Save and restore the stream
 * ```ts
 * import { RngStream } from "./rng_stream.ts";
 * const a = new RngStream(7);
 * a.next();
 * const b = new RngStream(0);
 * b.state = a.state;
 * console.log(a.next() === b.next()); // true
 * ```
 */
export class RngStream {
  #state: number;

  /** Starts the stream at a 32-bit `seed`. */
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** The 32-bit state; assigning it continues from that point. */
  get state(): number {
    return this.#state;
  }

  set state(value: number) {
    this.#state = value >>> 0;
  }

  /** Next uniform number in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform number in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** The stream as a plain `() => number`, for APIs that take one. */
  get fn(): () => number {
    return () => this.next();
  }
}
