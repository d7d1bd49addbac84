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
import { Gpu } from "../../kernels/gpu.ts";
import { SD_VAE_SCALE } from "../../kernels/vae_ops/posterior_twin.ts";
import { loadVaeEncoderWeights } from "../../kernels/vae_ops/vae_encoder.ts";
import type { VaeEncoderConfig } from "../../kernels/vae_ops/vae_encoder_twin.ts";
import { requireInt } from "../../kernels/validate.ts";
import { BETA_END, BETA_START, TRAIN_TIMESTEPS } from "../noise_schedule.ts";
import { ClipTokenizer } from "../onnx/clip_tokenizer.ts";
import type { OrtRuntime } from "../onnx/ort_runtime.ts";
import { SD_SDS, type SdsOptions, validateSdsOptions } from "../sds_options.ts";
import { ImageLatentEncoder } from "./image_latent_encoder.ts";
import { LatentSdsPrior } from "./latent_sds_prior.ts";
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

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function readJsonFile(path: string): Promise<Record<string, unknown>> {
  try {
    return JSON.parse(await Deno.readTextFile(path));
  } catch (error) {
    throw new Error(`Cannot read ${path}: ${(error as Error).message}`);
  }
}

/**
 * Checks that the scheduler's noise schedule is the toolkit's (scaled linear, 0.00085 to
 * 0.012 over 1000 steps); the toolkit's ᾱ table is fixed to it.
 *
 * @param path `scheduler/scheduler_config.json`
 * @throws {Error} naming the file, the field, the value and the expected one
 *
 * @example
 * ```ts
 * import { checkSchedulerConfig } from "./stable_diffusion_prior.ts";
 * const path = await Deno.makeTempFile({ suffix: ".json" });
 * await Deno.writeTextFile(path, JSON.stringify({ beta_start: 0.0001, beta_end: 0.02 }));
 * try {
 *   await checkSchedulerConfig(path);
 * } catch (error) {
 *   console.log((error as Error).message.includes("beta_start 0.0001")); // true
 * }
 * await Deno.remove(path);
 * ```
 */
export async function checkSchedulerConfig(path: string): Promise<void> {
  const config = await readJsonFile(path);
  const expected: Record<string, number | string> = {
    beta_start: BETA_START,
    beta_end: BETA_END,
    num_train_timesteps: TRAIN_TIMESTEPS,
    beta_schedule: "scaled_linear",
  };
  for (const [key, want] of Object.entries(expected)) {
    const got = config[key];
    if (got === undefined) continue;
    const same = typeof want === "number"
      ? typeof got === "number" && Math.abs(got - want) <= 1e-12
      : got === want;
    if (!same) {
      throw new Error(
        `Unsupported noise schedule in ${path}: ${key} ${got}, expected ${want} (the toolkit's ᾱ table is SD v1.5's scaled-linear schedule)`,
      );
    }
  }
}

/**
 * Reads `vae/config.json` into the encoder's architecture and scaling factor; absent,
 * SD v1.5's.
 *
 * @param path `vae/config.json`
 * @returns the architecture and s
 *
 * @example
 * ```ts
 * import { readVaeConfig } from "./stable_diffusion_prior.ts";
 * const path = await Deno.makeTempFile({ suffix: ".json" });
 * await Deno.writeTextFile(path, JSON.stringify({ block_out_channels: [8, 16], norm_num_groups: 4 }));
 * const { config, scale } = await readVaeConfig(path);
 * console.log(config.channels, config.groups, scale); // [ 8, 16 ] 4 0.18215
 * await Deno.remove(path);
 * ```
 */
export async function readVaeConfig(
  path: string,
): Promise<{ config: VaeEncoderConfig; scale: number }> {
  if (!(await exists(path))) return { config: {}, scale: SD_VAE_SCALE };
  const json = await readJsonFile(path);
  const config: VaeEncoderConfig = {};
  const num = (key: string) => typeof json[key] === "number" ? json[key] as number : undefined;
  if (Array.isArray(json.block_out_channels)) {
    config.channels = (json.block_out_channels as unknown[]).map(Number);
  }
  const layers = num("layers_per_block");
  const groups = num("norm_num_groups");
  const inChannels = num("in_channels");
  const latent = num("latent_channels");
  if (layers !== undefined) config.layersPerBlock = layers;
  if (groups !== undefined) config.groups = groups;
  if (inChannels !== undefined) config.inChannels = inChannels;
  if (latent !== undefined) config.latentChannels = latent;
  return { config, scale: num("scaling_factor") ?? SD_VAE_SCALE };
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
  const dir = options.model.replace(/\/+$/, "");
  const files = {
    textEncoder: `${dir}/text_encoder/model.onnx`,
    unet: `${dir}/unet/model.onnx`,
    tokenizer: `${dir}/tokenizer`,
    scheduler: `${dir}/scheduler/scheduler_config.json`,
    vae: `${dir}/vae/diffusion_pytorch_model.safetensors`,
  };
  for (const path of Object.values(files)) {
    if (!(await exists(path))) {
      throw new Error(
        `Cannot load Stable Diffusion from ${dir}: ${path} is missing: create the folder with ${SD_EXPORT_COMMAND}`,
      );
    }
  }
  if (runtime.device === null) {
    throw new Error(
      `Cannot load Stable Diffusion: the runtime uses ${runtime.executionProvider}, the prior needs the webgpu execution provider`,
    );
  }
  const gpu = options.gpu ?? Gpu.wrap(runtime.device, { log: null });
  if (gpu.device !== runtime.device) {
    throw new Error(
      "Invalid option gpu: expected a Gpu on the runtime's device (Gpu.wrap(runtime.device))",
    );
  }
  const maxItems = requireInt("maxItems", options.maxItems ?? 1, { min: 1 });
  const sds = validateSdsOptions(options.sds ?? SD_SDS);
  await checkSchedulerConfig(files.scheduler);
  const vaeConfig = await readVaeConfig(`${dir}/vae/config.json`);
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
  const down = 2 ** ((vaeConfig.config.channels?.length ?? 4) - 1);
  const declared = [sample.shape[2], sample.shape[3]];
  const inputSize = options.inputSize ??
    (typeof declared[0] === "number" ? declared[0] * down : 512);
  requireInt("inputSize", inputSize, { min: down });
  const latentSize = inputSize / down;
  const latentChannels = vaeConfig.config.latentChannels ?? 4;
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
    const weights = await loadVaeEncoderWeights(files.vae, { config: vaeConfig.config });
    const encoder = await ImageLatentEncoder.create(gpu, {
      width: options.width,
      height: options.height,
      maxFrames: maxItems,
      inputWidth: inputSize,
      inputHeight: inputSize,
      vae: { weights, config: vaeConfig.config, scale: vaeConfig.scale },
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
