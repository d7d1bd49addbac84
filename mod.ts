/**
 * animate124: one image and one sentence about motion to a 4D scene, on Deno and WebGPU.
 *
 * This module is the public surface: the three stages and `animate()` that composes them,
 * the priors, the core engine (WebGPU runtime, 4D field, renderer, optimiser), synthetic
 * scenes with ground truth, and the file formats the toolkit writes.
 *
 * @example
 * ```ts
 * import { gridLayout } from "./mod.ts";
 * console.log(gridLayout({ keyframes: 64 }).entries); // 903480
 * ```
 *
 * @module
 */
export * from "./kernels/mod.ts";
export { loadScene, parseScene, type Scene } from "./scenes/scene_config.ts";
export { renderCameraGroundTruth, renderGroundTruth } from "./scenes/ground_truth.ts";
export { readSafetensors, writeSafetensors } from "./io/safetensors.ts";
export { readImage, writePng } from "./io/png.ts";
export { writeGif } from "./io/gif.ts";
export { hasFfmpeg, writeMp4 } from "./io/mp4.ts";
export * from "./priors/mod.ts";
export {
  animate,
  type AnimateOptions,
  type AnimateResult,
  exportStage,
  prepareRun,
  type PrepareOptions,
  releaseRun,
  scoreStage,
  STAGES,
} from "./stages/animate.ts";
export {
  ANIMATE_PRESET_SETTINGS,
  type AnimateSettings,
  resolveAnimateSettings,
  STAGE_NAMES,
  type StageName,
} from "./stages/animate_settings.ts";
export { staticStage } from "./stages/static_stage.ts";
export { dynamicStage } from "./stages/dynamic_stage.ts";
export { refineStage } from "./stages/refine_stage.ts";
export type { PriorSet, RunState } from "./stages/run_state.ts";
export type { StageEvent, StageOptions } from "./stages/stage_runner.ts";
export { createScenePriors } from "./stages/scene_priors.ts";
export { sampleClipTimes } from "./stages/clip_times.ts";
export { sampleClipCameras } from "./stages/clip_cameras.ts";
export { loadReferenceImage, readPngOrJpeg } from "./io/reference_image.ts";
export { fit } from "./stages/fit.ts";
