/**
 * The ControlNet-tile refinement prior of stage 4 (SPEC.md §4 "Refinement variant", §5.4,
 * §10.3): a {@linkcode LatentSdsPrior} whose denoiser is a {@linkcode ControlNetDenoiser}
 * (ControlNet-tile steering the SD v1.5 UNet), built from the `controlnet` model folder
 * (`text_encoder/model.onnx`, `controlnet/model.onnx`, `unet/model.onnx` taking the
 * residuals, `tokenizer/`, `scheduler/scheduler_config.json`, `vae/` safetensors), with
 * {@linkcode CONTROLNET_SDS}: the stage hands it frames {0, 8} (count 2) and the frozen
 * model's renders of the same frames as `conditioning.control`; one t in [200, 800] is
 * shared by both, the loss is the x̂₀ target with B = 2, CFG 7.5. A textual-inversion
 * embedding, when given, is spliced into the text encoder's token table.
 *
 * @module
 */
import type { Gpu } from "../../kernels/gpu.ts";
import { requireInt } from "../../kernels/validate.ts";
import { MODEL_FOLDERS } from "../models/model_folders.ts";
import { patchOnnxTokenEmbedding } from "../models/onnx_token_embedding.ts";
import { loadTextualInversion, type TextualInversion } from "../models/textual_inversion.ts";
import { ClipTokenizer } from "../onnx/clip_tokenizer.ts";
import { externalDataLocations } from "../onnx/onnx_external_data.ts";
import type { OrtModel } from "../onnx/ort_model.ts";
import type { OrtRuntime } from "../onnx/ort_runtime.ts";
import { CONTROLNET_SDS, type SdsOptions } from "../sds_options.ts";
import { CONTROL_PROMPT, ControlNetDenoiser } from "./controlnet_denoiser.ts";
import { LatentSdsPrior } from "./latent_sds_prior.ts";
import { DIFFUSERS_FILES, loadLatentEncoder, openModelFolder, vaeSizes } from "./model_folder.ts";
import { TextEmbeddings } from "./text_embeddings.ts";

/**
 * Options of {@linkcode createControlNetTilePrior}.
 *
 * @example
 * ```ts
 * import type { ControlNetTilePriorOptions } from "./controlnet_prior.ts";
 * const options: ControlNetTilePriorOptions = {
 *   model: "models/controlnet", width: 64, height: 64, prompt: "a _panda_ walking",
 *   textualInversion: "learned_embeds.bin",
 * };
 * console.log(options.maxItems ?? 2); // 2
 * ```
 */
export interface ControlNetTilePriorOptions {
  /** The model folder (`MODEL_FOLDERS.controlnet`). */
  model: string;
  /** Render width W. */
  width: number;
  /** Render height H. */
  height: number;
  /** Frames per call; defaults to 2 (frames {0, 8}). */
  maxItems?: number;
  /** The toolkit's view of the runtime's device; defaults to `Gpu.wrap(runtime.device)`. */
  gpu?: Gpu;
  /** UNet prompt when a request's conditioning has none; defaults to `""`. */
  prompt?: string;
  /** Prompt of both unconditional branches; defaults to `""`. */
  negativePrompt?: string;
  /** The ControlNet's prompt; defaults to `"best quality, high resolution"`. */
  controlPrompt?: string;
  /**
   * A learned embedding (`learned_embeds.bin` or `.safetensors`) whose placeholder token
   * the prompts may use; absent, prompts are plain text.
   */
  textualInversion?: string;
  /** SDS constants; defaults to {@linkcode CONTROLNET_SDS}. */
  sds?: SdsOptions;
  /**
   * VAE and `controlnet_cond` input size (square); defaults to the UNet's declared latent
   * size times the VAE's downsampling, or 1024 when the UNet leaves it dynamic.
   */
  inputSize?: number;
}

/**
 * Loads a model folder's CLIP text encoder and tokenizer; with `textualInversion`, the
 * learned vector is spliced into the encoder's token table (SPEC.md §10.3) at the id the
 * tokenizer gives its placeholder (`addedTokens`), and prompts without the placeholder
 * encode exactly as before.
 *
 * @param runtime the ONNX runtime
 * @param dir the model folder (`text_encoder/model.onnx`, `tokenizer/`)
 * @param options `textualInversion`: a `learned_embeds.bin` or `.safetensors` file
 * @returns the session, the tokenizer and the learned embedding (absent without one)
 * @throws {Error} naming the embedding file and what was expected of it
 *
 * @example A missing embedding file is named
 * ```ts
 * import { OrtRuntime } from "../onnx/ort_runtime.ts";
 * import { loadTextEncoder } from "./controlnet_prior.ts";
 * const runtime = await OrtRuntime.create({ executionProvider: "wasm" });
 * const error = await loadTextEncoder(runtime, "/nonexistent", { textualInversion: "/nonexistent.bin" })
 *   .catch((e: Error) => e);
 * console.log((error as Error).message.startsWith("Invalid option textualInversion: Cannot read textual inversion /nonexistent.bin")); // true
 * ```
 */
