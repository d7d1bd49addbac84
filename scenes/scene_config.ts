/**
 * The YAML description of a procedural 4D scene: signed-distance primitives with a
 * colour or a procedural texture, each moved over t ∈ [0, 1] by keyframed rigid motions
 * and non-rigid warps. These scenes are the ground truth every quality check is scored
 * against, so the parser is strict: any unknown key, missing field or malformed value is
 * an error naming the file, the key path and what was expected.
 *
 * ```yaml
 * name: bouncing_ball
 * motion_prompt: A striped ball bounces on the spot, squashing as it lands.
 * static_prompt: A striped ball.     # optional
 * background: [1, 1, 1]              # optional, white by default
 * primitives:
 *   - type: sphere                   # sphere | box | cylinder | torus
 *     radius: 0.3
 *     center: [0, 0, 0]              # optional rest position, default origin
 *     orientation: { axis: [0, 0, 1], angle: 20 }   # optional static rotation (degrees)
 *     texture: { type: stripes, colors: [[1, 0.2, 0.1], [1, 0.9, 0.2]], scale: 6, axis: [0, 1, 0] }
 *     motion:
 *       translate: [{ t: 0, value: [0, 0.2, 0] }, { t: 1, value: [0, -0.2, 0] }]
 * ```
 *
 * Shapes (in the primitive's local frame, centred at its origin):
 * - `sphere`: `radius`;
 * - `box`: `size` (full extents [x, y, z]) and optional `rounding` (edge radius);
 * - `cylinder`: `radius` and `height`, axis along local y;
 * - `torus`: `major_radius` and `minor_radius`, ring in the local xz plane.
 *
 * Appearance: exactly one of `color: [r, g, b]` or `texture` with `type: checker`
 * (`colors` ≥ 2, `scale` cells per unit length) or `type: stripes` (`colors` ≥ 2,
 * `scale` stripes per unit length, `axis`). Textures live in the rest local frame, so
 * they move and deform with the primitive.
 *
 * Motion (all optional, composed in this fixed order from local to world space):
 * 1. `scale`: `{ pivot?: local [x, y, z], keys: [{ t, value: s | [sx, sy, sz] }] }`;
 * 2. static `orientation`, then placement at `center`;
 * 3. `wave`: `{ amplitude, wavelength, direction, along, frequency?, phase?, origin?, ramp? }`
 *    displaces by amplitude·sin(2π(along·(x−origin)/wavelength − frequency·t) + phase)
 *    along `direction` (⊥ `along`), optionally ramped up over `ramp` from `origin`;
 * 4. `bend`: `{ axis, along, pivot?, length, keys: [{ t, angle }] }` curves the part
 *    beyond `pivot` along `along` about `axis`, reaching `angle` degrees at `length`;
 * 5. `rotate`: `{ axis, pivot?, keys: [{ t, angle }] }` (degrees, pivot default `center`);
 * 6. `translate`: `[{ t, value: [x, y, z] }]` offsets.
 *
 * Keyframes interpolate linearly and hold their end values outside their time range.
 * Their times must lie in [0, 1] and ascend strictly.
 *
 * @module
 */
import { parse, YAMLParseError } from "yaml";
import { findSceneProblem } from "./scene_bounds.ts";

/**
 * A 3-vector.
 *
 * @example
 * ```ts
 * import { parseScene, type Vec3 } from "./scene_config.ts";
 * const scene = parseScene(
 *   "name: a\nmotion_prompt: A ball.\nbackground: [0, 0, 0]\n" +
 *     "primitives: [{ type: sphere, radius: 0.3, color: [1, 0, 0] }]",
 * );
 * const background: Vec3 = scene.background;
 * console.log(background); // [ 0, 0, 0 ]
 * ```
 */
export type Vec3 = readonly [number, number, number];

/**
 * One keyframe: a value at time t ∈ [0, 1].
 *
 * @example
 * ```ts
 * import { type Keyframe, parseScene, type Vec3 } from "./scene_config.ts";
 * const scene = parseScene([
 *   "name: a",
 *   "motion_prompt: A ball rises.",
 *   "primitives:",
 *   "  - { type: sphere, radius: 0.3, color: [1, 0, 0],",
 *   "      motion: { translate: [{ t: 0, value: [0, 0, 0] }, { t: 1, value: [0, 0.4, 0] }] } }",
 * ].join("\n"));
 * const keys: readonly Keyframe<Vec3>[] = scene.primitives[0]!.motion.translate ?? [];
 * console.log(keys.map((k) => k.t), keys[1]!.value); // [ 0, 1 ] [ 0, 0.4, 0 ]
 * ```
 */
