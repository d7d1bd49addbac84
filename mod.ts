/**
 * animate124: one image and one sentence about motion to a 4D scene, on Deno and WebGPU.
 *
 * This module is the public surface: the core engine (WebGPU runtime, 4D field, renderer,
 * optimiser), synthetic scenes with ground truth, and the file formats the toolkit writes.
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
