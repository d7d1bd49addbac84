/**
 * Float64 twin of `normal_image_reg.wgsl`: the two image-space regularisers on the
 * composited normal image (SPEC.md §5.5; Animate124 main: dnerf/utils.py:470-500).
 *
 * - TV: L_tv = mean (Δ_y N)² + mean (Δ_x N)², each mean over its own difference array
 *   (F·3·(H−1)·W and F·3·H·(W−1) elements), as torch's `.square().mean()` does.
 * - Blur: L_blur = mean (N − G₉(N))², G₉ torchvision's `gaussian_blur` with kernel 9 and
 *   its default σ = 0.3·((9 − 1)/2 − 1) + 0.8 = 1.7, reflect padding. The blurred image
 *   is not detached, so the gradient is (2/n)·(D − G₉ᵀ D) with D = N − G₉(N).
 *
 * Images are `[F][H][W][3]` (the clip layout `[F][H·W][3]`, ray r = y·W + x); every mean
 * runs over all frames and channels, as torch reduces the `[F, 3, H, W]` tensor.
 *
 * @module
 */

/** Kernel size of the blur term (`TF.gaussian_blur(…, kernel_size=9)`). */
export const NORMAL_BLUR_SIZE = 9;

/** torchvision's default σ for a kernel size: 0.3·((k − 1)/2 − 1) + 0.8 (1.7 for k = 9). */
export const NORMAL_BLUR_SIGMA = 0.3 * ((NORMAL_BLUR_SIZE - 1) * 0.5 - 1) + 0.8;

/** Default weights of both terms (SPEC.md §5.5). */
export const NORMAL_IMAGE_REG_WEIGHT = 0.5;

/**
 * The normalised 1-D Gaussian of torchvision's `_get_gaussian_kernel1d`: exp(−x²/(2σ²))
 * at x = linspace(−(k−1)/2, (k−1)/2, k), divided by its sum.
 *
 * @param size kernel size k (odd)
 * @param sigma σ
 * @returns the k weights
 *
 * @example
 * ```ts
 * import { gaussianKernel1d } from "./normal_image_reg_twin.ts";
 * const k = gaussianKernel1d(9, 1.7);
 * console.log(k.length, k[4]!.toFixed(4)); // 9 0.2364
 * ```
 */
export function gaussianKernel1d(size: number, sigma: number): Float64Array {
  const half = (size - 1) / 2;
  const k = new Float64Array(size);
  let sum = 0;
  for (let i = 0; i < size; i++) {
    const x = -half + i;
    k[i] = Math.exp(-0.5 * (x / sigma) ** 2);
    sum += k[i]!;
  }
  for (let i = 0; i < size; i++) k[i] = k[i]! / sum;
  return k;
}

/** torch's "reflect" padding index: the edge is not repeated. Needs n > pad. */
export function reflectIndex(i: number, n: number): number {
  if (i < 0) return -i;
  if (i >= n) return 2 * (n - 1) - i;
  return i;
}

/** Shape of the image stack. */
export interface ImageShape {
  /** Frames F. */
  frames: number;
  /** Width W (at least 5: reflect padding by 4 needs more than 4 pixels). */
  width: number;
  /** Height H (at least 5). */
  height: number;
}

function checkShape(image: ArrayLike<number>, shape: ImageShape): void {
  const { frames, width, height } = shape;
  if (width < 5 || height < 5) {
    throw new RangeError(
      `Invalid option width/height: expected at least 5 pixels each (reflect padding by 4), got ${width}×${height}`,
    );
  }
  if (image.length !== frames * width * height * 3) {
    throw new RangeError(
      `Invalid option normalImage: expected ${
        frames * width * height * 3
      } floats (F·H·W·3), got ${image.length}`,
    );
  }
}

/**
 * G₉(N): torchvision's 9×9 Gaussian blur with reflect padding, per frame and channel.
 *
 * @param image `[F][H][W][3]`
 * @param shape frames, width and height
 * @returns the blurred image, same layout
 *
 * @example
 * ```ts
 * import { gaussianBlurTwin } from "./normal_image_reg_twin.ts";
 * const flat = gaussianBlurTwin(new Float64Array(5 * 5 * 3).fill(0.5), { frames: 1, width: 5, height: 5 });
 * console.log(flat[0]!.toFixed(6)); // 0.500000: a constant image stays constant
 * ```
 */
