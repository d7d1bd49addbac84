/**
 * Float64 twin of `sample_reg.wgsl`: the per-sample regularisers of SPEC.md §5.5
 * (Animate124 main: dnerf/utils.py:470-500, dnerf/renderer.py run_cuda), for the samples
 * of one frame.
 *
 * - Entropy: mean over samples of the binary entropy (log2) of the compositing weight w
 *   clamped to [1e-5, 1 − 1e-5]; ∂/∂w = log2((1 − w)/w) inside the clamp, 0 outside
 *   (torch's clamp passes the gradient where min ≤ w ≤ max).
 * - Orientation: mean over samples of sg(w)·max(0, n·d̂)², d̂ the normalised ray
 *   direction, n the sample normal; ∂/∂n = 2·w·max(0, n·d̂)·d̂, nothing reaches w.
 *
 * The original averages over every emitted sample of the clip (one network call for all
 * frames). The renderer works frame by frame, so each frame's terms are divided by
 * F·S_f (F frames in the clip, S_f samples in this frame): the per-frame mean, averaged
 * over frames. That equals the original's mean when every frame has the same sample
 * count, and weights frames with fewer samples more otherwise.
 *
 * @module
 */

/** Clamp of the entropy's weights: w ∈ [1e-5, 1 − 1e-5]. */
export const ENTROPY_CLAMP = 1e-5;

/** The per-sample data of one frame. */
export interface SampleRegInputs {
  /** `[S]` compositing weights w_i (zero after the early stop). */
  weights: ArrayLike<number>;
  /** `[S][3]` sample normals n_i. */
  normals: ArrayLike<number>;
  /** `[S]` ray of each sample (index into `directions`). */
  rayIndex: ArrayLike<number>;
  /** `[R][3]` ray directions, not normalised. */
  directions: ArrayLike<number>;
}

/** Weights and the clip length. */
export interface SampleRegOptions {
  /** λ_e, the entropy weight (SPEC.md: 1e-3·min(1, 2·step/iters)); 0 turns it off. */
  entropy: number;
  /** λ_o, the orientation weight (SPEC.md: 1e-2); 0 turns it off. */
  orientation: number;
  /** Frames F of the clip this frame belongs to (divides the mean). */
  frames: number;
}

/** Result of {@linkcode sampleRegTwin}. */
export interface SampleRegResult {
  /** This frame's share of L_entropy: Σ h(w) / (F·S), unweighted; 0 when off. */
  entropy: number;
  /** This frame's share of L_orient: Σ w·max(0, n·d̂)² / (F·S), unweighted; 0 when off. */
  orientation: number;
  /** `[S]` λ_e·∂L_entropy/∂w. */
  gradWeights: Float64Array;
  /** `[S][3]` λ_o·∂L_orient/∂n. */
  gradNormals: Float64Array;
}

/**
 * Binary entropy in bits of w clamped to [1e-5, 1 − 1e-5].
 *
 * @example
 * ```ts
 * import { binaryEntropy } from "./sample_reg_twin.ts";
 * console.log(binaryEntropy(0.5)); // 1
 * ```
 */
export function binaryEntropy(w: number): number {
  const c = Math.min(Math.max(w, ENTROPY_CLAMP), 1 - ENTROPY_CLAMP);
  return -c * Math.log2(c) - (1 - c) * Math.log2(1 - c);
}

/**
 * The entropy and orientation terms of one frame's samples and their weighted
 * gradients, in float64.
 *
 * @param inputs weights, normals, ray indices and ray directions
 * @param options λ_e, λ_o and the clip's frame count
 * @returns both unweighted loss shares and the weighted gradients
 *
 * @example
 * ```ts
 * import { sampleRegTwin } from "./sample_reg_twin.ts";
 * const r = sampleRegTwin({
 *   weights: [0.5, 0.25], normals: [0, 0, 1, 0, 0, -1], rayIndex: [0, 0], directions: [0, 0, 2],
 * }, { entropy: 1, orientation: 1, frames: 1 });
 * console.log(r.orientation, r.gradNormals[2]); // 0.25 0.5
 * ```
 */
export function sampleRegTwin(
  inputs: SampleRegInputs,
  options: SampleRegOptions,
): SampleRegResult {
  const s = inputs.weights.length;
  const gradWeights = new Float64Array(s);
  const gradNormals = new Float64Array(3 * s);
  const scale = 1 / (options.frames * Math.max(s, 1));
  let entropy = 0;
  let orientation = 0;
  for (let i = 0; i < s; i++) {
    const w = inputs.weights[i]!;
    if (options.entropy !== 0) {
      entropy += binaryEntropy(w) * scale;
      const inside = w >= ENTROPY_CLAMP && w <= 1 - ENTROPY_CLAMP;
      gradWeights[i] = inside ? options.entropy * scale * Math.log2((1 - w) / w) : 0;
    }
    if (options.orientation !== 0) {
      const r = inputs.rayIndex[i]!;
      const d = [0, 1, 2].map((k) => inputs.directions[3 * r + k]!);
      // safe_normalize: divide by √max(‖d‖², 1e-20).
      const len = Math.sqrt(Math.max(d[0]! ** 2 + d[1]! ** 2 + d[2]! ** 2, 1e-20));
      const dh = d.map((v) => v / len);
      let dot = 0;
      for (let k = 0; k < 3; k++) dot += inputs.normals[3 * i + k]! * dh[k]!;
      const o = Math.max(0, dot);
      orientation += w * o * o * scale;
      for (let k = 0; k < 3; k++) {
        gradNormals[3 * i + k] = options.orientation * scale * 2 * w * o * dh[k]!;
      }
    }
  }
  return { entropy, orientation, gradWeights, gradNormals };
}
