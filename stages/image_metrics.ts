/**
 * Image quality metrics for scoring renders against ground truth: PSNR and SSIM, on
 * interleaved RGB floats in [0, 1].
 *
 * @module
 */

/** Size of an interleaved image. */
export interface ImageSize {
  width: number;
  height: number;
  /** Interleaved channels (default 3). */
  channels?: number;
}

function requireSameLength(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  if (a.length !== b.length || a.length === 0) {
    throw new RangeError(
      `Invalid option ${what}: expected two non-empty images of the same length, got ${a.length} and ${b.length}`,
    );
  }
}

/**
 * Peak signal-to-noise ratio 10·log10(peak² / MSE) in dB over every element; Infinity
 * for identical images.
 *
 * @param a one image (any layout, values in [0, peak])
 * @param b the other, same length
 * @param options `peak`, the largest value (default 1)
 * @returns PSNR in dB
 *
 * @example A constant error of 0.1 is 20 dB
 * ```ts
 * import { psnr } from "./image_metrics.ts";
 * console.log(psnr([0.5, 0.5], [0.6, 0.4]).toFixed(6)); // 20.000000
 * ```
 */
export function psnr(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  options: { peak?: number } = {},
): number {
  requireSameLength(a, b, "psnr");
  const peak = options.peak ?? 1;
  let se = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    se += d * d;
  }
  const mse = se / a.length;
  return mse === 0 ? Infinity : 10 * Math.log10((peak * peak) / mse);
}

/** Side of the SSIM window. */
export const SSIM_WINDOW = 11;
/** σ of the SSIM window's Gaussian. */
export const SSIM_SIGMA = 1.5;
/** SSIM stabilisers for a data range of 1: C1 = (0.01)², C2 = (0.03)². */
export const SSIM_C1 = 0.01 ** 2;
/** See {@linkcode SSIM_C1}. */
export const SSIM_C2 = 0.03 ** 2;

function gaussianWindow(): Float64Array {
  const r = (SSIM_WINDOW - 1) / 2;
  const w1 = new Float64Array(SSIM_WINDOW);
  let sum = 0;
  for (let i = 0; i < SSIM_WINDOW; i++) {
    w1[i] = Math.exp(-((i - r) ** 2) / (2 * SSIM_SIGMA * SSIM_SIGMA));
    sum += w1[i]!;
  }
  for (let i = 0; i < SSIM_WINDOW; i++) w1[i]! /= sum;
  return w1;
}

/**
 * Structural similarity (Wang et al. 2004) with the standard 11×11 Gaussian window
 * (σ 1.5), C1 = (0.01)², C2 = (0.03)² for data in [0, 1]: the SSIM map over every
 * window position fully inside the image ("valid", as the reference MATLAB code), averaged
 * over positions and then over channels.
 *
 * @param a one interleaved image
 * @param b the other, same size
 * @param size width, height and channels (default 3)
 * @returns mean SSIM in [−1, 1]; 1 for identical images
 * @throws {RangeError} when a side is shorter than the window
 *
 * @example Two constant images: only the luminance term differs from 1
 * ```ts
 * import { ssim } from "./image_metrics.ts";
 * const a = new Float64Array(12 * 12 * 3).fill(0.5);
 * const b = new Float64Array(12 * 12 * 3).fill(0.25);
 * console.log(ssim(a, b, { width: 12, height: 12 }).toFixed(4)); // 0.8001
 * ```
 */
