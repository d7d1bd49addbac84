/**
 * The user's reference image: read as PNG or JPEG (told apart by magic bytes, never by
 * extension), matted by its alpha channel, a mask file or a white-background threshold,
 * then recentred, padded to a square and resized as Animate124's preprocessing does.
 *
 * What is followed (`Animate124 image_preprocess.py`, the same code as
 * stable-dreamfusion's `preprocess_image.py`):
 * - the foreground for recentring is alpha > 0; its bounding box is scaled so its larger
 *   side spans ⌊size·(1 − borderRatio)⌋ pixels (border_ratio 0.2 by default, so the
 *   object fills 80 % of the side and 10 % is left on each side), with the scaled box
 *   placed at ((size − h₂) div 2, (size − w₂) div 2);
 * - the output size defaults to 256 (`--size 256`);
 * - resizing uses an area (box-overlap) filter when shrinking, as `cv2.INTER_AREA` does,
 *   and half-pixel bilinear when enlarging;
 * - the reference step and Zero123 then area-resize the 256² image to 192² and 256²
 *   (`Animate124 main: nerf/utils.py`, `prepare_embeddings`), see
 *   {@linkcode resizeReference}.
 *
 * Deliberate differences:
 * - the bounding box is inclusive (the original's `x_max − x_min` and `[x_min:x_max]`
 *   drop the object's last row and column);
 * - colours are resized after compositing on white, i.e. premultiplied by alpha, rather
 *   than as straight RGBA. The two agree wherever alpha is constant over a filter
 *   footprint; at matte edges the original blends in the hidden background colour.
 * - `recenter: false` pads to a centred square like Magic123's preprocessing instead of
 *   keeping a non-square image.
 *
 * @module
 */
import { decodeJpeg, isJpeg } from "./jpeg.ts";
import type { Image8 } from "./pixels.ts";
import { readImage } from "./png.ts";

/** Side of the preprocessed reference image (`--size 256`). */
export const REFERENCE_SIZE = 256;
/** Fraction of the side left empty around the object (`--border_ratio 0.2`). */
export const BORDER_RATIO = 0.2;

/**
 * A square reference image, composited on white.
 *
 * @example Shrink a reference made by hand
 * ```ts
 * import { type ReferenceImage, resizeReference } from "./reference_image.ts";
 * const ref: ReferenceImage = {
 *   size: 2,
 *   rgb: new Float32Array([1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 0]),
 *   alpha: new Float32Array([1, 0, 0, 1]),
 *   mask: new Uint8Array([1, 0, 0, 1]),
 * };
 * const small = resizeReference(ref, 1);
 * console.log(small.size, small.alpha[0], small.rgb[1]); // 1 0.5 0.5
 * ```
 */
export interface ReferenceImage {
  /** Side length in pixels. */
  size: number;
  /** Row-major RGB in [0, 1], composited on white: rgb·α + (1 − α). size·size·3 values. */
  rgb: Float32Array;
  /** Row-major alpha in [0, 1], size·size values. */
  alpha: Float32Array;
  /** Row-major foreground mask M = α > 0.5 (1 or 0), size·size values. */
  mask: Uint8Array;
}

/**
 * Options for {@linkcode loadReferenceImage}.
 *
 * @example A photo on white: the threshold makes the mask
 * ```ts
 * import { type LoadReferenceOptions, loadReferenceImage } from "./reference_image.ts";
 * import { writePng } from "./png.ts";
 * const rgb = new Uint8Array(8 * 8 * 3).fill(255);
 * for (let y = 2; y < 6; y++) for (let x = 2; x < 6; x++) rgb.set([0, 0, 200], 3 * (y * 8 + x));
 * const path = await Deno.makeTempFile({ suffix: ".png" });
 * await writePng(path, { width: 8, height: 8, rgb });
 * const options: LoadReferenceOptions = { size: 8, whiteThreshold: 0.95, recenter: false };
 * const ref = await loadReferenceImage(path, options);
 * console.log(ref.mask.reduce((a, b) => a + b, 0)); // 16
 * await Deno.remove(path);
 * ```
 */
