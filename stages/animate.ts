/**
 * The whole method: static, dynamic and refinement stages composed as plain async
 * functions over one {@linkcode RunState}, with held-out scoring and turntable export
 * after each stage. With a synthetic scene the priors are oracle priors built from its
 * ground truth (SPEC.md §10.4), and every score is against that ground truth.
 *
 * @module
 */
import { loadReferenceImage } from "../io/reference_image.ts";
import { acquireGpu, Gpu } from "../kernels/gpu.ts";
import { OrtRuntime } from "../priors/onnx/ort_runtime.ts";
import { loadScene, type Scene } from "../scenes/scene_config.ts";
import {
  type AnimateOverrides,
  animatePresetForAdapter,
  type AnimatePresetName,
  type AnimateSettings,
  resolveAnimateSettings,
  STAGE_NAMES,
  type StageName,
} from "./animate_settings.ts";
import { loadCheckpoint } from "./checkpoint.ts";
import { dynamicStage } from "./dynamic_stage.ts";
import { exportTurntable } from "./export_turntable.ts";
import { type HeldOutMetrics, scoreHeldOut } from "./held_out_score.ts";
import { refineStage } from "./refine_stage.ts";
import type { RunState } from "./run_state.ts";
import { createModelPriors } from "./model_priors.ts";
import { createScenePriors } from "./scene_priors.ts";
import {
  createStageModel,
  destroyStageModel,
  fittedModel,
  restoreModel,
  type StageModel,
} from "./stage_model.ts";
import { STAGE_CHECKPOINT, type StageEvent, type StageOptions } from "./stage_runner.ts";
import { staticStage } from "./static_stage.ts";

/**
 * A stage as a plain async function of (state, options).
 *
 * @example
 * ```ts
 * import { parseScene } from "../scenes/scene_config.ts";
 * import { prepareRun, releaseRun, type Stage, STAGES } from "./animate.ts";
 * const scene = parseScene(
 *   "name: a\nmotion_prompt: A ball bobs.\nprimitives: [{ type: sphere, radius: 0.4, color: [1, 0, 0] }]",
 * );
 * const state = await prepareRun({
 *   scene, image: "examples/bouncing_ball.png", preset: "tiny",
 *   config: { resolution: 8, field: { levels: 2, log2TableSize: 8 }, static: { iterations: 2 } },
 * });
 * // A stage of your own: the static stage, counting its progress events.
 * let progress = 0;
 * const counted: Stage = (s, options) =>
 *   STAGES.static(s, {
 *     ...options,
 *     onEvent: (e) => {
 *       if (e.type === "progress") progress++;
 *     },
 *   });
 * const after = await counted(state);
 * console.log(after.completed, progress > 0); // [ "static" ] true
 * releaseRun(after);
 * ```
 */
export type Stage = (state: RunState, options?: StageOptions) => Promise<RunState>;

/**
 * The stage functions by name.
 *
 * @example
 * ```ts
 * import { STAGES } from "./animate.ts";
 * import { refineStage } from "./refine_stage.ts";
 * console.log(Object.keys(STAGES), STAGES.refine === refineStage); // [ "static", "dynamic", "refine" ] true
 * ```
 */
export const STAGES: Readonly<Record<StageName, Stage>> = {
  static: staticStage,
  dynamic: dynamicStage,
  refine: refineStage,
};

/**
 * Options of {@linkcode animate}.
 *
 * @example
 * ```ts
 * import { parseScene } from "../scenes/scene_config.ts";
 * import { animate, type AnimateOptions } from "./animate.ts";
 * const scene = parseScene(
 *   "name: a\nmotion_prompt: A ball bobs.\nprimitives: [{ type: sphere, radius: 0.4, color: [1, 0, 0] }]",
 * );
 * const types = new Set<string>();
 * const options: AnimateOptions = {
 *   scene,
 *   image: "examples/bouncing_ball.png",
 *   preset: "tiny",
 *   config: {
 *     resolution: 8, field: { levels: 2, log2TableSize: 8 }, static: { iterations: 2 },
 *     eval: { views: 1, times: 1, resolution: 12 },
 *   },
 *   stages: ["static"],
 *   export: false,
 *   onEvent: (e) => types.add(e.type),
 * };
 * const r = await animate(options);
 * console.log(r.completed, types.has("stage-done"), types.has("eval")); // [ "static" ] true true
 * ```
 */
