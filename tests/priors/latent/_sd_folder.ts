/**
 * A tiny Stable Diffusion model folder laid out as optimum-cli writes it, for tests: ONNX
 * stand-ins with the real input and output names (`tests/priors/onnx/_fixtures.ts`), a
 * tiny CLIP vocabulary, the scheduler config, and a tiny diffusers VAE (random weights
 * under diffusers names) with its `config.json`.
 */
import { writeSafetensors } from "../../../io/safetensors.ts";
import {
  type VaeEncoderConfig,
  vaeEncoderPlan,
} from "../../../kernels/vae_ops/vae_encoder_twin.ts";
import {
  buildOnnxFixture,
  type OnnxDataType,
  type OnnxFixture,
} from "../../../priors/onnx/onnx_fixture.ts";
import { randomArray } from "../../contracts/_harness.ts";
import { textEncoderFixture, tinyClipVocab } from "../onnx/_fixtures.ts";

/** Sizes and dtypes of the tiny folder. */
export interface SdFolderOptions {
  /** `sample`/`out_sample`/`encoder_hidden_states` dtype. */
  dtype: "float32" | "float16";
  /** `timestep` dtype. */
  timestep: OnnxDataType;
  /** The UNet's fixed batch (1: cond and uncond run apart; 2: together). */
  batch: number;
  /** Text hidden size (768 in SD). */
  hidden?: number;
  /** UNet `sample` channels (4 in SD; anything else is a wrong export). */
  sampleChannels?: number;
  /** Scheduler config overrides. */
  scheduler?: Record<string, unknown>;
}

/** The VAE of the folder: channels [8, 16] halve a 16² input to 8² latents. */
export const TINY_VAE: VaeEncoderConfig = { channels: [8, 16], groups: 4, layersPerBlock: 1 };

/** Merges of the tiny tokenizer. */
export const TINY_MERGES = ["c a", "ca t</w>"];

/** What {@linkcode buildSdFolder} wrote. */
export interface SdFolder {
  dir: string;
  unet: OnnxFixture;
  textEncoder: OnnxFixture;
  weights: Record<string, Float32Array>;
}

function vaeWeights(seed: number): Record<string, Float32Array> {
  const plan = vaeEncoderPlan(TINY_VAE, { height: 16, width: 16 });
  const out: Record<string, Float32Array> = {};
  Object.entries(plan.tensors).forEach(([name, shape], i) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const fanIn = shape.length > 1 ? n / shape[0]! : 1;
    const [lo, hi] = /norm\w*\.weight$/.test(name)
      ? [0.5, 1.5]
      : shape.length > 1
      ? [-1 / Math.sqrt(fanIn), 1 / Math.sqrt(fanIn)]
      : [-0.1, 0.1];
    out[name] = Float32Array.from(randomArray(n, seed + i, lo, hi));
  });
  return out;
}

/** Writes the folder into a fresh temp dir. */
export async function buildSdFolder(options: SdFolderOptions): Promise<SdFolder> {
  const dir = await Deno.makeTempDir({ prefix: "tiny-sd-" });
  const hidden = options.hidden ?? 32;
  const latent = [options.batch, options.sampleChannels ?? 4, 8, 8];
  const unet = buildOnnxFixture({
    inputs: [
      { name: "sample", dtype: options.dtype, shape: latent },
      { name: "timestep", dtype: options.timestep, shape: [options.batch] },
      { name: "encoder_hidden_states", dtype: options.dtype, shape: [options.batch, 77, hidden] },
    ],
    outputs: [{ name: "out_sample", dtype: options.dtype, shape: latent }],
    externalData: "model.onnx_data",
  });
  const textEncoder = textEncoderFixture(hidden);
  for (const sub of ["unet", "text_encoder", "tokenizer", "scheduler", "vae"]) {
    await Deno.mkdir(`${dir}/${sub}`);
  }
  await Deno.writeFile(`${dir}/unet/model.onnx`, unet.model);
  await Deno.writeFile(`${dir}/unet/model.onnx_data`, unet.externalData[0]!.data);
  await Deno.writeFile(`${dir}/text_encoder/model.onnx`, textEncoder.model);
  const { vocab, merges } = tinyClipVocab(TINY_MERGES);
  await Deno.writeTextFile(`${dir}/tokenizer/vocab.json`, JSON.stringify(vocab));
  await Deno.writeTextFile(`${dir}/tokenizer/merges.txt`, merges);
  await Deno.writeTextFile(
    `${dir}/scheduler/scheduler_config.json`,
    JSON.stringify({
      _class_name: "PNDMScheduler",
      beta_start: 0.00085,
      beta_end: 0.012,
      beta_schedule: "scaled_linear",
      num_train_timesteps: 1000,
      ...options.scheduler,
    }),
  );
  await Deno.writeTextFile(
    `${dir}/vae/config.json`,
    JSON.stringify({
      block_out_channels: TINY_VAE.channels,
      layers_per_block: TINY_VAE.layersPerBlock,
      norm_num_groups: TINY_VAE.groups,
      latent_channels: 4,
      scaling_factor: 0.18215,
    }),
  );
  const weights = vaeWeights(70);
  await writeSafetensors(
    `${dir}/vae/diffusion_pytorch_model.safetensors`,
    Object.fromEntries(
      Object.entries(weights).map(([k, data]) => [
        k,
        {
          dtype: "F32" as const,
          shape: vaeEncoderPlan(TINY_VAE, { height: 16, width: 16 }).tensors[k]!,
          data,
        },
      ]),
    ),
  );
  return { dir, unet, textEncoder, weights };
}
