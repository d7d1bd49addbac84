/**
 * The common start of every latent prior factory (SPEC.md §10.1–10.3): a model folder as
 * its export command writes it is checked file by file, the ONNX runtime must run on
 * WebGPU (the prior shares its device), the scheduler must use the toolkit's noise schedule
 * and `vae/config.json` gives the VAE encoder's architecture and scaling factor.
 *
 * @example A missing folder names the file and the export command
 * ```ts
 * import { OrtRuntime } from "../onnx/ort_runtime.ts";
 * import { SD_SDS } from "../sds_options.ts";
 * import { openModelFolder } from "./model_folder.ts";
 * const runtime = await OrtRuntime.create({ executionProvider: "wasm" });
 * const error = await openModelFolder(runtime, {
 *   model: "/nonexistent/", name: "Demo", exportCommand: "export.sh DIR",
 *   files: { unet: "unet/model.onnx" }, sds: SD_SDS,
 * }).catch((e: Error) => e);
 * console.log((error as Error).message);
 * // Cannot load Demo from /nonexistent: /nonexistent/unet/model.onnx is missing: create the folder with export.sh DIR
 * ```
 *
 * @module
 */
import { Gpu } from "../../kernels/gpu.ts";
import { SD_VAE_SCALE } from "../../kernels/vae_ops/posterior_twin.ts";
import { loadVaeEncoderWeights } from "../../kernels/vae_ops/vae_encoder.ts";
import type { VaeEncoderConfig } from "../../kernels/vae_ops/vae_encoder_twin.ts";
import { requireInt } from "../../kernels/validate.ts";
import { BETA_END, BETA_START, TRAIN_TIMESTEPS } from "../noise_schedule.ts";
import type { OrtRuntime } from "../onnx/ort_runtime.ts";
import { type SdsOptions, validateSdsOptions } from "../sds_options.ts";
import { ImageLatentEncoder } from "./image_latent_encoder.ts";

/**
 * Options of {@linkcode openModelFolder}.
 *
 * @example
 * ```ts
 * import type { ModelFolderOptions } from "./model_folder.ts";
 * import { SD_SDS } from "../sds_options.ts";
 * const options: ModelFolderOptions<"unet"> = {
 *   model: "models/sd15", name: "Stable Diffusion", exportCommand: "optimum-cli export onnx …",
 *   files: { unet: "unet/model.onnx" }, sds: SD_SDS,
 * };
 * console.log(Object.keys(options.files)); // [ "unet" ]
 * ```
 */
export interface ModelFolderOptions<K extends string> {
  /** The model folder; trailing slashes are dropped. */
  model: string;
  /** The model's name in error messages, e.g. `"Stable Diffusion"`. */
  name: string;
  /** The command that writes the folder, named when a file is missing. */
  exportCommand: string;
  /**
   * Files (or folders) that must exist, relative to the folder; `scheduler` is checked
   * with {@linkcode checkSchedulerConfig} when given.
   */
  files: Record<K, string>;
  /** The toolkit's view of the runtime's device; defaults to `Gpu.wrap(runtime.device)`. */
  gpu?: Gpu | undefined;
  /** The prior's SDS constants, validated here. */
  sds: SdsOptions;
}

/**
 * What {@linkcode openModelFolder} found.
 *
 * @example
 * ```ts
 * import type { ModelFolder } from "./model_folder.ts";
 * type Sd = ModelFolder<"unet" | "vae">;
 * const files: Sd["files"] = { unet: "m/unet/model.onnx", vae: "m/vae/x.safetensors" };
 * console.log(files.unet); // m/unet/model.onnx
 * ```
 */
export interface ModelFolder<K extends string> {
  /** The folder without trailing slashes. */
  dir: string;
  /** Full paths of the checked files, by the keys given. */
  files: Record<K, string>;
  /** The toolkit's view of the runtime's device. */
  gpu: Gpu;
  /** The validated SDS constants. */
  sds: SdsOptions;
  /** The VAE encoder's architecture and scaling factor from `vae/config.json`. */
  vae: { config: VaeEncoderConfig; scale: number };
}

/**
 * The files of a text-conditioned diffusers folder exported to ONNX (SD v1.5, ModelScope,
 * the ControlNet folder's SD part): CLIP text encoder, tokenizer, UNet, scheduler and the
 * VAE's safetensors.
 *
 * @example
 * ```ts
 * import { DIFFUSERS_FILES } from "./model_folder.ts";
 * console.log(DIFFUSERS_FILES.unet); // unet/model.onnx
 * ```
 */
