/**
 * Every option of an Animate124 run (SPEC.md §5): the field, the three stages, the
 * priors, scoring and export, with two presets and a validator that names the key path
 * of anything it refuses, so a YAML config gets errors like
 * `run.yaml: static.iterations: expected an integer ≥ 0, got -1`.
 *
 * @module
 */
import type { Gpu } from "../kernels/gpu.ts";
import type { FieldSettings } from "./field_settings.ts";
import { presetForAdapter } from "./fit_presets.ts";

export type { FieldSettings } from "./field_settings.ts";

/**
 * The stages, in order.
 *
 * @example
 * ```ts
 * import { STAGE_NAMES } from "./animate_settings.ts";
 * console.log(STAGE_NAMES.join(" → ")); // static → dynamic → refine
 * ```
 */
export const STAGE_NAMES = ["static", "dynamic", "refine"] as const;
/**
 * A stage name.
 *
 * @example
 * ```ts
 * import { ANIMATE_PRESET_SETTINGS, type StageName } from "./animate_settings.ts";
 * import { stageStart } from "./run_state.ts";
 * const stage: StageName = "dynamic";
 * const tiny = ANIMATE_PRESET_SETTINGS.tiny;
 * // The dynamic stage starts where the static one ends.
 * console.log(stageStart(tiny, stage) === tiny.static.iterations); // true
 * ```
 */
export type StageName = typeof STAGE_NAMES[number];

/**
 * Names of the presets.
 *
 * @example
 * ```ts
 * import { ANIMATE_PRESETS } from "./animate_settings.ts";
 * console.log(ANIMATE_PRESETS.join(", ")); // tiny, default
 * ```
 */
export const ANIMATE_PRESETS = ["tiny", "default"] as const;
/**
 * A preset name.
 *
 * @example
 * ```ts
 * import { animatePresetForAdapter, type AnimatePresetName } from "./animate_settings.ts";
 * const preset: AnimatePresetName = animatePresetForAdapter({
 *   adapterName: "llvmpipe (LLVM 15.0.6, 256 bits)",
 * });
 * console.log(preset); // tiny
 * ```
 */
export type AnimatePresetName = typeof ANIMATE_PRESETS[number];

/**
 * Score-distillation settings of one prior (SPEC.md §4 table).
 *
 * @example
 * ```ts
 * import { type PriorSettings, resolveAnimateSettings } from "./animate_settings.ts";
 * const s = resolveAnimateSettings("default", { priors: { video: { tRange: [0.1, 0.9] } } });
 * const video: PriorSettings = s.priors.video;
 * console.log(video.tRange); // [ 0.1, 0.9 ]
 * ```
 */
export interface PriorSettings {
  /**
   * The model folder of this role under `models.dir` (`sd`, `zero123`, `modelscope`,
   * `controlnet`; docs/models.md); unused with oracle priors.
   */
  model: string;
  /**
   * Side of the model's image input the renders are resized to; 0 keeps the model's own
   * (512² SD, 256² Zero123 and ModelScope, 1024² ControlNet-tile). Unused by the oracles.
   */
  inputSize: number;
  /** λ. For the view prior it is further scaled by angle/180° (SPEC.md §4). */
  weight: number;
  /** Classifier-free guidance scale s. */
  guidance: number;
  /** Timestep range [a, b] as fractions of 1000. */
  tRange: [number, number];
}

/**
 * The roles a prior plays (SPEC.md §4): `image` is Stable Diffusion's, `view` Zero-1-to-3's,
 * `video` ModelScope's and `frame` ControlNet-tile's.
 *
 * @example
 * ```ts
 * import { PRIOR_ROLES } from "./animate_settings.ts";
 * console.log(PRIOR_ROLES); // [ "image", "view", "video", "frame" ]
 * ```
 */
export const PRIOR_ROLES = ["image", "view", "video", "frame"] as const;

