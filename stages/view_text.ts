/**
 * View-dependent prompts (SPEC.md §3.1, `Animate124 main: dnerf/utils.py:297-331`) and
 * the per-stage prompt decorations (SPEC.md §5.3).
 *
 * The text embeddings of "P, front view", "P, side view" and "P, back view" are mixed
 * linearly by the camera's azimuth offset from the reference view. Clips whose camera
 * moves use the plain prompt P instead (`--no_view_text` acts only then).
 *
 * @module
 */
import { requireFinite, requireOneOf } from "../kernels/validate.ts";
import { wrapAzimuthDeg } from "./clip_cameras.ts";

/** Mixing weights of the three view prompts; they sum to 1 and at most two are nonzero. */
export interface ViewWeights {
  front: number;
  side: number;
  back: number;
}

/**
 * Mixing weights for azimuth offset φ (degrees, wrapped to (−180°, 180°] first):
 * - |φ| < 90°: r = 1 − |φ|/90, front r, side 1 − r;
 * - otherwise: r = 1 − (|φ| − 90)/90, side r, back 1 − r.
 *
 * The original branches on −90 ≤ φ < 90; both branches give pure "side" at |φ| = 90, so
 * the weights are continuous and symmetric in φ.
 *
 * @param phiDeg azimuth offset from the reference view, degrees
 * @returns the weights of the front, side and back prompts
 * @throws {RangeError} when `phiDeg` is not finite
 *
 * @example
 * ```ts
 * import { viewWeights } from "./view_text.ts";
 * console.log(viewWeights(45), viewWeights(-135));
 * // { front: 0.5, side: 0.5, back: 0 } { front: 0, side: 0.5, back: 0.5 }
 * ```
 */
export function viewWeights(phiDeg: number): ViewWeights {
  const a = Math.abs(wrapAzimuthDeg(requireFinite("phiDeg", phiDeg)));
  if (a < 90) {
    const r = 1 - a / 90;
    return { front: r, side: 1 - r, back: 0 };
  }
  const r = 1 - (a - 90) / 90;
  return { front: 0, side: r, back: 1 - r };
}

/** The three view prompts built from one prompt. */
export interface ViewPrompts {
  front: string;
  side: string;
  back: string;
}

/**
 * The view prompts "P, front view", "P, side view" and "P, back view"
 * (`Animate124 main: nerf/utils.py`, `prepare_embeddings`).
 *
 * @param prompt the prompt P
 * @returns the three prompts to encode
 *
 * @example
 * ```ts
 * import { viewPrompts } from "./view_text.ts";
 * console.log(viewPrompts("a panda").back); // a panda, back view
 * ```
 */
export function viewPrompts(prompt: string): ViewPrompts {
  return {
    front: `${prompt}, front view`,
    side: `${prompt}, side view`,
    back: `${prompt}, back view`,
  };
}

/**
 * Mixes three equally long embeddings with {@linkcode viewWeights}:
 * e = w_front·front + w_side·side + w_back·back.
 *
 * @param embeddings the encoded front, side and back prompts
 * @param phiDeg azimuth offset from the reference view, degrees
 * @returns the mixed embedding (a new array)
 * @throws {RangeError} when the lengths differ or `phiDeg` is not finite
 *
 * @example
 * ```ts
 * import { mixViewEmbeddings } from "./view_text.ts";
 * const e = mixViewEmbeddings({
 *   front: new Float32Array([1, 0]),
 *   side: new Float32Array([0, 1]),
 *   back: new Float32Array([0, 0]),
 * }, 30);
 * console.log(Array.from(e, (v) => v.toFixed(3))); // [ "0.667", "0.333" ]
 * ```
 */
export function mixViewEmbeddings(
  embeddings: { front: Float32Array; side: Float32Array; back: Float32Array },
  phiDeg: number,
): Float32Array {
  const { front, side, back } = embeddings;
  if (side.length !== front.length || back.length !== front.length) {
    throw new RangeError(
      `Invalid option embeddings: expected front, side and back of equal length, got ${front.length}, ${side.length} and ${back.length}`,
    );
  }
  const w = viewWeights(phiDeg);
  const out = new Float32Array(front.length);
  for (let i = 0; i < out.length; i++) {
    out[i] = w.front * front[i]! + w.side * side[i]! + w.back * back[i]!;
  }
  return out;
}

/** Which prior a decorated prompt feeds (SPEC.md §5.3). */
export type PromptKind = "static" | "motion" | "controlnet";

const SUFFIX: Record<PromptKind, string> = {
  // Stage 2's text-to-image prompt.
  static: ", 8k, good quality",
  // Stages 3–4's video prompt.
  motion: ", high-resolution, 8k, good quality",
  // Stage 4's ControlNet/SD prompt, P being the one with the learned token.
  controlnet: ", high-resolution, 8k, good quality",
};

/**
 * Decorates a prompt as the stage configs do (SPEC.md §5.3): "P_static, 8k, good
 * quality" for the static stage's image prior, "P_motion, high-resolution, 8k, good
 * quality" for the video prior and "P_cn, high-resolution, 8k, good quality" for the
 * ControlNet stage. The negative prompt is always "".
 *
 * @param prompt the undecorated prompt
 * @param kind which prior it feeds
 * @returns the decorated prompt
 * @throws {RangeError} when `kind` is not one of the three
 *
 * @example
 * ```ts
 * import { stagePrompt } from "./view_text.ts";
 * console.log(stagePrompt("a panda dancing", "motion"));
 * // a panda dancing, high-resolution, 8k, good quality
 * ```
 */
export function stagePrompt(prompt: string, kind: PromptKind): string {
  return prompt + SUFFIX[requireOneOf("kind", kind, ["static", "motion", "controlnet"])];
}
