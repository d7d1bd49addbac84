/**
 * The clip latent reorder between the VAE and a video UNet, on the GPU without a kernel:
 * frame-major `[B][F][C][h·w]` and channel-major `[B][C][F][h·w]` differ only in the
 * order of whole `h·w` planes, so the reorder is a list of buffer-to-buffer copies (one
 * per plane, adjacent ones merged; a single copy when F or C is 1). Float64 twin:
 * `latent_frames_twin.ts`.
 *
 * @module
 */
import { requireInt } from "../../kernels/validate.ts";
import type { LatentFramesOrder, LatentFramesShape } from "./latent_frames_twin.ts";

/**
 * One copy of a reorder, in f32 elements.
 *
 * @example
 * ```ts
 * import type { LatentFrameCopy } from "./latent_frames.ts";
 * const copy: LatentFrameCopy = { from: 0, to: 1024, count: 1024 };
 * console.log(4 * copy.count); // 4096
 * ```
 */
export interface LatentFrameCopy {
  /** First source element. */
  from: number;
  /** First destination element. */
  to: number;
  /** Elements copied. */
  count: number;
}

/**
 * The copies that reorder clip latents into `to`'s layout, in source order.
 *
 * @param shape clips, frames, channels and plane size
 * @param options `to`: the layout the copies produce
 * @returns the copies
 * @throws {RangeError} naming a size that is not a positive integer
 *
 * @example ModelScope's clip needs one copy per (frame, channel) plane
 * ```ts
 * import { latentFrameCopies } from "./latent_frames.ts";
 * const copies = latentFrameCopies({ items: 1, frames: 16, channels: 4, plane: 1024 }, { to: "channelMajor" });
 * const image = latentFrameCopies({ items: 2, frames: 1, channels: 4, plane: 4096 }, { to: "channelMajor" });
 * console.log(copies.length, copies[1], image); // 64 { from: 1024, to: 16384, count: 1024 } [ { from: 0, to: 0, count: 32768 } ]
 * ```
 */
export function latentFrameCopies(
  shape: LatentFramesShape,
  options: { to: LatentFramesOrder },
): LatentFrameCopy[] {
  const B = requireInt("items", shape.items, { min: 1 });
  const F = requireInt("frames", shape.frames, { min: 1 });
  const C = requireInt("channels", shape.channels, { min: 1 });
  const P = requireInt("plane", shape.plane, { min: 1 });
  const toChannels = options.to === "channelMajor";
  // Walk the source in order: planes (f, c) for frame-major sources, (c, f) otherwise.
  const [outer, inner] = toChannels ? [F, C] : [C, F];
  const copies: LatentFrameCopy[] = [];
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < outer; i++) {
      for (let j = 0; j < inner; j++) {
        const [f, c] = toChannels ? [i, j] : [j, i];
        const frameMajor = ((b * F + f) * C + c) * P;
        const channelMajor = ((b * C + c) * F + f) * P;
        const [from, to] = toChannels ? [frameMajor, channelMajor] : [channelMajor, frameMajor];
        const last = copies[copies.length - 1];
        if (last !== undefined && last.from + last.count === from && last.to + last.count === to) {
          last.count += P;
        } else {
          copies.push({ from, to, count: P });
        }
      }
    }
  }
  return copies;
}

/**
 * Records `copies` (from {@linkcode latentFrameCopies}) between two f32 buffers.
 *
 * @param encoder the command encoder to record into
 * @param copies the reorder's copies
 * @param options source and destination buffers and their byte offsets (multiples of 4)
 *
 * @example One clip of 2 frames × 2 channels × 1 pixel to channel-major and back
 * ```ts
 * import { acquireGpu } from "../../kernels/gpu.ts";
 * import { encodeLatentFrames, latentFrameCopies } from "./latent_frames.ts";
 * const gpu = await acquireGpu({ log: null });
 * const shape = { items: 1, frames: 2, channels: 2, plane: 1 };
 * const src = gpu.createBuffer(new Float32Array([0, 1, 10, 11]));
 * const mid = gpu.createBuffer(16);
 * const back = gpu.createBuffer(16);
 * gpu.submit((e) => {
 *   encodeLatentFrames(e, latentFrameCopies(shape, { to: "channelMajor" }), { src, dst: mid });
 *   encodeLatentFrames(e, latentFrameCopies(shape, { to: "frameMajor" }), { src: mid, dst: back });
 * });
 * console.log(new Float32Array(await gpu.read(mid)), new Float32Array(await gpu.read(back)));
 * // Float32Array(4) [ 0, 10, 1, 11 ] Float32Array(4) [ 0, 1, 10, 11 ]
 * gpu.destroy();
 * ```
 */
export function encodeLatentFrames(
  encoder: GPUCommandEncoder,
  copies: readonly LatentFrameCopy[],
  options: { src: GPUBuffer; dst: GPUBuffer; srcOffset?: number; dstOffset?: number },
): void {
  const a = options.srcOffset ?? 0;
  const b = options.dstOffset ?? 0;
  for (const c of copies) {
    encoder.copyBufferToBuffer(options.src, a + 4 * c.from, options.dst, b + 4 * c.to, 4 * c.count);
  }
}