export interface Keyframe<T> {
  /** Time in [0, 1]. */
  readonly t: number;
  /** Value at that time. */
  readonly value: T;
}

/**
 * A primitive's shape, in its local frame centred at the origin.
 *
 * @example
 * ```ts
 * import { parseScene, type Shape } from "./scene_config.ts";
 * const scene = parseScene(
 *   "name: a\nmotion_prompt: A ring.\n" +
 *     "primitives: [{ type: torus, major_radius: 0.5, minor_radius: 0.1, color: [1, 0, 0] }]",
 * );
 * const shape: Shape = scene.primitives[0]!.shape;
 * if (shape.type === "torus") console.log(shape.majorRadius, shape.minorRadius); // 0.5 0.1
 * ```
 */
export type Shape =
  | { readonly type: "sphere"; readonly radius: number }
  | { readonly type: "box"; readonly size: Vec3; readonly rounding: number }
  | { readonly type: "cylinder"; readonly radius: number; readonly height: number }
  | { readonly type: "torus"; readonly majorRadius: number; readonly minorRadius: number };

/** Names of the supported primitives. */
export const PRIMITIVE_TYPES = ["sphere", "box", "cylinder", "torus"] as const;

/**
 * A primitive's appearance (albedo). Colours are linear RGB in [0, 1].
 *
 * @example
 * ```ts
 * import { type Material, parseScene } from "./scene_config.ts";
 * const scene = parseScene([
 *   "name: a",
 *   "motion_prompt: A striped ball.",
 *   "primitives:",
 *   "  - { type: sphere, radius: 0.3,",
 *   "      texture: { type: stripes, colors: [[1, 0, 0], [1, 1, 1]], scale: 4, axis: [0, 2, 0] } }",
 * ].join("\n"));
 * const material: Material = scene.primitives[0]!.material;
 * // The stripe axis is normalised.
 * if (material.type === "stripes") console.log(material.colors.length, material.axis); // 2 [ 0, 1, 0 ]
 * ```
 */
export type Material =
  | { readonly type: "color"; readonly color: Vec3 }
  | { readonly type: "checker"; readonly colors: readonly Vec3[]; readonly scale: number }
  | {
    readonly type: "stripes";
    readonly colors: readonly Vec3[];
    readonly scale: number;
    /** Unit vector across the stripes. */
    readonly axis: Vec3;
  };

/**
 * A rotation by `angle` degrees about the unit `axis`.
 *
 * @example
 * ```ts
 * import { type AxisAngle, parseScene } from "./scene_config.ts";
 * const scene = parseScene([
 *   "name: a",
 *   "motion_prompt: A tilted box.",
 *   "primitives:",
 *   "  - { type: box, size: [0.4, 0.2, 0.4], color: [1, 0, 0],",
 *   "      orientation: { axis: [0, 0, 2], angle: 30 } }",
 * ].join("\n"));
 * const orientation: AxisAngle = scene.primitives[0]!.orientation;
 * console.log(orientation.axis, orientation.angle); // [ 0, 0, 1 ] 30
 * ```
 */
export interface AxisAngle {
  /** Unit rotation axis. */
  readonly axis: Vec3;
  /** Angle in degrees (right-hand rule). */
  readonly angle: number;
}

/**
 * Keyframed scale about a local pivot.
 *
 * @example
 * ```ts
 * import { parseScene, type ScaleMotion } from "./scene_config.ts";
 * const scene = parseScene([
 *   "name: a",
 *   "motion_prompt: A ball squashes.",
 *   "primitives:",
 *   "  - { type: sphere, radius: 0.3, color: [1, 0, 0],",
 *   "      motion: { scale: { keys: [{ t: 0, value: 1 }, { t: 1, value: [1.2, 0.6, 1.2] }] } } }",
 * ].join("\n"));
 * const scale: ScaleMotion = scene.primitives[0]!.motion.scale!;
 * // The pivot defaults to the local origin and a scalar key scales all three axes.
 * console.log(scale.pivot, scale.keys[0]!.value); // [ 0, 0, 0 ] [ 1, 1, 1 ]
 * ```
 */
