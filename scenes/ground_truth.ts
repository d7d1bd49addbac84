/**
 * The ground-truth renderer: float64 sphere tracing of a scene's primitives at any time,
 * on CPU, for rays in the toolkit's layout (origins `[R][3]`, directions `[R][3]` not
 * normalised, docs/kernels.md). Depth is reported in units of the unnormalised direction,
 * so for camera rays of SPEC.md §3.1 it is camera-z depth, like the NeRF renderer's.
 *
 * Shading is albedo only (the original's reference and test renders are `lambertian`
 * with ambient ratio 1), composited over a background colour: C = A·albedo + (1 − A)·bg.
 *
 * Sphere tracing: each primitive's rest SDF is evaluated at the inverse-warped query
 * point and turned into a lower bound on the world distance (`conservativeDistance` in
 * `motion_warp.ts` divides by bounds on how much the non-rigid warps stretch space).
 * Steps are further multiplied by a step factor (0.9 by default) to absorb rounding.
 * Rays are clipped to per-primitive world boxes first, which both speeds things up and
 * keeps far-away primitives out of the inner loop.
 *
 * @module
 */
import type { Camera } from "../kernels/camera.ts";
import { pixelDirection } from "../kernels/camera.ts";
import type { Scene, Vec3 } from "./scene_config.ts";
import { conservativeDistance, type PosedPrimitive, posePrimitive } from "./motion_warp.ts";
import { materialColor } from "./material_color.ts";

/**
 * Rays in the toolkit's layout.
 *
 * @example
 * ```ts
 * import { parseScene } from "./scene_config.ts";
 * import { type Rays, renderGroundTruth } from "./ground_truth.ts";
 * const scene = parseScene(
 *   "name: a\nmotion_prompt: A ball.\nprimitives: [{ type: sphere, radius: 0.5, color: [1, 0, 0] }]",
 * );
 * // Two rays from z = 2 looking down −z: one through the ball, one past it.
 * const rays: Rays = { origins: [0, 0, 2, 0.9, 0, 2], directions: [0, 0, -1, 0, 0, -1] };
 * console.log(renderGroundTruth(scene, rays, { time: 0 }).alpha); // Float64Array(2) [ 1, 0 ]
 * ```
 */
export interface Rays {
  /** Origins `[R][3]`. */
  readonly origins: ArrayLike<number>;
  /** Directions `[R][3]`, not normalised; t is measured in their units. */
  readonly directions: ArrayLike<number>;
}

/**
 * Options of {@linkcode renderGroundTruth}.
 *
 * @example
 * ```ts
 * import { parseScene } from "./scene_config.ts";
 * import { type GroundTruthOptions, renderGroundTruth } from "./ground_truth.ts";
 * const scene = parseScene(
 *   "name: a\nmotion_prompt: A ball.\nprimitives: [{ type: sphere, radius: 0.5, color: [1, 0, 0] }]",
 * );
 * const options: GroundTruthOptions = { time: 0.5, background: [0, 0, 1] };
 * // A ray that misses the ball shows the background.
 * const out = renderGroundTruth(scene, { origins: [0.9, 0, 2], directions: [0, 0, -1] }, options);
 * console.log(Array.from(out.rgb)); // [ 0, 0, 1 ]
 * ```
 */
export interface GroundTruthOptions {
  /** Scene time in [0, 1]. */
  time: number;
  /** Background colour; the scene's (white by default) when not given. */
  background?: Vec3;
  /** Fraction of the conservative distance taken per step (default 0.9). */
  stepFactor?: number;
  /** Steps before a ray is declared a miss (default 1000). */
  maxSteps?: number;
  /** World distance at which a ray counts as hitting (default 1e-6). */
  hitEpsilon?: number;
}

/**
 * A ground-truth render in the toolkit's composited-image layout.
 *
 * @example
 * ```ts
 * import { parseScene } from "./scene_config.ts";
 * import { type GroundTruthRender, renderGroundTruth } from "./ground_truth.ts";
 * const scene = parseScene(
 *   "name: a\nmotion_prompt: A ball.\nprimitives: [{ type: sphere, radius: 0.5, color: [1, 0, 0] }]",
 * );
 * const out: GroundTruthRender = renderGroundTruth(
 *   scene,
 *   { origins: [0, 0, 2], directions: [0, 0, -1] },
 *   { time: 0 },
 * );
 * console.log(Array.from(out.rgb), out.alpha[0], out.depth[0]!.toFixed(4)); // [ 1, 0, 0 ] 1 1.5000
 * ```
 */
export interface GroundTruthRender {
  /** Colour `[R][3]` in [0, 1], composited over the background. */
  readonly rgb: Float64Array;
  /** Coverage `[R]` in [0, 1]. */
  readonly alpha: Float64Array;
  /** Depth `[R]` along the unnormalised direction, 0 where empty. */
  readonly depth: Float64Array;
}

