/**
 * A primitive's motion at one time, as a chain of warps between its rest local frame and
 * world space, plus a conservative world distance for sphere tracing.
 *
 * Forward (rest → world) order, fixed by the scene format: scale about a local pivot,
 * static orientation, placement at `center`, wave, bend, rotate about a pivot, translate.
 * The renderer applies the inverse chain to each query point ("inverse warp") and
 * evaluates the rest-frame SDF there.
 *
 * Why a conservative distance: the rest SDF composed with a non-rigid inverse warp is not
 * a Euclidean distance, so a sphere-tracing step of that size could tunnel through thin
 * parts. {@linkcode conservativeDistance} divides by bounds on how much each warp can
 * stretch space:
 * - scale: × the smallest scale factor (exact for the non-uniform scale);
 * - wave x' = x + A·r(s)·sin(κs − ωt + φ)·dir with s = along·(x − origin), dir ⊥ along:
 *   the inverse is exact (s is unchanged) and its Jacobian norm is at most
 *   1 + A·(κ + 1/ramp), a global bound;
 * - bend with curvature k: the inverse stretches by ρ/dist(x, C) (ρ = 1/|k|, C the centre
 *   of curvature). Within world distance D of the object, dist(x, C) ≥ ρ − V − D where V is
 *   the object's largest offset across the member, which gives the safe step
 *   D ≥ d·(1 − |k|V)/(1 + |k|·d) for a pre-bend distance bound d.
 * Rigid motions are isometries. The renderer still multiplies steps by a step factor
 * (0.9) to absorb rounding; see `ground_truth.ts`.
 *
 * @module
 */
import type { Keyframe, Primitive, Vec3 } from "./scene_config.ts";
import { shapeDistance, shapeSamples } from "./primitive_sdf.ts";

const DEG = Math.PI / 180;

/**
 * Linearly interpolates keyframes at time `t`, holding the end values outside their
 * time range.
 *
 * @example
 * ```ts
 * import { interpolateKeys } from "./motion_warp.ts";
 * console.log(interpolateKeys([{ t: 0, value: 0 }, { t: 1, value: 90 }], 0.5)); // 45
 * ```
 */
export function interpolateKeys(keys: readonly Keyframe<number>[], t: number): number;
export function interpolateKeys(keys: readonly Keyframe<Vec3>[], t: number): Vec3;
export function interpolateKeys(
  keys: readonly Keyframe<number | Vec3>[],
  t: number,
): number | Vec3 {
  const first = keys[0]!;
  if (t <= first.t || keys.length === 1) return first.value;
  for (let i = 1; i < keys.length; i++) {
    const b = keys[i]!;
    if (t <= b.t) {
      const a = keys[i - 1]!;
      return lerp(a.value, b.value, (t - a.t) / (b.t - a.t));
    }
  }
  return keys[keys.length - 1]!.value;
}

function lerp(a: number | Vec3, b: number | Vec3, w: number): number | Vec3 {
  if (typeof a === "number" || typeof b === "number") {
    return (a as number) + ((b as number) - (a as number)) * w;
  }
  return [a[0] + (b[0] - a[0]) * w, a[1] + (b[1] - a[1]) * w, a[2] + (b[2] - a[2]) * w];
}

/** Rotation matrix (row-major 3×3) of `angle` radians about unit `axis` (Rodrigues). */
function rotation(axis: Vec3, angle: number): Float64Array {
  const [x, y, z] = axis;
  const c = Math.cos(angle), s = Math.sin(angle), C = 1 - c;
  return new Float64Array([
    c + x * x * C,
    x * y * C - z * s,
    x * z * C + y * s,
    y * x * C + z * s,
    c + y * y * C,
    y * z * C - x * s,
    z * x * C - y * s,
    z * y * C + x * s,
    c + z * z * C,
  ]); // deno-fmt-ignore
}

function cross(a: Vec3, b: Vec3): Vec3 {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}