export interface AnimateOptions {
  /** A synthetic scene (or its YAML path): oracle priors and ground-truth scores. */
  scene?: Scene | string;
  /** Reference image (PNG or JPEG); defaults to the scene's `<name>.png` beside its YAML. */
  image?: string;
  /** Motion prompt; defaults to the scene's. */
  prompt?: string;
  /** Mask file for a reference image without alpha. */
  mask?: string;
  /** White-background threshold for a reference image without alpha. */
  whiteThreshold?: number;
  /** `tiny` or `default`; picked from the adapter when left out. */
  preset?: AnimatePresetName;
  /** Overrides of any setting (what `--config file.yaml` holds). */
  config?: AnimateOverrides | Record<string, unknown>;
  /** Name errors in `config` after this file. */
  configSource?: string;
  /** Stages to run, in order; a later start resumes from the previous stage's checkpoint. */
  stages?: StageName[];
  /** Run folder: `config.json`, `events.jsonl`, `metrics.json` and one folder per stage. */
  out?: string;
  /** Device; acquired (and released) when left out. */
  gpu?: Gpu;
  /** Progress sink (every event is also a line of `events.jsonl`). */
  onEvent?: (event: StageEvent) => void;
  /** Stops at the next step boundary, after a checkpoint. */
  signal?: AbortSignal;
  /** Write turntable videos per stage (default true). */
  export?: boolean;
}

/**
 * Scores per stage and of the final model.
 *
 * @example
 * ```ts
 * import { parseScene } from "../scenes/scene_config.ts";
 * import { animate, type AnimateMetrics } from "./animate.ts";
 * const scene = parseScene(
 *   "name: a\nmotion_prompt: A ball bobs.\nprimitives: [{ type: sphere, radius: 0.4, color: [1, 0, 0] }]",
 * );
 * const { metrics } = await animate({
 *   scene, image: "examples/bouncing_ball.png", preset: "tiny", stages: ["static"], export: false,
 *   config: {
 *     resolution: 8, field: { levels: 2, log2TableSize: 8 }, static: { iterations: 2 },
 *     eval: { views: 1, times: 1, resolution: 12 },
 *   },
 * });
 * const m: AnimateMetrics = metrics;
 * // Only the static stage ran, so it is also the final score.
 * console.log(Object.keys(m.stages), m.final === m.stages.static); // [ "static" ] true
 * ```
 */
export interface AnimateMetrics {
  /** Score after each stage that ran. */
  stages: Partial<Record<StageName, HeldOutMetrics>>;
  /** Score of the last stage that ran; null when none did. */
  final: HeldOutMetrics | null;
}

/**
 * What {@linkcode animate} returns.
 *
 * @example
 * ```ts
 * import { parseScene } from "../scenes/scene_config.ts";
 * import { animate, type AnimateResult } from "./animate.ts";
 * const scene = parseScene(
 *   "name: a\nmotion_prompt: A ball bobs.\nprimitives: [{ type: sphere, radius: 0.4, color: [1, 0, 0] }]",
 * );
 * const result: AnimateResult = await animate({
 *   scene, image: "examples/bouncing_ball.png", preset: "tiny", stages: ["static"], export: false,
 *   config: {
 *     resolution: 8, field: { levels: 2, log2TableSize: 8 }, static: { iterations: 2 },
 *     eval: { views: 1, times: 1, resolution: 12 },
 *   },
 * });
 * console.log(result.preset, result.step, result.interrupted, result.settings.resolution); // tiny 2 false 8
 * ```
 */