/**
 * Renders `rays` of `scene` at `options.time`.
 *
 * @param scene a validated scene
 * @param rays origins and unnormalised directions, `[R][3]` each
 * @param options time, background and tracing controls
 * @returns colour over the background, alpha (0 or 1 per ray) and depth (0 on misses)
 *
 * @example A sphere of radius 0.5 seen head-on from z = 1.8
 * ```ts
 * import { parseScene } from "./scene_config.ts";
 * import { renderGroundTruth } from "./ground_truth.ts";
 * const scene = parseScene(
 *   "name: a\nmotion_prompt: A ball.\nprimitives: [{ type: sphere, radius: 0.5, color: [1, 0, 0] }]",
 * );
 * const out = renderGroundTruth(scene, { origins: [0, 0, 1.8], directions: [0, 0, -2] }, { time: 0 });
 * console.log(out.depth[0]!.toFixed(4), out.alpha[0]); // 0.6500 1
 * ```
 */
export function renderGroundTruth(
  scene: Scene,
  rays: Rays,
  options: GroundTruthOptions,
): GroundTruthRender {
  const time = options.time;
  if (!(time >= 0 && time <= 1)) {
    throw new RangeError(`Invalid option time: expected a number in [0, 1], got ${time}`);
  }
  const R = Math.floor(rays.origins.length / 3);
  if (rays.origins.length !== 3 * R || rays.directions.length !== 3 * R) {
    throw new RangeError(
      `Invalid rays: expected origins and directions of equal length 3·R, got ` +
        `${rays.origins.length} and ${rays.directions.length}`,
    );
  }
  const bg = options.background ?? scene.background;
  const stepFactor = options.stepFactor ?? 0.9;
  const maxSteps = options.maxSteps ?? 1000;
  const eps = options.hitEpsilon ?? 1e-6;
  const posed = scene.primitives.map((p) => posePrimitive(p, { time }));
  const tracer = new Tracer(posed, { stepFactor, maxSteps, eps });
  const rgb = new Float64Array(3 * R);
  const alpha = new Float64Array(R);
  const depth = new Float64Array(R);
  for (let r = 0; r < R; r++) {
    const hit = tracer.trace(rays, r);
    if (hit < 0) {
      rgb[3 * r] = bg[0];
      rgb[3 * r + 1] = bg[1];
      rgb[3 * r + 2] = bg[2];
      continue;
    }
    const c = materialColor(posed[hit]!.primitive.material, tracer.rest);
    rgb[3 * r] = c[0];
    rgb[3 * r + 1] = c[1];
    rgb[3 * r + 2] = c[2];
    alpha[r] = 1;
    depth[r] = tracer.t;
  }
  return { rgb, alpha, depth };
}

/** Per-ray sphere tracer over posed primitives; reuses its buffers across rays. */
class Tracer {
  /** After a hit: the rest-frame point of the hit primitive. */
  readonly rest = new Float64Array(3);
  /** After a hit: the ray parameter. */
  t = 0;
  readonly #posed: readonly PosedPrimitive[];
  readonly #stepFactor: number;
  readonly #maxSteps: number;
  readonly #eps: number;
  readonly #enter: Float64Array;
  readonly #exit: Float64Array;
  readonly #p = new Float64Array(3);

  constructor(
    posed: readonly PosedPrimitive[],
    opts: { stepFactor: number; maxSteps: number; eps: number },
  ) {
    this.#posed = posed;
    this.#stepFactor = opts.stepFactor;
    this.#maxSteps = opts.maxSteps;
    this.#eps = opts.eps;
    this.#enter = new Float64Array(posed.length);
    this.#exit = new Float64Array(posed.length);
  }