/**
 * One of {@linkcode PRIOR_ROLES}.
 *
 * @example
 * ```ts
 * import { type PriorRole, resolveAnimateSettings } from "./animate_settings.ts";
 * const roles: PriorRole[] = resolveAnimateSettings("tiny").dynamic.priors;
 * console.log(roles); // [ "video", "view" ]
 * ```
 */
export type PriorRole = typeof PRIOR_ROLES[number];

/**
 * The priors each stage may call (SPEC.md §5.3); a stage's `priors` list is a subset.
 *
 * @example
 * ```ts
 * import { STAGE_PRIOR_ROLES } from "./animate_settings.ts";
 * console.log(STAGE_PRIOR_ROLES.refine); // [ "video", "view", "frame" ]
 * ```
 */
export const STAGE_PRIOR_ROLES: Readonly<Record<StageName, readonly PriorRole[]>> = {
  static: ["image", "view"],
  dynamic: ["video", "view"],
  refine: ["video", "view", "frame"],
};

/**
 * Where the real diffusion priors come from (docs/models.md).
 *
 * @example
 * ```ts
 * import { type ModelSettings, resolveAnimateSettings } from "./animate_settings.ts";
 * const models: ModelSettings = resolveAnimateSettings("tiny").models;
 * console.log(models.dir); // null
 * ```
 */
export interface ModelSettings {
  /**
   * Folder holding one model folder per role (`priors.<role>.model`); null runs the oracle
   * priors of a synthetic scene instead.
   */
  dir: string | null;
  /**
   * Learned textual-inversion embedding (`learned_embeds.bin` or `.safetensors`) spliced
   * into the refinement prior's prompt for the token it names (SPEC.md §10.3).
   */
  textualInversion: string | null;
}

/**
 * The four priors.
 *
 * @example
 * ```ts
 * import { type PriorsSettings, resolveAnimateSettings } from "./animate_settings.ts";
 * const priors: PriorsSettings = resolveAnimateSettings("tiny").priors;
 * console.log(Object.keys(priors)); // [ "image", "view", "video", "frame" ]
 * ```
 */
export interface PriorsSettings {
  /** Text-to-image (Stable Diffusion), stage 1. */
  image: PriorSettings;
  /** View-conditioned (Zero-1-to-3), all stages. */
  view: PriorSettings;
  /** Text-to-video (ModelScope), stages 2–3. */
  video: PriorSettings;
  /** Per-frame refinement (ControlNet-tile), stage 3, x̂₀ target. */
  frame: PriorSettings;
}

/**
 * Settings of one stage (SPEC.md §5.3).
 *
 * @example
 * ```ts
 * import { resolveAnimateSettings, type StageSettings } from "./animate_settings.ts";
 * const s = resolveAnimateSettings("tiny", { refine: { iterations: 0, checkpointEvery: 0 } });
 * const refine: StageSettings = s.refine;
 * console.log(refine.iterations, refine.checkpointEvery); // 0 0
 * ```
 */
export interface StageSettings {
  /**
   * The priors this stage's SDS steps call (a subset of {@linkcode STAGE_PRIOR_ROLES});
   * each prior's weight, guidance and timestep range are in `priors`.
   */
  priors: PriorRole[];
  /** Steps of the stage. */
  iterations: number;
  /** Adam learning rate of the hash grid. */
  lrGrid: number;
  /** Adam learning rate of the MLP. */
  lrMlp: number;
  /** Gradient clip by value (0: none). */
  gradClip: number;
  /** Every step whose cumulative count is below this is a reference step (static: 100). */
  referenceWarmup: number;
  /** Reference steps at cumulative step % this == 0 (SPEC.md: 4). */
  referenceEvery: number;
  /** λ_rgb of the reference step (5). */
  rgbWeight: number;
  /** λ_mask of the reference step (0.5). */
  maskWeight: number;
  /** Weight of the time total variation (stages 2–3: 0.1). */
  timeTvWeight: number;
  /** Peak entropy weight (1e-3), ramped by min(1, 2·step/iterations) on the cumulative step. */
  entropyWeight: number;
  /** Orientation weight (1e-2); needs `normals`. */
  orientationWeight: number;
  /** Normal-image TV weight (0.5); needs `normals`. */
  normalTvWeight: number;
  /** Normal-image blur weight (0.5); needs `normals`. */
  normalBlurWeight: number;
  /**
   * Coarse-to-fine mask (SPEC.md §2.3): while the cumulative step is ≤ this, the finer
   * half of the levels is off (static stage: 3000; 0 turns it off).
   */
  levelMaskSteps: number;
  /**
   * Dilate the occupancy bits by one cell after each update, so motion can carry the object
   * into cells the static stage left empty (a deviation; see `docs/animate.md`).
   */
  occupancyDilate: boolean;
  /** Checkpoint interval in steps (0: only at the end of the stage). */
  checkpointEvery: number;
}

