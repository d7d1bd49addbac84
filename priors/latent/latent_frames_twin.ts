/**
 * Float64 twin of the clip latent reorder (`latent_frames.ts`): the VAE writes a clip's
 * latents frame-major `[items][F][C][h·w]`, a video UNet takes them channel-major
 * `[items][C][F][h·w]`, and its ε̂ comes back channel-major.
 *
 * @module
 */

/**
 * Sizes of a batch of clips' latents.
 *
 * @example ModelScope's one clip: 16 frames of 4×32×32 latents
 * ```ts
 * import type { LatentFramesShape } from "./latent_frames_twin.ts";
 * const clip: LatentFramesShape = { items: 1, frames: 16, channels: 4, plane: 32 * 32 };
 * console.log(clip.items * clip.frames * clip.channels * clip.plane); // 65536
 * ```
 */
export interface LatentFramesShape {
  /** Clips (B). */
  items: number;
  /** Frames per clip (F). */
  frames: number;
  /** Latent channels (C). */
  channels: number;
  /** Elements of one channel of one frame (h·w). */
  plane: number;
}

/**
 * The layout to produce: `channelMajor` (`[B][C][F][h·w]`, the UNet's) from frame-major
 * values, or `frameMajor` (`[B][F][C][h·w]`, the VAE's) from channel-major ones.
 *
 * @example
 * ```ts
 * import type { LatentFramesOrder } from "./latent_frames_twin.ts";
 * const orders: LatentFramesOrder[] = ["channelMajor", "frameMajor"];
 * console.log(orders.length); // 2
 * ```
 */
export type LatentFramesOrder = "channelMajor" | "frameMajor";

/**
 * Reorders clip latents element by element.
 *
 * @param data `[B][F][C][h·w]` for `to: "channelMajor"`, `[B][C][F][h·w]` for `frameMajor`
 * @param options sizes and target layout
 * @returns the reordered values
 *
 * @example Two frames of two channels of one pixel
 * ```ts
 * import { latentFramesTwin } from "./latent_frames_twin.ts";
 * const shape = { items: 1, frames: 2, channels: 2, plane: 1 };
 * // frame-major f0c0, f0c1, f1c0, f1c1 → channel-major f0c0, f1c0, f0c1, f1c1
 * console.log(latentFramesTwin([0, 1, 10, 11], { shape, to: "channelMajor" })); // Float64Array(4) [ 0, 10, 1, 11 ]
 * ```
 */
export function latentFramesTwin(
  data: ArrayLike<number>,
  options: { shape: LatentFramesShape; to: LatentFramesOrder },
): Float64Array {
  const { items, frames: F, channels: C, plane: P } = options.shape;
  const out = new Float64Array(items * F * C * P);
  for (let b = 0; b < items; b++) {
    for (let f = 0; f < F; f++) {
      for (let c = 0; c < C; c++) {
        for (let p = 0; p < P; p++) {
          const frameMajor = ((b * F + f) * C + c) * P + p;
          const channelMajor = ((b * C + c) * F + f) * P + p;
          if (options.to === "channelMajor") out[channelMajor] = data[frameMajor]!;
          else out[frameMajor] = data[channelMajor]!;
        }
      }
    }
  }
  return out;
}
