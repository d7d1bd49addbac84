/**
 * MP4 video through an external `ffmpeg`, when one is installed: raw RGB frames go
 * to its stdin and H.264 (or MPEG-4 part 2 where libx264 is missing) comes out.
 * Without ffmpeg nothing throws; {@linkcode writeMp4} reports why it wrote nothing.
 *
 * @module
 */
import { imageBytes, type ImageInput, rgbOnly } from "./pixels.ts";

/**
 * Options for {@linkcode hasFfmpeg} and {@linkcode writeMp4}.
 *
 * @example
 * ```ts
 * import { type FfmpegOptions, hasFfmpeg } from "./mp4.ts";
 * const options: FfmpegOptions = { ffmpeg: "/nonexistent/ffmpeg" };
 * console.log(await hasFfmpeg(options)); // false
 * ```
 */
export interface FfmpegOptions {
  /** The ffmpeg executable; defaults to `ANIMATE124_FFMPEG` or `ffmpeg` on the PATH. */
  ffmpeg?: string;
}

/**
 * Options for {@linkcode writeMp4}.
 *
 * @example
 * ```ts
 * import { writeMp4, type WriteMp4Options } from "./mp4.ts";
 * const options: WriteMp4Options = { fps: 24, crf: 28 };
 * const dir = await Deno.makeTempDir();
 * const frames = [0, 1].map((v) => ({ width: 3, height: 3, rgb: new Float32Array(27).fill(v) }));
 * const result = await writeMp4(`${dir}/clip.mp4`, frames, options);
 * // Odd sizes are padded to even, e.g. "libx264 4x4"; without ffmpeg, the reason.
 * console.log(result.written ? `${result.codec} ${result.width}x${result.height}` : result.reason);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface WriteMp4Options extends FfmpegOptions {
  /** Frames per second; defaults to 30. */
  fps?: number;
  /** libx264 constant rate factor, 0 (lossless) to 51; defaults to 18 (visually lossless). */
  crf?: number;
}

/**
 * What {@linkcode writeMp4} did: the codec it used, or why it wrote nothing.
 *
 * @example Point it at a missing ffmpeg
 * ```ts
 * import { type Mp4Result, writeMp4 } from "./mp4.ts";
 * const dir = await Deno.makeTempDir();
 * const frame = { width: 2, height: 2, rgb: new Uint8Array(12) };
 * const options = { ffmpeg: "/nonexistent/ffmpeg" };
 * const result: Mp4Result = await writeMp4(`${dir}/clip.mp4`, [frame], options);
 * console.log(result.written); // false
 * if (!result.written) console.log(result.reason.startsWith("MP4 export skipped")); // true
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export type Mp4Result =
  | { written: true; codec: "libx264" | "mpeg4"; width: number; height: number }
  | { written: false; reason: string };

function ffmpegPath(options: FfmpegOptions): string {
  if (options.ffmpeg !== undefined) return options.ffmpeg;
  try {
    return Deno.env.get("ANIMATE124_FFMPEG") ?? "ffmpeg";
  } catch {
    // No --allow-env: fall back to the PATH lookup.
    return "ffmpeg";
  }
}

/** Runs `ffmpeg args` to completion; null when it cannot be started at all. */
async function probe(exe: string, args: string[]): Promise<string | null> {
  try {
    const out = await new Deno.Command(exe, { args, stdout: "piped", stderr: "null" }).output();
    return out.success ? new TextDecoder().decode(out.stdout) : null;
  } catch {
    // Not installed, or no --allow-run: both mean "no ffmpeg" to the caller.
    return null;
  }
}

const encoderCache = new Map<string, Promise<"libx264" | "mpeg4" | null>>();

/** The best usable encoder of this ffmpeg, or null when ffmpeg is unusable. Cached. */
function encoderOf(exe: string): Promise<"libx264" | "mpeg4" | null> {
  let p = encoderCache.get(exe);
  if (p === undefined) {
    p = probe(exe, ["-hide_banner", "-encoders"]).then((list) => {
      if (list === null) return null;
      if (/^\s*V\S*\s+libx264\s/m.test(list)) return "libx264";
      return /^\s*V\S*\s+mpeg4\s/m.test(list) ? "mpeg4" : null;
    });
    encoderCache.set(exe, p);
  }
  return p;
}

/**
 * Whether an ffmpeg that can encode MP4 (libx264 or mpeg4) can be run. Never throws;
 * false also when the process lacks `--allow-run`.
 *
 * @example
 * ```ts
 * import { hasFfmpeg } from "./mp4.ts";
 * console.log((await hasFfmpeg()) ? "ffmpeg found" : "no ffmpeg: MP4 export is off");
 * ```
 */
export async function hasFfmpeg(options: FfmpegOptions = {}): Promise<boolean> {
  return (await encoderOf(ffmpegPath(options))) !== null;
}

