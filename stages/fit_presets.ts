/**
 * Size presets of {@linkcode fit}: `tiny` for a CPU adapter (llvmpipe, lavapipe,
 * SwiftShader), `default` for a GPU with the sizes of SPEC.md.
 *
 * @module
 */
import type { Gpu } from "../kernels/gpu.ts";
import type { FieldSettings } from "./field_settings.ts";

/**
 * Names of the presets.
 *
 * @example
 * ```ts
 * import { FIT_PRESETS } from "./fit_presets.ts";
 * console.log(FIT_PRESETS.join(", ")); // tiny, default
 * ```
 */
export const FIT_PRESETS = ["tiny", "default"] as const;
/**
 * A preset name.
 *
 * @example
 * ```ts
 * import { type FitPresetName, presetForAdapter } from "./fit_presets.ts";
 * const preset: FitPresetName = presetForAdapter({ adapterName: "NVIDIA H100 80GB HBM3" });
 * console.log(preset); // default
 * ```
 */
export type FitPresetName = typeof FIT_PRESETS[number];

/**
 * Every tunable of a fit, with the preset supplying the defaults.
 *
 * @example
 * ```ts
 * import { resolveFitSettings } from "./fit.ts";
 * import { FIT_PRESET_SETTINGS, type FitSettings } from "./fit_presets.ts";
 * const s: FitSettings = resolveFitSettings("tiny", { iterations: 10 });
 * // Only the override differs from the preset.
 * console.log(s.iterations, s.keyframes === FIT_PRESET_SETTINGS.tiny.keyframes); // 10 true
 * ```
 */
export interface FitSettings extends FieldSettings {
  /** Optimisation steps. */
  iterations: number;
  /** Side of the square training renders, pixels. */
  resolution: number;
  /** Frames (camera + time) rendered per step. */
  framesPerIteration: number;
  /** Adam learning rate of the grids (SPEC.md §5.3: 1e-2). */
  lrGrid: number;
  /** Adam learning rate of the MLP (1e-3). */
  lrMlp: number;
  /**
   * Learning-rate factor reached at the last step, decayed exponentially from 1 (1: the
   * constant rate of SPEC.md §5.3). Short CPU runs converge further with a decay.
   */
  lrFinalScale: number;
  /** Weight λ of the time TV (SPEC.md §2.2: 0.1). */
  timeTvWeight: number;
  /** Fresh uniform points per time-TV evaluation (SPEC.md: 100,000). */
  timeTvPoints: number;
  /** Weight of the alpha-vs-ground-truth term of the image loss. */
  alphaWeight: number;
  /**
   * Training views per time the visual-hull occupancy prior is carved from (0: no prior,
   * the original's blob-only start). See `mask_hull.ts`.
   */
  hullViews: number;
  /** σ the hull cells start with in the occupancy EMA grid (decays 0.95 per update). */
  hullDensity: number;
  /**
   * Training views rendered once at the start and sampled from (0: a fresh pose, time and
   * ground truth every step). On a GPU the CPU ground truth of 128² frames costs more than
   * the step, so the default preset draws from a pool.
   */
  trainingPool: number;
  /**
   * Anti-aliasing of the held-out ground truth and of the field's held-out renders: k×k
   * sub-rays per pixel, box-filtered.
   */
  gtSubsamples: number;
  /**
   * Sub-rays per pixel side of the training targets. 1 (pixel-centre rays) matches the
   * field's own one-ray-per-pixel training renders, so the field learns the scene itself
   * rather than a pre-blurred copy that the held-out supersampling would blur again.
   */
  trainSubsamples: number;
  /** Loss read-back interval: losses sit in a GPU ring buffer of this many steps. */
  logEvery: number;
  /** Checkpoint interval in steps (0: only at the end). */
  checkpointEvery: number;
  /** Held-out azimuths (θ = 90°). */
  evalViews: number;
  /** Held-out times per azimuth. */
  evalTimes: number;
  /** Side of the held-out renders (0: same as `resolution`). */
  evalResolution: number;
  /** Side of the exported turntable frames. */
  exportSize: number;
  /** Times per turntable view (SPEC.md §7: 64). */
  exportTimes: number;
  /** Turntable azimuths (SPEC.md §7: 10). */
  exportViews: number;
  /** Seed of the initialisation and of the random stream. */
  seed: number;
}

