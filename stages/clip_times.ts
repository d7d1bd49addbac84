/**
 * Frame times of one training clip, the temporal sampling of SPEC.md §6
 * (`Animate124 main: dnerf/provider.py:179-231`), and the evenly spaced times of the
 * test renders.
 *
 * @module
 */
import { requireFinite, requireInt } from "../kernels/validate.ts";
import type { RngStream } from "./rng_stream.ts";

/** Frames per training clip F (`--num_frames`). */
export const CLIP_FRAMES = 16;
/** Integer ticks of the [0, 1] timeline P (`--precision`, `zero_precision`). */
export const TIME_PRECISION = 256;
/** Probability that a clip is anchored at t = 0 before mirroring (`--zero_rate`). */
export const ZERO_RATE = 0.2;
/** Frames per test/val render (`num_test_frames`). */
export const TEST_FRAMES = 64;

/** Options for {@linkcode sampleClipTimes}; the defaults are SPEC.md §6's. */
export interface ClipTimesOptions {
  /** Frames per clip F, an integer ≥ 1. Default 16. */
  frames?: number;
  /** Timeline ticks P, an integer ≥ `frames`. Default 256. */
  precision?: number;
  /** Probability of the t = 0 anchor, in [0, 1]. Default 0.2. */
  zeroRate?: number;
}

/** One sampled clip. */
export interface ClipTimes {
  /** The F frame times τ_i/P, ascending, in [0, 1]. */
  times: number[];
  /**
   * The original's `start_from_zero`: the anchor was drawn and the clip was not mirrored.
   * A uniform start that happens to land on 0 does not set it. Zero123 runs on frame 0
   * only when this is true (SPEC.md §5.3).
   */
  startsAtZero: boolean;
  /** The clip was mirrored onto the end of the timeline (τ_i ← P − τ_{F−1−i}). */
  mirrored: boolean;
  /** Tick spacing k between neighbouring frames, in 1..⌊P/F⌋. */
  stride: number;
}

function randint(rng: RngStream, lo: number, hi: number): number {
  return lo + Math.floor(rng.next() * (hi - lo + 1));
}

/**
 * Draws one clip's frame times. Draws, in the original's order:
 * 1. anchor = U < zeroRate;
 * 2. v ~ randint(F, P) inclusive, stride k = ⌊v/F⌋ (so k = 16 is 16 times rarer than the
 *    others at the defaults);
 * 3. start s = 0 when anchored, else s ~ randint(0, P − F·k) inclusive; τ_i = s + i·k;
 * 4. with p 0.5 mirror τ_i ← P − τ_{F−1−i}, which clears the anchor flag.
 *
 * Without mirroring the last frame stays ≤ P − k < P, so t = 1 is reached only by
 * mirrored clips, symmetric to t = 0.
 *
 * @param rng the run's random stream (three or four draws per call)
 * @param options clip length, timeline precision and anchor rate
 * @returns the ascending times and how they were drawn
 * @throws {RangeError} naming the option when one is out of range
 *
 * @example Draw a clip
 * ```ts
 * import { RngStream } from "./rng_stream.ts";
 * import { sampleClipTimes } from "./clip_times.ts";
 * const clip = sampleClipTimes(new RngStream(3));
 * const step = clip.times[1]! - clip.times[0]!;
 * console.log(clip.times.length, step * 256 === clip.stride); // 16 true
 * ```
 */
export function sampleClipTimes(rng: RngStream, options: ClipTimesOptions = {}): ClipTimes {
  const frames = requireInt("frames", options.frames ?? CLIP_FRAMES, { min: 1 });
  const precision = requireInt("precision", options.precision ?? TIME_PRECISION, {
    min: frames,
  });
  const zeroRate = requireFinite("zeroRate", options.zeroRate ?? ZERO_RATE, { min: 0, max: 1 });

  let startsAtZero = rng.next() < zeroRate;
  const stride = Math.floor(randint(rng, frames, precision) / frames);
  const start = startsAtZero ? 0 : randint(rng, 0, precision - frames * stride);
  const ticks = Array.from({ length: frames }, (_, i) => start + i * stride);
  // The original mirrors when random.random() > 0.5; with a continuous U the two
  // conventions differ only on a null set.
  const mirrored = rng.next() >= 0.5;
  if (mirrored) {
    ticks.reverse();
    for (let i = 0; i < frames; i++) ticks[i] = precision - ticks[i]!;
    startsAtZero = false;
  }
  return { times: ticks.map((t) => t / precision), startsAtZero, mirrored, stride };
}

/**
 * Times of the test and validation renders, t = k/count for k = 0..count−1
 * (`num_test_frames` 64), so t = 1 is never rendered at test time.
 *
 * @param count frames per render, an integer ≥ 1 (default 64)
 * @returns the times, ascending
 * @throws {RangeError} when `count` is not a positive integer
 *
 * @example
 * ```ts
 * import { testTimes } from "./clip_times.ts";
 * const t = testTimes();
 * console.log(t.length, t[1], t[63]); // 64 0.015625 0.984375
 * ```
 */
export function testTimes(count: number = TEST_FRAMES): number[] {
  const n = requireInt("count", count, { min: 1 });
  return Array.from({ length: n }, (_, k) => k / n);
}
