/**
 * Latent-space score distillation: renders through the WGSL VAE encoder to latents, ONNX
 * UNets and text encoders on ORT's device, and the Stable Diffusion prior built from them
 * (SPEC.md §4, §10.1–10.2).
 *
 * @example Build the SD prior from a model folder (here a missing one)
 * ```ts
 * import { createStableDiffusionPrior, SD_EXPORT_COMMAND } from "./mod.ts";
 * import { OrtRuntime } from "../onnx/ort_runtime.ts";
 * const runtime = await OrtRuntime.create();
 * const error = await createStableDiffusionPrior(runtime, { model: "/none", width: 64, height: 64 })
 *   .catch((e: Error) => e);
 * console.log((error as Error).message.endsWith(SD_EXPORT_COMMAND)); // true
 * ```
 *
 * @module
 */
export { type CastDirection, encodeCasts, F16Cast, type F16CastCall } from "./f16_cast.ts";
export { ImageLatentEncoder, type ImageLatentEncoderOptions } from "./image_latent_encoder.ts";
export { ImageResize, type ImageResizeOptions } from "./image_resize.ts";
export type { ResizeShape } from "./image_resize_twin.ts";
export { LatentNoise } from "./latent_noise.ts";
export { LatentSdsPrior, type LatentSdsPriorOptions } from "./latent_sds_prior.ts";
export {
  checkSchedulerConfig,
  DIFFUSERS_FILES,
  loadLatentEncoder,
  type ModelFolder,
  type ModelFolderOptions,
  openModelFolder,
  readVaeConfig,
  vaeSizes,
} from "./model_folder.ts";
export {
  createStableDiffusionPrior,
  SD_EXPORT_COMMAND,
  type StableDiffusionPriorOptions,
} from "./stable_diffusion_prior.ts";
export { type FloatDtype, TextEmbeddings, type TextEmbeddingsOptions } from "./text_embeddings.ts";
export { type UnetBatching, UnetDenoiser, type UnetDenoiserOptions } from "./unet_denoiser.ts";
export { fitsShape, floatDtypeOf, unetBatching } from "./unet_checks.ts";
export {
  declaredValue,
  TIMESTEP_TYPES,
  timestepFeed,
  timestepInput,
  type UnetTimestepType,
} from "./unet_inputs.ts";
export {
  CONTROL_IMAGE_WORKGROUP,
  ControlImage,
  controlImage,
  type ControlImageOptions,
} from "./control_image.ts";
export { controlImageTwin } from "./control_image_twin.ts";
export {
  CONTROL_PROMPT,
  CONTROLNET_RESIDUALS,
  ControlNetDenoiser,
  type ControlNetDenoiserOptions,
} from "./controlnet_denoiser.ts";
export {
  type ControlNetTilePriorOptions,
  createControlNetTilePrior,
  loadTextEncoder,
} from "./controlnet_prior.ts";
export { encodeLatentFrames, latentFrameCopies, type LatentFrameCopy } from "./latent_frames.ts";
export {
  type LatentFramesOrder,
  type LatentFramesShape,
  latentFramesTwin,
} from "./latent_frames_twin.ts";
export { createModelScopePrior, type ModelScopePriorOptions } from "./modelscope_prior.ts";
export {
  createZero123Prior,
  ZERO123_REFERENCE_SIZE,
  type Zero123PriorOptions,
} from "./zero123_prior.ts";
export { Zero123Denoiser, type Zero123DenoiserOptions } from "./zero123_denoiser.ts";