export function gaussianBlurTwin(image: ArrayLike<number>, shape: ImageShape): Float64Array {
  checkShape(image, shape);
  const { frames, width: W, height: H } = shape;
  const k = gaussianKernel1d(NORMAL_BLUR_SIZE, NORMAL_BLUR_SIGMA);
  const h = (NORMAL_BLUR_SIZE - 1) / 2;
  const out = new Float64Array(image.length);
  for (let f = 0; f < frames; f++) {
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        for (let c = 0; c < 3; c++) {
          let acc = 0;
          for (let a = 0; a < NORMAL_BLUR_SIZE; a++) {
            const yy = reflectIndex(y + a - h, H);
            for (let b = 0; b < NORMAL_BLUR_SIZE; b++) {
              const xx = reflectIndex(x + b - h, W);
              acc += k[a]! * k[b]! * image[((f * H + yy) * W + xx) * 3 + c]!;
            }
          }
          out[((f * H + y) * W + x) * 3 + c] = acc;
        }
      }
    }
  }
  return out;
}

/** Weights and shape for {@linkcode normalImageRegTwin}. */
export interface NormalImageRegTwinOptions extends ImageShape {
  /** λ_tv (default 0.5). */
  tvWeight?: number;
  /** λ_blur (default 0.5). */
  blurWeight?: number;
}

/** Result of {@linkcode normalImageRegTwin}. */
export interface NormalImageRegTwinResult {
  /** L_tv, unweighted. */
  tv: number;
  /** L_blur, unweighted. */
  blur: number;
  /** λ_tv·L_tv + λ_blur·L_blur. */
  total: number;
  /** `[F][H][W][3]` λ_tv·∂L_tv/∂N + λ_blur·∂L_blur/∂N. */
  grad: Float64Array;
}

/**
 * Both normal-image regularisers and their weighted gradient, in float64.
 *
 * @param normalImage `[F][H·W][3]` composited normal image
 * @param options shape and weights
 * @returns the unweighted terms, the weighted total and its gradient
 *
 * @example
 * ```ts
 * import { normalImageRegTwin } from "./normal_image_reg_twin.ts";
 * const n = new Float64Array(6 * 6 * 3).map((_, i) => (i % 7) / 7);
 * const r = normalImageRegTwin(n, { frames: 1, width: 6, height: 6 });
 * console.log(r.tv > 0, r.blur > 0, r.grad.length); // true true 108
 * ```
 */
export function normalImageRegTwin(
  normalImage: ArrayLike<number>,
  options: NormalImageRegTwinOptions,
): NormalImageRegTwinResult {
  checkShape(normalImage, options);
  const { frames: F, width: W, height: H } = options;
  const lTv = options.tvWeight ?? NORMAL_IMAGE_REG_WEIGHT;
  const lBlur = options.blurWeight ?? NORMAL_IMAGE_REG_WEIGHT;
  const at = (f: number, y: number, x: number, c: number) => ((f * H + y) * W + x) * 3 + c;
  const n = normalImage;
  const grad = new Float64Array(n.length);
  const ny = F * 3 * (H - 1) * W;
  const nx = F * 3 * H * (W - 1);
  let sy = 0;
  let sx = 0;
  for (let f = 0; f < F; f++) {
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        for (let c = 0; c < 3; c++) {
          const i = at(f, y, x, c);
          if (y + 1 < H) {
            const d = n[at(f, y + 1, x, c)]! - n[i]!;
            sy += d * d;
            grad[at(f, y + 1, x, c)] = grad[at(f, y + 1, x, c)]! + lTv * 2 * d / ny;
            grad[i] = grad[i]! - lTv * 2 * d / ny;
          }
          if (x + 1 < W) {
            const d = n[at(f, y, x + 1, c)]! - n[i]!;
            sx += d * d;
            grad[at(f, y, x + 1, c)] = grad[at(f, y, x + 1, c)]! + lTv * 2 * d / nx;
            grad[i] = grad[i]! - lTv * 2 * d / nx;
          }
        }
      }
    }
  }
  const tv = sy / ny + sx / nx;
  // L_blur = mean D², D = N − G N: dL/dN = (2/n)·D − (2/n)·Gᵀ D, Gᵀ by scattering
  // every tap back to the pixel it read.
  const blurred = gaussianBlurTwin(n, options);
  const count = n.length;
  const k = gaussianKernel1d(NORMAL_BLUR_SIZE, NORMAL_BLUR_SIGMA);
  const h = (NORMAL_BLUR_SIZE - 1) / 2;
  let sd = 0;
  for (let f = 0; f < F; f++) {
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        for (let c = 0; c < 3; c++) {
          const i = at(f, y, x, c);
          const d = n[i]! - blurred[i]!;
          sd += d * d;
          const g = lBlur * 2 * d / count;
          grad[i] = grad[i]! + g;
          for (let a = 0; a < NORMAL_BLUR_SIZE; a++) {
            const yy = reflectIndex(y + a - h, H);
            for (let b = 0; b < NORMAL_BLUR_SIZE; b++) {
              const xx = reflectIndex(x + b - h, W);
              const j = at(f, yy, xx, c);
              grad[j] = grad[j]! - g * k[a]! * k[b]!;
            }
          }
        }
      }
    }
  }
  const blur = sd / count;
  return { tv, blur, total: lTv * tv + lBlur * blur, grad };
}
