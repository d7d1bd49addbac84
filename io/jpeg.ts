/**
 * JPEG files through jpeg-js (pure JavaScript, baseline and progressive decoding):
 * reading user photos as 8-bit RGB, and encoding test images.
 *
 * @module
 */
import jpeg from "jpeg-js";
import { type Image8, imageBytes, type ImageInput } from "./pixels.ts";

/**
 * Whether `bytes` start like a JPEG file: the SOI marker FF D8 followed by another
 * marker's FF.
 *
 * @param bytes the file's first bytes (at least 3)
 * @returns true for a JPEG signature
 *
 * @example
 * ```ts
 * import { isJpeg } from "./jpeg.ts";
 * console.log(isJpeg(new Uint8Array([0xff, 0xd8, 0xff, 0xe0])), isJpeg(new Uint8Array([0x89]))); // true false
 * ```
 */
export function isJpeg(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
}

/**
 * Decodes a JPEG file's bytes to 8-bit RGB. Grayscale and CMYK files are converted to
 * RGB by the decoder; JPEG has no alpha.
 *
 * @param bytes the whole file
 * @param what names the file in error messages
 * @returns the image with 3 channels
 * @throws {Error} starting with "Cannot read image `what`" when the data is not a
 *   decodable JPEG
 *
 * @example Round trip through the encoder
 * ```ts
 * import { decodeJpeg, encodeJpeg } from "./jpeg.ts";
 * const rgb = new Uint8Array(8 * 8 * 3).fill(128);
 * const img = decodeJpeg(encodeJpeg({ width: 8, height: 8, rgb }), "demo.jpg");
 * console.log(img.width, img.channels, Math.abs(img.data[0]! - 128) <= 2); // 8 3 true
 * ```
 */
export function decodeJpeg(bytes: Uint8Array, what: string): Image8 {
  const where = `Cannot read image ${what}`;
  if (!isJpeg(bytes)) throw new Error(`${where}: not a JPEG file (bad signature)`);
  let decoded: { width: number; height: number; data: Uint8Array };
  try {
    decoded = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true });
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new Error(`${where}: ${msg}`, { cause: err });
  }
  const { width, height, data: rgba } = decoded;
  const n = width * height;
  if (width < 1 || height < 1 || rgba.length < 4 * n) {
    throw new Error(`${where}: decoder returned ${width}x${height} with ${rgba.length} bytes`);
  }
  const data = new Uint8Array(3 * n);
  for (let i = 0; i < n; i++) {
    data[3 * i] = rgba[4 * i]!;
    data[3 * i + 1] = rgba[4 * i + 1]!;
    data[3 * i + 2] = rgba[4 * i + 2]!;
  }
  return { width, height, channels: 3, data };
}

/** Options for {@linkcode encodeJpeg}. */
export interface EncodeJpegOptions {
  /** Quality 1..100 (default 90). */
  quality?: number;
}

/**
 * Encodes an RGB or RGBA image (floats in [0, 1] or bytes) as a baseline JPEG. Alpha is
 * dropped, as JPEG cannot store it.
 *
 * @param image the pixels
 * @param options encoder quality
 * @returns the file's bytes
 * @throws {Error} when the image is malformed or the quality is out of range
 *
 * @example
 * ```ts
 * import { encodeJpeg, isJpeg } from "./jpeg.ts";
 * const bytes = encodeJpeg({ width: 2, height: 2, rgb: new Float32Array(12).fill(0.5) });
 * console.log(isJpeg(bytes)); // true
 * ```
 */
export function encodeJpeg(image: ImageInput, options: EncodeJpegOptions = {}): Uint8Array {
  const quality = options.quality ?? 90;
  if (!Number.isInteger(quality) || quality < 1 || quality > 100) {
    throw new RangeError(`Invalid option quality: expected an integer in [1, 100], got ${quality}`);
  }
  const img = imageBytes(image, "Cannot encode JPEG");
  const n = img.width * img.height;
  const rgba = new Uint8Array(4 * n);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) rgba[4 * i + c] = img.data[img.channels * i + c]!;
    rgba[4 * i + 3] = 255;
  }
  const out = jpeg.encode({ width: img.width, height: img.height, data: rgba }, quality);
  return new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.byteLength);
}
