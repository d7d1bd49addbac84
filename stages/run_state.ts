/**
 * What the stages hand each other: the device, the resolved settings, the reference
 * image, the priors and the model, with the cumulative step that the schedules of
 * SPEC.md §9 ("Cumulative step") key on.
 *
 * @module
 */
import type { ReferenceImage } from "../io/reference_image.ts";
import type { Gpu } from "../kernels/gpu.ts";
import type { Prior } from "../priors/prior.ts";
import type { Scene } from "../scenes/scene_config.ts";
import type {
  AnimatePresetName,
  AnimateSettings,
  PriorRole,
  StageName,
} from "./animate_settings.ts";
import { STAGE_NAMES } from "./animate_settings.ts";
import type { StageModel } from "./stage_model.ts";

/**
 * The priors the stages call (SPEC.md §4).
 *
 * @example
 * ```ts
 * import { parseScene } from "../scenes/scene_config.ts";
 * import { prepareRun, releaseRun } from "./animate.ts";
 * import type { PriorSet } from "./run_state.ts";
 * const scene = parseScene(
 *   "name: a\nmotion_prompt: A ball bobs.\nprimitives: [{ type: sphere, radius: 0.4, color: [1, 0, 0] }]",
 * );
 * const state = await prepareRun({
 *   scene, image: "examples/bouncing_ball.png", preset: "tiny",
 *   config: { resolution: 8, field: { levels: 2, log2TableSize: 8 } },
 * });
 * // A synthetic scene gets oracle priors built from its ground truth.
 * const priors: PriorSet = state.priors;
 * console.log(priors.video?.name); // oracle-video
 * releaseRun(state);
 * ```
 */
export interface PriorSet {
  /** Text-to-image (Stable Diffusion's role), static stage. */
  image?: Prior;
  /** View-conditioned (Zero-1-to-3's role), all stages. */
  view?: Prior;
  /** Text-to-video (ModelScope's role), dynamic and refinement stages. */
  video?: Prior;
  /** Per-frame refinement (ControlNet-tile's role), refinement stage. */
  frame?: Prior;
}

/**
 * The state passed from stage to stage.
 *
 * @example
 * ```ts
 * import { parseScene } from "../scenes/scene_config.ts";
 * import { prepareRun, releaseRun } from "./animate.ts";
 * import type { RunState } from "./run_state.ts";
 * import { staticStage } from "./static_stage.ts";
 * const scene = parseScene(
 *   "name: a\nmotion_prompt: A ball bobs.\nprimitives: [{ type: sphere, radius: 0.4, color: [1, 0, 0] }]",
 * );
 * const start: RunState = await prepareRun({
 *   scene, image: "examples/bouncing_ball.png", preset: "tiny",
 *   config: { resolution: 8, field: { levels: 2, log2TableSize: 8 }, static: { iterations: 2 } },
 * });
 * console.log(start.model, start.step, start.prompts.motion); // null 0 A ball bobs.
 * const after: RunState = await staticStage(start);
 * console.log(after.model !== null, after.step, after.completed); // true 2 [ "static" ]
 * releaseRun(after);
 * ```
 */
export interface RunState {
  /** The device everything lives on. */
  gpu: Gpu;
  /** The preset the settings started from. */
  preset: AnimatePresetName;
  /** The resolved settings of every stage. */
  settings: AnimateSettings;
  /** The motion prompt and the static description. */
  prompts: { static: string; motion: string };
  /** The reference image, square, at its loaded size (SPEC.md: 256² before resizing). */
  reference: ReferenceImage;
  /** The priors the stages call; replace one to change what guides a stage. */
  priors: PriorSet;
  /** The synthetic scene behind oracle priors and scoring, if any. */
  scene: Scene | null;
  /** The current model; null before the static stage. */
  model: StageModel | null;
  /** Cumulative step. */
  step: number;
  /** State of the run's random stream. */
  rngState: number;
  /** Stages completed so far, in order. */
  completed: StageName[];
  /** Whether the last stage stopped early (abort signal). */
  interrupted: boolean;
}

/**
 * Cumulative step at which `stage` starts: the iterations of the stages before it, so a
 * run that starts at a later stage keeps the schedules of a full run.
 *
 * @example
 * ```ts
 * import { ANIMATE_PRESET_SETTINGS } from "./animate_settings.ts";
 * import { stageStart } from "./run_state.ts";
 * console.log(stageStart(ANIMATE_PRESET_SETTINGS.default, "refine")); // 15000
 * ```
 */
export function stageStart(settings: AnimateSettings, stage: StageName): number {
  let start = 0;
  for (const name of STAGE_NAMES) {
    if (name === stage) return start;
    start += settings[name].iterations;
  }
  return start;
}

/**
 * Cumulative step at which `stage` ends. The entropy ramp min(1, 2·step/iters) divides by
 * it (SPEC.md §5.5: the static stage is full at 2500, the dynamic one starts at 0.667).
 */
export function stageEnd(settings: AnimateSettings, stage: StageName): number {
  return stageStart(settings, stage) + settings[stage].iterations;
}

/**
 * The priors `stage` calls (its `priors` setting), checked present in the run.
 *
 * @param state the run
 * @param stage the stage about to run
 * @returns the stage's priors by role
 * @throws {Error} naming the stage and the role the run has no prior for
 *
 * @example The static stage calls the image and view priors
 * ```ts
 * import { parseScene } from "../scenes/scene_config.ts";
 * import { prepareRun, releaseRun } from "./animate.ts";
 * import { stagePriors } from "./run_state.ts";
 * const scene = parseScene(
 *   "name: a\nmotion_prompt: A ball bobs.\nprimitives: [{ type: sphere, radius: 0.4, color: [1, 0, 0] }]",
 * );
 * const state = await prepareRun({
 *   scene, image: "examples/bouncing_ball.png", preset: "tiny",
 *   config: { resolution: 8, field: { levels: 2, log2TableSize: 8 } },
 * });
 * console.log(Object.keys(stagePriors(state, "static"))); // [ "image", "view" ]
 * releaseRun(state);
 * ```
 */
export function stagePriors(
  state: Pick<RunState, "priors" | "settings">,
  stage: StageName,
): Partial<Record<PriorRole, Prior>> {
  const out: Partial<Record<PriorRole, Prior>> = {};
  for (const role of state.settings[stage].priors) {
    const prior = state.priors[role];
    if (prior === undefined) {
      throw new Error(
        `Invalid option ${stage}.priors: the ${stage} stage calls the ${role} prior, but the run loaded none (load it, or drop ${role} from ${stage}.priors)`,
      );
    }
    out[role] = prior;
  }
  return out;
}