export interface AnimateResult {
  /** The settings the run used, preset and overrides resolved. */
  settings: AnimateSettings;
  /** The preset the settings started from. */
  preset: AnimatePresetName;
  /** Stages finished, in order. */
  completed: StageName[];
  /** Whether the abort signal stopped the run early. */
  interrupted: boolean;
  /** Held-out scores per stage and of the final model. */
  metrics: AnimateMetrics;
  /** Cumulative step reached. */
  step: number;
}

/** Resolves the scene and the reference image path. */
async function sceneOf(options: AnimateOptions): Promise<Scene | null> {
  if (options.scene === undefined) return null;
  return typeof options.scene === "string" ? await loadScene(options.scene) : options.scene;
}

function defaultImage(scene: Scene | null): string | null {
  if (scene === null || !/\.ya?ml$/i.test(scene.source)) return null;
  return scene.source.replace(/\.ya?ml$/i, ".png");
}

/**
 * Runs the requested stages.
 *
 * @param options scene or image and prompt, preset, overrides, stages, output folder
 * @returns the scores per stage and the final one
 *
 * @example Two steps of each stage on a one-sphere scene at a very small size
 * ```ts
 * import { parseScene } from "../scenes/scene_config.ts";
 * import { animate } from "./animate.ts";
 * const scene = parseScene(
 *   "name: a\nmotion_prompt: A ball bobs.\nprimitives: [{ type: sphere, radius: 0.4, color: [1, 0, 0] }]",
 * );
 * const small = { iterations: 2, referenceWarmup: 1, checkpointEvery: 0 };
 * const r = await animate({
 *   scene,
 *   image: "examples/bouncing_ball.png",
 *   preset: "tiny",
 *   config: {
 *     resolution: 8, frames: 2, clipPrecision: 8, timeTvPoints: 16,
 *     field: { levels: 2, log2TableSize: 8, keyframes: 2, occupancyRes: 8, occupancySlices: 2 },
 *     static: small, dynamic: small, refine: small,
 *     eval: { views: 1, times: 1, resolution: 12 },
 *   },
 *   export: false,
 * });
 * console.log(r.completed.join(","), Number.isFinite(r.metrics.final?.psnr)); // static,dynamic,refine true
 * ```
 */
