/**
 * PNG files through fast-png: writing renders and reading input images as 8-bit
 * RGB or RGBA, whatever bit depth, palette or channel layout the file uses.
 *
 * @module
 */
import { convertIndexedToRgb, decode, encode } from "fast-png";
import { writeFileAtomic } from "./atomic_write.ts";
import { type Image8, imageBytes, type ImageInput } from "./pixels.ts";

/**
 * Options for {@linkcode readImage}.
 *
 * @example
 * ```ts
 * import { readImage, type ReadImageOptions, writePng } from "./png.ts";
 * const path = await Deno.makeTempFile({ suffix: ".png" });
 * await writePng(path, { width: 1, height: 1, rgba: new Uint8Array([10, 20, 30, 40]) });
 * const options: ReadImageOptions = { channels: 3 };
 * const img = await readImage(path, options);
 * console.log(img.channels, img.data); // 3 Uint8Array(3) [ 10, 20, 30 ]
 * await Deno.remove(path);
 * ```
 */
export interface ReadImageOptions {
  /** Force 3 (RGB, alpha dropped) or 4 (RGBA, opaque alpha added) channels. Defaults to 4 when the file has alpha, else 3. */
  channels?: 3 | 4;
}

/**
 * Writes an RGB or RGBA image (floats in [0, 1] or bytes) as an 8-bit PNG. The file
 * is replaced atomically, so a viewer polling it never sees half a frame.
 *
 * @example Write a 2x1 image
 * ```ts
 * import { writePng } from "./png.ts";
 * const path = await Deno.makeTempFile({ suffix: ".png" });
 * await writePng(path, { width: 2, height: 1, rgb: new Float32Array([1, 0, 0, 0, 0, 1]) });
 * await Deno.remove(path);
 * ```
 */
export async function writePng(path: string, image: ImageInput): Promise<void> {
  const where = `Cannot write image ${path}`;
  const img = imageBytes(image, where);
  const bytes = encode({
    width: img.width,
    height: img.height,
    data: img.data,
    channels: img.channels,
    depth: 8,
  });
  try {
    await writeFileAtomic(path, (write) => write(bytes));
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new Error(`${where}: ${msg}`, { cause: err });
  }
}

/** Unpacks 1/2/4-bit grayscale rows into one byte per pixel scaled to 0..255. */
function unpackLowDepth(packed: Uint8Array, width: number, height: number, depth: number) {
  const out = new Uint8Array(width * height);
  const rowBytes = Math.ceil((width * depth) / 8);
  const max = (1 << depth) - 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const bit = x * depth;
      const byte = packed[y * rowBytes + (bit >> 3)]!;
      const v = (byte >> (8 - depth - (bit & 7))) & max;
      out[y * width + x] = Math.round((v * 255) / max);
    }
  }
  return out;
}

/** Maps any channel count (1 gray, 2 gray+alpha, 3, 4) to RGB or RGBA. */
function toChannels(src: Uint8Array, n: number, from: number, to: 3 | 4): Uint8Array {
  if (from === to) return src;
  const out = new Uint8Array(n * to);
  for (let i = 0; i < n; i++) {
    const s = i * from;
    const gray = from < 3;
    out[i * to] = src[s]!;
    out[i * to + 1] = src[gray ? s : s + 1]!;
    out[i * to + 2] = src[gray ? s : s + 2]!;
    if (to === 4) out[i * to + 3] = from === 2 || from === 4 ? src[s + from - 1]! : 255;
  }
  return out;
}

/**
 * Reads a PNG as 8-bit RGB or RGBA. 16-bit files are rounded to 8 bits, palettes
 * and grayscale are expanded. JPEG files go through `readPngOrJpeg` in `reference_image.ts`.
 *
 * @example Read back what was written
 * ```ts
 * import { readImage, writePng } from "./png.ts";
 * const path = await Deno.makeTempFile({ suffix: ".png" });
 * await writePng(path, { width: 1, height: 1, rgba: new Uint8Array([10, 20, 30, 40]) });
 * const img = await readImage(path);
 * if (img.channels !== 4 || img.data[3] !== 40) throw new Error("round trip failed");
 * await Deno.remove(path);
 * ```
 */
export async function readImage(path: string, options: ReadImageOptions = {}): Promise<Image8> {
  const where = `Cannot read image ${path}`;
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new Error(`${where}: ${msg}`, { cause: err });
  }
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length < 8 || sig.some((b, i) => bytes[i] !== b)) {
    throw new Error(`${where}: not a PNG file (bad signature); for JPEG use readPngOrJpeg`);
  }
  try {
    const png = decode(bytes);
    const { width, height } = png;
    let from = png.channels;
    let data: Uint8Array;
    if (png.palette !== undefined) {
      data = convertIndexedToRgb(png);
      from = data.length / (width * height);
    } else if (png.depth === 16) {
      const d16 = png.data;
      data = new Uint8Array(d16.length);
      for (let i = 0; i < d16.length; i++) data[i] = Math.round(d16[i]! / 257);
    } else if (png.depth < 8) {
      data = unpackLowDepth(png.data as Uint8Array, width, height, png.depth);
    } else {
      data = png.data instanceof Uint8Array ? png.data : new Uint8Array(png.data);
    }
    const hasAlpha = from === 2 || from === 4;
    const to = options.channels ?? (hasAlpha ? 4 : 3);
    return { width, height, channels: to, data: toChannels(data, width * height, from, to) };
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new Error(`${where}: ${msg}`, { cause: err });
  }
}
