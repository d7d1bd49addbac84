/**
 * Float64 twin of `control_image.wgsl`: control renders `[n][H·W][3]` in [0, 1] to the
 * ControlNet's `controlnet_cond`, `[n][3][outH][outW]`, bilinear (torch `F.interpolate`,
 * `align_corners=False`) and not normalised.
 *
 * @module
 */
import { requireInt } from "../../kernels/validate.ts";
import { type ResizeShape, resizeTaps } from "./image_resize_twin.ts";

/**
 * Resizes `frames` control renders to NCHW in [0, 1].
 *
 * @param shape render and model sizes
 * @param images the control renders, `[frames][H·W][3]`
 * @param frames how many frames
 * @returns `[frames][3][outH][outW]`
 *
 * @example A 1×1 render upsampled to 2×2 repeats its colour per channel plane
 * ```ts
 * import { controlImageTwin } from "./control_image_twin.ts";
 * const out = controlImageTwin({ inWidth: 1, inHeight: 1, outWidth: 2, outHeight: 2 }, [0.25, 0.5, 1], 1);
 * console.log(Array.from(out)); // [ 0.25, 0.25, 0.25, 0.25, 0.5, 0.5, 0.5, 0.5, 1, 1, 1, 1 ]
 * ```
 */
export function controlImageTwin(
  shape: ResizeShape,
  images: ArrayLike<number>,
  frames: number,
): Float64Array {
  const { inWidth: W, inHeight: H, outWidth: Wo, outHeight: Ho } = shape;
  for (const [k, v] of Object.entries(shape)) requireInt(k, v, { min: 1 });
  requireInt("frames", frames, { min: 1 });
  if (images.length < frames * H * W * 3) {
    throw new RangeError(
      `Invalid option images: ${frames} frames of ${W}×${H} need ${
        frames * H * W * 3
      } values, got ${images.length}`,
    );
  }
  const out = new Float64Array(frames * 3 * Ho * Wo);
  for (let f = 0; f < frames; f++) {
    const px = (y: number, x: number, c: number) => images[((f * H + y) * W + x) * 3 + c]!;
    for (let c = 0; c < 3; c++) {
      for (let oy = 0; oy < Ho; oy++) {
        const ty = resizeTaps(oy, H, Ho);
        for (let ox = 0; ox < Wo; ox++) {
          const tx = resizeTaps(ox, W, Wo);
          let v = 0;
          for (const [iy, wy] of [[ty.i0, 1 - ty.lambda], [ty.i1, ty.lambda]] as const) {
            for (const [ix, wx] of [[tx.i0, 1 - tx.lambda], [tx.i1, tx.lambda]] as const) {
              v += wy * wx * px(iy, ix, c);
            }
          }
          out[((f * 3 + c) * Ho + oy) * Wo + ox] = v;
        }
      }
    }
  }
  return out;
}
