/**
 * Float64 twin of `image_resize.wgsl`: torch's bilinear `F.interpolate` with
 * `align_corners=False` (no antialiasing) from a rendered HWC RGB frame to an NCHW image
 * mapped to [−1, 1], and its adjoint, written as the explicit sparse matrix of taps.
 *
 * @module
 */
import { requireInt } from "../../kernels/validate.ts";

/**
 * Sizes of one resize: the render (`inWidth`×`inHeight`) and the model input.
 *
 * @example A 64² render up to SD's 512²
 * ```ts
 * import type { ResizeShape } from "./image_resize_twin.ts";
 * const shape: ResizeShape = { inWidth: 64, inHeight: 64, outWidth: 512, outHeight: 512 };
 * console.log(shape.outWidth / shape.inWidth); // 8
 * ```
 */
export interface ResizeShape {
  /** Render width. */
  inWidth: number;
  /** Render height. */
  inHeight: number;
  /** Model input width. */
  outWidth: number;
  /** Model input height. */
  outHeight: number;
}

/**
 * The two taps of output index `dst` along one axis, as torch computes them in float32:
 * src = max(0, (in/out)·(dst + 0.5) − 0.5).
 *
 * @param dst output index
 * @param inSize input size along the axis
 * @param outSize output size along the axis
 * @returns the two input indices and the weight λ of the second
 *
 * @example Halving: output 0 sits between inputs 0 and 1
 * ```ts
 * import { resizeTaps } from "./image_resize_twin.ts";
 * console.log(resizeTaps(0, 4, 2)); // { i0: 0, i1: 1, lambda: 0.5 }
 * ```
 */
export function resizeTaps(
  dst: number,
  inSize: number,
  outSize: number,
): { i0: number; i1: number; lambda: number } {
  // The kernel's scale is a float32, and so is torch's.
  const scale = Math.fround(inSize / outSize);
  const src = Math.max(scale * (dst + 0.5) - 0.5, 0);
  const i0 = Math.min(Math.floor(src), inSize - 1);
  return { i0, i1: Math.min(i0 + 1, inSize - 1), lambda: src - i0 };
}

function check(shape: ResizeShape): void {
  requireInt("inWidth", shape.inWidth, { min: 1 });
  requireInt("inHeight", shape.inHeight, { min: 1 });
  requireInt("outWidth", shape.outWidth, { min: 1 });
  requireInt("outHeight", shape.outHeight, { min: 1 });
}

/**
 * Resizes frame `frame` of `images` (`[frames][H·W][3]`) to `[3][outH][outW]`, 2x − 1.
 *
 * @param shape render and model sizes
 * @param images the rendered frames in [0, 1]
 * @param frame which frame
 * @returns the model input, NCHW, in [−1, 1]
 *
 * @example A constant image stays constant
 * ```ts
 * import { imageResizeTwin } from "./image_resize_twin.ts";
 * const out = imageResizeTwin({ inWidth: 2, inHeight: 2, outWidth: 3, outHeight: 3 }, new Array(12).fill(0.75));
 * console.log(out.length, out[4]); // 27 0.5
 * ```
 */
export function imageResizeTwin(
  shape: ResizeShape,
  images: ArrayLike<number>,
  frame = 0,
): Float64Array {
  check(shape);
  const { inWidth: W, inHeight: H, outWidth: Wo, outHeight: Ho } = shape;
  const out = new Float64Array(3 * Ho * Wo);
  const px = (y: number, x: number, c: number) => images[((frame * H + y) * W + x) * 3 + c]!;
  for (let c = 0; c < 3; c++) {
    for (let oy = 0; oy < Ho; oy++) {
      const ty = resizeTaps(oy, H, Ho);
      for (let ox = 0; ox < Wo; ox++) {
        const tx = resizeTaps(ox, W, Wo);
        const top = (1 - tx.lambda) * px(ty.i0, tx.i0, c) + tx.lambda * px(ty.i0, tx.i1, c);
        const bottom = (1 - tx.lambda) * px(ty.i1, tx.i0, c) + tx.lambda * px(ty.i1, tx.i1, c);
        out[(c * Ho + oy) * Wo + ox] = 2 * ((1 - ty.lambda) * top + ty.lambda * bottom) - 1;
      }
    }
  }
  return out;
}

/**
 * The adjoint: dL/dframe (`[H·W][3]`) of one frame from dL/dresized (`[3][outH][outW]`),
 * by scattering every output's gradient onto its four taps.
 *
 * @param shape render and model sizes
 * @param gradResized dL/d(model input)
 * @returns dL/d(rendered frame), HWC
 *
 * @example The adjoint of a 2× downsample splits each gradient over four pixels, times 2
 * ```ts
 * import { imageResizeBackwardTwin } from "./image_resize_twin.ts";
 * const g = imageResizeBackwardTwin({ inWidth: 2, inHeight: 2, outWidth: 1, outHeight: 1 }, [1, 0, 0]);
 * console.log(Array.from(g.filter((_, i) => i % 3 === 0))); // [ 0.5, 0.5, 0.5, 0.5 ]
 * ```
 */
export function imageResizeBackwardTwin(
  shape: ResizeShape,
  gradResized: ArrayLike<number>,
): Float64Array {
  check(shape);
  const { inWidth: W, inHeight: H, outWidth: Wo, outHeight: Ho } = shape;
  const grad = new Float64Array(H * W * 3);
  const add = (y: number, x: number, c: number, v: number) => {
    grad[(y * W + x) * 3 + c] = grad[(y * W + x) * 3 + c]! + v;
  };
  for (let c = 0; c < 3; c++) {
    for (let oy = 0; oy < Ho; oy++) {
      const ty = resizeTaps(oy, H, Ho);
      for (let ox = 0; ox < Wo; ox++) {
        const tx = resizeTaps(ox, W, Wo);
        const g = 2 * gradResized[(c * Ho + oy) * Wo + ox]!;
        add(ty.i0, tx.i0, c, g * (1 - ty.lambda) * (1 - tx.lambda));
        add(ty.i0, tx.i1, c, g * (1 - ty.lambda) * tx.lambda);
        add(ty.i1, tx.i0, c, g * ty.lambda * (1 - tx.lambda));
        add(ty.i1, tx.i1, c, g * ty.lambda * tx.lambda);
      }
    }
  }
  return grad;
}
