/**
 * Reconstruction mode: optimise the keyframed 4D field to ground-truth renders of a
 * synthetic scene at random training cameras and times (SPEC.md §3.1), with the
 * occupancy schedule of §3.2, Adam (§5.3) and the time TV regulariser (§2.2); then score
 * it on held-out cameras and times.
 *
 * @module
 */
import { writePng } from "../io/png.ts";
import { Adam } from "../kernels/adam.ts";
import { orbitCamera } from "../kernels/camera.ts";
import { type ClipFrame, ClipRenderer } from "../kernels/clip_renderer.ts";
import { Field } from "../kernels/field.ts";
import { acquireGpu, type Gpu } from "../kernels/gpu.ts";
import { chunkFloats } from "../kernels/grid_config.ts";
import { ImageLoss } from "../kernels/image_loss.ts";
import { OccupancyUpdater } from "../kernels/occupancy_updater.ts";
import { TimeTv } from "../kernels/time_tv.ts";
import { requireFinite, requireInt, requireOneOf } from "../kernels/validate.ts";
import { renderCameraGroundTruth } from "../scenes/ground_truth.ts";
import type { Scene } from "../scenes/scene_config.ts";
import { type CheckpointState, loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
import type { FittedModel } from "./field_renders.ts";
import {
  FIT_PRESET_SETTINGS,
  FIT_PRESETS,
  type FitPresetName,
  type FitSettings,
  presetForAdapter,
} from "./fit_presets.ts";
import { type HeldOutMetrics, scoreHeldOut } from "./held_out_score.ts";
import { maskHull } from "./mask_hull.ts";
import { RngStream } from "./rng_stream.ts";
import { snapshotModel } from "./stage_model.ts";
import { sampleTrainingPose } from "./training_cameras.ts";

/**
 * Loss terms reported in progress events (means over the last read-back window).
 *
 * @example
 * ```ts
 * import { parseScene } from "../scenes/scene_config.ts";
 * import { fit, type FitLoss } from "./fit.ts";
 * const scene = parseScene(
 *   "name: a\nmotion_prompt: A ball.\nprimitives: [{ type: sphere, radius: 0.5, color: [1, 0, 0] }]",
 * );
 * const losses: FitLoss[] = [];
 * const result = await fit(scene, {
 *   preset: "tiny", iterations: 2, logEvery: 1, resolution: 12, levels: 2, log2TableSize: 8,
 *   keyframes: 2, occupancyRes: 8, occupancySlices: 1, timeTvPoints: 64, evaluate: false,
 *   onEvent: (e) => {
 *     if (e.type === "progress") losses.push(e.loss);
 *   },
 * });
 * const { alphaWeight, timeTvWeight } = result.settings;
 * const l = losses[0]!;
 * console.log(losses.length, l.total === l.rgb + alphaWeight * l.alpha + timeTvWeight * l.tv); // 2 true
 * result.destroy();
 * ```
 */
export interface FitLoss {
  /** Image MSE. */
  rgb: number;
  /** Alpha MSE (unweighted). */
  alpha: number;
  /** Time TV (unweighted). */
  tv: number;
  /** rgb + alphaWeight·alpha + timeTvWeight·tv. */
  total: number;
}

/**
 * Events a fit reports through {@linkcode FitOptions.onEvent}.
 *
 * @example
 * ```ts
 * import { parseScene } from "../scenes/scene_config.ts";
 * import { fit, type FitEvent } from "./fit.ts";
 * const scene = parseScene(
 *   "name: a\nmotion_prompt: A ball.\nprimitives: [{ type: sphere, radius: 0.5, color: [1, 0, 0] }]",
 * );
 * const events: FitEvent[] = [];
 * const result = await fit(scene, {
 *   preset: "tiny", iterations: 2, resolution: 12, levels: 2, log2TableSize: 8, keyframes: 2,
 *   occupancyRes: 8, occupancySlices: 1, timeTvPoints: 64, evaluate: false,
 *   onEvent: (e) => events.push(e),
 * });
 * console.log(events[0]?.type, events.at(-1)?.type); // start done
 * result.destroy();
 * ```
 */
export type FitEvent =
  | {
    type: "start";
    preset: FitPresetName;
    adapter: string;
    /** Step the run starts at (non-zero when resuming). */
    iteration: number;
    total: number;
    settings: FitSettings;
  }
  | {
    type: "progress";
    iteration: number;
    total: number;
    loss: FitLoss;
    /** Steps per second since the run (or resume) started. */
    itPerSec: number;
    elapsedMs: number;
  }
  | { type: "checkpoint"; iteration: number; path: string }
  | { type: "eval"; done: number; total: number }
  | { type: "done"; iteration: number; elapsedMs: number; interrupted: boolean };

/**
 * Options of {@linkcode fit}: any {@linkcode FitSettings} field overrides the preset.
 *
 * @example
 * ```ts
 * import { parseScene } from "../scenes/scene_config.ts";
 * import { fit, type FitOptions } from "./fit.ts";
 * const scene = parseScene(
 *   "name: a\nmotion_prompt: A ball.\nprimitives: [{ type: sphere, radius: 0.5, color: [1, 0, 0] }]",
 * );
 * // Preset sizes, overridden field by field to keep the run tiny; no held-out scoring.
 * const options: FitOptions = {
 *   preset: "tiny", iterations: 2, resolution: 12, levels: 2, log2TableSize: 8, keyframes: 2,
 *   occupancyRes: 8, occupancySlices: 1, timeTvPoints: 64, evaluate: false,
 * };
 * const result = await fit(scene, options);
 * console.log(result.step, result.metrics); // 2 null
 * result.destroy();
 * ```
 */
export interface FitOptions extends Partial<FitSettings> {
  /** `tiny` or `default`; picked from the adapter when left out. */
  preset?: FitPresetName;
  /** Device to run on; acquired (and owned by the result) when left out. */
  gpu?: Gpu;
  /** Output folder: `checkpoint.safetensors` and `metrics.json` go there. */
  out?: string;
  /** Checkpoint to continue from (same step, optimiser state and random stream). */
  resume?: string;
  /** Progress callback; library code never prints. */
  onEvent?: (event: FitEvent) => void;
  /** Aborting stops at the next step boundary; with `out`, a checkpoint is saved first. */
  signal?: AbortSignal;
  /** Score on the held-out set at the end (default true). */
  evaluate?: boolean;
}

/**
 * What {@linkcode fit} returns. Call `destroy()` when done with the model.
 *
 * @example
 * ```ts
 * import { parseScene } from "../scenes/scene_config.ts";
 * import { fit, type FitResult } from "./fit.ts";
 * const scene = parseScene(
 *   "name: a\nmotion_prompt: A ball.\nprimitives: [{ type: sphere, radius: 0.5, color: [1, 0, 0] }]",
 * );
 * const result: FitResult = await fit(scene, {
 *   preset: "tiny", iterations: 2, resolution: 12, levels: 2, log2TableSize: 8, keyframes: 2,
 *   occupancyRes: 8, occupancySlices: 1, timeTvPoints: 64, evalViews: 1, evalTimes: 1,
 * });
 * console.log(result.preset, result.checkpoint, result.interrupted); // tiny null false
 * console.log(result.metrics?.perTime.length, result.model.field.layout.config.keyframes); // 1 2
 * result.destroy();
 * ```
 */
export interface FitResult {
  /** The fitted field, ready for {@linkcode scoreHeldOut} or video export. */
  model: FittedModel;
  /** The preset the settings started from. */
  preset: FitPresetName;
  /** The resolved settings. */
  settings: FitSettings;
  /** Steps completed. */
  step: number;
  /** Held-out scores, or null when not evaluated (or interrupted). */
  metrics: HeldOutMetrics | null;
  /** Last checkpoint written, or null. */
  checkpoint: string | null;
  /** Whether `signal` stopped the run early. */
  interrupted: boolean;
  /** Wall time of the optimisation (without evaluation), ms. */
  trainMs: number;
  /** Frees the field, the occupancy grid and (if fit acquired it) the device. */
  destroy(): void;
}

/** Settings that fix buffer shapes: a resumed run must keep them. */
const SHAPE_KEYS = [
  "levels",
  "log2TableSize",
  "baseResolution",
  "finestResolution",
  "keyframes",
  "mlpHidden",
  "occupancyRes",
  "occupancySlices",
] as const satisfies readonly (keyof FitSettings)[];

/** Name of the checkpoint file inside `out`. */
export const CHECKPOINT_FILE = "checkpoint.safetensors";

/**
 * Validates a settings object; every key must be a known {@linkcode FitSettings} field.
 *
 * @example
 * ```ts
 * import { resolveFitSettings } from "./fit.ts";
 * console.log(resolveFitSettings("tiny", { iterations: 10 }).iterations); // 10
 * ```
 */
export function resolveFitSettings(
  preset: FitPresetName,
  overrides: Partial<FitSettings> = {},
): FitSettings {
  requireOneOf("preset", preset, FIT_PRESETS);
  const base = FIT_PRESET_SETTINGS[preset];
  const known = Object.keys(base);
  for (const key of Object.keys(overrides)) {
    if (!known.includes(key)) {
      throw new RangeError(`Unknown fit option ${key}: expected one of ${known.join(", ")}`);
    }
  }
  const s: FitSettings = { ...base };
  for (const [k, v] of Object.entries(overrides)) {
    if (v !== undefined) (s as unknown as Record<string, unknown>)[k] = v;
  }
  requireInt("iterations", s.iterations, { min: 0 });
  requireInt("resolution", s.resolution, { min: 4, max: 2048 });
  requireInt("framesPerIteration", s.framesPerIteration, { min: 1, max: 64 });
  requireInt("levels", s.levels, { min: 1, max: 32 });
  requireInt("log2TableSize", s.log2TableSize, { min: 4, max: 24 });
  requireInt("baseResolution", s.baseResolution, { min: 2 });
  requireInt("finestResolution", s.finestResolution, { min: s.baseResolution });
  requireInt("keyframes", s.keyframes, { min: 1, max: 1024 });
  requireInt("mlpHidden", s.mlpHidden, { min: 1, max: 256 });
  requireInt("occupancyRes", s.occupancyRes, { min: 2, max: 512 });
  requireInt("occupancySlices", s.occupancySlices, { min: 1, max: 64 });
  requireInt("occupancyInterval", s.occupancyInterval, { min: 1 });
  requireFinite("dt", s.dt, { min: 1e-5, max: 1 });
  requireFinite("lrGrid", s.lrGrid, { min: 0 });
  requireFinite("lrMlp", s.lrMlp, { min: 0 });
  requireFinite("lrFinalScale", s.lrFinalScale, { min: 0, max: 1 });
  requireFinite("timeTvWeight", s.timeTvWeight, { min: 0 });
  requireInt("timeTvPoints", s.timeTvPoints, { min: 1 });
  requireFinite("alphaWeight", s.alphaWeight, { min: 0 });
  requireInt("hullViews", s.hullViews, { min: 0 });
  requireFinite("hullDensity", s.hullDensity, { min: 0 });
  requireInt("trainingPool", s.trainingPool, { min: 0 });
  requireInt("gtSubsamples", s.gtSubsamples, { min: 1, max: 8 });
  requireInt("trainSubsamples", s.trainSubsamples, { min: 1, max: 8 });
  requireInt("logEvery", s.logEvery, { min: 1 });
  requireInt("checkpointEvery", s.checkpointEvery, { min: 0 });
  requireInt("evalViews", s.evalViews, { min: 1 });
  requireInt("evalTimes", s.evalTimes, { min: 1 });
  requireInt("evalResolution", s.evalResolution, { min: 0, max: 2048 });
  requireInt("exportSize", s.exportSize, { min: 11, max: 4096 });
  requireInt("exportTimes", s.exportTimes, { min: 1 });
  requireInt("exportViews", s.exportViews, { min: 1 });
  requireInt("seed", s.seed, { min: 0, max: 2 ** 32 - 1 });
  return s;
}

function settingsOverrides(options: FitOptions): Partial<FitSettings> {
  const {
    preset: _p,
    gpu: _g,
    out: _o,
    resume: _r,
    onEvent: _e,
    signal: _s,
    evaluate: _v,
    ...rest
  } = options;
  return rest;
}

/**
 * Fits the field to `scene`.
 *
 * @param scene a loaded scene (see `loadScene`)
 * @param options preset, overrides, output folder, resume path, callbacks
 * @returns the fitted model, scores and bookkeeping; call `destroy()` afterwards
 *
 * @example A few steps of a very small fit, no output folder
 * ```ts
 * import { parseScene } from "../scenes/scene_config.ts";
 * import { fit } from "./fit.ts";
 * const scene = parseScene("name: a\nmotion_prompt: A ball.\nprimitives: [{ type: sphere, radius: 0.5, color: [1, 0, 0] }]");
 * const result = await fit(scene, {
 *   preset: "tiny", iterations: 2, resolution: 12, levels: 2, log2TableSize: 8, keyframes: 2,
 *   occupancyRes: 8, occupancySlices: 1, timeTvPoints: 64, evalViews: 1, evalTimes: 1,
 * });
 * console.log(result.step, Number.isFinite(result.metrics?.psnr)); // 2 true
 * result.destroy();
 * ```
 */
export async function fit(scene: Scene, options: FitOptions = {}): Promise<FitResult> {
  const ownGpu = options.gpu === undefined;
  const gpu = options.gpu ?? await acquireGpu({ log: null });
  try {
    return await fitOn(gpu, scene, options, ownGpu);
  } catch (error) {
    if (ownGpu) gpu.destroy();
    throw error;
  }
}

async function fitOn(
  gpu: Gpu,
  scene: Scene,
  options: FitOptions,
  ownGpu: boolean,
): Promise<FitResult> {
  const emit = options.onEvent ?? (() => {});
  let checkpoint: CheckpointState | null = null;
  let preset: FitPresetName;
  let settings: FitSettings;
  if (options.resume !== undefined) {
    checkpoint = await loadCheckpoint(options.resume);
    const stored = checkpoint.options as Partial<FitSettings> & { preset?: FitPresetName };
    const { preset: storedPreset, ...storedSettings } = stored;
    preset = options.preset ?? storedPreset ?? presetForAdapter(gpu);
    const base = resolveFitSettings(preset, storedSettings);
    settings = resolveFitSettings(preset, { ...base, ...settingsOverrides(options) });
    for (const key of SHAPE_KEYS) {
      if (settings[key] !== base[key]) {
        throw new RangeError(
          `Invalid option ${key}: the checkpoint ${options.resume} was made with ${
            base[key]
          }, got ${settings[key]}`,
        );
      }
    }
  } else {
    preset = options.preset === undefined
      ? presetForAdapter(gpu)
      : requireOneOf("preset", options.preset, FIT_PRESETS);
    settings = resolveFitSettings(preset, settingsOverrides(options));
  }
  const s = settings;
  if (options.out !== undefined) await Deno.mkdir(options.out, { recursive: true });
  const field = await Field.create(gpu, {
    grid: {
      levels: s.levels,
      log2TableSize: s.log2TableSize,
      baseResolution: s.baseResolution,
      finestResolution: s.finestResolution,
      keyframes: s.keyframes,
    },
    mlp: { hidden: s.mlpHidden },
    seed: s.seed,
  });
  const occupancy = await OccupancyUpdater.create(gpu, field, {
    res: s.occupancyRes,
    slices: s.occupancySlices,
    seed: s.seed,
  });
  const model: FittedModel = { gpu, field, occupancy: occupancy.grid, dt: s.dt };
  const owned: { destroy(): void }[] = [];
  const destroyAll = () => {
    for (const o of owned.reverse()) o.destroy();
    occupancy.destroy();
    field.destroy();
    if (ownGpu) gpu.destroy();
  };
  try {
    const F = s.framesPerIteration;
    const size = s.resolution;
    const pixels = F * size * size;
    const renderer = await ClipRenderer.create(gpu, field, {
      width: size,
      height: size,
      maxFrames: F,
      occupancy: occupancy.grid,
      dt: s.dt,
      perturb: true,
      seed: s.seed,
      normals: false,
    });
    owned.push(renderer);
    const target = gpu.createBuffer(pixels * 12, { label: "fit target image" });
    const targetAlpha = gpu.createBuffer(pixels * 4, { label: "fit target alpha" });
    const tvPoints = gpu.createBuffer(s.timeTvPoints * 12, { label: "fit tv points" });
    const ring = gpu.createBuffer(s.logEvery * 16, { label: "fit loss ring" });
    owned.push(
      ...[target, targetAlpha, tvPoints, ring].map((b) => ({ destroy: () => b.destroy() })),
    );
    const loss = await ImageLoss.create(gpu, {
      image: renderer.clip.image,
      alpha: renderer.clip.alpha,
      target,
      targetAlpha,
      gradImage: renderer.grads.image,
      gradAlpha: renderer.grads.alpha,
      maxPixels: pixels,
      alphaWeight: s.alphaWeight,
    });
    owned.push(loss);
    const tv = await TimeTv.create(gpu, field.layout, {
      params: field.grid,
      grads: field.gridGrads,
      points: tvPoints,
      batch: s.timeTvPoints,
      lambda: s.timeTvWeight,
    });
    owned.push(tv);
    const adam = await Adam.create(gpu, {
      groups: [
        {
          name: "grid",
          params: field.grid,
          grads: field.gridGrads,
          floats: field.grid.map((_, c) => chunkFloats(field.layout, c)),
          lr: s.lrGrid,
        },
        {
          name: "mlp",
          params: [field.mlp],
          grads: [field.mlpGrads],
          floats: [field.mlpLayout.size],
          lr: s.lrMlp,
        },
      ],
      zeroGrads: true,
    });
    owned.push(adam);
    const rng = new RngStream(s.seed ^ 0x5eed);
    let step = 0;
    if (checkpoint !== null) {
      restore(gpu, { field, occupancy: occupancy.grid, adam, rng }, checkpoint, options.resume!);
      step = checkpoint.step;
    } else if (s.hullViews > 0 && s.hullDensity > 0) {
      gpu.upload(occupancy.grid.grid, hullPrior(scene, s));
    }
    // Drawn from its own stream, so the pool is the same on resume and the run's stream
    // is not consumed by it.
    const pool = s.trainingPool > 0 ? trainingPool(scene, s) : null;
    const storedOptions = { preset, ...s };
    const checkpointPath = options.out === undefined
      ? null
      : `${options.out.replace(/\/+$/, "")}/${CHECKPOINT_FILE}`;
    let lastCheckpoint: string | null = null;
    const save = async () => {
      if (checkpointPath === null) return;
      const snap = await snapshotModel(gpu, { field, occupancy, dt: s.dt });
      await saveCheckpoint(checkpointPath, {
        step,
        grid: snap.grid,
        featuresPerLevel: field.layout.config.featuresPerLevel,
        mlp: snap.mlp,
        adam: await adam.state(),
        occupancy: { ...snap.occupancy, res: occupancy.grid.res, slices: occupancy.grid.slices },
        rngState: rng.state,
        options: storedOptions,
        scene: scene.source,
      });
      lastCheckpoint = checkpointPath;
      emit({ type: "checkpoint", iteration: step, path: checkpointPath });
    };

    emit({
      type: "start",
      preset,
      adapter: gpu.adapterName,
      iteration: step,
      total: s.iterations,
      settings: { ...s },
    });
    const start = performance.now();
    const startStep = step;
    const targetRgb = new Float32Array(pixels * 3);
    const targetA = new Float32Array(pixels);
    const points = new Float32Array(s.timeTvPoints * 3);
    let pending = 0;
    let interrupted = false;
    const flushLosses = async () => {
      if (pending === 0) return;
      const values = new Float32Array(await gpu.read(ring, { byteLength: pending * 16 }));
      const sum = { rgb: 0, alpha: 0, tv: 0 };
      for (let i = 0; i < pending; i++) {
        sum.rgb += values[4 * i]!;
        sum.alpha += values[4 * i + 1]!;
        sum.tv += values[4 * i + 3]!;
      }
      const rgb = sum.rgb / pending, alpha = sum.alpha / pending, tvLoss = sum.tv / pending;
      pending = 0;
      const elapsedMs = performance.now() - start;
      emit({
        type: "progress",
        iteration: step,
        total: s.iterations,
        loss: {
          rgb,
          alpha,
          tv: tvLoss,
          total: rgb + s.alphaWeight * alpha + s.timeTvWeight * tvLoss,
        },
        itPerSec: (step - startStep) / Math.max(elapsedMs / 1000, 1e-9),
        elapsedMs,
      });
    };

    while (step < s.iterations) {
      if (options.signal?.aborted) {
        interrupted = true;
        break;
      }
      // SPEC.md §3.2: the update runs at step % 16 == 0, before the step's render.
      if (step % s.occupancyInterval === 0) occupancy.update(step, rng.fn);
      const frames: ClipFrame[] = [];
      for (let f = 0; f < F; f++) {
        if (pool !== null) {
          const view = pool[Math.min(pool.length - 1, Math.floor(rng.next() * pool.length))]!;
          frames.push({ camera: view.camera, time: view.time });
          targetRgb.set(view.rgb, f * size * size * 3);
          targetA.set(view.alpha, f * size * size);
          continue;
        }
        const camera = orbitCamera(sampleTrainingPose(rng), { width: size, height: size });
        const time = rng.next();
        frames.push({ camera, time });
        const gt = renderCameraGroundTruth(scene, camera, {
          time,
          subsamples: s.trainSubsamples,
          background: [1, 1, 1],
        });
        targetRgb.set(gt.rgb, f * size * size * 3);
        targetA.set(gt.alpha, f * size * size);
      }
      gpu.upload(target, targetRgb);
      gpu.upload(targetAlpha, targetA);
      if (s.lrFinalScale !== 1) {
        // A pure function of the step, so a resumed run follows the same schedule.
        const scale = s.lrFinalScale ** (step / Math.max(1, s.iterations));
        adam.setLr("grid", s.lrGrid * scale);
        adam.setLr("mlp", s.lrMlp * scale);
      }
      renderer.forward(frames, { step });
      gpu.submit((encoder) => {
        const pass = encoder.beginComputePass({ label: "fit image loss" });
        loss.encode(pass);
        pass.end();
      });
      renderer.backward(frames, { step });
      for (let i = 0; i < points.length; i++) points[i] = rng.uniform(-1, 1);
      gpu.upload(tvPoints, points);
      const slot = pending;
      gpu.submit((encoder) => {
        const pass = encoder.beginComputePass({ label: "fit tv + adam" });
        if (s.keyframes > 1 && s.timeTvWeight > 0) tv.encodeBackward(pass);
        adam.encodeStep(pass);
        pass.end();
        encoder.copyBufferToBuffer(loss.loss, 0, ring, slot * 16, 12);
        encoder.copyBufferToBuffer(tv.loss, 0, ring, slot * 16 + 12, 4);
      });
      step++;
      pending++;
      if (pending === s.logEvery || step === s.iterations) await flushLosses();
      if (s.checkpointEvery > 0 && step % s.checkpointEvery === 0 && step < s.iterations) {
        await save();
      }
    }
    await flushLosses();
    await gpu.flush();
    const trainMs = performance.now() - start;
    await save();
    emit({ type: "done", iteration: step, elapsedMs: trainMs, interrupted });
    let metrics: HeldOutMetrics | null = null;
    if ((options.evaluate ?? true) && !interrupted) {
      const evalSize = s.evalResolution === 0 ? s.resolution : s.evalResolution;
      // The held-out views of the middle time, fit above ground truth, for a quick look.
      const middle = Math.floor(s.evalTimes / 2) * s.evalViews;
      const shown: Float32Array[] = [];
      const truths: Float32Array[] = [];
      metrics = await scoreHeldOut(scene, model, {
        views: s.evalViews,
        times: s.evalTimes,
        size: evalSize,
        subsamples: s.gtSubsamples,
        onView: (done, total) => emit({ type: "eval", done, total }),
        onImages: (index, render, truth) => {
          if (index < middle || index >= middle + s.evalViews) return;
          shown.push(render);
          truths.push(Float32Array.from(truth));
        },
      });
      if (options.out !== undefined) {
        await writePng(`${options.out}/heldout_compare.png`, sideBySide(shown, truths, evalSize));
        const json = {
          scene: scene.name,
          preset,
          iterations: step,
          trainSeconds: trainMs / 1000,
          adapter: gpu.adapterName,
          ...metrics,
        };
        await Deno.writeTextFile(
          `${options.out}/metrics.json`,
          JSON.stringify(json, null, 2) + "\n",
        );
      }
    }
    for (const o of owned.splice(0).reverse()) o.destroy();
    return {
      model,
      preset,
      settings: s,
      step,
      metrics,
      checkpoint: lastCheckpoint,
      interrupted,
      trainMs,
      destroy: destroyAll,
    };
  } catch (error) {
    destroyAll();
    throw error;
  }
}

/**
 * The occupancy EMA grid's starting values: `hullDensity` in the visual hull of the
 * training masks, 0 elsewhere. Carved at most 64³ (then repeated up to the grid's
 * resolution) so the default preset's 128³×16 grid stays a few seconds of CPU.
 */
function hullPrior(scene: Scene, s: FitSettings): Float32Array<ArrayBuffer> {
  const res = s.occupancyRes;
  const coarse = Math.min(res, 64);
  const flags = maskHull(scene, {
    res: coarse,
    slices: s.occupancySlices,
    views: s.hullViews,
    timesPerSlice: s.occupancySlices >= 8 ? 2 : 3,
    size: Math.min(s.resolution, 64),
    dilate: 1,
    seed: s.seed,
  });
  const out = new Float32Array(s.occupancySlices * res ** 3);
  const f = coarse / res;
  for (let sl = 0; sl < s.occupancySlices; sl++) {
    for (let x = 0; x < res; x++) {
      for (let y = 0; y < res; y++) {
        for (let z = 0; z < res; z++) {
          const c = ((Math.floor(x * f) * coarse + Math.floor(y * f)) * coarse) + Math.floor(z * f);
          out[sl * res ** 3 + (x * res + y) * res + z] = flags[sl * coarse ** 3 + c]! *
            s.hullDensity;
        }
      }
    }
  }
  return out;
}

interface PoolView {
  camera: ClipFrame["camera"];
  time: number;
  rgb: Float32Array;
  alpha: Float32Array;
}

/** `trainingPool` training views with their ground truth, from the seed. */
function trainingPool(scene: Scene, s: FitSettings): PoolView[] {
  const rng = new RngStream(s.seed ^ 0x9001);
  const size = s.resolution;
  return Array.from({ length: s.trainingPool }, () => {
    const camera = orbitCamera(sampleTrainingPose(rng), { width: size, height: size });
    const time = rng.next();
    const gt = renderCameraGroundTruth(scene, camera, {
      time,
      subsamples: s.trainSubsamples,
      background: [1, 1, 1],
    });
    return { camera, time, rgb: Float32Array.from(gt.rgb), alpha: Float32Array.from(gt.alpha) };
  });
}

/** Renders in the top row, ground truth below. */
function sideBySide(top: Float32Array[], bottom: Float32Array[], size: number) {
  const width = top.length * size, height = 2 * size;
  const rgb = new Float32Array(width * height * 3);
  [top, bottom].forEach((row, r) =>
    row.forEach((img, i) => {
      for (let y = 0; y < size; y++) {
        rgb.set(
          img.subarray(y * size * 3, (y + 1) * size * 3),
          ((r * size + y) * width + i * size) * 3,
        );
      }
    })
  );
  return { width, height, rgb };
}

function restore(
  gpu: Gpu,
  parts: {
    field: Field;
    occupancy: FittedModel["occupancy"];
    adam: Adam;
    rng: RngStream;
  },
  state: CheckpointState,
  path: string,
): void {
  const { field, occupancy, adam, rng } = parts;
  const floats = field.layout.entries * field.layout.config.featuresPerLevel;
  if (state.grid.length !== field.layout.config.keyframes || state.grid[0]!.length !== floats) {
    throw new Error(
      `Invalid checkpoint ${path}: expected ${field.layout.config.keyframes} keyframes of ${floats} floats, got ${state.grid.length} of ${
        state.grid[0]!.length
      }`,
    );
  }
  if (state.mlp.length !== field.mlpLayout.size) {
    throw new Error(
      `Invalid checkpoint ${path}: expected ${field.mlpLayout.size} MLP floats, got ${state.mlp.length}`,
    );
  }
  field.write({ grid: state.grid, mlp: state.mlp });
  adam.loadState(state.adam);
  const o = state.occupancy;
  if (o.res !== occupancy.res || o.slices !== occupancy.slices) {
    throw new Error(
      `Invalid checkpoint ${path}: occupancy ${o.slices}×${o.res}³, expected ${occupancy.slices}×${occupancy.res}³`,
    );
  }
  gpu.upload(occupancy.grid, o.grid);
  gpu.upload(occupancy.bits, o.bits);
  gpu.upload(occupancy.stats, o.stats);
  rng.state = state.rngState;
}