/**
 * Encodes equally sized RGB (or RGBA, alpha ignored) frames, floats in [0, 1] or
 * bytes, to an MP4 in yuv420p so every player can show it. Odd sizes are padded to
 * even with black, as 4:2:0 chroma needs. Frames may come from an async source, so
 * a long render is streamed rather than held in memory. The file appears only once
 * ffmpeg has finished (temp file, then rename).
 *
 * Returns `{ written: false, reason }` when ffmpeg is missing; throws (naming the
 * file and ffmpeg's message) when frames are invalid or ffmpeg fails.
 *
 * @example
 * ```ts
 * import { writeMp4 } from "./mp4.ts";
 * const path = await Deno.makeTempFile({ suffix: ".mp4" });
 * const frames = [0, 0.5, 1].map((v) => ({ width: 16, height: 16, rgb: new Float32Array(768).fill(v) }));
 * const result = await writeMp4(path, frames, { fps: 3 });
 * if (!result.written) console.log(result.reason);
 * await Deno.remove(path);
 * ```
 */
export async function writeMp4(
  path: string,
  frames: Iterable<ImageInput> | AsyncIterable<ImageInput>,
  options: WriteMp4Options = {},
): Promise<Mp4Result> {
  const where = `Cannot write video ${path}`;
  const exe = ffmpegPath(options);
  const codec = await encoderOf(exe);
  if (codec === null) {
    return {
      written: false,
      reason:
        `MP4 export skipped for ${path}: no usable ffmpeg ("${exe}" could not be run or has neither libx264 nor mpeg4; install ffmpeg, set ANIMATE124_FFMPEG, or grant --allow-run)`,
    };
  }
  const fps = options.fps ?? 30;
  if (!(fps > 0) || !Number.isFinite(fps)) {
    throw new Error(`${where}: fps ${fps} is not a positive number`);
  }
  const crf = options.crf ?? 18;

  const iter = Symbol.asyncIterator in frames
    ? frames[Symbol.asyncIterator]()
    : frames[Symbol.iterator]();
  const first = await iter.next();
  if (first.done) throw new Error(`${where}: no frames given`);
  const img0 = imageBytes(first.value, `${where}: frame 0`);
  const { width, height } = img0;
  const outW = width + (width % 2);
  const outH = height + (height % 2);

  const slash = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  const tmp = `${path.slice(0, slash + 1)}.${path.slice(slash + 1)}.${Deno.pid}.${
    crypto.randomUUID().slice(0, 8)
  }.tmp`;
  const quality = codec === "libx264"
    ? ["-c:v", "libx264", "-preset", "medium", "-crf", String(crf)]
    : ["-c:v", "mpeg4", "-q:v", "2"];
  const args = [
    ...["-hide_banner", "-loglevel", "error", "-nostdin", "-y"],
    ...["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", `${width}x${height}`, "-r", String(fps)],
    ...["-i", "pipe:0"],
    ...["-vf", `pad=${outW}:${outH}:0:0:black`],
    ...quality,
    ...["-pix_fmt", "yuv420p", "-movflags", "+faststart", "-f", "mp4", tmp],
  ];
  // `-nostdin` only stops ffmpeg reading keyboard commands; `pipe:0` still reads frames.
  const child = new Deno.Command(exe, { args, stdin: "piped", stdout: "null", stderr: "piped" })
    .spawn();
  const stderr = new Response(child.stderr).text();
  const writer = child.stdin.getWriter();
  let count = 0;
  let failure: unknown = null;
  try {
    let img = img0;
    while (true) {
      await writer.write(rgbOnly(img));
      count++;
      const next = await iter.next();
      if (next.done) break;
      img = imageBytes(next.value, `${where}: frame ${count}`);
      if (img.width !== width || img.height !== height) {
        throw new Error(
          `${where}: frame ${count} is ${img.width}x${img.height} but frame 0 is ${width}x${height}`,
        );
      }
    }
    await writer.close();
  } catch (err) {
    failure = err;
    await writer.abort().catch(() => {});
    // A bad frame must not leave ffmpeg waiting for more input.
    try {
      child.kill();
    } catch { /* already exited */ }
  }
  const status = await child.status;
  const log = (await stderr).trim();
  if (failure !== null || !status.success) {
    await Deno.remove(tmp).catch(() => {});
    if (failure instanceof Error && failure.message.startsWith(where)) throw failure;
    throw new Error(
      `${where}: ffmpeg (${codec}) failed after ${count} frames with exit code ${status.code}${
        log ? `: ${log}` : ""
      }`,
      { cause: failure ?? undefined },
    );
  }
  try {
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    const msg = err instanceof Error ? err.message : String(err);
    throw new Error(`${where}: ${msg}`, { cause: err });
  }
  return { written: true, codec, width: outW, height: outH };
}