export async function loadTextEncoder(
  runtime: OrtRuntime,
  dir: string,
  options: { textualInversion?: string } = {},
): Promise<{ encoder: OrtModel; tokenizer: ClipTokenizer; inversion?: TextualInversion }> {
  const path = `${dir}/text_encoder/model.onnx`;
  if (options.textualInversion === undefined) {
    const tokenizer = await ClipTokenizer.load(`${dir}/tokenizer`);
    return { encoder: await runtime.loadModel(path), tokenizer };
  }
  const inversion = await loadTextualInversion(options.textualInversion).catch(
    (error: Error) => {
      throw new Error(`Invalid option textualInversion: ${error.message}`);
    },
  );
  const tokenizer = await ClipTokenizer.load(`${dir}/tokenizer`, {
    addedTokens: [inversion.token],
  });
  const tokenId = tokenizer.encode(inversion.token)[1]!;
  const patched = patchOnnxTokenEmbedding(await Deno.readFile(path), inversion, { tokenId });
  const externalData = await Promise.all(
    externalDataLocations(patched).map(async (p) => ({
      path: p,
      data: await Deno.readFile(`${dir}/text_encoder/${p}`),
    })),
  );
  const encoder = await runtime.createModel(patched, { name: path, externalData });
  return { encoder, tokenizer, inversion };
}

/**
 * Builds the ControlNet-tile refinement prior from a model folder.
 *
 * @param runtime ONNX Runtime on WebGPU (`OrtRuntime.create()`)
 * @param options model folder, render size, frames, prompts, textual inversion, constants
 * @returns the prior; `destroy()` frees its buffers and releases its three ORT sessions.
 *   `score` needs `conditioning.control`: the frozen model's renders of the same frames.
 * @throws {Error} naming a missing file or a wrong shape, with
 *   `MODEL_FOLDERS.controlnet.exportCommand`
 *
 * @example A missing folder names the file and the export command
 * ```ts
 * import { OrtRuntime } from "../onnx/ort_runtime.ts";
 * import { createControlNetTilePrior } from "./controlnet_prior.ts";
 * const runtime = await OrtRuntime.create({ executionProvider: "wasm" });
 * try {
 *   await createControlNetTilePrior(runtime, { model: "/nonexistent", width: 64, height: 64 });
 * } catch (error) {
 *   const message = (error as Error).message;
 *   console.log(message.includes("controlnet/model.onnx is missing"), message.includes("export_controlnet.py")); // true true
 * }
 * ```
 */
export async function createControlNetTilePrior(
  runtime: OrtRuntime,
  options: ControlNetTilePriorOptions,
): Promise<LatentSdsPrior> {
  const command = MODEL_FOLDERS.controlnet.exportCommand;
  const maxItems = requireInt("maxItems", options.maxItems ?? 2, { min: 1 });
  const folder = await openModelFolder(runtime, {
    model: options.model,
    name: "ControlNet-tile",
    exportCommand: command,
    files: { controlnet: "controlnet/model.onnx", ...DIFFUSERS_FILES },
    sds: options.sds ?? CONTROLNET_SDS,
    gpu: options.gpu,
  });
  const { dir, files, gpu, sds } = folder;
  const sessions: OrtModel[] = [];
  const owned: { destroy(): void }[] = [];
  try {
    const text = await loadTextEncoder(
      runtime,
      dir,
      options.textualInversion === undefined ? {} : { textualInversion: options.textualInversion },
    );
    sessions.push(text.encoder);
    const { encoder: textEncoder, tokenizer } = text;
    const unet = await runtime.loadModel(files.unet);
    sessions.push(unet);
    const controlnet = await runtime.loadModel(files.controlnet);
    sessions.push(controlnet);
    const sample = unet.inputs.find((i) => i.name === "sample");
    if (sample === undefined || sample.shape.length !== 4) {
      throw new Error(
        `Invalid UNet ${files.unet}: expected an input sample [B, 4, 128, 128], got ${
          unet.inputs.map((i) => `${i.name} [${i.shape}]`).join(", ")
        }: re-export with ${command}`,
      );
    }
    const { inputSize, latentSize, down } = vaeSizes(folder.vae, {
      declared: sample.shape[2],
      fallback: 1024,
      inputSize: options.inputSize,
    });
    if (inputSize % down !== 0) {
      throw new RangeError(
        `Invalid option inputSize: expected a multiple of the VAE's downsampling ${down}, got ${inputSize}`,
      );
    }
    const dtype = sample.dtype === "float16" ? "float16" : "float32";
    const embeddings = await TextEmbeddings.create(gpu, { tokenizer, encoder: textEncoder, dtype });
    owned.push(embeddings);
    const denoiser = await ControlNetDenoiser.create(gpu, {
      controlnet,
      unet,
      embeddings,
      maxItems,
      latent: {
        channels: folder.vae.config.latentChannels ?? 4,
        height: latentSize,
        width: latentSize,
      },
      render: { width: options.width, height: options.height },
      controlSize: inputSize,
      prompt: options.prompt ?? "",
      negativePrompt: options.negativePrompt ?? "",
      controlPrompt: options.controlPrompt ?? CONTROL_PROMPT,
    }).catch((error: Error) => {
      throw new Error(
        `${error.message} (in ${dir}: controlnet/model.onnx, unet/model.onnx): re-export with ${command}`,
      );
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
      name: "controlnet",
      encoder,
      denoiser,
      sds,
      maxItems,
      // Sessions are released without waiting: destroy() is synchronous.
      owned: [embeddings, ...sessions.map((s) => ({ destroy: () => void s.release() }))],
    });
  } catch (error) {
    for (const o of owned) o.destroy();
    for (const s of sessions) void s.release();
    throw error;
  }
}