export async function animate(options: AnimateOptions): Promise<AnimateResult> {
  checkStageList(options.stages ?? [...STAGE_NAMES]);
  let state = await prepareRun(options);
  const { settings, scene, preset } = state;
  // Whatever model is live when an error or the end arrives is freed in `finally`.
  const live: { model: StageModel | null } = { model: null };
  try {
    const stages = options.stages ?? [...STAGE_NAMES];
    const out = options.out?.replace(/\/+$/, "");
    const log = out === undefined ? null : await openEventLog(out);
    const emit = (event: StageEvent) => {
      log?.write(event);
      options.onEvent?.(event);
    };
    if (out !== undefined) {
      const config = { preset, stages, scene: scene?.source ?? null, settings };
      await Deno.writeTextFile(`${out}/config.json`, JSON.stringify(config, null, 2) + "\n");
    }
    const first = STAGE_NAMES.indexOf(stages[0]!);
    if (first > 0) {
      if (out === undefined) {
        throw new Error(
          `Invalid option stages: starting at ${stages[0]} resumes from the ${
            STAGE_NAMES[first - 1]
          } checkpoint, which needs an output folder`,
        );
      }
      state = await resumeFrom(state, STAGE_NAMES[first - 1]!, `${out}/${STAGE_NAMES[first - 1]}`);
      live.model = state.model;
    }
    const metrics: AnimateMetrics = { stages: {}, final: null };
    for (const name of stages) {
      const folder = out === undefined ? null : `${out}/${name}`;
      const done = folder === null ? null : await completeCheckpoint(folder, name, settings);
      if (done !== null) {
        // A finished stage of the same settings is loaded, not re-run: running the same
        // command after an interruption continues where it stopped.
        if (state.model !== null) destroyStageModel(state.model);
        live.model = null;
        state = await resumeFrom({ ...state, model: null }, name, folder!);
      } else {
        state = await STAGES[name](state, {
          onEvent: emit,
          ...(options.signal === undefined ? {} : { signal: options.signal }),
          ...(folder === null ? {} : { out: folder }),
        });
      }
      live.model = state.model;
      if (state.interrupted) break;
      // Without a synthetic scene there is no ground truth to score against.
      if (state.scene !== null) {
        const m = await scoreStage(state);
        metrics.stages[name] = m;
        metrics.final = m;
        emit({ type: "eval", stage: name, psnr: m.psnr, ssim: m.ssim });
      }
      if (folder !== null && (options.export ?? true)) {
        const files = await exportStage(state, folder);
        emit({ type: "export", stage: name, files });
      }
    }
    if (metrics.final !== null) {
      emit({ type: "eval", stage: "final", psnr: metrics.final.psnr, ssim: metrics.final.ssim });
    }
    if (out !== undefined && scene !== null) {
      await Deno.writeTextFile(
        `${out}/metrics.json`,
        JSON.stringify(
          {
            ...metricsJson(metrics, scene, preset, state.completed),
            adapter: state.gpu.adapterName,
            peakGpuBytes: state.gpu.memory.peakBytes,
          },
          null,
          2,
        ) + "\n",
      );
    }
    await log?.close();
    return {
      settings,
      preset,
      completed: state.completed,
      interrupted: state.interrupted,
      metrics,
      step: state.step,
    };
  } finally {
    releaseRun({ ...state, model: live.model }, { gpu: options.gpu === undefined });
  }
}

/**
 * Options of {@linkcode prepareRun}: what a run needs before its first stage.
 *
 * @example
 * ```ts
 * import { parseScene } from "../scenes/scene_config.ts";
 * import { type PrepareOptions, prepareRun, releaseRun } from "./animate.ts";
 * const scene = parseScene(
 *   "name: a\nmotion_prompt: A ball bobs.\nprimitives: [{ type: sphere, radius: 0.4, color: [1, 0, 0] }]",
 * );
 * const options: PrepareOptions = {
 *   scene,
 *   image: "examples/bouncing_ball.png",
 *   prompt: "A red ball bobs up and down.",
 *   preset: "tiny",
 *   config: { resolution: 8, field: { levels: 2, log2TableSize: 8 } },
 * };
 * const state = await prepareRun(options);
 * console.log(state.prompts.motion, state.settings.resolution); // A red ball bobs up and down. 8
 * releaseRun(state);
 * ```
 */
export type PrepareOptions = Pick<
  AnimateOptions,
  | "scene"
  | "image"
  | "prompt"
  | "mask"
  | "whiteThreshold"
  | "preset"
  | "config"
  | "configSource"
  | "gpu"
  | "stages"
>;

/**
 * Builds the state the first stage takes: the device, the resolved settings, the reference
 * image and the priors. Pass it to {@linkcode staticStage} and on, and free it with
 * {@linkcode releaseRun}.
 *
 * @param options scene or image and prompt, preset, overrides, device
 * @returns the state, with no model yet
 *
 * @example Compose the stages yourself
 * ```ts
 * import { parseScene } from "../scenes/scene_config.ts";
 * import { prepareRun, releaseRun, scoreStage } from "./animate.ts";
 * import { staticStage } from "./static_stage.ts";
 * const scene = parseScene(
 *   "name: a\nmotion_prompt: A ball bobs.\nprimitives: [{ type: sphere, radius: 0.4, color: [1, 0, 0] }]",
 * );
 * const state = await prepareRun({
 *   scene, image: "examples/bouncing_ball.png", preset: "tiny",
 *   config: { resolution: 8, field: { levels: 2, log2TableSize: 8 }, static: { iterations: 2 },
 *     eval: { views: 1, times: 1, resolution: 12 } },
 * });
 * const after = await staticStage(state);
 * console.log(after.completed, Number.isFinite((await scoreStage(after)).psnr)); // [ "static" ] true
 * releaseRun(after);
 * ```
 */