export interface LoadReferenceOptions {
  /** Output side in pixels, an integer ≥ 1. Default 256. */
  size?: number;
  /** Fraction of the side left empty around the object, in [0, 0.95]. Default 0.2. */
  borderRatio?: number;
  /**
   * Recentre the object by its mask's bounding box (default true). When false the whole
   * image is padded to a centred square and resized.
   */
  recenter?: boolean;
  /**
   * Path of a PNG or JPEG mask of the same size as the image; pixels whose luminance
   * (0.299 R + 0.587 G + 0.114 B) exceeds 0.5 are foreground. It takes precedence over
   * the image's alpha channel.
   */
  mask?: string;
  /**
   * For images without transparency: pixels whose R, G and B are all ≥ this value (in
   * [0, 1]) are background. Ignored when the image has a real alpha channel.
   */
  whiteThreshold?: number;
}

/**
 * A file format the loader reads.
 *
 * @example
 * ```ts
 * import { type ImageFormat, sniffImageFormat } from "./reference_image.ts";
 * const format: ImageFormat | undefined = sniffImageFormat(
 *   new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
 * );
 * console.log(format); // png
 * ```
 */
export type ImageFormat = "png" | "jpeg";

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/**
 * Tells PNG from JPEG by the file's first bytes.
 *
 * @param bytes the start of the file
 * @returns the format, or undefined when it is neither
 *
 * @example
 * ```ts
 * import { sniffImageFormat } from "./reference_image.ts";
 * console.log(sniffImageFormat(new Uint8Array([0xff, 0xd8, 0xff, 0xdb]))); // jpeg
 * ```
 */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (bytes.length >= 8 && PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return "png";
  if (isJpeg(bytes)) return "jpeg";
  return undefined;
}

/**
 * Reads a PNG or JPEG file as 8-bit RGB or RGBA, whatever its extension.
 *
 * @param path the file
 * @returns the image and the detected format
 * @throws {Error} naming the file when it cannot be read or is neither PNG nor JPEG
 *
 * @example A PNG saved with a .jpg name still reads as PNG
 * ```ts
 * import { readPngOrJpeg } from "./reference_image.ts";
 * import { writePng } from "./png.ts";
 * const path = await Deno.makeTempFile({ suffix: ".jpg" });
 * await writePng(path, { width: 1, height: 1, rgb: new Uint8Array([1, 2, 3]) });
 * const img = await readPngOrJpeg(path);
 * console.log(img.format, img.channels); // png 3
 * await Deno.remove(path);
 * ```
 */
export async function readPngOrJpeg(path: string): Promise<Image8 & { format: ImageFormat }> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new Error(`Cannot read image ${path}: ${msg}`, { cause: err });
  }
  const format = sniffImageFormat(bytes);
  if (format === "png") return { ...(await readImage(path)), format };
  if (format === "jpeg") return { ...decodeJpeg(bytes, path), format };
  const head = Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, "0"));
  throw new Error(
    `Cannot read image ${path}: expected a PNG or JPEG file, got one starting with bytes [${
      head.join(" ")
    }]`,
  );
}

function requireSize(value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    throw new RangeError(`Invalid option size: expected an integer >= 1, got ${String(value)}`);
  }
  return value;
}

function requireUnit(field: string, value: unknown, max: number): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > max) {
    throw new RangeError(
      `Invalid option ${field}: expected a finite number >= 0 and <= ${max}, got ${String(value)}`,
    );
  }
  return value;
}

/** One output sample's source taps along an axis. */
interface Taps {
  index: Int32Array;
  weight: Float64Array;
}

