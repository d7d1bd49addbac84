/**
 * Stage 1 of Animate124, the static stage (SPEC.md §5.3, "Stage 2 static" in the
 * original's numbering): a one-keyframe field fitted to the reference view, with the
 * text-to-image prior and the view-conditioned prior shaping the unseen sides on every
 * SDS step. Zero-1-to-3's gradient is scaled by angle/180° to the reference (SPEC.md §4).
 *
 * @module
 */
import { resizeReference } from "../io/reference_image.ts";
import { orbitCamera } from "../kernels/camera.ts";
import {
  type ClipFrame,
  ClipRenderer,
  type RenderRegularisers,
  type RenderSettings,
} from "../kernels/clip_renderer.ts";
import type { Gpu } from "../kernels/gpu.ts";
import type { Prior } from "../priors/prior.ts";
import { relativePoseOf } from "../priors/relative_pose.ts";
import type { RngStream } from "./rng_stream.ts";
import type { PriorRole } from "./animate_settings.ts";
import { type RunState, stageEnd, stagePriors } from "./run_state.ts";
import { NormalImageTerms, sampleRegularisers } from "./render_regularisers.ts";
import { sdsShading } from "./sds_shading.ts";
import { silhouetteCone } from "./silhouette_cone.ts";
import { type LossSource, runStage, type StageOptions, type StageProgram } from "./stage_runner.ts";
import { createStageModel, destroyStageModel, type StageModel } from "./stage_model.ts";
import { sampleTrainingPose } from "./training_cameras.ts";

/** A random solid background per SDS step (SPEC.md §3.3). */
export function randomBackground(rng: RngStream): [number, number, number] {
  return [rng.next(), rng.next(), rng.next()];
}

/** Loss sources of the per-sample terms that were on in a backward. */
export function regulariserLosses(
  renderer: ClipRenderer,
  regularisers: Required<RenderRegularisers>,
): LossSource[] {
  const out: LossSource[] = [];
  if (regularisers.entropy > 0) out.push(["entropy", renderer.regLoss, 0]);
  if (regularisers.orientation > 0 && renderer.normals) {
    out.push(["orientation", renderer.regLoss, 4]);
  }
  return out;
}

/** Zeroes the colour gradient the priors add into (they accumulate). */
export function clearGrads(gpu: Gpu, renderer: ClipRenderer): void {
  gpu.submit((encoder) => encoder.clearBuffer(renderer.grads.image));
}

class StaticProgram implements StageProgram {
  readonly stage = "static" as const;
  readonly terms = ["sd", "zero123", "orientation", "normal_tv", "normal_blur"];
  readonly settings: RunState["settings"]["static"];
  readonly model: StageModel;
  readonly #state: RunState;
  readonly #renderer: ClipRenderer;
  readonly #normalTerms: NormalImageTerms | null;
  readonly #priors: Partial<Record<PriorRole, Prior>>;

  constructor(
    state: RunState,
    parts: { model: StageModel; renderer: ClipRenderer; normalTerms: NormalImageTerms | null },
  ) {
    this.#state = state;
    this.#priors = stagePriors(state, "static");
    this.settings = state.settings.static;
    this.model = parts.model;
    this.#renderer = parts.renderer;
    this.#normalTerms = parts.normalTerms;
  }

  setActiveLevels(active: number): void {
    this.#renderer.fieldEval.setActiveLevels(active);
  }

