/**
 * The CLIP image encoder's input for Zero-1-to-3, prepared as the original does
 * (`Animate124 main: guidance/zero123_diffusers_utils.py:98-101` with its pipeline's
 * `_encode_image`): the 256² reference composited on white is multiplied by 255 and
 * truncated to integers (`(x*255).int()`, so 0.999 → 254), then `CLIPImageProcessor` resizes
 * the shortest edge to 224 with PIL's bicubic filter (a = −0.5, antialiased when shrinking,
 * in 8-bit fixed point with the intermediate row pass rounded to uint8), centre-crops 224²,
 * rescales by 1/255 and normalises with CLIP's mean and std. PIL's integer arithmetic is
 * reproduced exactly, so this matches the original bit for bit on the same integers.
 *
 * @example A white image becomes (1 − mean)/std per channel
 * ```ts
 * import { clipImageInput } from "./clip_image_input.ts";
 * const x = clipImageInput(new Float32Array(256 * 256 * 3).fill(1), { width: 256, height: 256 });
 * console.log(x.length, x[0]!.toFixed(4), x[2 * 224 * 224]!.toFixed(4)); // 150528 1.9303 2.1459
 * ```
 *
 * @module
 */

/**
 * CLIP's per-channel mean (OpenAI CLIP, as in `preprocessor_config.json`).
 *
 * @example A black image becomes −mean/std
 * ```ts
 * import { CLIP_MEAN, CLIP_STD, clipImageInput } from "./clip_image_input.ts";
 * const black = clipImageInput(new Float32Array(224 * 224 * 3), { width: 224, height: 224 });
 * console.log((-black[0]! * CLIP_STD[0]).toFixed(4), CLIP_MEAN[0].toFixed(4)); // 0.4815 0.4815
 * ```
 */
export const CLIP_MEAN: readonly [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
/**
 * CLIP's per-channel standard deviation.
 *
 * @example Undo the normalisation of a white image
 * ```ts
 * import { CLIP_MEAN, CLIP_STD, clipImageInput } from "./clip_image_input.ts";
 * const white = clipImageInput(new Float32Array(224 * 224 * 3).fill(1), { width: 224, height: 224 });
 * console.log((white[0]! * CLIP_STD[0] + CLIP_MEAN[0]).toFixed(4)); // 1.0000
 * ```
 */
export const CLIP_STD: readonly [number, number, number] = [0.26862954, 0.26130258, 0.27577711];

const PRECISION_BITS = 22; // Pillow: 32 − 8 − 2

function bicubic(x: number): number {
  const a = -0.5;
  x = Math.abs(x);
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

/** Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for one axis. */
function coefficients(inSize: number, outSize: number) {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = 2 * filterScale;
  const bounds: [number, number][] = [];
  const weights: number[][] = [];
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const xmax = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
    const k: number[] = [];
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = bicubic((x + xmin - center + 0.5) / filterScale);
      k.push(w);
      ww += w;
    }
    weights.push(k.map((w) => {
      const v = (ww === 0 ? w : w / ww) * (1 << PRECISION_BITS);
      return Math.trunc(v < 0 ? v - 0.5 : v + 0.5);
    }));
    bounds.push([xmin, xmax]);
  }
  return { bounds, weights };
}