// Box-overlap weights when shrinking (cv2.INTER_AREA), half-pixel bilinear with clamped
// edges when enlarging (cv2.INTER_LINEAR, torch align_corners=False).
function axisTaps(inN: number, outN: number): Taps[] {
  const taps: Taps[] = [];
  for (let o = 0; o < outN; o++) {
    if (outN === inN) {
      taps.push({ index: Int32Array.of(o), weight: Float64Array.of(1) });
    } else if (outN < inN) {
      const s = inN / outN;
      const lo = o * s;
      const hi = Math.min(inN, (o + 1) * s);
      const index: number[] = [];
      const weight: number[] = [];
      for (let i = Math.floor(lo); i < Math.ceil(hi); i++) {
        const overlap = Math.min(hi, i + 1) - Math.max(lo, i);
        if (overlap > 1e-12) {
          index.push(i);
          weight.push(overlap);
        }
      }
      const total = weight.reduce((a, b) => a + b, 0);
      taps.push({
        index: Int32Array.from(index),
        weight: Float64Array.from(weight, (w) => w / total),
      });
    } else {
      const x = Math.min(inN - 1, Math.max(0, ((o + 0.5) * inN) / outN - 0.5));
      const i0 = Math.floor(x);
      const f = x - i0;
      taps.push({
        index: Int32Array.of(i0, Math.min(i0 + 1, inN - 1)),
        weight: Float64Array.of(1 - f, f),
      });
    }
  }
  return taps;
}

/** Separable resize of a row-major interleaved image with `ch` channels. */
function resample(
  src: Float32Array,
  from: { width: number; height: number },
  to: { width: number; height: number },
  ch: number,
): Float32Array {
  const { width: w, height: h } = from;
  const { width: ow, height: oh } = to;
  const tx = axisTaps(w, ow);
  const ty = axisTaps(h, oh);
  const mid = new Float64Array(ow * h * ch);
  for (let y = 0; y < h; y++) {
    for (let o = 0; o < ow; o++) {
      const { index, weight } = tx[o]!;
      for (let c = 0; c < ch; c++) {
        let acc = 0;
        for (let k = 0; k < index.length; k++) {
          acc += weight[k]! * src[(y * w + index[k]!) * ch + c]!;
        }
        mid[(y * ow + o) * ch + c] = acc;
      }
    }
  }
  const out = new Float32Array(ow * oh * ch);
  for (let o = 0; o < oh; o++) {
    const { index, weight } = ty[o]!;
    for (let x = 0; x < ow; x++) {
      for (let c = 0; c < ch; c++) {
        let acc = 0;
        for (let k = 0; k < index.length; k++) {
          acc += weight[k]! * mid[(index[k]! * ow + x) * ch + c]!;
        }
        out[(o * ow + x) * ch + c] = acc;
      }
    }
  }
  return out;
}

function maskOf(alpha: Float32Array): Uint8Array {
  return Uint8Array.from(alpha, (a) => (a > 0.5 ? 1 : 0));
}

/** Per-pixel alpha in [0, 1] from the mask file, the alpha channel or the threshold. */
async function matte(
  path: string,
  img: Image8,
  options: LoadReferenceOptions,
): Promise<Float32Array> {
  const n = img.width * img.height;
  const alpha = new Float32Array(n);
  if (options.mask !== undefined) {
    if (typeof options.mask !== "string" || options.mask === "") {
      throw new TypeError(`Invalid option mask: expected a file path, got ${String(options.mask)}`);
    }
    const m = await readPngOrJpeg(options.mask);
    if (m.width !== img.width || m.height !== img.height) {
      throw new Error(
        `Cannot use mask ${options.mask} for reference image ${path}: the mask is ${m.width}x${m.height} but the image is ${img.width}x${img.height}`,
      );
    }
    for (let i = 0; i < n; i++) {
      const p = i * m.channels;
      const lum = (0.299 * m.data[p]! + 0.587 * m.data[p + 1]! + 0.114 * m.data[p + 2]!) / 255;
      alpha[i] = lum > 0.5 ? 1 : 0;
    }
    return alpha;
  }
  if (img.channels === 4) {
    let opaque = true;
    for (let i = 0; i < n; i++) {
      const a = img.data[4 * i + 3]!;
      alpha[i] = a / 255;
      if (a !== 255) opaque = false;
    }
    if (!opaque) return alpha;
  }
  if (options.whiteThreshold === undefined) {
    throw new Error(
      `Cannot load reference image ${path}: it has no transparency to separate the object from its background; pass a mask image (--mask, option mask) or a white-background threshold (--white-threshold, option whiteThreshold, e.g. 0.95)`,
    );
  }
  const t = options.whiteThreshold * 255;
  const ch = img.channels;
  for (let i = 0; i < n; i++) {
    const p = i * ch;
    const white = img.data[p]! >= t && img.data[p + 1]! >= t && img.data[p + 2]! >= t;
    alpha[i] = white ? 0 : 1;
  }
  return alpha;
}

