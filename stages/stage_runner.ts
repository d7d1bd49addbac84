/**
 * The iteration skeleton every stage shares (SPEC.md §5.1): occupancy update on its
 * cadence, the coarse-to-fine level mask, the reference step or the stage's SDS step,
 * the regularisers, a fresh Adam with the stage's clip, losses in a GPU ring read every
 * `logEvery` steps, checkpoints, and a clean stop on abort. A stage supplies only its SDS
 * step.
 *
 * @module
 */
import { resizeReference } from "../io/reference_image.ts";
import { Adam } from "../kernels/adam.ts";
import { chunkFloats } from "../kernels/grid_config.ts";
import { OccupancyDilate } from "../kernels/occupancy_dilate.ts";
import { TimeTv } from "../kernels/time_tv.ts";
import type { StageName, StageSettings } from "./animate_settings.ts";
import { loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
import { PreviewRenderer } from "./preview_renderer.ts";
import { ReferenceStep } from "./reference_step.ts";
import { sampleRegularisers } from "./render_regularisers.ts";
import { RngStream } from "./rng_stream.ts";
import { type RunState, stageEnd, stageStart } from "./run_state.ts";
import { restoreModel, snapshotModel, type StageModel } from "./stage_model.ts";

/**
 * Progress events of a stage (and of {@linkcode animate}'s scoring and export).
 *
 * @example
 * ```ts
 * import { parseScene } from "../scenes/scene_config.ts";
 * import { prepareRun, releaseRun } from "./animate.ts";
 * import type { StageEvent } from "./stage_runner.ts";
 * import { staticStage } from "./static_stage.ts";
 * const scene = parseScene(
 *   "name: a\nmotion_prompt: A ball bobs.\nprimitives: [{ type: sphere, radius: 0.4, color: [1, 0, 0] }]",
 * );
 * const state = await prepareRun({
 *   scene, image: "examples/bouncing_ball.png", preset: "tiny",
 *   config: { resolution: 8, field: { levels: 2, log2TableSize: 8 }, static: { iterations: 2 } },
 * });
 * const events: StageEvent[] = [];
 * const after = await staticStage(state, { onEvent: (e) => events.push(e) });
 * console.log(events[0]?.type, events.at(-1)?.type); // stage-start stage-done
 * releaseRun(after);
 * ```
 */
export type StageEvent =
  | {
    type: "stage-start";
    stage: StageName;
    /** Iteration within the stage the run starts at (non-zero when resuming). */
    iteration: number;
    total: number;
    /** Cumulative step. */
    step: number;
    adapter: string;
  }
  | {
    type: "progress";
    stage: StageName;
    iteration: number;
    total: number;
    step: number;
    /** Mean of each loss term over the steps since the last event that computed it. */
    loss: Record<string, number>;
    /** Learning rates in use. */
    lr: { grid: number; mlp: number };
    itPerSec: number;
    /** Estimated seconds left in this stage. */
    secondsLeft: number;
    elapsedMs: number;
  }
  | { type: "checkpoint"; stage: StageName; iteration: number; path: string }
  | {
    type: "preview";
    stage: StageName;
    iteration: number;
    /** PNGs relative to the run folder: the reference view, then a moving view. */
    files: string[];
  }
  | {
    type: "stage-done";
    stage: StageName;
    iteration: number;
    total: number;
    elapsedMs: number;
    interrupted: boolean;
  }
  | { type: "eval"; stage: StageName | "final"; psnr: number; ssim: number }
  | { type: "export"; stage: StageName; files: string[] };

/**
 * Options every stage function takes.
 *
 * @example
 * ```ts
 * import { parseScene } from "../scenes/scene_config.ts";
 * import { prepareRun, releaseRun } from "./animate.ts";
 * import type { StageOptions } from "./stage_runner.ts";
 * import { staticStage } from "./static_stage.ts";
 * const scene = parseScene(
 *   "name: a\nmotion_prompt: A ball bobs.\nprimitives: [{ type: sphere, radius: 0.4, color: [1, 0, 0] }]",
 * );
 * const state = await prepareRun({
 *   scene, image: "examples/bouncing_ball.png", preset: "tiny",
 *   config: { resolution: 8, field: { levels: 2, log2TableSize: 8 }, static: { iterations: 2 } },
 * });
 * // Already aborted: the stage stops before its first step and saves a checkpoint in `out`.
 * const controller = new AbortController();
 * controller.abort();
 * const out = await Deno.makeTempDir();
 * const options: StageOptions = { signal: controller.signal, out };
 * const after = await staticStage(state, options);
 * const saved = (await Deno.stat(`${out}/checkpoint.safetensors`)).isFile;
 * console.log(after.interrupted, after.completed, saved); // true [] true
 * releaseRun(after);
 * await Deno.remove(out, { recursive: true });
 * ```
 */
export interface StageOptions {
  /** Progress sink; library code never prints. */
  onEvent?: (event: StageEvent) => void;
  /** Stops at the next step boundary, after saving a checkpoint when `out` is set. */
  signal?: AbortSignal;
  /** The stage's folder: `checkpoint.safetensors` goes there. */
  out?: string;
}

/** One loss value the SDS step produced: a term name and where its f32 sits on the GPU. */
export type LossSource = [name: string, buffer: GPUBuffer, byteOffset: number];

/** What a stage plugs into the skeleton. */
export interface StageProgram {
  stage: StageName;
  settings: StageSettings;
  model: StageModel;
  /** Names of the terms its SDS step reports (the ring's columns after the shared ones). */
  terms: string[];
  /** Applies the coarse-to-fine mask (levels ≥ `active` off) to the program's renderers. */
  setActiveLevels(active: number): void;
  /** Encodes and submits one SDS step: renders, priors, backward. No read-back. */
  sdsStep(step: number, rng: RngStream): Promise<LossSource[]>;
  /** Frees what the program allocated (not the model). */
  destroy(): void;
}

/** What {@linkcode runStage} returns. */
export interface StageRun {
  step: number;
  rngState: number;
  interrupted: boolean;
  checkpoint: string | null;
  elapsedMs: number;
}

/** Name of a stage's checkpoint inside its folder. */
export const STAGE_CHECKPOINT = "checkpoint.safetensors";

const SHARED_TERMS = ["ref_rgb", "ref_mask", "time_tv", "entropy"];

/**
 * Runs `program` from the state's cumulative step to the end of its stage.
 *
 * @param state the run state (its `model` must be `program.model`)
 * @param program the stage's SDS step and settings
 * @param options events, abort signal, output folder
 * @returns the new cumulative step and random state
 */
export async function runStage(
  state: RunState,
  program: StageProgram,
  options: StageOptions = {},
): Promise<StageRun> {
  const { gpu, settings: s } = state;
  const t = program.settings;
  const model = program.model;
  const emit = options.onEvent ?? (() => {});
  const first = stageStart(s, program.stage);
  const last = stageEnd(s, program.stage);
  const owned: { destroy(): void }[] = [];
  try {
    const refSize = Math.round(s.resolution * s.referenceScale);
    const ref = await ReferenceStep.create(gpu, model, {
      target: { size: refSize, ...referenceAt(state, refSize) },
      weights: { rgb: t.rgbWeight, mask: t.maskWeight },
      seed: s.seed,
    });
    owned.push(ref);
    const field = model.field;
    const tvPoints = gpu.createBuffer(s.timeTvPoints * 12, { label: "stage tv points" });
    owned.push({ destroy: () => tvPoints.destroy() });
    const keyframes = field.layout.config.keyframes;
    const tv = await TimeTv.create(gpu, field.layout, {
      params: field.grid,
      grads: field.gridGrads,
      points: tvPoints,
      batch: s.timeTvPoints,
      lambda: t.timeTvWeight,
    });
    owned.push(tv);
    const adam = await Adam.create(gpu, {
      groups: [
        {
          name: "grid",
          params: field.grid,
          grads: field.gridGrads,
          floats: field.grid.map((_, c) => chunkFloats(field.layout, c)),
          lr: t.lrGrid,
        },
        {
          name: "mlp",
          params: [field.mlp],
          grads: [field.mlpGrads],
          floats: [field.mlpLayout.size],
          lr: t.lrMlp,
        },
      ],
      clip: t.gradClip,
      zeroGrads: true,
    });
    owned.push(adam);
    const terms = [...SHARED_TERMS, ...program.terms];
    const columns = terms.length;
    const ring = gpu.createBuffer(s.logEvery * columns * 4, { label: "stage loss ring" });
    owned.push({ destroy: () => ring.destroy() });
    const rng = new RngStream(0);
    rng.state = state.rngState;
    let step = Math.max(state.step, first);
    const checkpointPath = options.out === undefined
      ? null
      : `${options.out.replace(/\/+$/, "")}/${STAGE_CHECKPOINT}`;
    if (checkpointPath !== null) {
      await Deno.mkdir(options.out!, { recursive: true });
      const resumed = await tryResume(checkpointPath, program, { gpu, adam, first, last });
      if (resumed !== null) {
        step = resumed.step;
        rng.state = resumed.rngState;
      }
    }
    let lastCheckpoint: string | null = null;
    const save = async () => {
      if (checkpointPath === null) return;
      const snap = await snapshotModel(gpu, model);
      await saveCheckpoint(checkpointPath, {
        step,
        grid: snap.grid,
        featuresPerLevel: field.layout.config.featuresPerLevel,
        mlp: snap.mlp,
        adam: await adam.state(),
        occupancy: {
          ...snap.occupancy,
          res: model.occupancy.grid.res,
          slices: model.occupancy.grid.slices,
        },
        rngState: rng.state,
        options: {
          stage: program.stage,
          preset: state.preset,
          complete: step >= last,
          settings: s,
          prompts: state.prompts,
        },
        scene: state.scene?.source ?? "",
      });
      lastCheckpoint = checkpointPath;
      emit({
        type: "checkpoint",
        stage: program.stage,
        iteration: step - first,
        path: checkpointPath,
      });
    };

    emit({
      type: "stage-start",
      stage: program.stage,
      iteration: step - first,
      total: t.iterations,
      step,
      adapter: gpu.adapterName,
    });
    const start = performance.now();
    const startStep = step;
    const points = new Float32Array(s.timeTvPoints * 3);
    const sums = new Float64Array(columns);
    const counts = new Float64Array(columns);
    const active: number[][] = [];
    let pending = 0;
    let interrupted = false;
    const flush = async () => {
      if (pending === 0) return;
      const values = new Float32Array(
        await gpu.read(ring, { byteLength: pending * columns * 4 }),
      );
      sums.fill(0);
      counts.fill(0);
      active.forEach((cols, row) => {
        for (const c of cols) {
          sums[c]! += values[row * columns + c]!;
          counts[c]! += 1;
        }
      });
      pending = 0;
      active.length = 0;
      const loss: Record<string, number> = {};
      terms.forEach((name, c) => {
        if (counts[c]! > 0) loss[name] = sums[c]! / counts[c]!;
      });
      const elapsedMs = performance.now() - start;
      const itPerSec = (step - startStep) / Math.max(elapsedMs / 1000, 1e-9);
      emit({
        type: "progress",
        stage: program.stage,
        iteration: step - first,
        total: t.iterations,
        step,
        loss,
        lr: { grid: t.lrGrid, mlp: t.lrMlp },
        itPerSec,
        secondsLeft: itPerSec > 0 ? (last - step) / itPerSec : 0,
        elapsedMs,
      });
    };

    const preview = options.out !== undefined && s.previewEvery > 0
      ? await PreviewRenderer.create(gpu, model, { size: s.previewSize, folder: options.out })
      : null;
    if (preview !== null) owned.push(preview);
    const emitPreview = async () => {
      if (preview === null) return;
      const files = await preview.write(step - first, { progress: (step - first) / t.iterations });
      emit({ type: "preview", stage: program.stage, iteration: step - first, files });
    };

    const dilate = t.occupancyDilate
      ? await OccupancyDilate.create(gpu, model.occupancy.grid)
      : null;
    if (dilate !== null) owned.push(dilate);

    const levels = field.layout.config.levels;
    let currentLevels = -1;
    while (step < last) {
      if (options.signal?.aborted) {
        interrupted = true;
        break;
      }
      // SPEC.md §5.1: occupancy at step % 16 == 0 and the level mask at step ≤ N, both
      // checked before the increment.
      if (step % s.field.occupancyInterval === 0) {
        model.occupancy.update(step, rng.fn);
        if (dilate !== null) gpu.submit((encoder) => dilate.encode(encoder));
      }
      const masked = step <= t.levelMaskSteps;
      const activeLevels = masked ? Math.max(1, Math.ceil(levels / 2)) : levels;
      // The mask changes once per stage at most, so its uniforms are written only then.
      if (activeLevels !== currentLevels) {
        ref.renderer.fieldEval.setActiveLevels(activeLevels);
        program.setActiveLevels(activeLevels);
        currentLevels = activeLevels;
      }
      step++;
      const isReference = step < t.referenceWarmup + first || step % t.referenceEvery === 0;
      const sources: LossSource[] = [];
      if (isReference) {
        const regs = sampleRegularisers(t, { step, stageEnd: last, shading: "albedo" });
        ref.step(step, rng, regs);
        sources.push(["ref_rgb", ref.loss.loss, 0], ["ref_mask", ref.loss.loss, 4]);
        if (regs.entropy > 0) sources.push(["entropy", ref.renderer.regLoss, 0]);
      } else {
        sources.push(...await program.sdsStep(step, rng));
      }
      const useTv = keyframes > 1 && t.timeTvWeight > 0;
      if (useTv) {
        for (let i = 0; i < points.length; i++) points[i] = rng.uniform(-1, 1);
        gpu.upload(tvPoints, points);
        sources.push(["time_tv", tv.loss, 0]);
      }
      const slot = pending;
      const cols: number[] = [];
      gpu.submit((encoder) => {
        const pass = encoder.beginComputePass({ label: `${program.stage} tv + adam` });
        if (useTv) tv.encodeBackward(pass);
        adam.encodeStep(pass);
        pass.end();
        for (const [name, buffer, offset] of sources) {
          const c = terms.indexOf(name);
          if (c < 0) {
            throw new Error(`Stage ${program.stage} reported an unknown loss term ${name}`);
          }
          cols.push(c);
          encoder.copyBufferToBuffer(buffer, offset, ring, (slot * columns + c) * 4, 4);
        }
      });
      active.push(cols);
      pending++;
      if (pending === s.logEvery || step === last) await flush();
      if (t.checkpointEvery > 0 && (step - first) % t.checkpointEvery === 0 && step < last) {
        await save();
      }
      if (s.previewEvery > 0 && (step - first) % s.previewEvery === 0) await emitPreview();
    }
    await flush();
    await gpu.flush();
    const elapsedMs = performance.now() - start;
    await save();
    if (s.previewEvery > 0 && (step - first) % s.previewEvery !== 0) await emitPreview();
    emit({
      type: "stage-done",
      stage: program.stage,
      iteration: step - first,
      total: t.iterations,
      elapsedMs,
      interrupted,
    });
    return { step, rngState: rng.state, interrupted, checkpoint: lastCheckpoint, elapsedMs };
  } finally {
    for (const o of owned.reverse()) o.destroy();
  }
}

/** The reference image area-resized to the reference render, with M = alpha > 0.5. */
function referenceAt(state: RunState, size: number): { rgb: Float32Array; mask: Float32Array } {
  const r = resizeReference(state.reference, size);
  return { rgb: r.rgb, mask: Float32Array.from(r.mask) };
}

/**
 * Continues an interrupted stage from its checkpoint: same step, optimiser state and
 * random stream. A complete checkpoint or one of another stage is left alone.
 */
async function tryResume(
  path: string,
  program: StageProgram,
  ctx: { gpu: RunState["gpu"]; adam: Adam; first: number; last: number },
): Promise<{ step: number; rngState: number } | null> {
  try {
    await Deno.stat(path);
  } catch {
    return null;
  }
  const ck = await loadCheckpoint(path);
  const opts = ck.options as { stage?: string; complete?: boolean };
  if (opts.stage !== program.stage || opts.complete === true) return null;
  if (ck.step < ctx.first || ck.step > ctx.last) return null;
  restoreModel(ctx.gpu, program.model, {
    grid: ck.grid,
    mlp: ck.mlp,
    occupancy: ck.occupancy,
  });
  ctx.adam.loadState(ck.adam);
  return { step: ck.step, rngState: ck.rngState };
}