/** A wave evaluated at one time. */
export interface WaveAtTime {
  /** Peak displacement. */
  amplitude: number;
  /** Spatial angular frequency 2π/wavelength. */
  kappa: number;
  /** Phase in radians, time term included. */
  phase: number;
  /** Unit displacement direction. */
  direction: Vec3;
  /** Unit propagation direction. */
  along: Vec3;
  /** Zero of the wave coordinate. */
  origin: Vec3;
  /** 1/ramp, or 0 without a ramp. */
  invRamp: number;
}

/** A bend evaluated at one time. */
export interface BendAtTime {
  /** Signed curvature in rad per unit length. */
  k: number;
  /** Where bending starts. */
  pivot: Vec3;
  /** Unit member direction. */
  along: Vec3;
  /** Direction the member curves towards for positive k: axis × along. */
  toward: Vec3;
  /** Largest |offset across the member| of the waved object, margin included. */
  extent: number;
  /** Largest distance along the member from the pivot, margin included. */
  span: number;
}

/** A primitive with its motion evaluated at one time. Build with {@linkcode posePrimitive}. */
export interface PosedPrimitive {
  /** The primitive. */
  readonly primitive: Primitive;
  /** The time the motion was evaluated at. */
  readonly time: number;
  /** World-space box `[minX, minY, minZ, maxX, maxY, maxZ]` that holds the surface. */
  readonly bounds: Float64Array;
  /** Smallest scale factor (the exact distance factor of the scale stage). */
  readonly minScale: number;
  /** Bound on the Jacobian norm of the wave warp (1 without a wave). */
  readonly waveLipschitz: number;
  /** Scale factors at this time. */
  readonly scale: Vec3;
  /** Local scale pivot. */
  readonly scalePivot: Vec3;
  /** Static orientation, row-major 3×3. */
  readonly orientation: Float64Array;
  /** The wave at this time, if any. */
  readonly wave: WaveAtTime | undefined;
  /** The bend at this time, if any. */
  readonly bend: BendAtTime | undefined;
  /** The keyframed rotation at this time (row-major 3×3), if any. */
  readonly rotation: Float64Array | undefined;
  /** Pivot of the rotation. */
  readonly rotatePivot: Vec3;
  /** Translation offset at this time. */
  readonly offset: Vec3;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * Evaluates `primitive`'s motion at `options.time` and bounds it in world space.
 *
 * @example
 * ```ts
 * import { parseScene } from "./scene_config.ts";
 * import { posePrimitive } from "./motion_warp.ts";
 * const scene = parseScene(
 *   "name: a\nmotion_prompt: A ball.\nprimitives: [{ type: sphere, radius: 0.2, color: [1, 0, 0] }]",
 * );
 * const posed = posePrimitive(scene.primitives[0]!, { time: 0 });
 * console.log(posed.bounds[3]! >= 0.2); // true
 * ```
 */
export function posePrimitive(primitive: Primitive, options: { time: number }): PosedPrimitive {
  const t = options.time;
  const m = primitive.motion;
  const scale = m.scale ? interpolateKeys(m.scale.keys, t) : [1, 1, 1] as const;
  const wave = m.wave;
  const posed: Mutable<PosedPrimitive> = {
    primitive,
    time: t,
    bounds: new Float64Array(6),
    minScale: Math.min(scale[0], scale[1], scale[2]),
    waveLipschitz: wave
      ? 1 + wave.amplitude * (2 * Math.PI / wave.wavelength + (wave.ramp > 0 ? 1 / wave.ramp : 0))
      : 1,
    scale,
    scalePivot: m.scale?.pivot ?? [0, 0, 0],
    orientation: rotation(primitive.orientation.axis, primitive.orientation.angle * DEG),
    wave: wave
      ? {
        amplitude: wave.amplitude,
        kappa: 2 * Math.PI / wave.wavelength,
        phase: -2 * Math.PI * wave.frequency * t + wave.phase * DEG,
        direction: wave.direction,
        along: wave.along,
        origin: wave.origin,
        invRamp: wave.ramp > 0 ? 1 / wave.ramp : 0,
      }
      : undefined,
    bend: undefined,
    rotation: m.rotate
      ? rotation(m.rotate.axis, interpolateKeys(m.rotate.keys, t) * DEG)
      : undefined,
    rotatePivot: m.rotate?.pivot ?? primitive.center,
    offset: m.translate ? interpolateKeys(m.translate, t) : [0, 0, 0],
  };
  const samples = shapeSamples(primitive.shape);
  const maxScale = Math.max(scale[0], scale[1], scale[2]);
  // Distance, in waved space, within which every surface point lies of a mapped sample.
  const wavedReach = samples.reach * maxScale * posed.waveLipschitz;
  const p = new Float64Array(3);
  const n = samples.points.length / 3;
  if (m.bend) {
    const b = m.bend;
    const k = interpolateKeys(b.keys, t) * DEG / b.length;
    const toward = cross(b.axis, b.along);
    let extent = 0, span = 0;
    for (let i = 0; i < n; i++) {
      loadSample(samples.points, i, p);
      toPlaced(posed, p);
      waveForward(posed.wave, p);
      const v = (p[0]! - b.pivot[0]) * toward[0] + (p[1]! - b.pivot[1]) * toward[1] +
        (p[2]! - b.pivot[2]) * toward[2];
      const u = (p[0]! - b.pivot[0]) * b.along[0] + (p[1]! - b.pivot[1]) * b.along[1] +
        (p[2]! - b.pivot[2]) * b.along[2];
      extent = Math.max(extent, Math.abs(v));
      span = Math.max(span, u);
    }
    posed.bend = {
      k,
      pivot: b.pivot,
      along: b.along,
      toward,
      extent: extent + wavedReach,
      span: span + wavedReach,
    };
  }
  // Grow the box by how far the forward warp can carry a surface point from its sample.
  const bendStretch = posed.bend ? 1 + Math.abs(posed.bend.k) * posed.bend.extent : 1;
  const margin = wavedReach * bendStretch;
  const box = posed.bounds;
  box.set([Infinity, Infinity, Infinity, -Infinity, -Infinity, -Infinity]);
  for (let i = 0; i < n; i++) {
    loadSample(samples.points, i, p);
    warpToWorld(posed, p);
    for (let a = 0; a < 3; a++) {
      box[a] = Math.min(box[a]!, p[a]! - margin);
      box[a + 3] = Math.max(box[a + 3]!, p[a]! + margin);
    }
  }
  return posed;
}

function loadSample(points: Float64Array, i: number, p: Float64Array): void {
  p[0] = points[3 * i]!;
  p[1] = points[3 * i + 1]!;
  p[2] = points[3 * i + 2]!;
}

/** Scale, orient and place a rest point (in place). */
function toPlaced(pp: PosedPrimitive, p: Float64Array): void {
  const s = pp.scale, q = pp.scalePivot, o = pp.orientation, c = pp.primitive.center;
  const x = s[0] * (p[0]! - q[0]) + q[0];
  const y = s[1] * (p[1]! - q[1]) + q[1];
  const z = s[2] * (p[2]! - q[2]) + q[2];
  p[0] = o[0]! * x + o[1]! * y + o[2]! * z + c[0];
  p[1] = o[3]! * x + o[4]! * y + o[5]! * z + c[1];
  p[2] = o[6]! * x + o[7]! * y + o[8]! * z + c[2];
}

function fromPlaced(pp: PosedPrimitive, p: Float64Array): void {
  const s = pp.scale, q = pp.scalePivot, o = pp.orientation, c = pp.primitive.center;
  const x = p[0]! - c[0], y = p[1]! - c[1], z = p[2]! - c[2];
  // Orientation is a rotation: its inverse is the transpose.
  p[0] = (o[0]! * x + o[3]! * y + o[6]! * z - q[0]) / s[0] + q[0];
  p[1] = (o[1]! * x + o[4]! * y + o[7]! * z - q[1]) / s[1] + q[1];
  p[2] = (o[2]! * x + o[5]! * y + o[8]! * z - q[2]) / s[2] + q[2];
}

function waveOffset(w: WaveAtTime, p: Float64Array): number {
  const s = (p[0]! - w.origin[0]) * w.along[0] + (p[1]! - w.origin[1]) * w.along[1] +
    (p[2]! - w.origin[2]) * w.along[2];
  const ramp = w.invRamp > 0 ? Math.min(Math.max(s * w.invRamp, 0), 1) : 1;
  return w.amplitude * ramp * Math.sin(w.kappa * s + w.phase);
}

function waveForward(w: WaveAtTime | undefined, p: Float64Array): void {
  if (!w) return;
  const a = waveOffset(w, p);
  p[0] = p[0]! + a * w.direction[0];
  p[1] = p[1]! + a * w.direction[1];
  p[2] = p[2]! + a * w.direction[2];
}

function waveInverse(w: WaveAtTime | undefined, p: Float64Array): void {
  if (!w) return;
  // Exact: the displacement is perpendicular to `along`, so s (and the offset) is the same
  // before and after the warp.
  const a = waveOffset(w, p);
  p[0] = p[0]! - a * w.direction[0];
  p[1] = p[1]! - a * w.direction[1];
  p[2] = p[2]! - a * w.direction[2];
}

// Below this curvature the bend is the identity to double precision at scene scale.
const MIN_CURVATURE = 1e-9;

function bendForward(b: BendAtTime | undefined, p: Float64Array): void {
  if (!b || Math.abs(b.k) < MIN_CURVATURE) return;
  const rx = p[0]! - b.pivot[0], ry = p[1]! - b.pivot[1], rz = p[2]! - b.pivot[2];
  const u = rx * b.along[0] + ry * b.along[1] + rz * b.along[2];
  if (u <= 0) return; // the part before the pivot stays put
  const sign = b.k < 0 ? -1 : 1;
  const k = Math.abs(b.k), rho = 1 / k;
  const v = sign * (rx * b.toward[0] + ry * b.toward[1] + rz * b.toward[2]);
  // The member's centre line becomes an arc of radius rho about C = pivot + rho·toward;
  // a point at offset v keeps its distance rho − v from C.
  const theta = k * u;
  const u2 = (rho - v) * Math.sin(theta);
  const v2 = rho - (rho - v) * Math.cos(theta);
  const du = u2 - u, dv = sign * (v2 - v);
  p[0] = p[0]! + du * b.along[0] + dv * b.toward[0];
  p[1] = p[1]! + du * b.along[1] + dv * b.toward[1];
  p[2] = p[2]! + du * b.along[2] + dv * b.toward[2];
}

function bendInverse(b: BendAtTime | undefined, p: Float64Array): void {
  if (!b || Math.abs(b.k) < MIN_CURVATURE) return;
  const rx = p[0]! - b.pivot[0], ry = p[1]! - b.pivot[1], rz = p[2]! - b.pivot[2];
  const u2 = rx * b.along[0] + ry * b.along[1] + rz * b.along[2];
  if (u2 <= 0) return;
  const sign = b.k < 0 ? -1 : 1;
  const k = Math.abs(b.k), rho = 1 / k;
  const v2 = sign * (rx * b.toward[0] + ry * b.toward[1] + rz * b.toward[2]);
  const dy = rho - v2;
  const u = Math.atan2(u2, dy) / k;
  const v = rho - Math.hypot(u2, dy);
  const du = u - u2, dv = sign * (v - v2);
  p[0] = p[0]! + du * b.along[0] + dv * b.toward[0];
  p[1] = p[1]! + du * b.along[1] + dv * b.toward[1];
  p[2] = p[2]! + du * b.along[2] + dv * b.toward[2];
}

/**
 * Maps rest-frame point `p` to world space at the posed time, in place.
 *
 * @example
 * ```ts
 * import { parseScene } from "./scene_config.ts";
 * import { posePrimitive, warpToWorld } from "./motion_warp.ts";
 * const scene = parseScene(
 *   "name: a\nmotion_prompt: A ball.\nprimitives: [{ type: sphere, radius: 0.2, color: [1, 0, 0], center: [0.1, 0, 0] }]",
 * );
 * const p = new Float64Array([0, 0, 0]);
 * warpToWorld(posePrimitive(scene.primitives[0]!, { time: 0 }), p);
 * console.log(p[0]); // 0.1
 * ```
 */
export function warpToWorld(posed: PosedPrimitive, p: Float64Array): void {
  toPlaced(posed, p);
  waveForward(posed.wave, p);
  bendForward(posed.bend, p);
  const r = posed.rotation;
  if (r) {
    const c = posed.rotatePivot;
    const x = p[0]! - c[0], y = p[1]! - c[1], z = p[2]! - c[2];
    p[0] = r[0]! * x + r[1]! * y + r[2]! * z + c[0];
    p[1] = r[3]! * x + r[4]! * y + r[5]! * z + c[1];
    p[2] = r[6]! * x + r[7]! * y + r[8]! * z + c[2];
  }
  const o = posed.offset;
  p[0] = p[0]! + o[0];
  p[1] = p[1]! + o[1];
  p[2] = p[2]! + o[2];
}

/**
 * Maps world point `p` back to the rest frame at the posed time, in place (the inverse
 * of {@linkcode warpToWorld}).
 *
 * @example
 * ```ts
 * import { parseScene } from "./scene_config.ts";
 * import { posePrimitive, warpToRest } from "./motion_warp.ts";
 * const scene = parseScene(
 *   "name: a\nmotion_prompt: A ball.\nprimitives: [{ type: sphere, radius: 0.2, color: [1, 0, 0], center: [0.1, 0, 0] }]",
 * );
 * const p = new Float64Array([0.1, 0, 0]);
 * warpToRest(posePrimitive(scene.primitives[0]!, { time: 0 }), p);
 * console.log(p[0]); // 0
 * ```
 */
export function warpToRest(posed: PosedPrimitive, p: Float64Array): void {
  const o = posed.offset;
  let x = p[0]! - o[0], y = p[1]! - o[1], z = p[2]! - o[2];
  const r = posed.rotation;
  if (r) {
    const c = posed.rotatePivot;
    x -= c[0];
    y -= c[1];
    z -= c[2];
    // Rotation inverse = transpose.
    const rx = r[0]! * x + r[3]! * y + r[6]! * z;
    const ry = r[1]! * x + r[4]! * y + r[7]! * z;
    const rz = r[2]! * x + r[5]! * y + r[8]! * z;
    x = rx + c[0];
    y = ry + c[1];
    z = rz + c[2];
  }
  p[0] = x;
  p[1] = y;
  p[2] = z;
  bendInverse(posed.bend, p);
  waveInverse(posed.wave, p);
  fromPlaced(posed, p);
}

/**
 * A lower bound on the world distance from `p` to the posed primitive's surface (exact
 * for rigid motion and uniform scale), negative inside. `p` is overwritten with its rest
 * frame position, ready for `materialColor`.
 *
 * @example
 * ```ts
 * import { parseScene } from "./scene_config.ts";
 * import { conservativeDistance, posePrimitive } from "./motion_warp.ts";
 * const scene = parseScene(
 *   "name: a\nmotion_prompt: A ball.\nprimitives: [{ type: sphere, radius: 0.2, color: [1, 0, 0] }]",
 * );
 * const d = conservativeDistance(posePrimitive(scene.primitives[0]!, { time: 0 }), new Float64Array([0.5, 0, 0]));
 * console.log(d.toFixed(3)); // 0.300
 * ```
 */
export function conservativeDistance(posed: PosedPrimitive, p: Float64Array): number {
  warpToRest(posed, p);
  let d = shapeDistance(posed.primitive.shape, p) * posed.minScale / posed.waveLipschitz;
  const b = posed.bend;
  if (b && d > 0) {
    const k = Math.abs(b.k);
    d = d * Math.max(1 - k * b.extent, 0) / (1 + k * d);
  }
  return d;
}