/** Composites rows [y0, y0+h) × columns [x0, x0+w) on white: RGB·α + (1 − α), plus α. */
function compositeRegion(
  img: Image8,
  alpha: Float32Array,
  region: { x0: number; y0: number; w: number; h: number },
): { rgb: Float32Array; alpha: Float32Array } {
  const { x0, y0, w, h } = region;
  const rgb = new Float32Array(w * h * 3);
  const a = new Float32Array(w * h);
  const ch = img.channels;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const s = (y0 + y) * img.width + x0 + x;
      const d = y * w + x;
      const al = alpha[s]!;
      a[d] = al;
      for (let c = 0; c < 3; c++) rgb[3 * d + c] = (img.data[s * ch + c]! / 255) * al + 1 - al;
    }
  }
  return { rgb, alpha: a };
}

/** Pastes a w×h patch into a white, transparent size×size canvas at (left, top). */
function paste(
  patch: { rgb: Float32Array; alpha: Float32Array; w: number; h: number },
  size: number,
  at: { left: number; top: number },
): ReferenceImage {
  const rgb = new Float32Array(size * size * 3).fill(1);
  const alpha = new Float32Array(size * size);
  for (let y = 0; y < patch.h; y++) {
    const ty = at.top + y;
    if (ty < 0 || ty >= size) continue;
    for (let x = 0; x < patch.w; x++) {
      const tx = at.left + x;
      if (tx < 0 || tx >= size) continue;
      const s = y * patch.w + x;
      const d = ty * size + tx;
      alpha[d] = patch.alpha[s]!;
      for (let c = 0; c < 3; c++) rgb[3 * d + c] = patch.rgb[3 * s + c]!;
    }
  }
  return { size, rgb, alpha, mask: maskOf(alpha) };
}

/**
 * Loads the reference image and prepares it as Animate124's preprocessing does (see the
 * module notes): matte, recentre by the foreground's bounding box with `borderRatio`
 * left around it, and resize to `size`².
 *
 * The matte comes from, in order: the `mask` file; the image's alpha channel when it has
 * one that is not fully opaque; the `whiteThreshold`. An opaque image with neither
 * option is rejected, since fitting would then treat the background as the object.
 *
 * @param path a PNG or JPEG file (any extension)
 * @param options output size, border, recentring and how to find the background
 * @returns the square image composited on white, its alpha and mask
 * @throws {Error} naming the file when it is unreadable, of another format, has no way to
 *   find the background or an empty foreground; {RangeError} naming a bad option
 *
 * @example Recentre an off-centre square
 * ```ts
 * import { loadReferenceImage } from "./reference_image.ts";
 * import { writePng } from "./png.ts";
 * const rgba = new Uint8Array(40 * 20 * 4);
 * for (let y = 2; y < 6; y++) for (let x = 30; x < 34; x++) rgba.set([255, 0, 0, 255], 4 * (y * 40 + x));
 * const path = await Deno.makeTempFile({ suffix: ".png" });
 * await writePng(path, { width: 40, height: 20, rgba });
 * const ref = await loadReferenceImage(path, { size: 10 });
 * console.log(ref.size, Array.from(ref.mask.subarray(10, 20)).join("")); // 10 0111111110
 * await Deno.remove(path);
 * ```
 */
