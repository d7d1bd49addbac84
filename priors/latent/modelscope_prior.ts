/**
 * The ModelScope text-to-video prior of stages 2–3 (SPEC.md §4, §5.3, §10.1–10.3): a
 * {@linkcode LatentSdsPrior} over one clip of F frames. Each frame goes through SD's VAE
 * encoder (WGSL, 256² input, scaling 0.18215) to `[F][4][32][32]` latents; the inner SDS
 * draws ONE timestep per clip and noises the clip as one item; the ONNX UNet3D takes
 * `sample` `[1, 4, F, 32, 32]` (channels before frames: the denoiser reorders the
 * frame-major latents with buffer copies, `latent_frames.ts`) with the OpenCLIP text
 * embeddings `[1, 77, 1024]`; CFG is the standard form with s = 100
 * ({@linkcode MODELSCOPE_SDS}); dL/dz runs back through the VAE into every frame's pixels.
 * The folder is `MODEL_FOLDERS.modelscope` (`priors/models/model_folders.ts`).
 *
 * @module
 */
import type { Gpu } from "../../kernels/gpu.ts";
import { requireInt } from "../../kernels/validate.ts";
import { MODEL_FOLDERS } from "../models/model_folders.ts";
import { ClipTokenizer } from "../onnx/clip_tokenizer.ts";
import type { OrtModel } from "../onnx/ort_model.ts";
import type { OrtRuntime } from "../onnx/ort_runtime.ts";
import { MODELSCOPE_SDS, type SdsOptions } from "../sds_options.ts";
import { LatentSdsPrior } from "./latent_sds_prior.ts";
import { DIFFUSERS_FILES, loadLatentEncoder, openModelFolder, vaeSizes } from "./model_folder.ts";
import { TextEmbeddings } from "./text_embeddings.ts";
import { UnetDenoiser } from "./unet_denoiser.ts";

/**
 * Options of {@linkcode createModelScopePrior}.
 *
 * @example Stage 3's clip: 16 frames rendered at 128², upsampled to 256² for the VAE
 * ```ts
 * import type { ModelScopePriorOptions } from "./modelscope_prior.ts";
 * const options: ModelScopePriorOptions = { model: "models/modelscope", width: 128, height: 128, frames: 16 };
 * console.log(options.frames * options.width * options.height * 3); // 786432
 * ```
 */
export interface ModelScopePriorOptions {
  /** The model folder (`MODEL_FOLDERS.modelscope`). */
  model: string;
  /** Render width W of every frame. */
  width: number;
  /** Render height H. */
  height: number;
  /** Frames per clip F (16 for the released UNet); each score call takes exactly one clip. */
  frames: number;
  /** The toolkit's view of the runtime's device; defaults to `Gpu.wrap(runtime.device)`. */
  gpu?: Gpu;
  /** Prompt when a request's conditioning has none; defaults to `""`. */
  prompt?: string;
  /** Prompt of the unconditional branch; defaults to `""`. */
  negativePrompt?: string;
  /** SDS constants; defaults to {@linkcode MODELSCOPE_SDS}. */
  sds?: SdsOptions;
  /**
   * VAE input size (square); defaults to the UNet's declared latent size times the VAE's
   * downsampling, or 256 when the UNet leaves it dynamic.
   */
  inputSize?: number;
}

/**
 * Builds the ModelScope T2V prior from a model folder.
 *
 * @param runtime ONNX Runtime on WebGPU (`OrtRuntime.create()`)
 * @param options model folder, render size, frames per clip, prompts and constants
 * @returns the prior (`count` = `frames` per call, one timestep per clip); `destroy()`
 *   frees its buffers and releases its two ORT sessions
 * @throws {Error} naming a missing file or a wrong shape, with the export command
 *
 * @example A missing folder names the file and the export command
 * ```ts
 * import { OrtRuntime } from "../onnx/ort_runtime.ts";
 * import { createModelScopePrior } from "./modelscope_prior.ts";
 * const runtime = await OrtRuntime.create({ executionProvider: "wasm" });
 * const error = await createModelScopePrior(runtime, {
 *   model: "/nonexistent", width: 64, height: 64, frames: 16,
 * }).catch((e: Error) => e);
 * console.log((error as Error).message.split(": create")[0]);
 * // Cannot load ModelScope T2V from /nonexistent: /nonexistent/text_encoder/model.onnx is missing
 * ```
 */
export async function createModelScopePrior(
  runtime: OrtRuntime,
  options: ModelScopePriorOptions,
): Promise<LatentSdsPrior> {
  const command = MODEL_FOLDERS.modelscope.exportCommand;
  const frames = requireInt("frames", options.frames, { min: 1 });
  const folder = await openModelFolder(runtime, {
    model: options.model,
    name: "ModelScope T2V",
    exportCommand: command,
    files: DIFFUSERS_FILES,
    sds: options.sds ?? MODELSCOPE_SDS,
    gpu: options.gpu,
  });
  const { files, gpu, sds } = folder;
  const tokenizer = await ClipTokenizer.load(files.tokenizer);
  const sessions: OrtModel[] = [];
  const owned: { destroy(): void }[] = [];
  try {
    const textEncoder = await runtime.loadModel(files.textEncoder);
    sessions.push(textEncoder);
    const unet = await runtime.loadModel(files.unet);
    sessions.push(unet);
    const sample = unet.inputs.find((i) => i.name === "sample");
    const expected = `[B, 4, ${frames}, 32, 32] (channels before frames)`;
    if (sample === undefined || sample.shape.length !== 5) {
      throw new Error(
        `Invalid UNet ${files.unet}: expected the UNet3D input sample of shape ${expected}, got ${
          unet.inputs.map((i) => `${i.name} [${i.shape}]`).join(", ")
        }: re-export with ${command}`,
      );
    }
    const declaredFrames = sample.shape[2];
    if (typeof declaredFrames === "number" && declaredFrames !== frames) {
      throw new Error(
        `Invalid UNet ${files.unet}: its sample [${sample.shape}] holds ${declaredFrames} frames, option frames is ${frames}: expected shape ${expected}: re-export with ${command}`,
      );
    }
    const { inputSize, latentSize } = vaeSizes(folder.vae, {
      declared: sample.shape[3],
      fallback: 256,
      inputSize: options.inputSize,
    });
    const dtype = sample.dtype === "float16" ? "float16" : "float32";
    const embeddings = await TextEmbeddings.create(gpu, { tokenizer, encoder: textEncoder, dtype });
    owned.push(embeddings);
    const denoiser = await UnetDenoiser.create(gpu, {
      unet,
      embeddings,
      maxItems: 1,
      latent: {
        channels: folder.vae.config.latentChannels ?? 4,
        frames,
        height: latentSize,
        width: latentSize,
      },
      prompt: options.prompt ?? "",
      negativePrompt: options.negativePrompt ?? "",
    }).catch((error: Error) => {
      throw new Error(`${error.message}: re-export with ${command}`);
    });
    owned.push(denoiser);
    const encoder = await loadLatentEncoder(folder, {
      width: options.width,
      height: options.height,
      maxFrames: frames,
      inputSize,
    });
    owned.push(encoder);
    return await LatentSdsPrior.create(gpu, {
      name: "modelscope",
      encoder,
      denoiser,
      sds,
      maxItems: 1,
      framesPerItem: frames,
      // Sessions are released without waiting: destroy() is synchronous.
      owned: [embeddings, ...sessions.map((s) => ({ destroy: () => void s.release() }))],
    });
  } catch (error) {
    for (const o of owned) o.destroy();
    for (const s of sessions) s.release().catch(() => {});
    throw error;
  }
}