/**
 * Everything a run needs.
 *
 * @example
 * ```ts
 * import { type AnimateSettings, resolveAnimateSettings } from "./animate_settings.ts";
 * import { stageEnd } from "./run_state.ts";
 * const s: AnimateSettings = resolveAnimateSettings("default", { seed: 7 });
 * const total = s.static.iterations + s.dynamic.iterations + s.refine.iterations;
 * console.log(s.seed, stageEnd(s, "refine") === total); // 7 true
 * ```
 */
export interface AnimateSettings {
  /** Seed of the run's random stream and of the field's initialisation. */
  seed: number;
  /** Side of the SDS training renders (SPEC.md: 128). */
  resolution: number;
  /** Reference renders are `resolution · referenceScale` (SPEC.md: 1.5). */
  referenceScale: number;
  /** Frames of a dynamic clip (SPEC.md: 16). */
  frames: number;
  /** Temporal sampling precision P (SPEC.md §6: 256). */
  clipPrecision: number;
  /** Probability that a clip starts at t = 0 (SPEC.md §6: 0.2). */
  zeroRate: number;
  /** Probability of a moving camera (SPEC.md §3.1: 0.9). */
  dynamicCamRate: number;
  /**
   * Finite-difference normals and the SPEC.md §5.3 shading schedule on SDS steps. Off,
   * SDS renders use albedo and the normal regularisers are skipped: 7× less field work.
   */
  normals: boolean;
  /** Time-TV points per step (SPEC.md: 100,000). */
  timeTvPoints: number;
  /**
   * σ the reference silhouette's cone starts with in the static occupancy EMA grid (0:
   * the original's blob-only start). See `silhouette_cone.ts`.
   */
  occupancySeed: number;
  /** Ground-truth anti-aliasing (oracle targets and scoring): k×k sub-rays. */
  gtSubsamples: number;
  /** Loss read-back interval in steps. */
  logEvery: number;
  /** Preview renders (reference view and a moving view) every this many steps (0: none). */
  previewEvery: number;
  /** Side of the preview renders. */
  previewSize: number;
  /** Shape of the field. */
  field: FieldSettings;
  /** Real diffusion priors; with `dir` null the scene's oracle priors. */
  models: ModelSettings;
  /**
   * Model folders, weights, guidance and timestep ranges of the four priors. With
   * `models.dir` set, the defaults are SPEC.md's for every preset.
   */
  priors: PriorsSettings;
  /** The static stage. */
  static: StageSettings;
  /** The dynamic stage. */
  dynamic: StageSettings;
  /** The refinement stage. */
  refine: StageSettings;
  /** Held-out scoring. */
  eval: { views: number; times: number; resolution: number };
  /** Turntable export (SPEC.md §7: 10 views × 64 times at 400²). */
  export: { size: number; times: number; views: number };
}

const SDS_STAGE: Omit<StageSettings, "iterations" | "priors"> = {
  lrGrid: 1e-2,
  lrMlp: 1e-3,
  gradClip: 0,
  referenceWarmup: 100,
  referenceEvery: 4,
  rgbWeight: 5,
  maskWeight: 0.5,
  timeTvWeight: 0,
  entropyWeight: 1e-3,
  orientationWeight: 1e-2,
  normalTvWeight: 0.5,
  normalBlurWeight: 0.5,
  levelMaskSteps: 0,
  occupancyDilate: false,
  checkpointEvery: 1000,
};