export async function loadReferenceImage(
  path: string,
  options: LoadReferenceOptions = {},
): Promise<ReferenceImage> {
  const size = requireSize(options.size ?? REFERENCE_SIZE);
  const borderRatio = requireUnit("borderRatio", options.borderRatio ?? BORDER_RATIO, 0.95);
  if (options.whiteThreshold !== undefined) {
    requireUnit("whiteThreshold", options.whiteThreshold, 1);
  }
  const img = await readPngOrJpeg(path);
  const alpha = await matte(path, img, options);

  if (options.recenter === false) {
    const side = Math.max(img.width, img.height);
    const patch = compositeRegion(img, alpha, { x0: 0, y0: 0, w: img.width, h: img.height });
    const square = paste(
      { ...patch, w: img.width, h: img.height },
      side,
      { left: (side - img.width) >> 1, top: (side - img.height) >> 1 },
    );
    return resizeReference(square, size);
  }

  let x0 = img.width, y0 = img.height, x1 = -1, y1 = -1;
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      if (alpha[y * img.width + x]! > 0) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  if (x1 < 0) {
    throw new Error(
      `Cannot load reference image ${path}: the foreground is empty (no pixel has alpha > 0); check the mask or whiteThreshold`,
    );
  }
  const w = x1 - x0 + 1;
  const h = y1 - y0 + 1;
  const desired = Math.floor(size * (1 - borderRatio));
  if (desired < 1) {
    throw new RangeError(
      `Invalid option borderRatio: ${borderRatio} leaves no room for the object at size ${size}`,
    );
  }
  // The larger side gets exactly `desired`; flooring w·desired/max(w,h) could lose a pixel
  // to rounding there.
  const w2 = w >= h ? desired : Math.max(1, Math.floor((w * desired) / h));
  const h2 = h >= w ? desired : Math.max(1, Math.floor((h * desired) / w));
  const crop = compositeRegion(img, alpha, { x0, y0, w, h });
  const from = { width: w, height: h };
  const to = { width: w2, height: h2 };
  return paste(
    {
      rgb: resample(crop.rgb, from, to, 3),
      alpha: resample(crop.alpha, from, to, 1),
      w: w2,
      h: h2,
    },
    size,
    { left: (size - w2) >> 1, top: (size - h2) >> 1 },
  );
}

/**
 * Resizes a square reference to `size`² (area filter when shrinking, bilinear when
 * enlarging) and recomputes the mask. The reference step wants 1.5× the training
 * resolution (192² at 128²), Zero123 wants 256². Resizing the composited colour equals
 * compositing the premultiplied resize, because both filters are linear.
 *
 * @param ref a reference from {@linkcode loadReferenceImage}
 * @param size the new side, an integer ≥ 1
 * @returns a new reference; `ref` is untouched
 * @throws {RangeError} when `size` is not a positive integer or `ref` is malformed
 *
 * @example
 * ```ts
 * import { resizeReference } from "./reference_image.ts";
 * const ref = {
 *   size: 2,
 *   rgb: new Float32Array([0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0]),
 *   alpha: new Float32Array([1, 0, 0, 1]),
 *   mask: new Uint8Array([1, 0, 0, 1]),
 * };
 * const one = resizeReference(ref, 1);
 * console.log(one.rgb[0], one.alpha[0], one.mask[0]); // 0.5 0.5 0
 * ```
 */
export function resizeReference(ref: Readonly<ReferenceImage>, size: number): ReferenceImage {
  const out = requireSize(size);
  const n = ref.size * ref.size;
  if (
    !Number.isInteger(ref.size) || ref.size < 1 || ref.rgb.length !== 3 * n ||
    ref.alpha.length !== n
  ) {
    throw new RangeError(
      `Invalid option ref: expected a square reference with size*size*3 colours and size*size alphas, got size ${ref.size} with ${ref.rgb.length} and ${ref.alpha.length}`,
    );
  }
  const from = { width: ref.size, height: ref.size };
  const to = { width: out, height: out };
  const rgb = resample(ref.rgb, from, to, 3);
  const alpha = resample(ref.alpha, from, to, 1);
  return { size: out, rgb, alpha, mask: maskOf(alpha) };
}
