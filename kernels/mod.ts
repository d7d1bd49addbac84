/**
 * The core engine: a WebGPU runtime and the WGSL kernels of the keyframed 4D radiance
 * field, forward and backward, each with a float64 twin.
 *
 * @example Render the reference view of a fresh field
 * ```ts
 * import { acquireGpu, ClipRenderer, Field, orbitCamera, OccupancyUpdater, REFERENCE_POSE } from "./mod.ts";
 * import { seededRandom } from "./random.ts";
 * const gpu = await acquireGpu({ log: null });
 * const field = await Field.create(gpu, { grid: { levels: 4, log2TableSize: 12 } });
 * const occupancy = await OccupancyUpdater.create(gpu, field, { res: 16, slices: 1 });
 * occupancy.update(0, seededRandom(0));
 * const renderer = await ClipRenderer.create(gpu, field, {
 *   width: 16, height: 16, maxFrames: 1, occupancy: occupancy.grid, dt: 0.05,
 * });
 * renderer.forward([{ camera: orbitCamera(REFERENCE_POSE, { width: 16, height: 16 }), time: 0 }]);
 * console.log(new Float32Array(await gpu.read(renderer.clip.image)).length); // 768
 * gpu.destroy();
 * ```
 *
 * @module
 */
export {
  acquireGpu,
  type AcquireGpuOptions,
  type BufferRange,
  Gpu,
  type PipelineOptions,
} from "./gpu.ts";
export type { WgslSource } from "./wgsl.ts";
export {
  DEFAULT_GRID,
  type GridConfig,
  type GridLayout,
  gridLayout,
  type GridLevel,
  type IndexMode,
  resolveGridConfig,
} from "./grid_config.ts";
export {
  type Camera,
  type CameraSizeOptions,
  orbitCamera,
  type OrbitPose,
  REFERENCE_POSE,
} from "./camera.ts";
export { Field, type FieldOptions } from "./field.ts";
export { FieldEval, type FieldEvalOptions } from "./field_eval.ts";
export {
  type ClipBuffers,
  type ClipFrame,
  type ClipGrads,
  ClipRenderer,
  type ClipRendererOptions,
  type RenderRegularisers,
  type RenderSettings,
} from "./clip_renderer.ts";
export { NormalImageReg } from "./normal_image_reg.ts";
export { SampleReg, type SampleRegBuffers, type SampleRegSettings } from "./sample_reg.ts";
export { ImageLoss } from "./image_loss.ts";
export { OccupancyUpdater } from "./occupancy_updater.ts";
export { OccupancyGrid } from "./occupancy.ts";
export { OccupancyDilate } from "./occupancy_dilate.ts";
export {
  Adam,
  type AdamGroup,
  type AdamHyper,
  type AdamOptions,
  type AdamState,
  DEFAULT_ADAM,
} from "./adam.ts";
export { TimeTv } from "./time_tv.ts";
export { GridEncoder } from "./grid_encode.ts";
export {
  DEFAULT_MLP,
  Mlp,
  type MlpBackwardBuffers,
  type MlpBackwardPlan,
  type MlpConfig,
  type MlpDispatchOptions,
  type MlpLayout,
  type MlpOptions,
} from "./mlp.ts";
export { SHADING_MODES, type ShadingMode } from "./shade_twin.ts";
export { renderClipTwin, type RenderTwinOptions, type RenderTwinResult } from "./render_twin.ts";
export type { Rays } from "./rays_twin.ts";
export { seededNormal, seededRandom } from "./random.ts";
export {
  loadVaeEncoderWeights,
  VaeEncoder,
  type VaeEncoderOptions,
} from "./vae_ops/vae_encoder.ts";
export {
  type VaeBlock,
  vaeBlockOutput,
  type VaeEncoderConfig,
  type VaeEncoderPlan,
  vaeEncoderPlan,
  type VaeWeights,
} from "./vae_ops/vae_encoder_twin.ts";
export type { Conv2dShape } from "./vae_ops/conv2d_twin.ts";
export type { GroupNormShape } from "./vae_ops/group_norm_twin.ts";