const DEFAULT_PRIORS: PriorsSettings = {
  image: { model: "sd", inputSize: 0, weight: 1, guidance: 100, tRange: [0.2, 0.6] },
  view: { model: "zero123", inputSize: 0, weight: 40, guidance: 5, tRange: [0.2, 0.6] },
  video: { model: "modelscope", inputSize: 0, weight: 1, guidance: 100, tRange: [0.02, 0.98] },
  frame: { model: "controlnet", inputSize: 0, weight: 1, guidance: 7.5, tRange: [0.2, 0.8] },
};

const DEFAULT: AnimateSettings = {
  seed: 0,
  resolution: 128,
  referenceScale: 1.5,
  frames: 16,
  clipPrecision: 256,
  zeroRate: 0.2,
  dynamicCamRate: 0.9,
  normals: true,
  timeTvPoints: 100_000,
  occupancySeed: 50,
  gtSubsamples: 1,
  logEvery: 50,
  previewEvery: 500,
  previewSize: 128,
  field: {
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
  },
  models: { dir: null, textualInversion: null },
  priors: DEFAULT_PRIORS,
  static: {
    ...SDS_STAGE,
    priors: [...STAGE_PRIOR_ROLES.static],
    iterations: 5000,
    levelMaskSteps: 3000,
  },
  dynamic: {
    ...SDS_STAGE,
    priors: [...STAGE_PRIOR_ROLES.dynamic],
    iterations: 10000,
    referenceWarmup: 0,
    gradClip: 1,
    timeTvWeight: 0.1,
  },
  refine: {
    ...SDS_STAGE,
    priors: [...STAGE_PRIOR_ROLES.refine],
    iterations: 5000,
    referenceWarmup: 0,
    gradClip: 1,
    timeTvWeight: 0.1,
  },
  eval: { views: 10, times: 16, resolution: 128 },
  export: { size: 400, times: 64, views: 10 },
};

/**
 * `tiny` fits the whole method into a few CPU minutes: 24² renders, 4-frame clips (P = 64
 * keeps the stride range of SPEC.md §6), a 6-level 24-keyframe field (the ball's squash needs
 * more than 16) marched at 2√3/128, albedo-only SDS renders, 300 + 450 + 60 steps and 5× the
 * learning rates.
 * Its prior weights are calibrated for the pixel-space oracles: SPEC.md's λ and CFG
 * scales are set for latent-space diffusion models, and in pixel space they make SDS
 * outweigh the reference loss by four orders of magnitude and over-saturate through CFG
 * 100, so `tiny` uses λ 0.01 (view prior 1, still × angle/180°) and CFG 3.
 */
const TINY: AnimateSettings = {
  ...DEFAULT,
  resolution: 24,
  frames: 4,
  clipPrecision: 64,
  normals: false,
  timeTvPoints: 256,
  occupancySeed: 20,
  gtSubsamples: 2,
  logEvery: 10,
  previewEvery: 20,
  previewSize: 48,
  field: {
    levels: 6,
    log2TableSize: 14,
    baseResolution: 16,
    finestResolution: 128,
    keyframes: 24,
    mlpHidden: 16,
    occupancyRes: 32,
    occupancySlices: 4,
    occupancyInterval: 16,
    dt: (2 * Math.sqrt(3)) / 128,
  },
  priors: {
    image: { ...DEFAULT_PRIORS.image, weight: 0.01, guidance: 3 },
    view: { ...DEFAULT_PRIORS.view, weight: 1, guidance: 3 },
    video: { ...DEFAULT_PRIORS.video, weight: 0.01, guidance: 3 },
    frame: { ...DEFAULT_PRIORS.frame, weight: 0.01, guidance: 3 },
  },
  static: {
    ...DEFAULT.static,
    iterations: 300,
    referenceWarmup: 20,
    levelMaskSteps: 180,
    lrGrid: 5e-2,
    lrMlp: 1e-2,
    checkpointEvery: 50,
  },
  dynamic: {
    ...DEFAULT.dynamic,
    iterations: 450,
    lrGrid: 5e-2,
    lrMlp: 1e-2,
    checkpointEvery: 100,
  },
  refine: {
    ...DEFAULT.refine,
    iterations: 60,
    lrGrid: 5e-2,
    lrMlp: 1e-2,
    checkpointEvery: 30,
  },
  eval: { views: 5, times: 8, resolution: 32 },
  export: { size: 32, times: 8, views: 10 },
};