export interface ScaleMotion {
  /** Pivot in local coordinates. */
  readonly pivot: Vec3;
  /** Per-axis scale factors (> 0). */
  readonly keys: readonly Keyframe<Vec3>[];
}

/**
 * Keyframed rotation about an axis through a scene-space pivot.
 *
 * @example
 * ```ts
 * import { parseScene, type RotateMotion } from "./scene_config.ts";
 * const scene = parseScene([
 *   "name: a",
 *   "motion_prompt: A box spins.",
 *   "primitives:",
 *   "  - { type: box, size: [0.4, 0.2, 0.4], center: [0.2, 0, 0], color: [1, 0, 0],",
 *   "      motion: { rotate: { axis: [0, 1, 0], keys: [{ t: 0, angle: 0 }, { t: 1, angle: 90 }] } } }",
 * ].join("\n"));
 * const rotate: RotateMotion = scene.primitives[0]!.motion.rotate!;
 * // Without a pivot the box spins about its own centre.
 * console.log(rotate.pivot, rotate.keys[1]!.value); // [ 0.2, 0, 0 ] 90
 * ```
 */
export interface RotateMotion {
  /** Unit rotation axis. */
  readonly axis: Vec3;
  /** Pivot in scene coordinates; `center` when not given. */
  readonly pivot: Vec3;
  /** Angles in degrees. */
  readonly keys: readonly Keyframe<number>[];
}

/**
 * A travelling sinusoidal displacement (non-rigid).
 *
 * @example
 * ```ts
 * import { parseScene, type WaveMotion } from "./scene_config.ts";
 * const scene = parseScene([
 *   "name: a",
 *   "motion_prompt: A flag ripples.",
 *   "primitives:",
 *   "  - { type: box, size: [0.8, 0.5, 0.02], color: [1, 0, 0],",
 *   "      motion: { wave: { amplitude: 0.05, wavelength: 0.5,",
 *   "                        direction: [0, 0, 1], along: [1, 0, 0] } } }",
 * ].join("\n"));
 * const wave: WaveMotion = scene.primitives[0]!.motion.wave!;
 * console.log(wave.frequency, wave.phase, wave.ramp, wave.origin); // 1 0 0 [ 0, 0, 0 ]
 * ```
 */
export interface WaveMotion {
  /** Peak displacement (scene units). */
  readonly amplitude: number;
  /** Spatial period along `along`. */
  readonly wavelength: number;
  /** Temporal cycles over t ∈ [0, 1]. */
  readonly frequency: number;
  /** Phase offset in degrees. */
  readonly phase: number;
  /** Unit displacement direction, perpendicular to `along`. */
  readonly direction: Vec3;
  /** Unit propagation direction. */
  readonly along: Vec3;
  /** Where the wave's coordinate along `along` is zero (scene space). */
  readonly origin: Vec3;
  /** Distance from `origin` over which the amplitude ramps up from 0 (0 = no ramp). */
  readonly ramp: number;
}

/**
 * A keyframed bend (non-rigid).
 *
 * @example
 * ```ts
 * import { type BendMotion, parseScene } from "./scene_config.ts";
 * const scene = parseScene([
 *   "name: a",
 *   "motion_prompt: A stalk bends.",
 *   "primitives:",
 *   "  - { type: box, size: [0.1, 0.6, 0.1], center: [0, -0.2, 0], color: [0, 1, 0],",
 *   "      motion: { bend: { axis: [0, 0, 1], along: [0, 1, 0], length: 0.6,",
 *   "                        keys: [{ t: 0, angle: 0 }, { t: 1, angle: 30 }] } } }",
 * ].join("\n"));
 * const bend: BendMotion = scene.primitives[0]!.motion.bend!;
 * console.log(bend.pivot, bend.keys.map((k) => k.value)); // [ 0, -0.2, 0 ] [ 0, 30 ]
 * ```
 */
export interface BendMotion {
  /** Unit axis the member curves about. */
  readonly axis: Vec3;
  /** Unit direction of the member, perpendicular to `axis`. */
  readonly along: Vec3;
  /** Scene-space point where bending starts; `center` when not given. */
  readonly pivot: Vec3;
  /** Distance along `along` at which the bend angle is reached. */
  readonly length: number;
  /** Bend angle in degrees at `length` (right-hand rule about `axis`). */
  readonly keys: readonly Keyframe<number>[];
}