function clip8(ss: number): number {
  const v = Math.floor(ss / (1 << PRECISION_BITS));
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/**
 * Pillow's 8-bit bicubic resize of an interleaved RGB uint8 image (horizontal pass, then
 * vertical, each rounded and clipped to 0..255).
 *
 * @param pixels `[height][width][3]` uint8
 * @param size input and output sizes
 * @returns `[outHeight][outWidth][3]` uint8
 *
 * @example Downscaling keeps a flat colour flat
 * ```ts
 * import { resizeBicubicU8 } from "./clip_image_input.ts";
 * const out = resizeBicubicU8(new Uint8Array(8 * 8 * 3).fill(200), { width: 8, height: 8, outWidth: 3, outHeight: 3 });
 * console.log(out.every((v) => v === 200)); // true
 * ```
 */
export function resizeBicubicU8(
  pixels: Uint8Array,
  size: { width: number; height: number; outWidth: number; outHeight: number },
): Uint8Array {
  const { width, height, outWidth, outHeight } = size;
  const half = 1 << (PRECISION_BITS - 1);
  let src = pixels, w = width;
  if (outWidth !== width) {
    const { bounds, weights } = coefficients(width, outWidth);
    const tmp = new Uint8Array(height * outWidth * 3);
    for (let y = 0; y < height; y++) {
      for (let xx = 0; xx < outWidth; xx++) {
        const [xmin, n] = bounds[xx]!, k = weights[xx]!;
        for (let c = 0; c < 3; c++) {
          let ss = half;
          for (let x = 0; x < n; x++) ss += src[(y * w + xmin + x) * 3 + c]! * k[x]!;
          tmp[(y * outWidth + xx) * 3 + c] = clip8(ss);
        }
      }
    }
    src = tmp;
    w = outWidth;
  }
  if (outHeight !== height) {
    const { bounds, weights } = coefficients(height, outHeight);
    const tmp = new Uint8Array(outHeight * w * 3);
    for (let yy = 0; yy < outHeight; yy++) {
      const [ymin, n] = bounds[yy]!, k = weights[yy]!;
      for (let x = 0; x < w * 3; x++) {
        let ss = half;
        for (let y = 0; y < n; y++) ss += src[(ymin + y) * w * 3 + x]! * k[y]!;
        tmp[yy * w * 3 + x] = clip8(ss);
      }
    }
    src = tmp;
  }
  return src;
}

/**
 * The `pixel_values` of the Zero123 CLIP image encoder for one reference image.
 *
 * @param rgb `[height][width][3]` in [0, 1], already composited on white (256² in the original)
 * @param options `width`, `height`; `size` of the encoder input (224), `mean`, `std`
 * @returns `[3][size][size]` float32, channel-first as the encoder takes it
 *
 * @example Values are truncated to integers before resizing: 0.999 counts as 254
 * ```ts
 * import { CLIP_MEAN, CLIP_STD, clipImageInput } from "./clip_image_input.ts";
 * const x = clipImageInput(new Float32Array(4 * 4 * 3).fill(0.999), { width: 4, height: 4, size: 2 });
 * console.log(Math.abs(x[0]! - (254 / 255 - CLIP_MEAN[0]) / CLIP_STD[0]) < 1e-6); // true
 * ```
 */
export function clipImageInput(
  rgb: Float32Array,
  options: {
    width: number;
    height: number;
    size?: number;
    mean?: readonly [number, number, number];
    std?: readonly [number, number, number];
  },
): Float32Array {
  const { width, height } = options;
  const size = options.size ?? 224;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(
      `Invalid option width/height: expected positive integers, got ${width}×${height}`,
    );
  }
  if (rgb.length !== width * height * 3) {
    throw new Error(
      `Invalid reference image: expected ${width}×${height}×3 = ${
        width * height * 3
      } values, got ${rgb.length}`,
    );
  }
  const mean = options.mean ?? CLIP_MEAN, std = options.std ?? CLIP_STD;
  const q = new Uint8Array(rgb.length);
  for (let i = 0; i < rgb.length; i++) {
    const v = Math.trunc(rgb[i]! * 255); // torch's .int() truncates toward zero
    q[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  // CLIPImageProcessor: shortest edge to `size` (the long edge truncated), then centre crop.
  const short = Math.min(width, height);
  const outWidth = width === short ? size : Math.trunc((size * width) / short);
  const outHeight = height === short ? size : Math.trunc((size * height) / short);
  const resized = resizeBicubicU8(q, { width, height, outWidth, outHeight });
  const top = Math.floor((outHeight - size) / 2), left = Math.floor((outWidth - size) / 2);
  const out = new Float32Array(3 * size * size);
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const v = resized[((y + top) * outWidth + x + left) * 3 + c]! / 255;
        out[(c * size + y) * size + x] = (v - mean[c]!) / std[c]!;
      }
    }
  }
  return out;
}