  /**
   * Moves a hit at `t` (within `eps` outside the surface) onto the surface. At grazing
   * incidence eps outside can mean eps/cos along the ray, so depth would be off by far
   * more than eps near silhouettes: bracket the crossing and bisect on the SDF's sign.
   * A ray that only grazes (never gets inside within a short reach) keeps `t`.
   */
  #refine(pp: PosedPrimitive, ray: readonly number[], t: number): number {
    const p = this.#p;
    const inside = (tt: number) => {
      p[0] = ray[0]! + tt * ray[3]!;
      p[1] = ray[1]! + tt * ray[4]!;
      p[2] = ray[2]! + tt * ray[5]!;
      return conservativeDistance(pp, p) < 0;
    };
    let lo = t, hi = t, delta = this.#eps;
    for (let i = 0; i < 24 && !inside(hi); i++) {
      lo = hi;
      hi = t + delta;
      delta *= 2;
    }
    if (!inside(hi)) return t;
    for (let i = 0; i < 40 && hi - lo > 1e-12; i++) {
      const mid = 0.5 * (lo + hi);
      if (inside(mid)) hi = mid;
      else lo = mid;
    }
    return lo;
  }

  /** Returns the index of the primitive ray `r` hits first, or −1. */
  trace(rays: Rays, r: number): number {
    const o = rays.origins, d = rays.directions;
    const ox = o[3 * r]!, oy = o[3 * r + 1]!, oz = o[3 * r + 2]!;
    const dx = d[3 * r]!, dy = d[3 * r + 1]!, dz = d[3 * r + 2]!;
    const dn = Math.sqrt(dx * dx + dy * dy + dz * dz);
    if (!(dn > 0)) return -1;
    const posed = this.#posed, enter = this.#enter, exit = this.#exit;
    let tStart = Infinity, tEnd = -Infinity;
    for (let i = 0; i < posed.length; i++) {
      const b = posed[i]!.bounds;
      // Slab test against the primitive's world box; t ≥ 0 keeps what is behind the
      // origin out.
      let t0 = 0, t1 = Infinity;
      for (let a = 0; a < 3; a++) {
        const oa = a === 0 ? ox : a === 1 ? oy : oz;
        const da = a === 0 ? dx : a === 1 ? dy : dz;
        const lo = b[a]!, hi = b[a + 3]!;
        if (da === 0) {
          if (oa < lo || oa > hi) t1 = -Infinity;
          continue;
        }
        let ta = (lo - oa) / da, tb = (hi - oa) / da;
        if (ta > tb) [ta, tb] = [tb, ta];
        t0 = Math.max(t0, ta);
        t1 = Math.min(t1, tb);
      }
      if (t0 > t1) t1 = -Infinity;
      enter[i] = t0;
      exit[i] = t1;
      if (t1 >= t0) {
        tStart = Math.min(tStart, t0);
        tEnd = Math.max(tEnd, t1);
      }
    }
    if (tEnd < tStart) return -1;
    const p = this.#p, eps = this.#eps, factor = this.#stepFactor / dn;
    let t = tStart;
    for (let step = 0; step < this.#maxSteps && t <= tEnd; step++) {
      const px = ox + t * dx, py = oy + t * dy, pz = oz + t * dz;
      let best = Infinity, hit = -1;
      for (let i = 0; i < posed.length; i++) {
        // A ray never re-enters a convex box it has left, so the primitive is done.
        if (t > exit[i]!) continue;
        let di: number;
        if (t < enter[i]!) {
          // Still outside the box: the distance to the box bounds the distance to
          // anything inside it, and costs no warp.
          const b = posed[i]!.bounds;
          const ex = Math.max(b[0]! - px, 0, px - b[3]!);
          const ey = Math.max(b[1]! - py, 0, py - b[4]!);
          const ez = Math.max(b[2]! - pz, 0, pz - b[5]!);
          di = Math.sqrt(ex * ex + ey * ey + ez * ez);
        } else {
          p[0] = px;
          p[1] = py;
          p[2] = pz;
          di = conservativeDistance(posed[i]!, p);
          if (di < eps && di < best) {
            best = di;
            hit = i;
            continue;
          }
        }
        if (di < best) {
          best = di;
          hit = -1;
        }
      }
      if (hit >= 0) {
        this.t = best > 0 ? this.#refine(posed[hit]!, [ox, oy, oz, dx, dy, dz], t) : t;
        p[0] = ox + this.t * dx;
        p[1] = oy + this.t * dy;
        p[2] = oz + this.t * dz;
        conservativeDistance(posed[hit]!, p);
        this.rest.set(p);
        return hit;
      }
      // The minimum step keeps rays that graze a box corner (distance ≈ 0) moving.
      t += Math.max(best, eps) * factor;
    }
    return -1;
  }
}

/** Options of {@linkcode cameraRays}. */
export interface CameraRaysOptions {
  /** Sub-rays per pixel side: k gives k×k rays per pixel on a regular grid (default 1). */
  subsamples?: number;
}

/**
 * Rays of `camera` (SPEC.md §3.1) in the toolkit's layout. With k subsamples, pixel
 * (i, j) gets k×k rays through (i + (a + 0.5)/k − 0.5, j + (b + 0.5)/k − 0.5); the rays of
 * one pixel are consecutive, ordered b-major, and pixels are row-major (r = j·W + i).
 *
 * @example
 * ```ts
 * import { orbitCamera, REFERENCE_POSE } from "../kernels/camera.ts";
 * import { cameraRays } from "./ground_truth.ts";
 * const rays = cameraRays(orbitCamera(REFERENCE_POSE, { width: 4, height: 4 }));
 * console.log(rays.origins.length, rays.directions[2]); // 48 -1
 * ```
 */
