/**
 * A small bind-group cache keyed by the caller's buffer, for kernels whose input or
 * output buffer is handed in per call (the rendered images, the image gradient): the
 * usual two or three buffers a stage alternates between get one bind group each, built
 * on first use.
 *
 * @module
 */

/**
 * Bind groups by buffer, least recently built dropped beyond `capacity`.
 *
 * @example
 * ```ts
 * import { BindCache } from "./_bind_cache.ts";
 * let built = 0;
 * const cache = new BindCache<string>((key) => `group ${++built} for ${key}`, 2);
 * console.log(cache.get("a" as never), cache.get("a" as never)); // group 1 for a group 1 for a
 * ```
 */
export class BindCache<T> {
  readonly #build: (buffer: GPUBuffer) => T;
  readonly #capacity: number;
  readonly #map = new Map<GPUBuffer, T>();

  /**
   * @param build makes the bind group of one buffer
   * @param capacity how many to keep
   */
  constructor(build: (buffer: GPUBuffer) => T, capacity = 8) {
    this.#build = build;
    this.#capacity = capacity;
  }

  /** The bind group of `buffer`, built on first use. */
  get(buffer: GPUBuffer): T {
    let value = this.#map.get(buffer);
    if (value === undefined) {
      value = this.#build(buffer);
      this.#map.set(buffer, value);
      if (this.#map.size > this.#capacity) this.#map.delete(this.#map.keys().next().value!);
    }
    return value;
  }

  /** Forgets every bind group. */
  clear(): void {
    this.#map.clear();
  }
}