/**
 * All motions of one primitive; absent ones are identity.
 *
 * @example
 * ```ts
 * import { type Motion, parseScene } from "./scene_config.ts";
 * const scene = parseScene([
 *   "name: a",
 *   "motion_prompt: A box spins and rises.",
 *   "primitives:",
 *   "  - { type: box, size: [0.3, 0.3, 0.3], color: [1, 0, 0],",
 *   "      motion: { translate: [{ t: 0, value: [0, 0, 0] }, { t: 1, value: [0, 0.3, 0] }],",
 *   "                rotate: { axis: [0, 1, 0], keys: [{ t: 0, angle: 0 }, { t: 1, angle: 90 }] } } }",
 * ].join("\n"));
 * const motion: Motion = scene.primitives[0]!.motion;
 * // Listed in the order they compose from local to world space, whatever the YAML order.
 * console.log(Object.keys(motion)); // [ "rotate", "translate" ]
 * ```
 */
export interface Motion {
  /** Keyframed scale. */
  readonly scale?: ScaleMotion;
  /** Sinusoidal displacement. */
  readonly wave?: WaveMotion;
  /** Bend. */
  readonly bend?: BendMotion;
  /** Keyframed rotation. */
  readonly rotate?: RotateMotion;
  /** Keyframed translation offsets. */
  readonly translate?: readonly Keyframe<Vec3>[];
}

/**
 * One primitive of a scene.
 *
 * @example
 * ```ts
 * import { parseScene, type Primitive } from "./scene_config.ts";
 * const scene = parseScene(
 *   "name: a\nmotion_prompt: A ball.\nprimitives: [{ type: sphere, radius: 0.3, color: [1, 0, 0] }]",
 * );
 * const ball: Primitive = scene.primitives[0]!;
 * // Defaults: at the origin, unrotated.
 * console.log(ball.shape.type, ball.center, ball.orientation.angle); // sphere [ 0, 0, 0 ] 0
 * ```
 */
export interface Primitive {
  /** Shape parameters. */
  readonly shape: Shape;
  /** Rest position in scene coordinates. */
  readonly center: Vec3;
  /** Static rotation applied before placement. */
  readonly orientation: AxisAngle;
  /** Albedo. */
  readonly material: Material;
  /** Motion over t ∈ [0, 1]. */
  readonly motion: Motion;
}

/**
 * A validated scene.
 *
 * @example
 * ```ts
 * import { parseScene, type Scene } from "./scene_config.ts";
 * const scene: Scene = parseScene(
 *   "name: a\nmotion_prompt: A ball.\nprimitives: [{ type: sphere, radius: 0.3, color: [1, 0, 0] }]",
 *   { source: "ball.yaml" },
 * );
 * console.log(scene.source, scene.background, scene.staticPrompt); // ball.yaml [ 1, 1, 1 ] undefined
 * ```
 */
export interface Scene {
  /** Short identifier. */
  readonly name: string;
  /** A sentence describing the motion (the T2V prompt). */
  readonly motionPrompt: string;
  /** A sentence describing the object at rest, if given. */
  readonly staticPrompt?: string;
  /** Background colour (white by default). */
  readonly background: Vec3;
  /** The primitives, unioned. */
  readonly primitives: readonly Primitive[];
  /** Where the scene came from (file path or label), for error messages. */
  readonly source: string;
}

/**
 * Options of {@linkcode parseScene}.
 *
 * @example
 * ```ts
 * import { parseScene, type ParseSceneOptions } from "./scene_config.ts";
 * const options: ParseSceneOptions = { source: "bad.yaml" };
 * try {
 *   parseScene("name: x\n", options);
 * } catch (e) {
 *   console.log((e as Error).message.startsWith("bad.yaml: motion_prompt: expected")); // true
 * }
 * ```
 */
export interface ParseSceneOptions {
  /** File name or label used in error messages. */
  source?: string;
}

/**
 * A scene description error; the message is `FILE: KEY.PATH: expected …, got …`.
 *
 * @example
 * ```ts
 * import { parseScene, SceneConfigError } from "./scene_config.ts";
 * try {
 *   parseScene("name: x\n", { source: "x.yaml" });
 * } catch (e) {
 *   console.log(e instanceof SceneConfigError && e.keyPath === "motion_prompt");
 * }
 * ```
 */
export class SceneConfigError extends Error {
  /** The file or label. */
  readonly file: string;
  /** The key path, e.g. `primitives[1].motion.rotate.axis` (empty for the document). */
  readonly keyPath: string;
  /** What was expected. */
  readonly expected: string;