export function cameraRays(
  camera: Readonly<Camera>,
  options: CameraRaysOptions = {},
): { origins: Float64Array; directions: Float64Array } {
  const k = options.subsamples ?? 1;
  if (!Number.isInteger(k) || k < 1) {
    throw new RangeError(`Invalid option subsamples: expected an integer >= 1, got ${k}`);
  }
  const { width, height } = camera;
  const n = width * height * k * k;
  const origins = new Float64Array(3 * n);
  const directions = new Float64Array(3 * n);
  const m = camera.c2w;
  let r = 0;
  for (let j = 0; j < height; j++) {
    for (let i = 0; i < width; i++) {
      for (let b = 0; b < k; b++) {
        for (let a = 0; a < k; a++) {
          const d = pixelDirection(camera, {
            i: i + (a + 0.5) / k - 0.5,
            j: j + (b + 0.5) / k - 0.5,
          });
          origins[3 * r] = m[3]!;
          origins[3 * r + 1] = m[7]!;
          origins[3 * r + 2] = m[11]!;
          directions.set(d, 3 * r);
          r++;
        }
      }
    }
  }
  return { origins, directions };
}

/**
 * Options of {@linkcode renderCameraGroundTruth}.
 *
 * @example
 * ```ts
 * import { orbitCamera, REFERENCE_POSE } from "../kernels/camera.ts";
 * import { parseScene } from "./scene_config.ts";
 * import { type CameraRenderOptions, renderCameraGroundTruth } from "./ground_truth.ts";
 * const scene = parseScene(
 *   "name: a\nmotion_prompt: A ball.\nprimitives: [{ type: sphere, radius: 0.5, color: [1, 0, 0] }]",
 * );
 * const options: CameraRenderOptions = { time: 0, subsamples: 3 };
 * const camera = orbitCamera(REFERENCE_POSE, { width: 8, height: 8 });
 * const img = renderCameraGroundTruth(scene, camera, options);
 * // With 3×3 sub-rays, pixels on the silhouette get fractional coverage.
 * const partial = Array.from(img.alpha).filter((a) => a > 0 && a < 1).length;
 * console.log(img.alpha.length, partial > 0); // 64 true
 * ```
 */
export interface CameraRenderOptions extends GroundTruthOptions {
  /** Anti-aliasing: k×k sub-rays per pixel, averaged (default 1). */
  subsamples?: number;
}

/**
 * Renders a `camera.width`×`camera.height` image of `scene`, row-major, averaging k×k
 * sub-rays per pixel. Alpha becomes pixel coverage, colour the average composite over
 * the background, and depth the average sub-ray depth with misses counting 0: a
 * coverage-weighted depth like the NeRF renderer's Σ wᵢ·tᵢ.
 *
 * @example
 * ```ts
 * import { orbitCamera, REFERENCE_POSE } from "../kernels/camera.ts";
 * import { parseScene } from "./scene_config.ts";
 * import { renderCameraGroundTruth } from "./ground_truth.ts";
 * const scene = parseScene(
 *   "name: a\nmotion_prompt: A ball.\nprimitives: [{ type: sphere, radius: 0.5, color: [1, 0, 0] }]",
 * );
 * const cam = orbitCamera(REFERENCE_POSE, { width: 16, height: 16 });
 * const img = renderCameraGroundTruth(scene, cam, { time: 0, subsamples: 2 });
 * console.log(img.alpha[8 * 16 + 8]); // 1
 * ```
 */
export function renderCameraGroundTruth(
  scene: Scene,
  camera: Readonly<Camera>,
  options: CameraRenderOptions,
): GroundTruthRender {
  const k = options.subsamples ?? 1;
  const sub = renderGroundTruth(scene, cameraRays(camera, { subsamples: k }), options);
  if (k === 1) return sub;
  const n = camera.width * camera.height, kk = k * k;
  const rgb = new Float64Array(3 * n);
  const alpha = new Float64Array(n);
  const depth = new Float64Array(n);
  for (let px = 0; px < n; px++) {
    let r = 0, g = 0, b = 0, a = 0, z = 0;
    for (let s = px * kk; s < (px + 1) * kk; s++) {
      r += sub.rgb[3 * s]!;
      g += sub.rgb[3 * s + 1]!;
      b += sub.rgb[3 * s + 2]!;
      a += sub.alpha[s]!;
      z += sub.depth[s]!;
    }
    rgb[3 * px] = r / kk;
    rgb[3 * px + 1] = g / kk;
    rgb[3 * px + 2] = b / kk;
    alpha[px] = a / kk;
    depth[px] = z / kk;
  }
  return { rgb, alpha, depth };
}
