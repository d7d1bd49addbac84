/**
 * Float64 twin of `image_loss.wgsl`: the mean squared image (and alpha) error of a
 * rendered clip against its targets, and the gradients the renderer's backward pass takes.
 *
 * @module
 */

/** Inputs of {@linkcode imageLossTwin}; N pixels, frame-major like the clip buffers. */
export interface ImageLossInputs {
  /** Rendered colour `[N][3]`. */
  image: ArrayLike<number>;
  /** Target colour `[N][3]`. */
  target: ArrayLike<number>;
  /** Rendered alpha `[N]`. */
  alpha: ArrayLike<number>;
  /** Target alpha `[N]`. */
  targetAlpha: ArrayLike<number>;
  /** Weight w of the alpha term (0 turns it off). */
  alphaWeight: number;
  /** Weight v of the colour term (default 1). */
  rgbWeight?: number;
}

/** Loss terms and gradients. */
export interface ImageLossResult {
  /** L_rgb = Σ (image − target)² / (3N). */
  rgb: number;
  /** L_alpha = Σ (alpha − targetAlpha)² / N (reported even when w = 0). */
  alpha: number;
  /** L = v·L_rgb + w·L_alpha. */
  total: number;
  /** dL/dimage `[N][3]`. */
  gradImage: Float64Array;
  /** dL/dalpha `[N]`. */
  gradAlpha: Float64Array;
}

/**
 * Computes the image loss and its gradient in float64.
 *
 * @param inputs rendered and target colour and alpha, and the alpha weight
 * @returns the loss terms and dL/dimage, dL/dalpha
 *
 * @example
 * ```ts
 * import { imageLossTwin } from "./image_loss_twin.ts";
 * const r = imageLossTwin({
 *   image: [1, 1, 1], target: [0, 1, 1], alpha: [1], targetAlpha: [0.5], alphaWeight: 0.5,
 * });
 * console.log(r.rgb, r.alpha, r.total); // 0.333… 0.25 0.458…
 * ```
 */
export function imageLossTwin(inputs: ImageLossInputs): ImageLossResult {
  const n = inputs.alpha.length;
  if (inputs.image.length !== 3 * n || inputs.target.length !== 3 * n) {
    throw new RangeError(
      `Invalid option image: expected image and target of ${
        3 * n
      } floats (3 × alpha), got ${inputs.image.length} and ${inputs.target.length}`,
    );
  }
  if (inputs.targetAlpha.length !== n) {
    throw new RangeError(
      `Invalid option targetAlpha: expected ${n} floats, got ${inputs.targetAlpha.length}`,
    );
  }
  const w = inputs.alphaWeight;
  const v = inputs.rgbWeight ?? 1;
  const gradImage = new Float64Array(3 * n);
  const gradAlpha = new Float64Array(n);
  let seRgb = 0;
  let seAlpha = 0;
  for (let i = 0; i < 3 * n; i++) {
    const d = inputs.image[i]! - inputs.target[i]!;
    seRgb += d * d;
    gradImage[i] = (2 * v * d) / (3 * n);
  }
  for (let i = 0; i < n; i++) {
    const d = inputs.alpha[i]! - inputs.targetAlpha[i]!;
    seAlpha += d * d;
    gradAlpha[i] = (2 * w * d) / n;
  }
  const rgb = n > 0 ? seRgb / (3 * n) : 0;
  const alpha = n > 0 ? seAlpha / n : 0;
  return { rgb, alpha, total: v * rgb + w * alpha, gradImage, gradAlpha };
}
