/**
 * Animated GIFs through gifenc, for turntable and motion previews that any browser
 * or chat window can show.
 *
 * @module
 */
import gifenc from "gifenc";
import { writeFileAtomic } from "./atomic_write.ts";
import { imageBytes, type ImageInput, rgbOnly } from "./pixels.ts";

/** The slice of gifenc's (untyped) API this module uses. */
interface GifencApi {
  GIFEncoder(opts?: { auto?: boolean; initialCapacity?: number }): {
    writeFrame(
      index: Uint8Array,
      width: number,
      height: number,
      opts: { palette?: number[][]; delay?: number; repeat?: number },
    ): void;
    finish(): void;
    bytes(): Uint8Array;
  };
  quantize(rgba: Uint8Array, maxColors: number, opts?: { format?: string }): number[][];
  applyPalette(rgba: Uint8Array, palette: number[][], format?: string): Uint8Array;
}

// gifenc ships no type declarations; pin the shape we rely on in one place.
const api = gifenc as unknown as GifencApi;

/**
 * Options for {@linkcode writeGif}.
 *
 * @example
 * ```ts
 * import { writeGif, type WriteGifOptions } from "./gif.ts";
 * const options: WriteGifOptions = { fps: 25, palette: "per-frame", repeat: -1 };
 * const path = await Deno.makeTempFile({ suffix: ".gif" });
 * const solid = (r: number, g: number, b: number) =>
 *   ({ width: 2, height: 2, rgb: new Float32Array([r, g, b, r, g, b, r, g, b, r, g, b]) });
 * await writeGif(path, [solid(1, 0, 0), solid(0, 0, 1)], options);
 * const bytes = await Deno.readFile(path);
 * console.log(new TextDecoder().decode(bytes.subarray(0, 6))); // GIF89a
 * await Deno.remove(path);
 * ```
 */
export interface WriteGifOptions {
  /** Frames per second; defaults to 10. GIF delays are whole centiseconds, at least 2 (see below). */
  fps?: number;
  /**
   * `"global"` (default): one 256-colour palette for the whole animation, so colours
   * do not flicker between frames. `"per-frame"`: a palette per frame, sharper
   * colours when frames differ a lot.
   */
  palette?: "global" | "per-frame";
  /** Loop count: 0 loops forever (default), -1 plays once, n repeats n times. */
  repeat?: number;
}

/** At most this many pixels feed the global palette; more adds time, not colours. */
const GLOBAL_SAMPLE_PIXELS = 1 << 20;

/** RGB bytes to the 4-byte-per-pixel layout gifenc's quantizer expects. */
function rgbx(rgb: Uint8Array): Uint8Array {
  const n = rgb.length / 3;
  const out = new Uint8Array(n * 4);
  for (let i = 0; i < n; i++) {
    out[4 * i] = rgb[3 * i]!;
    out[4 * i + 1] = rgb[3 * i + 1]!;
    out[4 * i + 2] = rgb[3 * i + 2]!;
    out[4 * i + 3] = 255;
  }
  return out;
}

/** An evenly strided sample of pixels across all frames, for the global palette. */
function samplePixels(frames: Uint8Array[]): Uint8Array {
  const total = frames.reduce((s, f) => s + f.length / 4, 0);
  const stride = Math.max(1, Math.ceil(total / GLOBAL_SAMPLE_PIXELS));
  const out = new Uint8Array(Math.ceil(total / stride) * 4 + 4 * frames.length);
  let o = 0;
  for (const f of frames) {
    for (let p = 0; p < f.length / 4; p += stride) {
      out.set(f.subarray(4 * p, 4 * p + 4), o);
      o += 4;
    }
  }
  return out.subarray(0, o);
}

/**
 * Writes an animated GIF from equally sized RGB (or RGBA, alpha ignored) frames,
 * given as floats in [0, 1] or bytes. Browsers slow down delays under 2
 * centiseconds, so frame rates above 50 fps are written as 50 fps.
 *
 * @example A two-frame blink
 * ```ts
 * import { writeGif } from "./gif.ts";
 * const path = await Deno.makeTempFile({ suffix: ".gif" });
 * const black = { width: 2, height: 2, rgb: new Float32Array(12) };
 * const white = { width: 2, height: 2, rgb: new Float32Array(12).fill(1) };
 * await writeGif(path, [black, white], { fps: 2 });
 * await Deno.remove(path);
 * ```
 */
export async function writeGif(
  path: string,
  frames: ImageInput[],
  options: WriteGifOptions = {},
): Promise<void> {
  const where = `Cannot write GIF ${path}`;
  if (frames.length === 0) throw new Error(`${where}: no frames given`);
  const fps = options.fps ?? 10;
  if (!(fps > 0) || !Number.isFinite(fps)) {
    throw new Error(`${where}: fps ${fps} is not a positive number`);
  }
  const imgs = frames.map((f, i) => imageBytes(f, `${where}: frame ${i}`));
  const { width, height } = imgs[0]!;
  if (width > 65535 || height > 65535) {
    throw new Error(`${where}: ${width}x${height} exceeds the GIF limit of 65535 per side`);
  }
  imgs.forEach((img, i) => {
    if (img.width !== width || img.height !== height) {
      throw new Error(
        `${where}: frame ${i} is ${img.width}x${img.height} but frame 0 is ${width}x${height}`,
      );
    }
  });
  const quads = imgs.map((img) => rgbx(rgbOnly(img)));
  const delay = Math.max(20, Math.round(100 / fps) * 10);
  const global = (options.palette ?? "global") === "global"
    ? api.quantize(samplePixels(quads), 256)
    : undefined;
  const gif = api.GIFEncoder();
  quads.forEach((q, i) => {
    const palette = global ?? api.quantize(q, 256);
    const index = api.applyPalette(q, palette);
    // With a global palette only frame 0 carries it (as the global colour table).
    const opts = i === 0 || global === undefined ? { palette } : {};
    gif.writeFrame(index, width, height, { ...opts, delay, repeat: options.repeat ?? 0 });
  });
  gif.finish();
  const bytes = gif.bytes();
  try {
    await writeFileAtomic(path, (write) => write(bytes));
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new Error(`${where}: ${msg}`, { cause: err });
  }
}
