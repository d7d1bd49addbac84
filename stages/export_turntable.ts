/**
 * Video export of a fitted field (SPEC.md §7): the turntable of `views` azimuths × `times`
 * times at θ = 90°, r = 1.8, fovy 40° as a grid GIF (one frame per time, the views
 * tiled), a single orbit that advances time as it turns, normalised depth and alpha grid
 * videos, MP4 copies when ffmpeg is available, and every turntable frame as a PNG.
 *
 * @module
 */
import { hasFfmpeg, writeMp4 } from "../io/mp4.ts";
import { writeGif } from "../io/gif.ts";
import { writePng } from "../io/png.ts";
import type { OrbitPose } from "../kernels/camera.ts";
import { requireInt } from "../kernels/validate.ts";
import { type FittedModel, renderFieldViews, type ViewRender } from "./field_renders.ts";
import { ORBIT_FOVY, ORBIT_RADIUS } from "./training_cameras.ts";

/** Options of {@linkcode exportTurntable}. */
export interface ExportOptions {
  /** Output folder (created if missing). */
  out: string;
  /** Side of each rendered view (SPEC.md: 400). */
  size: number;
  /** Azimuths (SPEC.md: 10). */
  views?: number;
  /** Times per azimuth, t = k/times (SPEC.md: 64). */
  times?: number;
  /** Frames per second of the videos (SPEC.md: 8). */
  fps?: number;
  /** Write MP4s when ffmpeg is present (default true). */
  mp4?: boolean;
  /** Write every turntable frame as a PNG (default true). */
  pngFrames?: boolean;
  /** Called after each rendered frame with (done, total). */
  onFrame?: (done: number, total: number) => void;
}

/** Files {@linkcode exportTurntable} wrote. */
export interface ExportResult {
  files: string[];
  /** Why MP4s were skipped, or null when they were written (or not asked for). */
  mp4Skipped: string | null;
}

function pose(phiDeg: number): OrbitPose {
  return { radius: ORBIT_RADIUS, thetaDeg: 90, phiDeg, fovyDeg: ORBIT_FOVY };
}

/** Tiles `images` (size² RGB floats each) into a grid of `cols` columns. */
function tile(images: Float32Array[], size: number, cols: number) {
  const rows = Math.ceil(images.length / cols);
  const width = cols * size, height = rows * size;
  const rgb = new Float32Array(width * height * 3).fill(1);
  images.forEach((img, i) => {
    const ox = (i % cols) * size, oy = Math.floor(i / cols) * size;
    for (let y = 0; y < size; y++) {
      rgb.set(img.subarray(y * size * 3, (y + 1) * size * 3), ((oy + y) * width + ox) * 3);
    }
  });
  return { width, height, rgb };
}

function grey(values: Float32Array, lo: number, hi: number): Float32Array {
  const out = new Float32Array(values.length * 3);
  const span = hi > lo ? hi - lo : 1;
  for (let i = 0; i < values.length; i++) {
    const v = Math.min(1, Math.max(0, (values[i]! - lo) / span));
    out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = v;
  }
  return out;
}

/**
 * Renders and writes the turntable videos, the orbit, depth and alpha videos and PNG
 * frames of `model` into `options.out`.
 *
 * @param model the fitted field
 * @param options folder, sizes, counts and formats
 * @returns the files written and whether MP4s were skipped
 *
 * @example
 * ```ts
 * import { acquireGpu } from "../kernels/gpu.ts";
 * import { Field } from "../kernels/field.ts";
 * import { OccupancyGrid } from "../kernels/occupancy.ts";
 * import { exportTurntable } from "./export_turntable.ts";
 * const gpu = await acquireGpu({ log: null });
 * const field = await Field.create(gpu, { grid: { levels: 2, log2TableSize: 8 } });
 * const occupancy = await OccupancyGrid.create(gpu, { res: 8, slices: 1 });
 * const out = await Deno.makeTempDir();
 * const r = await exportTurntable({ gpu, field, occupancy, dt: 0.05 }, {
 *   out, size: 12, views: 2, times: 2, mp4: false, pngFrames: false,
 * });
 * console.log(r.files.length); // 4
 * await Deno.remove(out, { recursive: true });
 * gpu.destroy();
 * ```
 */
