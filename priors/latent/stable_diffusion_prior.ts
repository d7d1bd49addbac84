/**
 * The Stable Diffusion v1.5 prior of stage 2 (SPEC.md §4, §10.1–10.2): a
 * {@linkcode LatentSdsPrior} assembled from a model folder as `optimum-cli export onnx`
 * writes it (`text_encoder/model.onnx`, `unet/model.onnx` with its external data,
 * `tokenizer/`, `scheduler/scheduler_config.json`) plus the diffusers VAE weights
 * (`vae/diffusion_pytorch_model.safetensors`, `vae/config.json`), the WGSL VAE encoder,
 * the ONNX UNet and text encoder on ORT's device, and SD's SDS constants.
 *
 * @module
 */
import type { Gpu } from "../../kernels/gpu.ts";
import { requireInt } from "../../kernels/validate.ts";
import { ClipTokenizer } from "../onnx/clip_tokenizer.ts";
import type { OrtRuntime } from "../onnx/ort_runtime.ts";
import { SD_SDS, type SdsOptions } from "../sds_options.ts";
import { LatentSdsPrior } from "./latent_sds_prior.ts";
import { DIFFUSERS_FILES, loadLatentEncoder, openModelFolder, vaeSizes } from "./model_folder.ts";
import { TextEmbeddings } from "./text_embeddings.ts";
import { UnetDenoiser } from "./unet_denoiser.ts";

/**
 * The command that writes the ONNX part of the model folder.
 *
 * @example A missing model folder points at the command
 * ```ts
 * import { OrtRuntime } from "../onnx/ort_runtime.ts";
 * import { createStableDiffusionPrior, SD_EXPORT_COMMAND } from "./stable_diffusion_prior.ts";
 * const runtime = await OrtRuntime.create({ executionProvider: "wasm" });
 * const error = await createStableDiffusionPrior(runtime, { model: "/nonexistent", width: 64, height: 64 })
 *   .catch((e: Error) => e);
 * console.log((error as Error).message.endsWith(SD_EXPORT_COMMAND)); // true
 * ```
 */
export const SD_EXPORT_COMMAND =
  "optimum-cli export onnx --model runwayml/stable-diffusion-v1-5 DIR (and copy vae/diffusion_pytorch_model.safetensors and vae/config.json of the same repository into DIR/vae/)";

/**
 * Options of {@linkcode createStableDiffusionPrior}.
 *
 * @example
 * ```ts
 * import type { StableDiffusionPriorOptions } from "./stable_diffusion_prior.ts";
 * const options: StableDiffusionPriorOptions = { model: "models/sd15", width: 64, height: 64 };
 * console.log(options.maxItems ?? 1); // 1
 * ```
 */
export interface StableDiffusionPriorOptions {
  /** The model folder. */
  model: string;
  /** Render width W. */
  width: number;
  /** Render height H. */
  height: number;
  /** Images per call; defaults to 1. */
  maxItems?: number;
  /** The toolkit's view of the runtime's device; defaults to `Gpu.wrap(runtime.device)`. */
  gpu?: Gpu;
  /** Prompt when a request's conditioning has none; defaults to `""`. */
  prompt?: string;
  /** Prompt of the unconditional branch; defaults to `""`. */
  negativePrompt?: string;
  /** SDS constants; defaults to {@linkcode SD_SDS}. */
  sds?: SdsOptions;
  /**
   * VAE input size (square); defaults to the UNet's declared latent size times the VAE's
   * downsampling, or 512 when the UNet leaves it dynamic.
   */
  inputSize?: number;
}

/**
 * Builds the Stable Diffusion prior from a model folder.
 *
 * @param runtime ONNX Runtime on WebGPU (`OrtRuntime.create()`)
 * @param options model folder, render size, batch, prompts and constants
 * @returns the prior; `destroy()` frees its buffers and releases its two ORT sessions
 * @throws {Error} naming a missing file or a wrong shape, with the export command
 *
 * @example A missing folder names the file and the export command
 * ```ts
 * import { OrtRuntime } from "../onnx/ort_runtime.ts";
 * import { createStableDiffusionPrior } from "./stable_diffusion_prior.ts";
 * const runtime = await OrtRuntime.create();
 * try {
 *   await createStableDiffusionPrior(runtime, { model: "/nonexistent", width: 64, height: 64 });
 * } catch (error) {
 *   console.log((error as Error).message.includes("optimum-cli export onnx")); // true
 * }
 * ```
 */
export async function createStableDiffusionPrior(
  runtime: OrtRuntime,
  options: StableDiffusionPriorOptions,
): Promise<LatentSdsPrior> {
  const maxItems = requireInt("maxItems", options.maxItems ?? 1, { min: 1 });
  const folder = await openModelFolder(runtime, {
    model: options.model,
    name: "Stable Diffusion",
    exportCommand: SD_EXPORT_COMMAND,
    files: DIFFUSERS_FILES,
    sds: options.sds ?? SD_SDS,
    gpu: options.gpu,
  });
  const { files, gpu, sds } = folder;
  const tokenizer = await ClipTokenizer.load(files.tokenizer);
  const textEncoder = await runtime.loadModel(files.textEncoder);
  const unet = await runtime.loadModel(files.unet);
  const sample = unet.inputs.find((i) => i.name === "sample");
  const context = unet.inputs.find((i) => i.name === "encoder_hidden_states");
  if (sample === undefined || sample.shape.length !== 4 || context === undefined) {
    throw new Error(
      `Invalid UNet ${files.unet}: expected inputs sample [B, 4, 64, 64] and encoder_hidden_states [B, 77, 768], got ${
        unet.inputs.map((i) => `${i.name} [${i.shape}]`).join(", ")
      }: re-export with ${SD_EXPORT_COMMAND}`,
    );
  }
  const { inputSize, latentSize } = vaeSizes(folder.vae, {
    declared: sample.shape[2],
    fallback: 512,
    inputSize: options.inputSize,
  });
  const latentChannels = folder.vae.config.latentChannels ?? 4;
  const dtype = sample.dtype === "float16" ? "float16" : "float32";
  const owned: { destroy(): void }[] = [];
  try {
    const embeddings = await TextEmbeddings.create(gpu, {
      tokenizer,
      encoder: textEncoder,
      dtype,
    });
    owned.push(embeddings);
    const denoiser = await UnetDenoiser.create(gpu, {
      unet,
      embeddings,
      maxItems,
      latent: { channels: latentChannels, height: latentSize, width: latentSize },
      prompt: options.prompt ?? "",
      negativePrompt: options.negativePrompt ?? "",
    }).catch((error: Error) => {
      throw new Error(`${error.message}: re-export with ${SD_EXPORT_COMMAND}`);
    });
    owned.push(denoiser);
    const encoder = await loadLatentEncoder(folder, {
      width: options.width,
      height: options.height,
      maxFrames: maxItems,
      inputSize,
    });
    owned.push(encoder);
    return await LatentSdsPrior.create(gpu, {
      name: "sd",
      encoder,
      denoiser,
      sds,
      maxItems,
      // Sessions are released without waiting: destroy() is synchronous.
      owned: [embeddings, { destroy: () => void unet.release() }, {
        destroy: () => void textEncoder.release(),
      }],
    });
  } catch (error) {
    for (const o of owned) o.destroy();
    throw error;
  }
}
