/**
 * Float64 twin of `march.wgsl`: training ray marching over the temporal occupancy grid
 * (SPEC.md §3.2). The twin packs samples in ray order; the WGSL kernel packs each ray's
 * samples contiguously but places rays in arbitrary order.
 *
 * @module
 */
import { hashUniform, isOccupied, type OccupancyShape } from "./occupancy_twin.ts";

/** dt = 2√3/1024 ≈ 0.003383 (`Animate124 main: raymarching/src/raymarching.cu:385-386`). */
export const DEFAULT_DT = 2 * Math.sqrt(3) / 1024;
/** Most samples per ray (`max_steps` 1024). */
export const DEFAULT_MAX_STEPS = 1024;
/** Lower bound of near (`Animate124 main: raymarching/raymarching.py:34`). */
export const DEFAULT_MIN_NEAR = 0.2;
/** Hash stream of the per-ray perturbation, shared with `march.wgsl`. */
export const PERTURB_STREAM = 0x9e3779b9;
const TINY = 1e-9;

/** Marching settings shared by the twin and the WGSL wrapper. */
export interface MarchSettings {
  /** Step dt (2√3/1024). */
  dt?: number;
  /** Most samples per ray (1024). */
  maxSteps?: number;
  /** Lower bound of near (0.2). */
  minNear?: number;
  /** Start each ray at near + dt·U[0,1) (true for training). */
  perturb?: boolean;
  /** Seed of the perturbation (0). */
  seed?: number;
  /** Global step, keys the perturbation (0). */
  step?: number;
}

/** Options for {@linkcode marchRaysTwin}. */
export interface MarchTwinOptions extends MarchSettings, OccupancyShape {
  /** Occupancy bitfield `[S][ceil(res³/32)]`. */
  bits: ArrayLike<number>;
  /** H·W: ray r belongs to frame ⌊r / raysPerFrame⌋. */
  raysPerFrame: number;
  /** Occupancy slice of every frame, from {@linkcode sliceOfTime}. */
  frameSlices: ArrayLike<number>;
}

/** Packed samples (docs/kernels.md) plus each ray's start t0. */
export interface PackedSamples {
  /** `[S][3]` sample positions clamp(o + t·d, −1, 1), t before the step. */
  positions: Float64Array;
  /** `[S][2]`: t + dt, dt. */
  ts: Float64Array;
  /** `[S]` ray of each sample. */
  rayIndex: Uint32Array;
  /** `[R][2]`: first sample, count. */
  rays: Uint32Array;
  /** Total samples. */
  total: number;
  /** `[R]` start t0 of each ray (NaN for rays that miss the box). */
  t0: Float64Array;
}

/**
 * Occupancy slice of a frame at time t: ⌊t·S⌋ clamped to [0, S−1]
 * (`Animate124 main: dnerf/renderer.py:93-163`).
 *
 * @param time frame time in [0, 1]
 * @param slices S
 * @returns the slice index
 *
 * @example
 * ```ts
 * import { sliceOfTime } from "./march_twin.ts";
 * console.log(sliceOfTime(1, 16), sliceOfTime(0.5, 16)); // 15 8
 * ```
 */
export function sliceOfTime(time: number, slices: number): number {
  return Math.min(Math.max(Math.floor(time * slices), 0), slices - 1);
}

function safeDir(d: number): number {
  return Math.abs(d) >= TINY ? d : d >= 0 ? TINY : -TINY;
}

/**
 * Marches every ray against the box [−1, 1]³ and its frame's occupancy slice.
 *
 * @param origins `[R][3]` ray origins
 * @param options directions, occupancy, frame slices and march settings
 * @returns the packed samples in ray order
 *
 * @example A single ray through a fully occupied 2³ grid
 * ```ts
 * import { marchRaysTwin } from "./march_twin.ts";
 * const out = marchRaysTwin([0, 0, 1.8], {
 *   directions: [0, 0, -1],
 *   bits: [0xff],
 *   res: 2,
 *   slices: 1,
 *   raysPerFrame: 1,
 *   frameSlices: [0],
 *   dt: 0.5,
 *   perturb: false,
 * });
 * console.log(out.total, out.ts[0]); // 4 1.3
 * ```
 */
export function marchRaysTwin(
  origins: ArrayLike<number>,
  options: MarchTwinOptions & { directions: ArrayLike<number> },
): PackedSamples {
  const dt = options.dt ?? DEFAULT_DT;
  const maxSteps = options.maxSteps ?? DEFAULT_MAX_STEPS;
  const minNear = options.minNear ?? DEFAULT_MIN_NEAR;
  const perturb = options.perturb ?? true;
  const { res, slices, bits } = options;
  const count = origins.length / 3;
  const positions: number[] = [];
  const ts: number[] = [];
  const rayIndex: number[] = [];
  const rays = new Uint32Array(2 * count);
  const t0s = new Float64Array(count).fill(NaN);
  for (let r = 0; r < count; r++) {
    rays[2 * r] = rayIndex.length;
    const o = [origins[3 * r]!, origins[3 * r + 1]!, origins[3 * r + 2]!];
    const d = [0, 1, 2].map((a) => safeDir(options.directions[3 * r + a]!));
    let near = -Infinity;
    let far = Infinity;
    for (let a = 0; a < 3; a++) {
      const ta = (-1 - o[a]!) / d[a]!;
      const tb = (1 - o[a]!) / d[a]!;
      near = Math.max(near, Math.min(ta, tb));
      far = Math.min(far, Math.max(ta, tb));
    }
    if (far < near) continue;
    near = Math.max(near, minNear);
    const t0 = perturb
      ? near +
        dt *
          hashUniform({ seed: options.seed ?? 0, step: options.step ?? 0, a: PERTURB_STREAM, b: r })
      : near;
    t0s[r] = t0;
    const slice = options.frameSlices[Math.floor(r / options.raysPerFrame)]!;
    let k = 0;
    let n = 0;
    for (;;) {
      const t = t0 + k * dt;
      if (!(t < far) || n >= maxSteps) break;
      const x = o.map((v, a) => Math.min(Math.max(v + t * d[a]!, -1), 1));
      const c = x.map((v) => Math.min(Math.max(Math.floor((v + 1) * 0.5 * res), 0), res - 1));
      if (isOccupied(bits, { res, slices, slice, ix: c[0]!, iy: c[1]!, iz: c[2]! })) {
        positions.push(...x);
        ts.push(t + dt, dt);
        rayIndex.push(r);
        n++;
        k++;
      } else {
        // Exit of the current cell along the ray; the original steps t by dt until it
        // passes it (`Animate124 main: raymarching/src/raymarching.cu:402`).
        let exit = Infinity;
        for (let a = 0; a < 3; a++) {
          const bound = ((c[a]! + 0.5 + 0.5 * Math.sign(d[a]!)) / res) * 2 - 1;
          exit = Math.min(exit, (bound - x[a]!) / d[a]!);
        }
        const tt = t + Math.max(0, exit);
        k = Math.max(k + 1, Math.ceil((tt - t0) / dt));
      }
    }
    rays[2 * r + 1] = n;
  }
  return {
    positions: Float64Array.from(positions),
    ts: Float64Array.from(ts),
    rayIndex: Uint32Array.from(rayIndex),
    rays,
    total: rayIndex.length,
    t0: t0s,
  };
}