/**
 * The presets. `tiny` is sized for about five minutes per scene on a 2-core CPU with
 * Mesa's llvmpipe: 32² renders, a 6-level grid of 24 keyframes, a 16-wide MLP, a 32³×4
 * occupancy grid, a 2√3/256 marching step (the flag's cloth is 0.02 thick, less than
 * 2√3/128 ≈ 0.027, so coarser steps skip it) and, because it has a few hundred steps rather
 * than thousands, 5× the SPEC.md learning rates (grid 5e-2, MLP 1e-2) and a strong alpha
 * term. On llvmpipe the MLP backward (∝ inputs × hidden) and the time-TV scatter
 * (∝ points × keyframes) dominate a step, hence the narrow MLP and the 256 TV points.
 * `default` follows SPEC.md (64 keyframes, 16-level tiled grid, 32→64→4 MLP, 128²
 * renders, 128³×16 occupancy, 2√3/1024, lr 1e-2/1e-3, 100k TV points).
 *
 * @example
 * ```ts
 * import { FIT_PRESET_SETTINGS } from "./fit_presets.ts";
 * console.log(FIT_PRESET_SETTINGS.default.keyframes); // 64
 * ```
 */
export const FIT_PRESET_SETTINGS: Readonly<Record<FitPresetName, Readonly<FitSettings>>> = Object
  .freeze({
    tiny: Object.freeze({
      iterations: 800,
      resolution: 32,
      framesPerIteration: 1,
      levels: 6,
      log2TableSize: 14,
      baseResolution: 16,
      finestResolution: 128,
      keyframes: 24,
      mlpHidden: 16,
      occupancyRes: 32,
      occupancySlices: 4,
      occupancyInterval: 16,
      dt: (2 * Math.sqrt(3)) / 256,
      lrGrid: 5e-2,
      lrMlp: 1e-2,
      lrFinalScale: 1,
      timeTvWeight: 0.1,
      timeTvPoints: 256,
      alphaWeight: 1,
      hullViews: 24,
      hullDensity: 1000,
      trainingPool: 0,
      gtSubsamples: 2,
      trainSubsamples: 1,
      logEvery: 10,
      checkpointEvery: 100,
      evalViews: 5,
      evalTimes: 8,
      evalResolution: 0,
      exportSize: 32,
      exportTimes: 16,
      exportViews: 10,
      seed: 0,
    }),
    default: Object.freeze({
      iterations: 10000,
      resolution: 128,
      framesPerIteration: 4,
      levels: 16,
      log2TableSize: 16,
      baseResolution: 16,
      finestResolution: 2048,
      keyframes: 64,
      mlpHidden: 64,
      occupancyRes: 128,
      occupancySlices: 16,
      occupancyInterval: 16,
      dt: (2 * Math.sqrt(3)) / 1024,
      lrGrid: 1e-2,
      lrMlp: 1e-3,
      lrFinalScale: 1,
      timeTvWeight: 0.1,
      timeTvPoints: 100_000,
      alphaWeight: 0.1,
      hullViews: 24,
      hullDensity: 1000,
      trainingPool: 512,
      gtSubsamples: 1,
      trainSubsamples: 1,
      logEvery: 50,
      checkpointEvery: 1000,
      evalViews: 10,
      evalTimes: 16,
      evalResolution: 0,
      exportSize: 400,
      exportTimes: 64,
      exportViews: 10,
      seed: 0,
    }),
  });

const CPU_ADAPTERS = /llvmpipe|lavapipe|swiftshader/i;

/**
 * Picks `tiny` for a software adapter (llvmpipe, lavapipe, SwiftShader, or one the
 * adapter info calls a fallback adapter), `default` otherwise.
 *
 * @param gpu the device the fit will run on
 * @param options `isFallbackAdapter` from the adapter info, when the caller has it
 * @returns the preset name
 *
 * @example
 * ```ts
 * import { presetForAdapter } from "./fit_presets.ts";
 * console.log(presetForAdapter({ adapterName: "llvmpipe (LLVM 15.0.6, 256 bits)" })); // tiny
 * ```
 */
export function presetForAdapter(
  gpu: Pick<Gpu, "adapterName">,
  options: { isFallbackAdapter?: boolean } = {},
): FitPresetName {
  if (options.isFallbackAdapter === true) return "tiny";
  return CPU_ADAPTERS.test(gpu.adapterName) ? "tiny" : "default";
}