  async sdsStep(step: number, rng: RngStream): Promise<LossSource[]> {
    const { gpu, settings: s, prompts } = this.#state;
    const priors = this.#priors;
    const size = s.resolution;
    const pose = sampleTrainingPose(rng);
    const camera = orbitCamera(pose, { width: size, height: size });
    const frames: ClipFrame[] = [{ camera, time: 0 }];
    const background = randomBackground(rng);
    const shading = sdsShading("static", rng, { step, normals: s.normals });
    const regularisers = sampleRegularisers(this.settings, {
      step,
      stageEnd: stageEnd(s, "static"),
      shading: shading.shading,
    });
    const render: RenderSettings = { step, background, ...shading, regularisers };
    const r = this.#renderer;
    r.forward(frames, render);
    clearGrads(gpu, r);
    const sources: LossSource[] = this.#normalTerms?.apply(1, shading.shading) ?? [];
    const request = {
      images: r.clip.image,
      count: 1,
      width: size,
      height: size,
      grad: r.grads.image,
      random: rng.fn,
    };
    const conditioning = {
      prompt: prompts.static,
      cameras: [camera],
      times: [0],
      background,
      relativePose: relativePoseOf(pose),
    };
    if (priors.image !== undefined) {
      await priors.image.score({ ...request, conditioning });
      sources.push(["sd", priors.image.loss, 0]);
    }
    // Zero123's λ·angle/180° scaling lives in the prior (its `angleScale` option).
    if (priors.view !== undefined) {
      await priors.view.score({ ...request, conditioning });
      sources.push(["zero123", priors.view.loss, 0]);
    }
    r.backward(frames, render);
    return [...sources, ...regulariserLosses(r, regularisers)];
  }

  destroy(): void {
    this.#normalTerms?.destroy();
    this.#renderer.destroy();
  }
}

/**
 * Runs the static stage on a fresh one-keyframe model and returns the state with it.
 *
 * @param state the run state (`model` null, or a static model to continue)
 * @param options events, abort signal, the stage folder for checkpoints
 * @returns the state after the stage; `completed` gains `static` unless interrupted
 *
 * @example
 * ```ts
 * import { parseScene } from "../scenes/scene_config.ts";
 * import { prepareRun, releaseRun } from "./animate.ts";
 * import { staticStage } from "./static_stage.ts";
 * const scene = parseScene(
 *   "name: a\nmotion_prompt: A ball bobs.\nprimitives: [{ type: sphere, radius: 0.4, color: [1, 0, 0] }]",
 * );
 * const state = await prepareRun({
 *   scene, image: "examples/bouncing_ball.png", preset: "tiny",
 *   config: { resolution: 8, field: { levels: 2, log2TableSize: 8 }, static: { iterations: 2 } },
 * });
 * const after = await staticStage(state);
 * // One keyframe: the static field.
 * console.log(after.completed, after.step); // [ "static" ] 2
 * console.log(after.model?.field.layout.config.keyframes); // 1
 * releaseRun(after);
 * ```
 */
export async function staticStage(state: RunState, options: StageOptions = {}): Promise<RunState> {
  const { gpu, settings: s } = state;
  const fresh = state.model === null;
  const model = state.model ?? await createStageModel(gpu, s.field, {
    dynamic: false,
    seed: s.seed,
  });
  try {
    if (fresh && s.occupancySeed > 0) {
      // At 64² a cell of the 32³–128³ grids spans 1–3 pixels; 2 pixels of dilation cover
      // a cell's extent around its centre.
      const r = resizeReference(state.reference, 64);
      const cone = silhouetteCone(r.mask, r.size, { res: s.field.occupancyRes, dilate: 2 });
      gpu.upload(model.occupancy.grid.grid, cone.map((f) => f * s.occupancySeed));
    }
    const renderer = await ClipRenderer.create(gpu, model.field, {
      width: s.resolution,
      height: s.resolution,
      maxFrames: 1,
      occupancy: model.occupancy.grid,
      dt: model.dt,
      perturb: true,
      seed: s.seed,
      normals: s.normals,
    });
    const normalTerms = s.normals ? await NormalImageTerms.create(gpu, renderer, s.static) : null;
    const program = new StaticProgram(state, { model, renderer, normalTerms });
    try {
      const run = await runStage({ ...state, model }, program, options);
      return {
        ...state,
        model,
        step: run.step,
        rngState: run.rngState,
        interrupted: run.interrupted,
        completed: run.interrupted ? state.completed : [...state.completed, "static"],
      };
    } finally {
      program.destroy();
    }
  } catch (error) {
    if (state.model === null) destroyStageModel(model);
    throw error;
  }
}