  /** Builds the error; `detail` says what was found instead. */
  constructor(file: string, info: { keyPath: string; expected: string; detail: string }) {
    const { keyPath, expected, detail } = info;
    super(
      `${file}: ${keyPath || "(document)"}: expected ${expected}${detail ? `, ${detail}` : ""}`,
    );
    this.name = "SceneConfigError";
    this.file = file;
    this.keyPath = keyPath;
    this.expected = expected;
  }
}

type Dict = Record<string, unknown>;

function show(value: unknown): string {
  if (value === undefined) return "nothing";
  try {
    const s = JSON.stringify(value);
    if (s === undefined) return String(value);
    // JSON renders NaN and ±Infinity as null, which would hide exactly what is wrong.
    if (typeof value === "number") return String(value);
    return s.length > 60 ? s.slice(0, 57) + "..." : s;
  } catch {
    return String(value);
  }
}

/** Carries the file name and key path while walking the YAML tree. */
class Reader {
  constructor(readonly file: string) {}

  fail(path: string, expected: string, value?: unknown, detail?: string): never {
    throw new SceneConfigError(this.file, {
      keyPath: path,
      expected,
      detail: detail ?? `got ${show(value)}`,
    });
  }

  dict(path: string, value: unknown, allowed: readonly string[]): Dict {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      this.fail(path, "a mapping", value);
    }
    const d = value as Dict;
    for (const key of Object.keys(d)) {
      if (!allowed.includes(key)) {
        this.fail(
          join(path, key),
          `one of the keys ${allowed.join(", ")}`,
          undefined,
          `got unknown key "${key}"`,
        );
      }
    }
    return d;
  }

  required(d: Dict, path: string, key: string, what: string): unknown {
    if (!(key in d) || d[key] === undefined || d[key] === null) {
      this.fail(join(path, key), what, undefined, "but the field is missing");
    }
    return d[key];
  }

  string(path: string, value: unknown): string {
    if (typeof value !== "string" || value.trim() === "") {
      this.fail(path, "a non-empty string", value);
    }
    return value.trim();
  }

  number(path: string, value: unknown, range: { min?: number; max?: number; gt?: number } = {}) {
    const parts: string[] = [];
    if (range.gt !== undefined) parts.push(`> ${range.gt}`);
    if (range.min !== undefined) parts.push(`>= ${range.min}`);
    if (range.max !== undefined) parts.push(`<= ${range.max}`);
    const what = `a finite number${parts.length ? " " + parts.join(" and ") : ""}`;
    if (typeof value !== "number" || !Number.isFinite(value)) this.fail(path, what, value);
    if (
      (range.gt !== undefined && !(value > range.gt)) ||
      (range.min !== undefined && value < range.min) ||
      (range.max !== undefined && value > range.max)
    ) {
      this.fail(path, what, value);
    }
    return value;
  }

  vec3(path: string, value: unknown, range: { min?: number; max?: number; gt?: number } = {}) {
    if (!Array.isArray(value) || value.length !== 3) {
      const len = Array.isArray(value) ? ` (length ${value.length})` : "";
      this.fail(path, "a 3-vector [x, y, z] of finite numbers", value, `got ${show(value)}${len}`);
    }
    return [
      this.number(`${path}[0]`, value[0], range),
      this.number(`${path}[1]`, value[1], range),
      this.number(`${path}[2]`, value[2], range),
    ] as const;
  }

  unit(path: string, value: unknown): Vec3 {
    const v = this.vec3(path, value);
    const n = Math.hypot(v[0], v[1], v[2]);
    if (!(n > 1e-9)) this.fail(path, "a non-zero direction vector", value);
    return [v[0] / n, v[1] / n, v[2] / n];
  }

  color(path: string, value: unknown): Vec3 {
    return this.vec3(path, value, { min: 0, max: 1 });
  }

  list(path: string, value: unknown, minLength: number): unknown[] {
    if (!Array.isArray(value) || value.length < minLength) {
      this.fail(path, `a list of at least ${minLength} item${minLength === 1 ? "" : "s"}`, value);
    }
    return value;
  }

  keys<T>(path: string, value: unknown, valueKey: string, read: (p: string, v: unknown) => T) {
    const list = this.list(path, value, 1);
    const out: Keyframe<T>[] = [];
    list.forEach((item, i) => {
      const p = `${path}[${i}]`;
      const d = this.dict(p, item, ["t", valueKey]);
      const t = this.number(`${p}.t`, this.required(d, p, "t", "a time in [0, 1]"), {
        min: 0,
        max: 1,
      });
      const prev = out[i - 1];
      if (prev !== undefined && !(t > prev.t)) {
        this.fail(`${p}.t`, `keyframe times in strictly ascending order (> ${prev.t})`, t);
      }
      const v = read(`${p}.${valueKey}`, this.required(d, p, valueKey, `a ${valueKey}`));
      out.push({ t, value: v });
    });
    return out;
  }
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

