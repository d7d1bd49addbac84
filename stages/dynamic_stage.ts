/**
 * Stage 2 of Animate124, the dynamic stage (SPEC.md §5.3, "Stage 3"): every keyframe
 * starts as a copy of the static field, and the text-to-video prior scores rendered clips
 * whose times follow the temporal sampling of SPEC.md §6 and whose cameras follow the
 * dynamic trajectories of §3.1. The view-conditioned prior scores frame 0 when the clip
 * is anchored at t = 0 and not mirrored (≈10 % of steps). Gradients are clipped to ±1 and
 * the time total variation ties neighbouring keyframes (both in the shared runner).
 *
 * @module
 */
import { orbitCamera } from "../kernels/camera.ts";
import type { Prior, RelativePose } from "../priors/prior.ts";
import { relativePoseOf } from "../priors/relative_pose.ts";
import {
  type ClipFrame,
  ClipRenderer,
  type RenderRegularisers,
  type RenderSettings,
} from "../kernels/clip_renderer.ts";
import { cameraAngleToReference, sampleClipCameras } from "./clip_cameras.ts";
import { sampleClipTimes } from "./clip_times.ts";
import type { RngStream } from "./rng_stream.ts";
import type { PriorRole } from "./animate_settings.ts";
import { type RunState, stageEnd, stagePriors } from "./run_state.ts";
import { NormalImageTerms, sampleRegularisers } from "./render_regularisers.ts";
import { sdsShading } from "./sds_shading.ts";
import { type LossSource, runStage, type StageOptions, type StageProgram } from "./stage_runner.ts";
import {
  createStageModel,
  destroyStageModel,
  restoreModel,
  snapshotModel,
  type StageModel,
} from "./stage_model.ts";
import { clearGrads, randomBackground, regulariserLosses } from "./static_stage.ts";

/** One drawn clip: frames, render settings and whether Zero-1-to-3 joins on frame 0. */
export interface DrawnClip {
  frames: ClipFrame[];
  render: RenderSettings & { regularisers: Required<RenderRegularisers> };
  background: [number, number, number];
  /** Angle of frame 0's camera to the reference, degrees. */
  angleDeg: number;
  startsAtZero: boolean;
  moving: boolean;
  /** Zero123's offsets of frame 0's camera from the reference view. */
  relativePose: RelativePose;
}

/**
 * Extra work a later stage adds to the clip step, between the trainable forward render
 * and the priors (the refinement stage's frozen render and per-frame prior).
 */
export interface ClipStepHook {
  terms: string[];
  /** Called after the trainable render and the gradient clear; returns its loss sources. */
  afterForward(clip: DrawnClip, renderer: ClipRenderer, rng: RngStream): Promise<LossSource[]>;
  destroy(): void;
}

/** The clip SDS step shared by the dynamic and refinement stages. */
export class ClipProgram implements StageProgram {
  readonly stage: "dynamic" | "refine";
  readonly terms: string[];
  readonly settings: RunState["settings"]["dynamic"];
  readonly model: StageModel;
  readonly renderer: ClipRenderer;
  readonly #state: RunState;
  readonly #hook: ClipStepHook | null;
  readonly #normalTerms: NormalImageTerms | null;
  readonly #priors: Partial<Record<PriorRole, Prior>>;