/**
 * The presets.
 *
 * @example
 * ```ts
 * import { ANIMATE_PRESET_SETTINGS } from "./animate_settings.ts";
 * const { tiny, default: full } = ANIMATE_PRESET_SETTINGS;
 * console.log(Object.keys(ANIMATE_PRESET_SETTINGS)); // [ "tiny", "default" ]
 * console.log(tiny.resolution < full.resolution); // true
 * ```
 */
export const ANIMATE_PRESET_SETTINGS: Readonly<Record<AnimatePresetName, AnimateSettings>> = {
  tiny: TINY,
  default: DEFAULT,
};

/** `tiny` on a software adapter, `default` otherwise (see `presetForAdapter`). */
export function animatePresetForAdapter(gpu: Pick<Gpu, "adapterName">): AnimatePresetName {
  return presetForAdapter(gpu);
}

/**
 * An error in a run's options: `where` is the file or "option", `path` the key path.
 *
 * @example
 * ```ts
 * import { resolveAnimateSettings, SettingsError } from "./animate_settings.ts";
 * try {
 *   resolveAnimateSettings("tiny", { frames: 1 }, { where: "run.yaml" });
 * } catch (e) {
 *   console.log(e instanceof SettingsError && e.message.startsWith("run.yaml: frames:")); // true
 * }
 * ```
 */