export const DIFFUSERS_FILES = {
  textEncoder: "text_encoder/model.onnx",
  unet: "unet/model.onnx",
  tokenizer: "tokenizer",
  scheduler: "scheduler/scheduler_config.json",
  vae: "vae/diffusion_pytorch_model.safetensors",
} as const;

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
 * import { checkSchedulerConfig } from "./model_folder.ts";
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
 * import { readVaeConfig } from "./model_folder.ts";
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
 * Checks a model folder and the runtime before a prior loads anything: every file in
 * `files` exists, the runtime runs on WebGPU, `gpu` is on its device, `sds` is valid, the
 * scheduler (key `scheduler`) uses the toolkit's schedule; then reads `vae/config.json`.
 *
 * @param runtime ONNX Runtime on WebGPU (`OrtRuntime.create()`)
 * @param options folder, model name, export command, files, gpu and SDS constants
 * @returns the folder, the full paths, the gpu, the validated SDS constants and the VAE config
 * @throws {Error} naming a missing file and the export command, a runtime without WebGPU,
 *   a `gpu` on another device, bad SDS constants or another noise schedule
 *
 * @example A complete folder on a WebGPU runtime
 * ```ts
 * import { OrtRuntime } from "../onnx/ort_runtime.ts";
 * import { ZERO123_SDS } from "../sds_options.ts";
 * import { openModelFolder } from "./model_folder.ts";
 * const runtime = await OrtRuntime.create();
 * const dir = await Deno.makeTempDir();
 * await Deno.mkdir(`${dir}/scheduler`);
 * await Deno.writeTextFile(`${dir}/scheduler/scheduler_config.json`, JSON.stringify({ beta_end: 0.012 }));
 * const folder = await openModelFolder(runtime, {
 *   model: `${dir}/`, name: "Demo", exportCommand: "export.sh DIR",
 *   files: { scheduler: "scheduler/scheduler_config.json" }, sds: ZERO123_SDS,
 * });
 * console.log(folder.dir === dir, folder.files.scheduler === `${dir}/scheduler/scheduler_config.json`, folder.vae.scale); // true true 0.18215
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function openModelFolder<K extends string>(
  runtime: OrtRuntime,
  options: ModelFolderOptions<K>,
): Promise<ModelFolder<K>> {
  const dir = options.model.replace(/\/+$/, "");
  const files = Object.fromEntries(
    Object.entries<string>(options.files).map(([key, path]) => [key, `${dir}/${path}`]),
  ) as Record<K, string>;
  for (const path of Object.values<string>(files)) {
    if (!(await exists(path))) {
      throw new Error(
        `Cannot load ${options.name} from ${dir}: ${path} is missing: create the folder with ${options.exportCommand}`,
      );
    }
  }
  if (runtime.device === null) {
    throw new Error(
      `Cannot load ${options.name}: the runtime uses ${runtime.executionProvider}, the prior needs the webgpu execution provider`,
    );
  }
  const gpu = options.gpu ?? Gpu.wrap(runtime.device, { log: null });
  if (gpu.device !== runtime.device) {
    throw new Error(
      "Invalid option gpu: expected a Gpu on the runtime's device (Gpu.wrap(runtime.device))",
    );
  }
  const sds = validateSdsOptions(options.sds);
  const scheduler = (files as Record<string, string>).scheduler;
  if (scheduler !== undefined) await checkSchedulerConfig(scheduler);
  const vae = await readVaeConfig(`${dir}/vae/config.json`);
  return { dir, files, gpu, sds, vae };
}

/**
 * The VAE's input side and the latent side: `inputSize` when given, else the UNet's
 * declared latent side times the VAE's downsampling (2^(blocks − 1)), else `fallback`.
 *
 * @param vae the folder's VAE config ({@linkcode ModelFolder.vae})
 * @param options `declared`: the UNet's latent side as its `sample` declares it (a name
 *   when dynamic); `fallback`: the input side then; `inputSize`: the caller's option
 * @returns the input side, the latent side and the downsampling
 * @throws {RangeError} when `inputSize` is not an integer of at least the downsampling
 *
 * @example SD v1.5's VAE (4 blocks) under a UNet declaring 64² latents
 * ```ts
 * import { vaeSizes } from "./model_folder.ts";
 * const vae = { config: {}, scale: 0.18215 };
 * console.log(vaeSizes(vae, { declared: 64, fallback: 256 })); // { inputSize: 512, latentSize: 64, down: 8 }
 * console.log(vaeSizes(vae, { declared: "h", fallback: 256 }).latentSize); // 32
 * ```
 */
export function vaeSizes(
  vae: ModelFolder<string>["vae"],
  options: {
    declared: number | string | undefined;
    fallback: number;
    inputSize?: number | undefined;
  },
): { inputSize: number; latentSize: number; down: number } {
  const down = 2 ** ((vae.config.channels?.length ?? 4) - 1);
  const declared = options.declared;
  const inputSize = options.inputSize ??
    (typeof declared === "number" ? declared * down : options.fallback);
  requireInt("inputSize", inputSize, { min: down });
  return { inputSize, latentSize: inputSize / down, down };
}

/**
 * Loads the folder's VAE weights into a {@linkcode ImageLatentEncoder} on the folder's gpu:
 * renders of `width`×`height` resized to `inputSize`² and encoded to scaled latents.
 *
 * @param folder the opened folder (its `vae` file, VAE config and gpu)
 * @param options render size, frames per call and the VAE input side
 * @returns the encoder; the caller destroys it
 * @throws {Error} naming the safetensors file and a missing or misshapen tensor
 *
 * @example A folder without the weights file
 * ```ts
 * import { acquireGpu } from "../../kernels/gpu.ts";
 * import { loadLatentEncoder } from "./model_folder.ts";
 * const gpu = await acquireGpu({ log: null });
 * const folder = { gpu, files: { vae: "/nonexistent/vae.safetensors" }, vae: { config: {}, scale: 0.18215 } };
 * const error = await loadLatentEncoder(folder, { width: 8, height: 8, maxFrames: 1, inputSize: 64 })
 *   .catch((e: Error) => e);
 * console.log((error as Error).message.includes("/nonexistent/vae.safetensors")); // true
 * gpu.destroy();
 * ```
 */
export async function loadLatentEncoder(
  folder: Pick<ModelFolder<"vae">, "gpu" | "files" | "vae">,
  options: { width: number; height: number; maxFrames: number; inputSize: number },
): Promise<ImageLatentEncoder> {
  const { config, scale } = folder.vae;
  const weights = await loadVaeEncoderWeights(folder.files.vae, { config });
  return await ImageLatentEncoder.create(folder.gpu, {
    width: options.width,
    height: options.height,
    maxFrames: options.maxFrames,
    inputWidth: options.inputSize,
    inputHeight: options.inputSize,
    vae: { weights, config, scale },
  });
}