const TOP_KEYS = ["name", "motion_prompt", "static_prompt", "background", "primitives"];
const COMMON_KEYS = ["type", "center", "orientation", "color", "texture", "motion"];
const SHAPE_KEYS: Record<Shape["type"], readonly string[]> = {
  sphere: ["radius"],
  box: ["size", "rounding"],
  cylinder: ["radius", "height"],
  torus: ["major_radius", "minor_radius"],
};
const IDENTITY_ORIENTATION: AxisAngle = { axis: [0, 1, 0], angle: 0 };

function readShape(r: Reader, path: string, d: Dict, type: Shape["type"]): Shape {
  const pos = { gt: 0 };
  const need = (key: string, what: string) => r.required(d, path, key, what);
  switch (type) {
    case "sphere":
      return { type, radius: r.number(`${path}.radius`, need("radius", "a radius > 0"), pos) };
    case "box": {
      const size = r.vec3(`${path}.size`, need("size", "full extents [x, y, z] > 0"), pos);
      const rounding = d.rounding === undefined
        ? 0
        : r.number(`${path}.rounding`, d.rounding, { min: 0 });
      const half = Math.min(size[0], size[1], size[2]) / 2;
      if (rounding >= half) {
        r.fail(`${path}.rounding`, `a rounding < half the smallest size`, rounding);
      }
      return { type, size, rounding };
    }
    case "cylinder":
      return {
        type,
        radius: r.number(`${path}.radius`, need("radius", "a radius > 0"), pos),
        height: r.number(`${path}.height`, need("height", "a height > 0"), pos),
      };
    case "torus": {
      const majorRadius = r.number(
        `${path}.major_radius`,
        need("major_radius", "a ring radius > 0"),
        pos,
      );
      const minorRadius = r.number(
        `${path}.minor_radius`,
        need("minor_radius", "a tube radius > 0"),
        pos,
      );
      return { type, majorRadius, minorRadius };
    }
  }
}

function readMaterial(r: Reader, path: string, d: Dict): Material {
  const hasColor = d.color !== undefined;
  const hasTexture = d.texture !== undefined;
  if (hasColor === hasTexture) {
    r.fail(
      `${path}.${hasColor ? "texture" : "color"}`,
      "exactly one of color or texture",
      undefined,
      hasColor ? "got both" : "but neither is given",
    );
  }
  if (hasColor) return { type: "color", color: r.color(`${path}.color`, d.color) };
  const tp = `${path}.texture`;
  const t = r.dict(tp, d.texture, ["type", "colors", "scale", "axis"]);
  const kind = r.required(t, tp, "type", "a texture type (checker or stripes)");
  if (kind !== "checker" && kind !== "stripes") {
    r.fail(`${tp}.type`, "a texture type checker or stripes", kind);
  }
  const colors = r.list(`${tp}.colors`, r.required(t, tp, "colors", "a list of colours"), 2)
    .map((c, i) => r.color(`${tp}.colors[${i}]`, c));
  const scale = r.number(
    `${tp}.scale`,
    r.required(t, tp, "scale", "cells per unit length > 0"),
    { gt: 0 },
  );
  if (kind === "checker") {
    if (t.axis !== undefined) r.fail(`${tp}.axis`, "no axis for a checker texture", t.axis);
    return { type: "checker", colors, scale };
  }
  const axis = r.unit(`${tp}.axis`, r.required(t, tp, "axis", "a direction across the stripes"));
  return { type: "stripes", colors, scale, axis };
}

function readAxisAngle(r: Reader, path: string, value: unknown): AxisAngle {
  const d = r.dict(path, value, ["axis", "angle"]);
  return {
    axis: r.unit(`${path}.axis`, r.required(d, path, "axis", "a rotation axis")),
    angle: r.number(`${path}.angle`, r.required(d, path, "angle", "an angle in degrees")),
  };
}

