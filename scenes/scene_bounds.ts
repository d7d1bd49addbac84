/**
 * Checks that a scene stays where the radiance field can represent it: every primitive
 * inside the box [−1, 1]³ at every time (the field is zero outside it, SPEC.md §2.1), and
 * no bend so tight that its centre of curvature falls inside the primitive.
 *
 * @module
 */
import type { Scene } from "./scene_config.ts";
import { posePrimitive, warpToWorld } from "./motion_warp.ts";
import { shapeSamples } from "./primitive_sdf.ts";

/** What is wrong with a scene's motion, for `SceneConfigError`. */
export interface SceneProblem {
  /** Key path of the offending primitive or field. */
  readonly keyPath: string;
  /** What was expected. */
  readonly expected: string;
  /** What was found. */
  readonly detail: string;
}

/** Times at which motion is checked: 129 uniform steps plus every keyframe time. */
function checkTimes(scene: Scene): number[] {
  const times = new Set<number>();
  for (let i = 0; i <= 128; i++) times.add(i / 128);
  for (const p of scene.primitives) {
    const m = p.motion;
    for (const keys of [m.scale?.keys, m.bend?.keys, m.rotate?.keys, m.translate]) {
      for (const k of keys ?? []) times.add(k.t);
    }
  }
  return [...times].sort((a, b) => a - b);
}

// Past this, the bend's step bound (1 − |k|V) shrinks sphere-tracing steps towards zero
// and the bent member nearly folds onto its centre of curvature.
const MAX_BEND_FOLD = 0.9;
const MAX_BEND_TURN = 0.95 * Math.PI;

/**
 * Returns the first problem with `scene`'s motion, or `undefined`: content that leaves
 * [−1, 1]³ (checked on interior samples of every primitive at 129+ times), or a bend
 * whose curvature radius is not clearly larger than the primitive's offset across it or
 * that curls the primitive past a half turn.
 *
 * @example
 * ```ts
 * import { parseScene } from "./scene_config.ts";
 * import { findSceneProblem } from "./scene_bounds.ts";
 * const scene = parseScene(
 *   "name: a\nmotion_prompt: A ball.\nprimitives: [{ type: sphere, radius: 0.2, color: [1, 0, 0] }]",
 * );
 * console.log(findSceneProblem(scene)); // undefined
 * ```
 */
export function findSceneProblem(scene: Scene): SceneProblem | undefined {
  const times = checkTimes(scene);
  const p = new Float64Array(3);
  for (let i = 0; i < scene.primitives.length; i++) {
    const prim = scene.primitives[i]!;
    const samples = shapeSamples(prim.shape);
    for (const t of times) {
      const posed = posePrimitive(prim, { time: t });
      const b = posed.bend;
      if (b && Math.abs(b.k) * b.extent >= MAX_BEND_FOLD) {
        return {
          keyPath: `primitives[${i}].motion.bend.keys`,
          expected: `a bend whose radius of curvature exceeds the primitive's offset across ` +
            `it (|angle|/length · offset < ${MAX_BEND_FOLD})`,
          detail: `got radius ${(1 / Math.abs(b.k)).toFixed(3)} for an offset of ${
            b.extent.toFixed(3)
          } at t = ${t.toFixed(3)}`,
        };
      }
      // The inverse bend recovers the arc angle with atan2, which is only one-to-one
      // below a half turn.
      if (b && Math.abs(b.k) * b.span >= MAX_BEND_TURN) {
        return {
          keyPath: `primitives[${i}].motion.bend.keys`,
          expected: `a bend of less than a half turn over the primitive ` +
            `(|angle|/length · reach along it < ${MAX_BEND_TURN.toFixed(2)} rad)`,
          detail: `got ${(Math.abs(b.k) * b.span).toFixed(3)} rad at t = ${t.toFixed(3)}`,
        };
      }
      for (let s = 0; s < samples.distances.length; s++) {
        if (samples.distances[s]! > 0) continue;
        p[0] = samples.points[3 * s]!;
        p[1] = samples.points[3 * s + 1]!;
        p[2] = samples.points[3 * s + 2]!;
        warpToWorld(posed, p);
        if (Math.abs(p[0]!) > 1 || Math.abs(p[1]!) > 1 || Math.abs(p[2]!) > 1) {
          return {
            keyPath: `primitives[${i}]`,
            expected: "content inside the box [-1, 1]^3 at every time",
            detail: `but it reaches [${[...p].map((v) => v.toFixed(3)).join(", ")}] at t = ${
              t.toFixed(3)
            }`,
          };
        }
      }
    }
  }
  return undefined;
}
