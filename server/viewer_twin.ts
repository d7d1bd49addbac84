/**
 * Float64 twin of the browser viewer's render (server/viewer.wgsl around the shared
 * grid encoder and MLP): orbit-camera rays, equal steps through [−1, 1]³, the field
 * twins, then albedo compositing over white, rounded to RGBA8 as the kernel packs it.
 *
 * @module
 */
import { orbitCamera, pixelDirection } from "../kernels/camera.ts";
import type { GridLayout } from "../kernels/grid_config.ts";
import { gridEncodeTwin } from "../kernels/grid_encode_twin.ts";
import type { MlpConfig } from "../kernels/mlp.ts";
import { mlpForwardTwin } from "../kernels/mlp_twin.ts";

const MIN_NEAR = 0.05;
const T_THRESH = 1e-4;
const BLOB_DENSITY = 10;
const BLOB_RADIUS = 0.2;

/** A view of the viewer: orbit angles in degrees and the time in [0, 1]. */
export interface ViewerView {
  phiDeg: number;
  thetaDeg: number;
  time: number;
  radius: number;
  fovyDeg: number;
}

/** Options of {@linkcode viewerRenderTwin}. */
export interface ViewerTwinOptions {
  /** Grid layout of the field. */
  layout: GridLayout;
  /** One parameter array per keyframe (keyframe stride or longer). */
  grids: ArrayLike<number>[];
  /** MLP widths. */
  mlpConfig: Partial<MlpConfig>;
  /** MLP parameters. */
  mlp: ArrayLike<number>;
  /** Image side in pixels. */
  size: number;
  /** Samples per ray. */
  samples: number;
}

/**
 * The points of one ray as viewer.wgsl `points_main` places them, and its step.
 *
 * @param origin camera centre
 * @param direction unnormalised ray direction
 * @param samples samples per ray
 * @returns `[samples][3]` clamped points and dt (0 when the ray misses the box)
 *
 * @example
 * ```ts
 * import { viewerRayTwin } from "./viewer_twin.ts";
 * const r = viewerRayTwin([0, 0, 1.8], [0, 0, -1], 4);
 * console.log(r.dt, r.points.slice(0, 3)); // 0.5 [ 0, 0, 0.75 ]
 * ```
 */
export function viewerRayTwin(
  origin: readonly number[],
  direction: readonly number[],
  samples: number,
): { points: number[]; dt: number } {
  let near = -Infinity, far = Infinity;
  for (let a = 0; a < 3; a++) {
    const t0 = (-1 - origin[a]!) / direction[a]!, t1 = (1 - origin[a]!) / direction[a]!;
    near = Math.max(near, Math.min(t0, t1));
    far = Math.min(far, Math.max(t0, t1));
  }
  near = Math.max(near, MIN_NEAR);
  const dt = far > near ? (far - near) / samples : 0;
  const points: number[] = [];
  for (let k = 0; k < samples; k++) {
    const t = near + (k + 0.5) * dt;
    for (let a = 0; a < 3; a++) {
      points.push(Math.min(1, Math.max(-1, origin[a]! + t * direction[a]!)));
    }
  }
  return { points, dt };
}

/**
 * Composites one ray's raw MLP outputs as viewer.wgsl `composite_main` does.
 *
 * @param raw `[samples][4]` raw outputs
 * @param points `[samples][3]` the sample points (for the density blob)
 * @param dt the ray's step
 * @returns RGB over a white background, unclamped
 *
 * @example An empty ray shows the background
 * ```ts
 * import { viewerCompositeTwin } from "./viewer_twin.ts";
 * console.log(viewerCompositeTwin([], [], 0)); // [ 1, 1, 1 ]
 * ```
 */
export function viewerCompositeTwin(
  raw: ArrayLike<number>,
  points: ArrayLike<number>,
  dt: number,
): [number, number, number] {
  let trans = 1;
  const c = [0, 0, 0];
  const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
  if (dt > 0) {
    for (let k = 0; k < raw.length / 4; k++) {
      const q2 = points[3 * k]! ** 2 + points[3 * k + 1]! ** 2 + points[3 * k + 2]! ** 2;
      const blob = BLOB_DENSITY * Math.exp(-q2 / (2 * BLOB_RADIUS * BLOB_RADIUS));
      const sigma = Math.exp(raw[4 * k]! + blob);
      const alpha = 1 - Math.exp(-sigma * dt);
      for (let ch = 0; ch < 3; ch++) c[ch]! += alpha * trans * sigmoid(raw[4 * k + 1 + ch]!);
      trans *= 1 - alpha;
      if (trans < T_THRESH) break;
    }
  }
  return [c[0]! + trans, c[1]! + trans, c[2]! + trans];
}

/**
 * Renders a square view of a field the way the browser viewer does, in float64.
 *
 * @param view orbit pose, field of view and time
 * @param options field, MLP, image size and samples per ray
 * @returns `size²` RGBA8 pixels, row-major from the top, and the unrounded RGB
 *
 * @example
 * ```ts
 * import { gridLayout } from "../kernels/grid_config.ts";
 * import { viewerRenderTwin } from "./viewer_twin.ts";
 * const layout = gridLayout({ levels: 1, log2TableSize: 8, keyframes: 1 });
 * const mlp = new Float64Array(2 * 2 + 2 + 4 * 2 + 4).fill(0);
 * const r = viewerRenderTwin(
 *   { phiDeg: 0, thetaDeg: 90, time: 0, radius: 1.8, fovyDeg: 40 },
 *   { layout, grids: [new Float64Array(layout.keyframeStride)], mlpConfig: { input: 2, hidden: 2 }, mlp, size: 2, samples: 4 },
 * );
 * console.log(r.rgba.length); // 16
 * ```
 */
export function viewerRenderTwin(
  view: ViewerView,
  options: ViewerTwinOptions,
): { rgba: Uint8Array; rgb: Float64Array } {
  const { size, samples } = options;
  const cam = orbitCamera(view, { width: size, height: size });
  const origin = [cam.c2w[3]!, cam.c2w[7]!, cam.c2w[11]!];
  const rgba = new Uint8Array(size * size * 4);
  const rgb = new Float64Array(size * size * 3);
  for (let j = 0; j < size; j++) {
    for (let i = 0; i < size; i++) {
      const ray = viewerRayTwin(origin, pixelDirection(cam, { i, j }), samples);
      const features = gridEncodeTwin(options.layout, {
        params: options.grids,
        points: ray.points,
        times: new Array(samples).fill(Math.min(1, Math.max(0, view.time))),
      });
      const raw = mlpForwardTwin(options.mlpConfig, { params: options.mlp, features });
      const c = viewerCompositeTwin(raw, ray.points, ray.dt);
      const p = j * size + i;
      for (let ch = 0; ch < 3; ch++) {
        rgb[3 * p + ch] = c[ch]!;
        rgba[4 * p + ch] = Math.round(Math.min(1, Math.max(0, c[ch]!)) * 255);
      }
      rgba[4 * p + 3] = 255;
    }
  }
  return { rgba, rgb };
}