export async function prepareRun(options: PrepareOptions): Promise<RunState> {
  const overrides = (options.config ?? {}) as Record<string, unknown>;
  const models = overrides.models as Record<string, unknown> | undefined;
  const real = typeof models === "object" && models !== null && typeof models.dir === "string";
  if (real && options.gpu !== undefined) {
    throw new Error(
      "Invalid option gpu: with models.dir the run uses ONNX Runtime's device; leave gpu out",
    );
  }
  const scene = await sceneOf(options);
  if (scene === null && !real) {
    throw new Error(
      "Invalid option scene: oracle priors need a synthetic scene (--scene FILE.yaml); " +
        "for real diffusion priors pass --models DIR with --image and --prompt",
    );
  }
  const prompt = options.prompt ?? scene?.motionPrompt;
  if (prompt === undefined) {
    throw new Error(
      "Invalid option prompt: expected a motion prompt (--prompt TEXT) when no scene is given",
    );
  }
  // ONNX Runtime creates its own device (SPEC.md §10.1): with real priors the toolkit's
  // kernels run on it.
  const runtime = real ? await OrtRuntime.create() : null;
  const ownGpu = options.gpu === undefined;
  const gpu = options.gpu ??
    (runtime !== null ? Gpu.wrap(runtime.device!, { log: null }) : await acquireGpu({ log: null }));
  try {
    const preset = options.preset ?? animatePresetForAdapter(gpu);
    const settings = resolveAnimateSettings(preset, overrides, {
      where: options.configSource ?? "config",
    });
    const imagePath = options.image ?? defaultImage(scene);
    if (imagePath === null) {
      throw new Error("Invalid option image: expected a reference image (--image FILE)");
    }
    // A scene's reference is rendered at the reference pose, so recentring it would
    // break its agreement with the camera; a user's photo is recentred as the original.
    const reference = await loadReferenceImage(imagePath, {
      recenter: options.image !== undefined && options.scene === undefined,
      ...(options.mask === undefined ? {} : { mask: options.mask }),
      ...(options.whiteThreshold === undefined ? {} : { whiteThreshold: options.whiteThreshold }),
    });
    const priors = runtime !== null
      ? await createModelPriors(runtime, settings, {
        gpu,
        reference,
        ...(options.stages === undefined ? {} : { stages: options.stages }),
      })
      : await createScenePriors(gpu, scene!, settings);
    return {
      gpu,
      preset,
      settings,
      prompts: { static: scene?.staticPrompt ?? scene?.motionPrompt ?? prompt, motion: prompt },
      reference,
      priors,
      scene,
      model: null,
      step: 0,
      rngState: settings.seed ^ 0xa124,
      completed: [],
      interrupted: false,
    };
  } catch (error) {
    if (ownGpu) gpu.destroy();
    throw error;
  }
}

/**
 * Frees the state's model and priors, and its device unless `options.gpu` is false.
 *
 * @example
 * ```ts
 * import { acquireGpu } from "../kernels/gpu.ts";
 * import { parseScene } from "../scenes/scene_config.ts";
 * import { prepareRun, releaseRun } from "./animate.ts";
 * const scene = parseScene(
 *   "name: a\nmotion_prompt: A ball bobs.\nprimitives: [{ type: sphere, radius: 0.4, color: [1, 0, 0] }]",
 * );
 * const gpu = await acquireGpu({ log: null });
 * const before = gpu.memory.liveBytes;
 * const state = await prepareRun({
 *   scene, image: "examples/bouncing_ball.png", preset: "tiny", gpu,
 *   config: { resolution: 8, field: { levels: 2, log2TableSize: 8 } },
 * });
 * // Keep the caller's device: free only what the run allocated on it.
 * releaseRun(state, { gpu: false });
 * console.log(gpu.memory.liveBytes === before); // true
 * gpu.destroy();
 * ```
 */