  constructor(
    state: RunState,
    parts: {
      stage: "dynamic" | "refine";
      model: StageModel;
      renderer: ClipRenderer;
      normalTerms: NormalImageTerms | null;
      hook?: ClipStepHook;
    },
  ) {
    this.#state = state;
    this.stage = parts.stage;
    this.settings = state.settings[parts.stage];
    this.#priors = stagePriors(state, parts.stage);
    this.model = parts.model;
    this.renderer = parts.renderer;
    this.#hook = parts.hook ?? null;
    this.#normalTerms = parts.normalTerms;
    this.terms = [
      "video",
      "zero123",
      "orientation",
      "normal_tv",
      "normal_blur",
      ...(this.#hook?.terms ?? []),
    ];
  }

  setActiveLevels(active: number): void {
    this.renderer.fieldEval.setActiveLevels(active);
  }

  /** Draws the clip of one step: times (§6), cameras (§3.1), background and shading. */
  drawClip(step: number, rng: RngStream): DrawnClip {
    const s = this.#state.settings;
    const size = s.resolution;
    // The original draws the cameras before the times.
    const cams = sampleClipCameras(rng, { frames: s.frames, dynamicCamRate: s.dynamicCamRate });
    const times = sampleClipTimes(rng, {
      frames: s.frames,
      precision: s.clipPrecision,
      zeroRate: s.zeroRate,
    });
    const frames = cams.poses.map((pose, i) => ({
      camera: orbitCamera(pose, { width: size, height: size }),
      time: times.times[i]!,
    }));
    const background = randomBackground(rng);
    const shading = sdsShading(this.stage, rng, { step, normals: s.normals });
    const regularisers = sampleRegularisers(this.settings, {
      step,
      stageEnd: stageEnd(s, this.stage),
      shading: shading.shading,
    });
    return {
      frames,
      background,
      render: { step, background, ...shading, regularisers },
      angleDeg: cameraAngleToReference(cams.poses[0]!),
      relativePose: relativePoseOf(cams.poses[0]!),
      startsAtZero: times.startsAtZero,
      moving: cams.moving,
    };
  }

  async sdsStep(step: number, rng: RngStream): Promise<LossSource[]> {
    const { gpu, settings: s, prompts } = this.#state;
    const priors = this.#priors;
    const clip = this.drawClip(step, rng);
    const r = this.renderer;
    r.forward(clip.frames, clip.render);
    clearGrads(gpu, r);
    const sources: LossSource[] = this.#normalTerms?.apply(
      clip.frames.length,
      clip.render.shading ?? "albedo",
    ) ?? [];
    if (this.#hook !== null) sources.push(...await this.#hook.afterForward(clip, r, rng));
    const cameras = clip.frames.map((f) => f.camera);
    const times = clip.frames.map((f) => f.time);
    const base = {
      images: r.clip.image,
      width: s.resolution,
      height: s.resolution,
      grad: r.grads.image,
      random: rng.fn,
    };
    if (priors.video !== undefined) {
      await priors.video.score({
        ...base,
        count: clip.frames.length,
        conditioning: { prompt: prompts.motion, cameras, times, background: clip.background },
      });
      sources.push(["video", priors.video.loss, 0]);
    }
    if (clip.startsAtZero && priors.view !== undefined) {
      await priors.view.score({
        ...base,
        count: 1,
        conditioning: {
          prompt: prompts.static,
          cameras: [cameras[0]!],
          times: [0],
          background: clip.background,
          relativePose: clip.relativePose,
        },
      });
      sources.push(["zero123", priors.view.loss, 0]);
    }
    r.backward(clip.frames, clip.render);
    return [...sources, ...regulariserLosses(r, clip.render.regularisers!)];
  }

  destroy(): void {
    this.#hook?.destroy();
    this.#normalTerms?.destroy();
    this.renderer.destroy();
  }
}

/** Builds the clip renderer of a dynamic-stage model. */
export function createClipRenderer(state: RunState, model: StageModel): Promise<ClipRenderer> {
  const s = state.settings;
  return ClipRenderer.create(state.gpu, model.field, {
    width: s.resolution,
    height: s.resolution,
    maxFrames: s.frames,
    occupancy: model.occupancy.grid,
    dt: model.dt,
    perturb: true,
    seed: s.seed ^ 0xd1,
    normals: s.normals,
  });
}

/**
 * Runs the dynamic stage. A static model in `state` (one keyframe) is first copied into
 * every keyframe of a fresh dynamic model and every occupancy slice; a dynamic model
 * (resuming) is trained as it is.
 *
 * @param state the state after the static stage
 * @param options events, abort signal, the stage folder for checkpoints
 * @returns the state with the dynamic model; `completed` gains `dynamic` unless interrupted
 *
 * @example
 * ```ts
 * import { parseScene } from "../scenes/scene_config.ts";
 * import { prepareRun, releaseRun } from "./animate.ts";
 * import { dynamicStage } from "./dynamic_stage.ts";
 * import { staticStage } from "./static_stage.ts";
 * const scene = parseScene(
 *   "name: a\nmotion_prompt: A ball bobs.\nprimitives: [{ type: sphere, radius: 0.4, color: [1, 0, 0] }]",
 * );
 * const small = { iterations: 2, referenceWarmup: 1, checkpointEvery: 0 };
 * const state = await prepareRun({
 *   scene, image: "examples/bouncing_ball.png", preset: "tiny",
 *   config: {
 *     resolution: 8, frames: 2, clipPrecision: 8, timeTvPoints: 16,
 *     field: { levels: 2, log2TableSize: 8, keyframes: 2, occupancyRes: 8, occupancySlices: 2 },
 *     static: small, dynamic: small,
 *   },
 * });
 * const after = await dynamicStage(await staticStage(state));
 * // The static field was copied into both keyframes and trained on.
 * console.log(after.completed, after.step); // [ "static", "dynamic" ] 4
 * console.log(after.model?.field.layout.config.keyframes); // 2
 * releaseRun(after);
 * ```
 */
export async function dynamicStage(
  state: RunState,
  options: StageOptions = {},
): Promise<RunState> {
  const { gpu, settings: s } = state;
  if (state.model === null) {
    throw new Error("The dynamic stage needs a model: run the static stage first");
  }
  let model = state.model;
  if (model.field.layout.config.keyframes === 1 && s.field.keyframes > 1) {
    const lifted = await createStageModel(gpu, s.field, { dynamic: true, seed: s.seed });
    restoreModel(gpu, lifted, await snapshotModel(gpu, model));
    destroyStageModel(model);
    model = lifted;
  }
  const renderer = await createClipRenderer(state, model);
  const normalTerms = s.normals ? await NormalImageTerms.create(gpu, renderer, s.dynamic) : null;
  const program = new ClipProgram(state, { stage: "dynamic", model, renderer, normalTerms });
  try {
    const run = await runStage({ ...state, model }, program, options);
    return {
      ...state,
      model,
      step: run.step,
      rngState: run.rngState,
      interrupted: run.interrupted,
      completed: run.interrupted ? state.completed : [...state.completed, "dynamic"],
    };
  } finally {
    program.destroy();
  }
}
