/**
 * Stage 3 of Animate124, semantic refinement (SPEC.md §5.4, "Stage 4"): the dynamic
 * stage's clip step, plus a frozen copy of the dynamic model rendered at the same rays,
 * times, shading and background, whose frames {0, F/2} are the control images of the
 * per-frame prior (ControlNet-tile's role, x̂₀ target, B = 2). The frozen copy's
 * occupancy is never updated.
 *
 * @module
 */
import type { ClipRenderer } from "../kernels/clip_renderer.ts";
import type { Gpu } from "../kernels/gpu.ts";
import {
  ClipProgram,
  type ClipStepHook,
  createClipRenderer,
  type DrawnClip,
} from "./dynamic_stage.ts";
import type { RngStream } from "./rng_stream.ts";
import type { Prior } from "../priors/prior.ts";
import { type RunState, stagePriors } from "./run_state.ts";
import { NormalImageTerms } from "./render_regularisers.ts";
import { type LossSource, runStage, type StageOptions } from "./stage_runner.ts";
import {
  createStageModel,
  destroyStageModel,
  restoreModel,
  snapshotModel,
  type StageModel,
} from "./stage_model.ts";

/** The frames the per-frame prior sees (`cn_frames 2`, method "even"): 0 and F/2. */
export function refinedFrames(frames: number): [number, number] {
  return [0, Math.floor(frames / 2)];
}

class RefineHook implements ClipStepHook {
  readonly terms = ["controlnet"];
  readonly #state: RunState;
  readonly #frozen: StageModel;
  readonly #frozenRenderer: ClipRenderer;
  readonly #pair: GPUBuffer;
  readonly #pairGrad: GPUBuffer;
  readonly #control: GPUBuffer;
  readonly #frame: Prior;

  constructor(
    state: RunState,
    parts: { frozen: StageModel; frozenRenderer: ClipRenderer; gpu: Gpu; frame: Prior },
  ) {
    this.#state = state;
    this.#frame = parts.frame;
    this.#frozen = parts.frozen;
    this.#frozenRenderer = parts.frozenRenderer;
    const bytes = 2 * state.settings.resolution ** 2 * 12;
    this.#pair = parts.gpu.createBuffer(bytes, { label: "refine frame pair" });
    this.#pairGrad = parts.gpu.createBuffer(bytes, { label: "refine frame pair grad" });
    this.#control = parts.gpu.createBuffer(bytes, { label: "refine control pair" });
  }

  async afterForward(
    clip: DrawnClip,
    renderer: ClipRenderer,
    rng: RngStream,
  ): Promise<LossSource[]> {
    const { gpu, settings: s, prompts } = this.#state;
    const frame = this.#frame;
    this.#frozenRenderer.forward(clip.frames, clip.render);
    const bytes = s.resolution ** 2 * 12;
    const picked = refinedFrames(clip.frames.length);
    gpu.submit((encoder) => {
      picked.forEach((f, i) => {
        encoder.copyBufferToBuffer(renderer.clip.image, f * bytes, this.#pair, i * bytes, bytes);
        encoder.copyBufferToBuffer(
          this.#frozenRenderer.clip.image,
          f * bytes,
          this.#control,
          i * bytes,
          bytes,
        );
      });
      encoder.clearBuffer(this.#pairGrad);
    });
    await frame.score({
      images: this.#pair,
      count: 2,
      width: s.resolution,
      height: s.resolution,
      grad: this.#pairGrad,
      random: rng.fn,
      conditioning: {
        prompt: prompts.static,
        cameras: picked.map((f) => clip.frames[f]!.camera),
        times: picked.map((f) => clip.frames[f]!.time),
        background: clip.background,
        control: this.#control,
      },
    });
    // The clip's colour gradient was just cleared, so copying the pair's gradient into
    // frames 0 and F/2 adds it; the video prior accumulates on top.
    gpu.submit((encoder) => {
      picked.forEach((f, i) => {
        encoder.copyBufferToBuffer(
          this.#pairGrad,
          i * bytes,
          renderer.grads.image,
          f * bytes,
          bytes,
        );
      });
    });
    return [["controlnet", frame.loss, 0]];
  }

  destroy(): void {
    this.#frozenRenderer.destroy();
    destroyStageModel(this.#frozen);
    for (const b of [this.#pair, this.#pairGrad, this.#control]) b.destroy();
  }
}

/**
 * Runs the refinement stage on the dynamic model in `state`.
 *
 * @param state the state after the dynamic stage
 * @param options events, abort signal, the stage folder for checkpoints
 * @returns the refined state; `completed` gains `refine` unless interrupted
 *
 * @example
 * ```ts
 * import { parseScene } from "../scenes/scene_config.ts";
 * import { prepareRun, releaseRun } from "./animate.ts";
 * import { dynamicStage } from "./dynamic_stage.ts";
 * import { refineStage } from "./refine_stage.ts";
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
 *     static: small, dynamic: small, refine: small,
 *   },
 * });
 * const after = await refineStage(await dynamicStage(await staticStage(state)));
 * console.log(after.completed.at(-1), after.step); // refine 6
 * releaseRun(after);
 * ```
 */
export async function refineStage(state: RunState, options: StageOptions = {}): Promise<RunState> {
  const { gpu, settings: s } = state;
  const model = state.model;
  if (model === null || model.field.layout.config.keyframes !== s.field.keyframes) {
    throw new Error("The refinement stage needs the dynamic model: run the dynamic stage first");
  }
  // Without the per-frame prior no control image is needed, so no frozen copy either.
  const frame = stagePriors(state, "refine").frame;
  let hook: RefineHook | undefined;
  if (frame !== undefined) {
    const frozen = await createStageModel(gpu, s.field, { dynamic: true, seed: s.seed });
    restoreModel(gpu, frozen, await snapshotModel(gpu, model));
    const frozenRenderer = await createClipRenderer(state, frozen);
    hook = new RefineHook(state, { frozen, frozenRenderer, gpu, frame });
  }
  const renderer = await createClipRenderer(state, model);
  const normalTerms = s.normals ? await NormalImageTerms.create(gpu, renderer, s.refine) : null;
  const program = new ClipProgram(state, {
    stage: "refine",
    model,
    renderer,
    normalTerms,
    ...(hook === undefined ? {} : { hook }),
  });
  try {
    const run = await runStage(state, program, options);
    return {
      ...state,
      step: run.step,
      rngState: run.rngState,
      interrupted: run.interrupted,
      completed: run.interrupted ? state.completed : [...state.completed, "refine"],
    };
  } finally {
    program.destroy();
  }
}