export class SettingsError extends Error {
  /**
   * Builds the message `where: path: expected E, got G`.
   *
   * @param where the file or "option"
   * @param path the key path, e.g. `static.iterations`
   * @param expected what was expected
   * @param got the value given
   */
  constructor(where: string, path: string, expected: string, got: unknown) {
    super(`${where}: ${path}: expected ${expected}, got ${describe(got)}`);
    this.name = "SettingsError";
  }
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(describe).join(", ")}]`;
  if (value !== null && typeof value === "object") return "an object";
  return String(value);
}

type Plain = Record<string, unknown>;

/** Keys whose value is a path or null. */
const NULLABLE = new Set(["dir", "textualInversion"]);

function isPlain(value: unknown): value is Plain {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Recursively overlays `over` on a copy of `base`, checking keys and value types. */
function overlay(base: Plain, over: unknown, path: string, where: string): Plain {
  if (!isPlain(over)) throw new SettingsError(where, path || "(root)", "a mapping", over);
  const out: Plain = structuredClone(base);
  for (const [key, value] of Object.entries(over)) {
    const keyPath = path === "" ? key : `${path}.${key}`;
    if (!(key in base)) {
      throw new SettingsError(
        where,
        keyPath,
        `one of the known keys (${Object.keys(base).join(", ")})`,
        key,
      );
    }
    const current = base[key];
    if (value === undefined) continue;
    if (isPlain(current)) {
      out[key] = overlay(current, value, keyPath, where);
    } else if (Array.isArray(current) && current.every((v) => typeof v === "string")) {
      if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
        throw new SettingsError(where, keyPath, "a list of names", value);
      }
      out[key] = [...value];
    } else if (typeof current === "string" || current === null) {
      // Nullable strings (paths) take null; plain strings (names) must stay non-empty.
      const ok = typeof value === "string"
        ? value.length > 0
        : value === null && (current === null || NULLABLE.has(key));
      if (!ok) {
        throw new SettingsError(
          where,
          keyPath,
          NULLABLE.has(key) ? "a non-empty string or null" : "a non-empty string",
          value,
        );
      }
      out[key] = value;
    } else if (Array.isArray(current)) {
      if (
        !Array.isArray(value) || value.length !== current.length ||
        !value.every((v) => typeof v === "number" && Number.isFinite(v))
      ) {
        throw new SettingsError(where, keyPath, `a list of ${current.length} numbers`, value);
      }
      out[key] = [...value];
    } else if (typeof current === "number") {
      if (typeof value !== "number" || !Number.isFinite(value)) {
        throw new SettingsError(where, keyPath, "a finite number", value);
      }
      out[key] = value;
    } else if (typeof current === "boolean") {
      if (typeof value !== "boolean") {
        throw new SettingsError(where, keyPath, "true or false", value);
      }
      out[key] = value;
    }
  }
  return out;
}

/**
 * A nested partial of `T`: what a config file or a caller overrides.
 *
 * @example
 * ```ts
 * import {
 *   type DeepPartial,
 *   type FieldSettings,
 *   resolveAnimateSettings,
 * } from "./animate_settings.ts";
 * const field: DeepPartial<FieldSettings> = { levels: 4, log2TableSize: 10 };
 * console.log(resolveAnimateSettings("tiny", { field }).field.levels); // 4
 * ```
 */
export type DeepPartial<T> = {
  [K in keyof T]?: T[K] extends readonly unknown[] ? T[K]
    : T[K] extends object ? DeepPartial<T[K]>
    : T[K];
};

/**
 * Overrides of {@linkcode AnimateSettings}.
 *
 * @example
 * ```ts
 * import { parse } from "yaml";
 * import { type AnimateOverrides, resolveAnimateSettings } from "./animate_settings.ts";
 * const overrides = parse("seed: 3\nstatic:\n  iterations: 50\n") as AnimateOverrides;
 * const s = resolveAnimateSettings("tiny", overrides, { where: "run.yaml" });
 * console.log(s.seed, s.static.iterations); // 3 50
 * ```
 */
export type AnimateOverrides = DeepPartial<AnimateSettings>;

/**
 * Resolves a preset plus overrides into validated settings.
 *
 * @param preset `tiny` or `default`
 * @param overrides a nested partial, e.g. parsed from a YAML config
 * @param options `where`: the file name (or "option") that errors should name
 * @returns the settings
 *
 * @example
 * ```ts
 * import { resolveAnimateSettings } from "./animate_settings.ts";
 * const s = resolveAnimateSettings("tiny", { static: { iterations: 5 } });
 * console.log(s.static.iterations, s.dynamic.gradClip); // 5 1
 * try {
 *   resolveAnimateSettings("tiny", { static: { iters: 5 } }, { where: "run.yaml" });
 * } catch (e) {
 *   console.log((e as Error).message.startsWith("run.yaml: static.iters: expected one of")); // true
 * }
 * ```
 */
export function resolveAnimateSettings(
  preset: AnimatePresetName,
  overrides: AnimateOverrides | Record<string, unknown> = {},
  options: { where?: string } = {},
): AnimateSettings {
  const where = options.where ?? "option";
  if (!(ANIMATE_PRESETS as readonly string[]).includes(preset)) {
    throw new SettingsError(where, "preset", `one of ${ANIMATE_PRESETS.join(", ")}`, preset);
  }
  const base = ANIMATE_PRESET_SETTINGS[preset];
  // The presets' prior weights are calibrated for the pixel-space oracles; real latent
  // diffusion models take SPEC.md's.
  const models = isPlain(overrides) && isPlain(overrides.models) ? overrides.models : {};
  const real = typeof models.dir === "string";
  const s = overlay(
    (real ? { ...base, priors: DEFAULT_PRIORS } : base) as unknown as Plain,
    overrides ?? {},
    "",
    where,
  ) as unknown as AnimateSettings;
  const int = (path: string, v: number, min: number, max = Number.MAX_SAFE_INTEGER) => {
    if (!Number.isInteger(v) || v < min || v > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `in [${min}, ${max}]`;
      throw new SettingsError(where, path, `an integer ${range}`, v);
    }
  };
  const num = (path: string, v: number, min: number, max = Infinity) => {
    if (!(v >= min && v <= max)) {
      throw new SettingsError(where, path, `a number in [${min}, ${max}]`, v);
    }
  };
  int("seed", s.seed, 0, 2 ** 32 - 1);
  int("resolution", s.resolution, 4, 2048);
  num("referenceScale", s.referenceScale, 0.25, 4);
  int("frames", s.frames, 2, 64);
  int("clipPrecision", s.clipPrecision, s.frames);
  num("zeroRate", s.zeroRate, 0, 1);
  num("dynamicCamRate", s.dynamicCamRate, 0, 1);
  int("timeTvPoints", s.timeTvPoints, 1);
  num("occupancySeed", s.occupancySeed, 0);
  int("gtSubsamples", s.gtSubsamples, 1, 8);
  int("logEvery", s.logEvery, 1);
  int("previewEvery", s.previewEvery, 0);
  int("previewSize", s.previewSize, 4, 1024);
  const f = s.field;
  int("field.levels", f.levels, 1, 32);
  int("field.log2TableSize", f.log2TableSize, 4, 24);
  int("field.baseResolution", f.baseResolution, 2);
  int("field.finestResolution", f.finestResolution, f.baseResolution);
  int("field.keyframes", f.keyframes, 1, 1024);
  int("field.mlpHidden", f.mlpHidden, 1, 256);
  int("field.occupancyRes", f.occupancyRes, 2, 512);
  int("field.occupancySlices", f.occupancySlices, 1, 64);
  int("field.occupancyInterval", f.occupancyInterval, 1);
  num("field.dt", f.dt, 1e-5, 1);
  for (const name of PRIOR_ROLES) {
    const p = s.priors[name];
    if (/[\\/]|^\.\.?$/.test(p.model)) {
      throw new SettingsError(
        where,
        `priors.${name}.model`,
        "a folder name under models.dir",
        p.model,
      );
    }
    int(`priors.${name}.inputSize`, p.inputSize, 0, 4096);
    num(`priors.${name}.weight`, p.weight, 0);
    num(`priors.${name}.guidance`, p.guidance, 0);
    const [a, b] = p.tRange;
    if (!(a >= 0 && a <= b && b <= 1)) {
      throw new SettingsError(
        where,
        `priors.${name}.tRange`,
        "[a, b] with 0 ≤ a ≤ b ≤ 1",
        p.tRange,
      );
    }
  }
  for (const stage of STAGE_NAMES) {
    const t = s[stage];
    const allowed = STAGE_PRIOR_ROLES[stage];
    t.priors.forEach((role, i) => {
      if (!allowed.includes(role) || t.priors.indexOf(role) !== i) {
        throw new SettingsError(
          where,
          `${stage}.priors[${i}]`,
          `one of ${allowed.join(", ")}, each at most once`,
          role,
        );
      }
    });
    int(`${stage}.iterations`, t.iterations, 0);
    num(`${stage}.lrGrid`, t.lrGrid, 0);
    num(`${stage}.lrMlp`, t.lrMlp, 0);
    num(`${stage}.gradClip`, t.gradClip, 0);
    int(`${stage}.referenceWarmup`, t.referenceWarmup, 0);
    int(`${stage}.referenceEvery`, t.referenceEvery, 1);
    for (
      const k of [
        "rgbWeight",
        "maskWeight",
        "timeTvWeight",
        "entropyWeight",
        "orientationWeight",
        "normalTvWeight",
        "normalBlurWeight",
      ] as const
    ) num(`${stage}.${k}`, t[k], 0);
    int(`${stage}.levelMaskSteps`, t.levelMaskSteps, 0);
    int(`${stage}.checkpointEvery`, t.checkpointEvery, 0);
  }
  int("eval.views", s.eval.views, 1);
  int("eval.times", s.eval.times, 1);
  int("eval.resolution", s.eval.resolution, 4, 2048);
  int("export.size", s.export.size, 11, 4096);
  int("export.times", s.export.times, 1);
  int("export.views", s.export.views, 1);
  return s;
}