export function releaseRun(state: RunState, options: { gpu?: boolean } = {}): void {
  if (state.model !== null) destroyStageModel(state.model);
  for (const p of Object.values(state.priors)) p.destroy();
  if (options.gpu ?? true) state.gpu.destroy();
}

/**
 * Held-out PSNR/SSIM of the state's model against its scene's ground truth.
 *
 * @example
 * ```ts
 * import { parseScene } from "../scenes/scene_config.ts";
 * import { prepareRun, releaseRun, scoreStage } from "./animate.ts";
 * import { staticStage } from "./static_stage.ts";
 * const scene = parseScene(
 *   "name: a\nmotion_prompt: A ball bobs.\nprimitives: [{ type: sphere, radius: 0.4, color: [1, 0, 0] }]",
 * );
 * const state = await prepareRun({
 *   scene, image: "examples/bouncing_ball.png", preset: "tiny",
 *   config: {
 *     resolution: 8, field: { levels: 2, log2TableSize: 8 }, static: { iterations: 2 },
 *     eval: { views: 2, times: 1, resolution: 12 },
 *   },
 * });
 * const after = await staticStage(state);
 * const m = await scoreStage(after);
 * console.log(m.views.length, m.resolution, Number.isFinite(m.psnr)); // 2 12 true
 * releaseRun(after);
 * ```
 */
export function scoreStage(state: RunState): Promise<HeldOutMetrics> {
  if (state.model === null || state.scene === null) {
    throw new Error("Nothing to score: the state has no model or no ground-truth scene");
  }
  const e = state.settings.eval;
  return scoreHeldOut(state.scene, fittedModel(state.gpu, state.model), {
    views: e.views,
    times: e.times,
    size: e.resolution,
    subsamples: state.settings.gtSubsamples,
  });
}

/**
 * Writes the turntable, orbit, depth and alpha videos of the state's model into `folder`.
 *
 * @example
 * ```ts
 * import { parseScene } from "../scenes/scene_config.ts";
 * import { exportStage, prepareRun, releaseRun } from "./animate.ts";
 * import { staticStage } from "./static_stage.ts";
 * const scene = parseScene(
 *   "name: a\nmotion_prompt: A ball bobs.\nprimitives: [{ type: sphere, radius: 0.4, color: [1, 0, 0] }]",
 * );
 * const state = await prepareRun({
 *   scene, image: "examples/bouncing_ball.png", preset: "tiny",
 *   config: {
 *     resolution: 8, field: { levels: 2, log2TableSize: 8 }, static: { iterations: 2 },
 *     export: { size: 12, times: 2, views: 1 },
 *   },
 * });
 * const after = await staticStage(state);
 * const folder = await Deno.makeTempDir();
 * const files = await exportStage(after, folder);
 * // MP4s join the GIFs when ffmpeg is installed.
 * console.log(files.filter((f) => f.endsWith(".gif")).length); // 4
 * releaseRun(after);
 * await Deno.remove(folder, { recursive: true });
 * ```
 */
export async function exportStage(state: RunState, folder: string): Promise<string[]> {
  if (state.model === null) throw new Error("Nothing to export: the state has no model");
  const x = state.settings.export;
  const r = await exportTurntable(fittedModel(state.gpu, state.model), {
    out: folder,
    size: x.size,
    views: x.views,
    times: x.times,
    pngFrames: false,
  });
  return r.files;
}

