/**
 * A tiny ModelScope T2V model folder for tests: the tiny SD folder of `_sd_folder.ts` (VAE
 * with 16² input and 8² latents, tokenizer, scheduler, text encoder) with its UNet swapped
 * for a UNet3D stand-in whose `sample` and `out_sample` are 5-D, `[batch, 4, frames, 8, 8]`.
 * The stand-in's ε̂ is z_t plus means of its inputs (`buildOnnxFixture`): finite, of the
 * order of the text encoder's mean activation.
 */
import {
  buildOnnxFixture,
  type OnnxDataType,
  type OnnxFixture,
} from "../../../priors/onnx/onnx_fixture.ts";
import { buildSdFolder, type SdFolder } from "./_sd_folder.ts";

/** Sizes and dtypes of the tiny ModelScope folder. */
export interface ModelScopeFolderOptions {
  /** `sample`/`out_sample`/`encoder_hidden_states` dtype; float32 by default. */
  dtype?: "float32" | "float16";
  /** `timestep` dtype; int64 by default. */
  timestep?: OnnxDataType;
  /** The UNet's fixed batch (1: cond and uncond run apart; 2: together); 1 by default. */
  batch?: number;
  /** Frames the UNet declares; 3 by default (not 4, so that F ≠ C and a swapped reorder shows). */
  frames?: number;
  /** UNet `sample` channels (4 in ModelScope; anything else is a wrong export). */
  sampleChannels?: number;
  /** Text hidden size (1024 in ModelScope); 32 by default. */
  hidden?: number;
}

/** What {@linkcode buildModelScopeFolder} wrote. */
export interface ModelScopeFolder extends SdFolder {
  /** Frames the UNet declares. */
  frames: number;
}

/** Writes the folder into a fresh temp dir. */
export async function buildModelScopeFolder(
  options: ModelScopeFolderOptions = {},
): Promise<ModelScopeFolder> {
  const dtype = options.dtype ?? "float32";
  const timestep = options.timestep ?? "int64";
  const batch = options.batch ?? 1;
  const hidden = options.hidden ?? 32;
  const frames = options.frames ?? 3;
  const base = await buildSdFolder({ dtype, timestep, batch, hidden });
  const latent = [batch, options.sampleChannels ?? 4, frames, 8, 8];
  const unet: OnnxFixture = buildOnnxFixture({
    inputs: [
      { name: "sample", dtype, shape: latent },
      { name: "timestep", dtype: timestep, shape: [batch] },
      { name: "encoder_hidden_states", dtype, shape: [batch, 77, hidden] },
    ],
    outputs: [{ name: "out_sample", dtype, shape: latent }],
    externalData: "model.onnx_data",
  });
  await Deno.writeFile(`${base.dir}/unet/model.onnx`, unet.model);
  await Deno.writeFile(`${base.dir}/unet/model.onnx_data`, unet.externalData[0]!.data);
  return { ...base, unet, frames };
}
