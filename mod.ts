/**
 * animate124: one image and one sentence about motion to a 4D scene, on Deno and WebGPU.
 *
 * This module is the public surface: the three stages and `animate()` that composes them,
 * the priors, the core engine (WebGPU runtime, 4D field, renderer, optimiser), synthetic
 * scenes with ground truth, the file formats the toolkit writes, and the progress server.
 * Each part is also its own entry point: `./stages`, `./priors`, `./kernels`, `./server`.
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
export * from "./priors/mod.ts";
export * from "./stages/mod.ts";
export * from "./server/mod.ts";
export {
  type AxisAngle,
  type BendMotion,
  type Keyframe,
  loadScene,
  type Material,
  type Motion,
  parseScene,
  type ParseSceneOptions,
  type Primitive,
  type RotateMotion,
  type ScaleMotion,
  type Scene,
  type Shape,
  type Vec3,
  type WaveMotion,
} from "./scenes/scene_config.ts";
export {
  type CameraRenderOptions,
  type GroundTruthOptions,
  type GroundTruthRender,
  type Rays as GroundTruthRays,
  renderCameraGroundTruth,
  renderGroundTruth,
} from "./scenes/ground_truth.ts";
export {
  readSafetensors,
  type ReadSafetensorsOptions,
  SAFETENSORS_DTYPE_BYTES,
  type SafetensorsContents,
  type SafetensorsDtype,
  type Tensor,
  type TensorData,
  writeSafetensors,
  type WriteSafetensorsOptions,
} from "./io/safetensors.ts";
export type { Image8, ImageInput, PixelData } from "./io/pixels.ts";
export { readImage, type ReadImageOptions, writePng } from "./io/png.ts";
export { writeGif, type WriteGifOptions } from "./io/gif.ts";
export {
  type FfmpegOptions,
  hasFfmpeg,
  type Mp4Result,
  writeMp4,
  type WriteMp4Options,
} from "./io/mp4.ts";
export {
  type ImageFormat,
  loadReferenceImage,
  type LoadReferenceOptions,
  readPngOrJpeg,
} from "./io/reference_image.ts";
export { fit, type FitEvent, type FitLoss, type FitOptions, type FitResult } from "./stages/fit.ts";
export { FIT_PRESETS, type FitPresetName, type FitSettings } from "./stages/fit_presets.ts";
export type { FittedModel } from "./stages/field_renders.ts";