function perpendicular(a: Vec3, b: Vec3): boolean {
  return Math.abs(a[0] * b[0] + a[1] * b[1] + a[2] * b[2]) < 1e-6;
}

function readMotion(r: Reader, path: string, value: unknown, center: Vec3): Motion {
  const d = r.dict(path, value, ["scale", "wave", "bend", "rotate", "translate"]);
  const motion: {
    scale?: ScaleMotion;
    wave?: WaveMotion;
    bend?: BendMotion;
    rotate?: RotateMotion;
    translate?: readonly Keyframe<Vec3>[];
  } = {};
  if (d.scale !== undefined) {
    const p = `${path}.scale`;
    const s = r.dict(p, d.scale, ["pivot", "keys"]);
    motion.scale = {
      pivot: s.pivot === undefined ? [0, 0, 0] : r.vec3(`${p}.pivot`, s.pivot),
      keys: r.keys(`${p}.keys`, r.required(s, p, "keys", "scale keyframes"), "value", (kp, v) => {
        if (typeof v === "number") {
          const k = r.number(kp, v, { gt: 0 });
          return [k, k, k] as const;
        }
        return r.vec3(kp, v, { gt: 0 });
      }),
    };
  }
  if (d.wave !== undefined) {
    const p = `${path}.wave`;
    const w = r.dict(p, d.wave, [
      "amplitude",
      "wavelength",
      "frequency",
      "phase",
      "direction",
      "along",
      "origin",
      "ramp",
    ]);
    const direction = r.unit(
      `${p}.direction`,
      r.required(w, p, "direction", "a displacement direction"),
    );
    const along = r.unit(`${p}.along`, r.required(w, p, "along", "a propagation direction"));
    // Displacing perpendicular to the propagation axis keeps the warp exactly invertible:
    // the wave coordinate along `along` is unchanged by the displacement.
    if (!perpendicular(direction, along)) {
      r.fail(`${p}.direction`, "a direction perpendicular to wave.along", w.direction);
    }
    motion.wave = {
      amplitude: r.number(`${p}.amplitude`, r.required(w, p, "amplitude", "an amplitude >= 0"), {
        min: 0,
      }),
      wavelength: r.number(
        `${p}.wavelength`,
        r.required(w, p, "wavelength", "a wavelength > 0"),
        { gt: 0 },
      ),
      frequency: w.frequency === undefined ? 1 : r.number(`${p}.frequency`, w.frequency),
      phase: w.phase === undefined ? 0 : r.number(`${p}.phase`, w.phase),
      direction,
      along,
      origin: w.origin === undefined ? center : r.vec3(`${p}.origin`, w.origin),
      ramp: w.ramp === undefined ? 0 : r.number(`${p}.ramp`, w.ramp, { min: 0 }),
    };
  }
  if (d.bend !== undefined) {
    const p = `${path}.bend`;
    const b = r.dict(p, d.bend, ["axis", "along", "pivot", "length", "keys"]);
    const axis = r.unit(`${p}.axis`, r.required(b, p, "axis", "the axis to bend about"));
    const along = r.unit(`${p}.along`, r.required(b, p, "along", "the member direction"));
    if (!perpendicular(axis, along)) {
      r.fail(`${p}.along`, "a direction perpendicular to bend.axis", b.along);
    }
    motion.bend = {
      axis,
      along,
      pivot: b.pivot === undefined ? center : r.vec3(`${p}.pivot`, b.pivot),
      length: r.number(`${p}.length`, r.required(b, p, "length", "a length > 0"), { gt: 0 }),
      // Beyond ±180° the bent member would wrap through its own centre of curvature.
      keys: r.keys(
        `${p}.keys`,
        r.required(b, p, "keys", "bend keyframes"),
        "angle",
        (kp, v) => r.number(kp, v, { min: -180, max: 180 }),
      ),
    };
  }
  if (d.rotate !== undefined) {
    const p = `${path}.rotate`;
    const o = r.dict(p, d.rotate, ["axis", "pivot", "keys"]);
    motion.rotate = {
      axis: r.unit(`${p}.axis`, r.required(o, p, "axis", "a rotation axis")),
      pivot: o.pivot === undefined ? center : r.vec3(`${p}.pivot`, o.pivot),
      keys: r.keys(
        `${p}.keys`,
        r.required(o, p, "keys", "angle keyframes"),
        "angle",
        (kp, v) => r.number(kp, v),
      ),
    };
  }
  if (d.translate !== undefined) {
    motion.translate = r.keys(`${path}.translate`, d.translate, "value", (kp, v) => r.vec3(kp, v));
  }
  return motion;
}

