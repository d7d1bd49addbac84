/**
 * A tiny Zero-1-to-3 model folder laid out as `export_zero123.py` (docs/models.md) writes it,
 * for tests: hand-built ONNX stand-ins with the real input and output names, whose every
 * output element depends on a known input element, so layouts show in the values:
 *
 * - `image_encoder/model.onnx`: image_embeds[n][k] = ½·pixel_values[n] (flattened)[k·step];
 * - `unet/model.onnx`: out_sample = α·sample[:, 0:4] + β·sample[:, 4:8]
 *   + γ·encoder_hidden_states[n, 0, 0:4hw] (as [4, h, w]) + δ·t, i.e. z_t, c_concat, the
 *   context and the timestep each leave their own trace, with ε̂ of order one;
 * - `cc_projection`, the tiny VAE of `_sd_folder.ts` and the SD scheduler config.
 *
 * Each network comes with a float64 `evaluate` of the same maths.
 */
import onnxProto from "onnx-proto";
import type { onnx as Onnx } from "onnx-proto";
import { writeSafetensors } from "../../../io/safetensors.ts";
import { vaeEncoderPlan } from "../../../kernels/vae_ops/vae_encoder_twin.ts";
import { randomArray } from "../../contracts/_harness.ts";
import { buildSdFolder, TINY_VAE } from "./_sd_folder.ts";

const onnx = onnxProto.onnx;
const DT = onnx.TensorProto.DataType;
const INT = onnx.AttributeProto.AttributeType.INT;

/** The stand-in UNet's coefficients: z_t, c_concat, context and t/1 weights. */
export const UNET_COEFFICIENTS = { alpha: 0.5, beta: 0.25, gamma: 1, delta: 0.0005 };

/** Options of {@linkcode buildZero123Folder}. */
export interface Zero123FolderOptions {
  /** `sample`/`encoder_hidden_states`/`out_sample` dtype; float32 by default. */
  dtype?: "float32" | "float16";
  /** `timestep` dtype; int64 by default. */
  timestep?: "int64" | "float32";
  /** Fixed UNet batch: 2 runs cond and uncond together, 1 apart; 2 by default. */
  batch?: number;
  /** `sample` channels (8; 4 is the wrong, SD-style export); 8 by default. */
  sampleChannels?: number;
  /** Embedding and context width (768 in Zero123-XL); 768 by default. */
  hidden?: number;
  /** The image encoder's input side (224); 224 by default. */
  clipSize?: number;
}

/** What {@linkcode buildZero123Folder} wrote. */
export interface Zero123Folder {
  /** The folder. */
  dir: string;
  /** VAE weights by diffusers name (16² input, 8² latents). */
  weights: Record<string, Float32Array>;
  /** cc_projection weight `[hidden][hidden + 4]` and bias. */
  projection: { weight: Float32Array; bias: Float32Array };
  /** Float64 image encoder: `[3·S·S]` pixel values → `[hidden]` embedding. */
  imageEmbeds(pixels: ArrayLike<number>): Float64Array;
  /** Float64 UNet for one item: sample `[8·h·w]`, t, context `[hidden]` → ε̂ `[4·h·w]`. */
  unet(sample: ArrayLike<number>, t: number, context: ArrayLike<number>): Float64Array;
}

type Node = Onnx.INodeProto;

function ints(name: string, values: number[]): Onnx.ITensorProto {
  return { name, dims: [values.length], dataType: DT.INT64, int64Data: values };
}

function scalar(name: string, value: number): Onnx.ITensorProto {
  return { name, dims: [], dataType: DT.FLOAT, floatData: [value] };
}

function valueInfo(name: string, dtype: number, shape: number[]): Onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType: dtype, shape: { dim: shape.map((d) => ({ dimValue: d })) } } },
  };
}

function modelBytes(graph: Onnx.IGraphProto): Uint8Array {
  return onnx.ModelProto.encode(onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: "", version: 15 }],
    producerName: "animate124-zero123-fixture",
    graph,
  })).finish();
}

function cast(input: string, output: string, to: number): Node {
  return {
    opType: "Cast",
    input: [input],
    output: [output],
    attribute: [{ name: "to", type: INT, i: to }],
  };
}

function imageEncoder(size: number, hidden: number, step: number): Uint8Array {
  const nodes: Node[] = [
    { opType: "Reshape", input: ["pixel_values", "flat_shape"], output: ["flat"] },
    { opType: "Slice", input: ["flat", "starts", "ends", "axes", "steps"], output: ["picked"] },
    { opType: "Mul", input: ["picked", "half"], output: ["image_embeds"] },
  ];
  return modelBytes({
    name: "image_encoder",
    input: [valueInfo("pixel_values", DT.FLOAT, [1, 3, size, size])],
    output: [valueInfo("image_embeds", DT.FLOAT, [1, hidden])],
    initializer: [
      ints("flat_shape", [0, -1]),
      ints("starts", [0]),
      ints("ends", [hidden * step]),
      ints("axes", [1]),
      ints("steps", [step]),
      scalar("half", 0.5),
    ],
    node: nodes,
  });
}

