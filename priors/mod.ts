/**
 * Priors for score distillation: the {@linkcode Prior} interface, the shared SDS path
 * (noise schedule, noise and guidance kernels, presets of SPEC.md §4), and the oracle
 * priors that stand in for the diffusion models on synthetic scenes (SPEC.md §10.4).
 *
 * @example
 * ```ts
 * import { alphaBar, SD_SDS } from "./mod.ts";
 * console.log(SD_SDS.guidanceScale, alphaBar(0)); // 100 0.99915
 * ```
 *
 * @module
 */
export type { Prior, PriorConditioning, PriorRequest, RelativePose } from "./prior.ts";
export type { Denoiser, DenoiseRequest } from "./denoiser.ts";
export {
  alphaBar,
  alphasCumprod,
  sampleTimestep,
  sdsWeight,
  timestepRange,
  TRAIN_TIMESTEPS,
} from "./noise_schedule.ts";
export {
  type CfgConvention,
  CONTROLNET_SDS,
  MODELSCOPE_SDS,
  SD_SDS,
  type SdsOptions,
  type SdsVariant,
  validateSdsOptions,
  ZERO123_SDS,
} from "./sds_options.ts";
export { zero123AngleScale } from "./zero123_angle_scale.ts";
export { relativePoseOf } from "./relative_pose.ts";
export { SdsNoise } from "./sds_noise.ts";
export type { SdsSpace } from "./sds_noise_twin.ts";
export { SdsGrad, type SdsGradSettings } from "./sds_grad.ts";
export { SdsPrior, type SdsPriorOptions } from "./sds_prior.ts";
export { OracleDenoiser, type OracleTargetSet } from "./oracle_denoiser.ts";
export {
  type OracleItem,
  OraclePrior,
  type OraclePriorOptions,
  type OracleTargets,
} from "./oracle_prior.ts";
export {
  createFrameOracle,
  createImageOracle,
  createVideoOracle,
  createViewOracle,
  FIXED_VIEWS,
  resizeCamera,
  type Rgb,
  type SceneOracleOptions,
  SceneTargets,
  type SceneTargetSet,
} from "./scene_oracles.ts";
export * from "./onnx/mod.ts";
export * from "./models/mod.ts";
export * from "./latent/mod.ts";