export function ssim(a: ArrayLike<number>, b: ArrayLike<number>, size: ImageSize): number {
  requireSameLength(a, b, "ssim");
  const { width, height } = size;
  const channels = size.channels ?? 3;
  if (width * height * channels !== a.length) {
    throw new RangeError(
      `Invalid option ssim size: expected ${width}×${height}×${channels} = ${
        width * height * channels
      } values, got ${a.length}`,
    );
  }
  if (width < SSIM_WINDOW || height < SSIM_WINDOW) {
    throw new RangeError(
      `Invalid option ssim size: expected images of at least ${SSIM_WINDOW}×${SSIM_WINDOW}, got ${width}×${height}`,
    );
  }
  const w = gaussianWindow();
  const ow = width - SSIM_WINDOW + 1;
  const oh = height - SSIM_WINDOW + 1;
  // The window is separable: filter rows into `tmp`, then columns.
  const filter = (src: Float64Array): Float64Array => {
    const tmp = new Float64Array(ow * height);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < ow; x++) {
        let s = 0;
        for (let k = 0; k < SSIM_WINDOW; k++) s += w[k]! * src[y * width + x + k]!;
        tmp[y * ow + x] = s;
      }
    }
    const out = new Float64Array(ow * oh);
    for (let y = 0; y < oh; y++) {
      for (let x = 0; x < ow; x++) {
        let s = 0;
        for (let k = 0; k < SSIM_WINDOW; k++) s += w[k]! * tmp[(y + k) * ow + x]!;
        out[y * ow + x] = s;
      }
    }
    return out;
  };
  let total = 0;
  const n = width * height;
  for (let c = 0; c < channels; c++) {
    const x = new Float64Array(n);
    const y = new Float64Array(n);
    const xx = new Float64Array(n);
    const yy = new Float64Array(n);
    const xy = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const u = a[i * channels + c]!;
      const v = b[i * channels + c]!;
      x[i] = u;
      y[i] = v;
      xx[i] = u * u;
      yy[i] = v * v;
      xy[i] = u * v;
    }
    const mx = filter(x), my = filter(y), mxx = filter(xx), myy = filter(yy), mxy = filter(xy);
    let sum = 0;
    for (let i = 0; i < ow * oh; i++) {
      const ux = mx[i]!, uy = my[i]!;
      const vx = mxx[i]! - ux * ux;
      const vy = myy[i]! - uy * uy;
      const cxy = mxy[i]! - ux * uy;
      sum += ((2 * ux * uy + SSIM_C1) * (2 * cxy + SSIM_C2)) /
        ((ux * ux + uy * uy + SSIM_C1) * (vx + vy + SSIM_C2));
    }
    total += sum / (ow * oh);
  }
  return total / channels;
}

/**
 * Averages k×k blocks of a square (size·k)² interleaved RGB image into size², after
 * clamping every sub-pixel to [0, 1]: the box filter the ground truth applies to its
 * k×k sub-rays, so a field rendered at k× resolution compares with it like for like.
 *
 * @param rgb the (size·k)² RGB render
 * @param options `size`, the output side, and `k`, sub-pixels per side
 * @returns the size² RGB image
 *
 * @example Four sub-pixels, one out of range, make one pixel
 * ```ts
 * import { boxDownsample } from "./image_metrics.ts";
 * const rgb = new Float32Array([1.4, 0, 0, 0, 0, 0, 1, 1, 1, 0, 1, 0]);
 * console.log(Array.from(boxDownsample(rgb, { size: 1, k: 2 }))); // [ 0.5, 0.5, 0.25 ]
 * ```
 */
export function boxDownsample(
  rgb: ArrayLike<number>,
  options: { size: number; k: number },
): Float32Array {
  const { size, k } = options;
  const side = size * k;
  if (rgb.length !== side * side * 3) {
    throw new RangeError(
      `Invalid option rgb: expected ${side}² RGB values (size ${size} × k ${k}), got ${rgb.length}`,
    );
  }
  const out = new Float32Array(size * size * 3);
  const inv = 1 / (k * k);
  for (let y = 0; y < side; y++) {
    const row = Math.floor(y / k) * size;
    for (let x = 0; x < side; x++) {
      const o = 3 * (row + Math.floor(x / k));
      const i = 3 * (y * side + x);
      for (let c = 0; c < 3; c++) out[o + c]! += Math.min(1, Math.max(0, rgb[i + c]!)) * inv;
    }
  }
  return out;
}