function readPrimitive(r: Reader, path: string, value: unknown): Primitive {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    r.fail(path, "a mapping", value);
  }
  const type = r.required(value as Dict, path, "type", `one of ${PRIMITIVE_TYPES.join(", ")}`);
  if (typeof type !== "string" || !(PRIMITIVE_TYPES as readonly string[]).includes(type)) {
    r.fail(`${path}.type`, `a primitive type, one of ${PRIMITIVE_TYPES.join(", ")}`, type);
  }
  const shapeType = type as Shape["type"];
  const d = r.dict(path, value, [...COMMON_KEYS, ...SHAPE_KEYS[shapeType]]);
  const center = d.center === undefined ? [0, 0, 0] as const : r.vec3(`${path}.center`, d.center);
  return {
    shape: readShape(r, path, d, shapeType),
    center,
    orientation: d.orientation === undefined
      ? IDENTITY_ORIENTATION
      : readAxisAngle(r, `${path}.orientation`, d.orientation),
    material: readMaterial(r, path, d),
    motion: d.motion === undefined ? {} : readMotion(r, `${path}.motion`, d.motion, center),
  };
}

/**
 * Parses and validates a scene description.
 *
 * @param text the YAML text
 * @param options `source`: the file name used in error messages
 * @returns the validated scene with defaults filled in
 * @throws {SceneConfigError} naming the source, the key path and what was expected,
 *   including when some content leaves the box [−1, 1]³ at some time
 *
 * @example
 * ```ts
 * import { parseScene } from "./scene_config.ts";
 * const scene = parseScene(
 *   [
 *     "name: ball",
 *     "motion_prompt: A red ball rises.",
 *     "primitives:",
 *     "  - { type: sphere, radius: 0.3, color: [1, 0, 0],",
 *     "      motion: { translate: [{ t: 0, value: [0, 0, 0] }, { t: 1, value: [0, 0.3, 0] }] } }",
 *   ].join("\n"),
 *   { source: "ball.yaml" },
 * );
 * console.log(scene.primitives.length); // 1
 * ```
 */
export function parseScene(text: string, options: ParseSceneOptions = {}): Scene {
  const file = options.source ?? "<scene>";
  const r = new Reader(file);
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    if (e instanceof YAMLParseError) {
      const at = e.linePos?.[0];
      const where = at ? `line ${at.line}, column ${at.col}` : "";
      throw new SceneConfigError(file, {
        keyPath: where,
        expected: "valid YAML",
        detail: `got ${e.code}: ${e.message}`,
      });
    }
    throw e;
  }
  const d = r.dict("", doc, TOP_KEYS);
  const name = r.string("name", r.required(d, "", "name", "a scene name"));
  const motionPrompt = r.string(
    "motion_prompt",
    r.required(d, "", "motion_prompt", "a sentence describing the motion"),
  );
  const background = d.background === undefined
    ? [1, 1, 1] as const
    : r.color("background", d.background);
  const primitives = r.list(
    "primitives",
    r.required(d, "", "primitives", "a list of primitives"),
    1,
  ).map((p, i) => readPrimitive(r, `primitives[${i}]`, p));
  const scene: Scene = {
    name,
    motionPrompt,
    ...(d.static_prompt === undefined
      ? {}
      : { staticPrompt: r.string("static_prompt", d.static_prompt) }),
    background,
    primitives,
    source: file,
  };
  const problem = findSceneProblem(scene);
  if (problem !== undefined) r.fail(problem.keyPath, problem.expected, undefined, problem.detail);
  return scene;
}

/**
 * Reads and validates a scene file.
 *
 * @param path the YAML file
 * @returns the validated scene, with `source` set to `path`
 * @throws {SceneConfigError} naming `path` when the file cannot be read or is invalid
 *
 * @example
 * ```ts
 * import { loadScene } from "./scene_config.ts";
 * const scene = await loadScene(new URL("../examples/bouncing_ball.yaml", import.meta.url).pathname);
 * console.log(scene.name); // bouncing_ball
 * ```
 */
export async function loadScene(path: string): Promise<Scene> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new SceneConfigError(path, {
      keyPath: "",
      expected: "a readable scene file",
      detail: `got ${why}`,
    });
  }
  return parseScene(text, { source: path });
}