export async function exportTurntable(
  model: FittedModel,
  options: ExportOptions,
): Promise<ExportResult> {
  const size = requireInt("size", options.size, { min: 1, max: 4096 });
  const nViews = requireInt("views", options.views ?? 10, { min: 1 });
  const nTimes = requireInt("times", options.times ?? 64, { min: 1 });
  const fps = options.fps ?? 8;
  const out = options.out.replace(/\/+$/, "");
  await Deno.mkdir(out, { recursive: true });
  const pngFrames = options.pngFrames ?? true;
  if (pngFrames) await Deno.mkdir(`${out}/frames`, { recursive: true });
  const list: { pose: OrbitPose; time: number }[] = [];
  for (let k = 0; k < nTimes; k++) {
    for (let v = 0; v < nViews; v++) {
      list.push({ pose: pose((v * 360) / nViews), time: k / nTimes });
    }
  }
  // The orbit: one turn over the clip, frame i at azimuth 360·i/T and time i/T.
  for (let i = 0; i < nTimes; i++) list.push({ pose: pose((i * 360) / nTimes), time: i / nTimes });
  const renders: ViewRender[] = [];
  const files: string[] = [];
  let done = 0;
  for await (const r of renderFieldViews(model, list, { size })) {
    const index = renders.length;
    renders.push(r);
    if (pngFrames && index < nViews * nTimes) {
      const v = index % nViews, k = Math.floor(index / nViews);
      const name = `${out}/frames/view${String(v).padStart(2, "0")}_t${
        String(k).padStart(2, "0")
      }.png`;
      await writePng(name, { width: size, height: size, rgb: r.rgb });
      files.push(name);
    }
    options.onFrame?.(++done, list.length);
  }
  const turntable = renders.slice(0, nViews * nTimes);
  const orbit = renders.slice(nViews * nTimes);
  const cols = Math.min(nViews, 5);
  // Depth is normalised over covered pixels of the whole turntable, so brightness
  // compares across frames: near = dark, far = bright, background white.
  let lo = Infinity, hi = -Infinity;
  for (const r of turntable) {
    for (let i = 0; i < r.depth.length; i++) {
      if (r.alpha[i]! > 0.5) {
        const d = r.depth[i]! / r.alpha[i]!;
        lo = Math.min(lo, d);
        hi = Math.max(hi, d);
      }
    }
  }
  const depthImage = (r: ViewRender) => {
    const d = new Float32Array(r.depth.length);
    for (let i = 0; i < d.length; i++) {
      d[i] = r.alpha[i]! > 0.5 ? r.depth[i]! / r.alpha[i]! : hi;
    }
    return grey(d, lo, hi);
  };
  const gridFrames = (pick: (r: ViewRender) => Float32Array) =>
    Array.from(
      { length: nTimes },
      (_, k) => tile(turntable.slice(k * nViews, (k + 1) * nViews).map(pick), size, cols),
    );
  const videos: [string, { width: number; height: number; rgb: Float32Array }[], number][] = [
    ["turntable", gridFrames((r) => r.rgb), fps],
    ["turntable_depth", gridFrames(depthImage), fps],
    ["turntable_alpha", gridFrames((r) => grey(r.alpha, 0, 1)), fps],
    ["orbit", orbit.map((r) => ({ width: size, height: size, rgb: r.rgb })), fps],
  ];
  for (const [name, frames, rate] of videos) {
    await writeGif(`${out}/${name}.gif`, frames, { fps: rate });
    files.push(`${out}/${name}.gif`);
  }
  let mp4Skipped: string | null = null;
  if ((options.mp4 ?? true) && await hasFfmpeg()) {
    for (const [name, frames, rate] of videos) {
      const result = await writeMp4(`${out}/${name}.mp4`, frames, { fps: rate });
      if (result.written) files.push(`${out}/${name}.mp4`);
      else mp4Skipped = result.reason;
    }
  } else if (options.mp4 ?? true) {
    mp4Skipped = "ffmpeg not found";
  }
  return { files, mp4Skipped };
}