function checkStageList(stages: StageName[]): void {
  if (stages.length === 0) {
    throw new RangeError(
      `Invalid option stages: expected some of ${STAGE_NAMES.join(",")}, got none`,
    );
  }
  let last = -1;
  for (const s of stages) {
    const i = (STAGE_NAMES as readonly string[]).indexOf(s);
    if (i < 0 || i <= last || (last >= 0 && i !== last + 1)) {
      throw new RangeError(
        `Invalid option stages: expected consecutive stages in the order ${
          STAGE_NAMES.join(",")
        }, got ${stages.join(",")}`,
      );
    }
    last = i;
  }
}

/**
 * Whether `folder` holds a complete checkpoint of `stage` made with `settings`; a
 * checkpoint of other settings is an error rather than something to overwrite silently.
 */
async function completeCheckpoint(
  folder: string,
  stage: StageName,
  settings: AnimateSettings,
): Promise<true | null> {
  const path = `${folder}/${STAGE_CHECKPOINT}`;
  try {
    await Deno.stat(path);
  } catch {
    return null;
  }
  const ck = await loadCheckpoint(path);
  const opts = ck.options as { stage?: string; complete?: boolean; settings?: unknown };
  if (JSON.stringify(opts.settings) !== JSON.stringify(settings)) {
    throw new Error(
      `Invalid option out: ${path} holds a ${stage} stage made with other settings; ` +
        "use another output folder or delete it",
    );
  }
  return opts.stage === stage && opts.complete === true ? true : null;
}

/** Loads the complete checkpoint of `stage` from `folder` as the run's model. */
async function resumeFrom(state: RunState, stage: StageName, folder: string): Promise<RunState> {
  const path = `${folder}/${STAGE_CHECKPOINT}`;
  let ck;
  try {
    ck = await loadCheckpoint(path);
  } catch (error) {
    throw new Error(
      `Invalid option stages: the previous stage's checkpoint ${path} could not be read (${
        (error as Error).message
      }); run the ${stage} stage first`,
    );
  }
  const opts = ck.options as { stage?: string; complete?: boolean };
  if (opts.stage !== stage || opts.complete !== true) {
    throw new Error(
      `Invalid checkpoint ${path}: expected a complete ${stage} stage, got ${
        opts.stage ?? "another format"
      } (${opts.complete === true ? "complete" : "incomplete"})`,
    );
  }
  const model: StageModel = await createStageModel(state.gpu, state.settings.field, {
    dynamic: stage !== "static",
    seed: state.settings.seed,
  });
  restoreModel(state.gpu, model, { grid: ck.grid, mlp: ck.mlp, occupancy: ck.occupancy });
  const done = STAGE_NAMES.slice(0, STAGE_NAMES.indexOf(stage) + 1);
  return { ...state, model, step: ck.step, rngState: ck.rngState, completed: [...done] };
}

function metricsJson(
  metrics: AnimateMetrics,
  scene: Scene,
  preset: AnimatePresetName,
  completed: StageName[],
) {
  const brief = (m: HeldOutMetrics) => ({ psnr: m.psnr, ssim: m.ssim, perTime: m.perTime });
  return {
    scene: scene.name,
    preset,
    completed,
    psnr: metrics.final?.psnr ?? null,
    ssim: metrics.final?.ssim ?? null,
    stages: Object.fromEntries(
      Object.entries(metrics.stages).map(([k, m]) => [k, brief(m!)]),
    ),
  };
}

/** `events.jsonl`: one JSON event per line, appended as they happen. */
async function openEventLog(out: string) {
  await Deno.mkdir(out, { recursive: true });
  const file = await Deno.open(`${out}/events.jsonl`, { write: true, create: true, append: true });
  const encoder = new TextEncoder();
  let chain = Promise.resolve();
  return {
    write(event: StageEvent) {
      const line = encoder.encode(JSON.stringify({ time: Date.now(), ...event }) + "\n");
      chain = chain.then(async () => {
        let written = 0;
        while (written < line.length) written += await file.write(line.subarray(written));
      });
    },
    async close() {
      await chain;
      file.close();
    },
  };
}
