/**
 * Pixel buffers as the image and video writers take them: interleaved RGB or RGBA,
 * either floats in [0, 1] (what the renderer produces) or bytes.
 *
 * @module
 */

/**
 * Interleaved pixel values: floats in [0, 1] or bytes in [0, 255].
 *
 * @example
 * ```ts
 * import { type PixelData, toBytes } from "./pixels.ts";
 * const data: PixelData = new Float32Array([0, 0.5, 1]);
 * console.log(toBytes(data)); // Uint8Array(3) [ 0, 128, 255 ]
 * ```
 */
export type PixelData = Float32Array | Uint8Array;

/**
 * An image given as interleaved RGB or RGBA, exactly one of the two.
 *
 * @example
 * ```ts
 * import { imageBytes, type ImageInput } from "./pixels.ts";
 * const image: ImageInput = { width: 1, height: 1, rgba: new Float32Array([1, 0, 0, 0.5]) };
 * console.log(imageBytes(image, "demo").data); // Uint8Array(4) [ 255, 0, 0, 128 ]
 * ```
 */
export type ImageInput =
  & { width: number; height: number }
  & ({ rgba: PixelData; rgb?: never } | { rgb: PixelData; rgba?: never });

/**
 * An 8-bit image with its channel count.
 *
 * @example
 * ```ts
 * import { type Image8, rgbOnly } from "./pixels.ts";
 * const image: Image8 = { width: 1, height: 1, channels: 4, data: new Uint8Array([9, 8, 7, 255]) };
 * console.log(rgbOnly(image)); // Uint8Array(3) [ 9, 8, 7 ]
 * ```
 */
export interface Image8 {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** 3 for RGB, 4 for RGBA. */
  channels: 3 | 4;
  /** Interleaved row-major samples, width·height·channels bytes. */
  data: Uint8Array;
}

/**
 * Floats in [0, 1] to bytes (clamped, rounded, NaN as 0); bytes pass through as is.
 *
 * @example
 * ```ts
 * import { toBytes } from "./pixels.ts";
 * const b = toBytes(new Float32Array([0, 0.5, 1, 2, NaN]));
 * if (b.join() !== "0,128,255,255,0") throw new Error(b.join());
 * ```
 */
export function toBytes(data: PixelData): Uint8Array {
  if (data instanceof Uint8Array) return data;
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    // `v > 0` is false for NaN, so NaN lands on 0 instead of poisoning the frame.
    out[i] = v > 0 ? (v < 1 ? Math.round(v * 255) : 255) : 0;
  }
  return out;
}

/**
 * Checks an {@linkcode ImageInput} (dimensions, exactly one of rgb/rgba, length) and
 * returns it as bytes. `what` names the image in error messages.
 *
 * @example
 * ```ts
 * import { imageBytes } from "./pixels.ts";
 * const img = imageBytes({ width: 1, height: 1, rgb: new Float32Array([1, 0, 0]) }, "demo");
 * if (img.channels !== 3 || img.data[0] !== 255) throw new Error("bad conversion");
 * ```
 */
export function imageBytes(image: ImageInput, what: string): Image8 {
  const { width, height } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`${what}: size ${width}x${height} is not a positive integer size`);
  }
  const hasRgb = image.rgb !== undefined;
  const hasRgba = image.rgba !== undefined;
  if (hasRgb === hasRgba) {
    throw new Error(`${what}: give exactly one of rgb or rgba pixels`);
  }
  const channels = hasRgba ? 4 : 3;
  const data = (hasRgba ? image.rgba : image.rgb) as PixelData;
  if (data.length !== width * height * channels) {
    throw new Error(
      `${what}: ${width}x${height} ${hasRgba ? "RGBA" : "RGB"} needs ${
        width * height * channels
      } values but got ${data.length}`,
    );
  }
  return { width, height, channels, data: toBytes(data) };
}

/**
 * Drops the alpha channel of RGBA bytes (RGB input is returned unchanged).
 *
 * @example
 * ```ts
 * import { rgbOnly } from "./pixels.ts";
 * const rgb = rgbOnly({ width: 1, height: 1, channels: 4, data: new Uint8Array([1, 2, 3, 4]) });
 * if (rgb.join() !== "1,2,3") throw new Error(rgb.join());
 * ```
 */
export function rgbOnly(image: Image8): Uint8Array {
  if (image.channels === 3) return image.data;
  const n = image.width * image.height;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    out[3 * i] = image.data[4 * i]!;
    out[3 * i + 1] = image.data[4 * i + 1]!;
    out[3 * i + 2] = image.data[4 * i + 2]!;
  }
  return out;
}
