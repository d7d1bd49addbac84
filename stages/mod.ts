/**
 * The method as code: the static, dynamic and refinement stages as plain async functions
 * of `(state, options)`, the run state they hand each other, their settings and presets,
 * held-out scoring and turntable export, and {@linkcode animate}, which composes them.
 *
 * Compose the stages yourself to look at (or change) what each one hands the next: build
 * the state with {@linkcode prepareRun}, pass it through {@linkcode staticStage},
 * {@linkcode dynamicStage} and {@linkcode refineStage}, score and export it, and free it
 * with {@linkcode releaseRun}. Any of the four priors in `state.priors` can be replaced
 * between stages by your own `Prior` (see the priors module).
 *
 * @example The stages in order, and a preset with one setting overridden
 * ```ts
 * import { resolveAnimateSettings, STAGE_NAMES } from "./mod.ts";
 * const settings = resolveAnimateSettings("tiny", { dynamic: { iterations: 40 } });
 * console.log(STAGE_NAMES.join(" → "), settings.dynamic.iterations); // static → dynamic → refine 40
 * ```
 *
 * @module
 */
export {
  animate,
  type AnimateMetrics,
  type AnimateOptions,
  type AnimateResult,
  exportStage,
  type PrepareOptions,
  prepareRun,
  releaseRun,
  scoreStage,
  type Stage,
  STAGES,
} from "./animate.ts";
export { staticStage } from "./static_stage.ts";
export { dynamicStage } from "./dynamic_stage.ts";
export { refineStage } from "./refine_stage.ts";
export { type PriorSet, type RunState, stagePriors } from "./run_state.ts";
export type { StageModel } from "./stage_model.ts";
export type { StageEvent, StageOptions } from "./stage_runner.ts";
export {
  ANIMATE_PRESET_SETTINGS,
  ANIMATE_PRESETS,
  type AnimateOverrides,
  type AnimatePresetName,
  type AnimateSettings,
  type DeepPartial,
  type FieldSettings,
  type ModelSettings,
  PRIOR_ROLES,
  type PriorRole,
  type PriorSettings,
  type PriorsSettings,
  resolveAnimateSettings,
  SettingsError,
  STAGE_NAMES,
  STAGE_PRIOR_ROLES,
  type StageName,
  type StageSettings,
} from "./animate_settings.ts";
export type { HeldOutMetrics, TimeScore } from "./held_out_score.ts";
export { createScenePriors } from "./scene_priors.ts";
export { createModelPriors, type ModelPriorsOptions, priorRolesOf } from "./model_priors.ts";
export type { ReferenceImage } from "../io/reference_image.ts";