function unetModel(o: Required<Zero123FolderOptions>, latent: number): Uint8Array {
  const c = UNET_COEFFICIENTS;
  const elem = o.dtype === "float16" ? DT.FLOAT16 : DT.FLOAT;
  const hw = latent * latent;
  const nodes: Node[] = [];
  let sample = "sample", context = "encoder_hidden_states";
  if (o.dtype === "float16") {
    nodes.push(cast("sample", "sample32", DT.FLOAT), cast(context, "context32", DT.FLOAT));
    sample = "sample32";
    context = "context32";
  }
  const half = Math.min(4, o.sampleChannels);
  nodes.push(
    { opType: "Slice", input: [sample, "zero", "four", "one"], output: ["zt"] },
    { opType: "Mul", input: ["zt", "alpha"], output: ["a"] },
    { opType: "Reshape", input: [context, "flat_shape"], output: ["ctx_flat"] },
    { opType: "Slice", input: ["ctx_flat", "zero", "ctx_end", "one"], output: ["ctx_head"] },
    { opType: "Reshape", input: ["ctx_head", "eps_shape"], output: ["ctx_img"] },
    { opType: "Mul", input: ["ctx_img", "gamma"], output: ["g"] },
    cast("timestep", "t32", DT.FLOAT),
    { opType: "Reshape", input: ["t32", "t_shape"], output: ["t4"] },
    { opType: "Mul", input: ["t4", "delta"], output: ["d"] },
    { opType: "Add", input: ["a", "g"], output: ["ag"] },
    { opType: "Add", input: ["ag", "d"], output: ["agd"] },
  );
  let sum = "agd";
  if (o.sampleChannels > 4) {
    nodes.push(
      { opType: "Slice", input: [sample, "four", "eight", "one"], output: ["cc"] },
      { opType: "Mul", input: ["cc", "beta"], output: ["b"] },
      { opType: "Add", input: ["agd", "b"], output: ["agdb"] },
    );
    sum = "agdb";
  }
  if (o.dtype === "float16") nodes.push(cast(sum, "out_sample", DT.FLOAT16));
  else nodes.push({ opType: "Identity", input: [sum], output: ["out_sample"] });
  return modelBytes({
    name: "unet",
    input: [
      valueInfo("sample", elem, [o.batch, o.sampleChannels, latent, latent]),
      valueInfo("timestep", o.timestep === "int64" ? DT.INT64 : DT.FLOAT, [o.batch]),
      valueInfo("encoder_hidden_states", elem, [o.batch, 1, o.hidden]),
    ],
    output: [valueInfo("out_sample", elem, [o.batch, half, latent, latent])],
    initializer: [
      ints("zero", [0]),
      ints("four", [half]),
      ints("eight", [o.sampleChannels]),
      ints("one", [1]),
      ints("flat_shape", [0, -1]),
      ints("ctx_end", [half * hw]),
      ints("eps_shape", [-1, half, latent, latent]),
      ints("t_shape", [-1, 1, 1, 1]),
      scalar("alpha", c.alpha),
      scalar("beta", c.beta),
      scalar("gamma", c.gamma),
      scalar("delta", c.delta),
    ],
    node: nodes,
  });
}

/**
 * Writes the folder into a fresh temp dir (VAE, scheduler and tokenizer-free parts reuse the
 * SD fixture's; its text encoder and UNet are removed).
 */
export async function buildZero123Folder(
  options: Zero123FolderOptions = {},
): Promise<Zero123Folder> {
  const o: Required<Zero123FolderOptions> = {
    dtype: options.dtype ?? "float32",
    timestep: options.timestep ?? "int64",
    batch: options.batch ?? 2,
    sampleChannels: options.sampleChannels ?? 8,
    hidden: options.hidden ?? 768,
    clipSize: options.clipSize ?? 224,
  };
  const sd = await buildSdFolder({ dtype: "float32", timestep: "int64", batch: 1 });
  const dir = sd.dir;
  for (const sub of ["unet", "text_encoder", "tokenizer"]) {
    await Deno.remove(`${dir}/${sub}`, { recursive: true });
  }
  const latent = vaeEncoderPlan(TINY_VAE, { height: 16, width: 16 }).latent.height;
  const pixels = 3 * o.clipSize * o.clipSize;
  const step = Math.floor(pixels / o.hidden);
  for (const sub of ["unet", "image_encoder", "cc_projection"]) await Deno.mkdir(`${dir}/${sub}`);
  await Deno.writeFile(`${dir}/image_encoder/model.onnx`, imageEncoder(o.clipSize, o.hidden, step));
  await Deno.writeFile(`${dir}/unet/model.onnx`, unetModel(o, latent));
  const inputs = o.hidden + 4;
  const bound = 1 / Math.sqrt(inputs);
  const weight = Float32Array.from(randomArray(o.hidden * inputs, 301, -bound, bound));
  // Larger pose columns make the pose visible next to the 768 embedding terms.
  for (let r = 0; r < o.hidden; r++) {
    for (let j = 0; j < 4; j++) weight[r * inputs + o.hidden + j]! *= 10;
  }
  const bias = Float32Array.from(randomArray(o.hidden, 302, -0.1, 0.1));
  await writeSafetensors(`${dir}/cc_projection/diffusion_pytorch_model.safetensors`, {
    "cc_projection.weight": { dtype: "F32", shape: [o.hidden, inputs], data: weight },
    "cc_projection.bias": { dtype: "F32", shape: [o.hidden], data: bias },
  });
  const c = UNET_COEFFICIENTS;
  const hw = latent * latent;
  return {
    dir,
    weights: sd.weights,
    projection: { weight, bias },
    imageEmbeds: (px) => Float64Array.from({ length: o.hidden }, (_, k) => 0.5 * px[k * step]!),
    unet: (sample, t, context) =>
      Float64Array.from(
        { length: 4 * hw },
        (_, i) =>
          c.alpha * sample[i]! + c.beta * sample[4 * hw + i]! + c.gamma * context[i]! + c.delta * t,
      ),
  };
}
