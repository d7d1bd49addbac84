/**
 * A tiny ControlNet-tile model folder (`MODEL_FOLDERS.controlnet`) for tests: the SD folder
 * of `_sd_folder.ts` (tokenizer, scheduler, tiny VAE) with its UNet replaced by one that
 * takes the thirteen ControlNet residuals, a ControlNet stand-in writing them, and a
 * Gather-based text encoder (`last_hidden_state = table[input_ids]`) whose token table a
 * textual inversion can be spliced into. Every network is `buildOnnxFixture`'s known
 * function, so tests replay ε̂ in float64.
 *
 * Residuals for a 16² VAE input (8² latents): channels 6, 6, 6, 6, 10, 10, 10, 12, … and
 * sizes 8, 8, 8, 4, 4, 4, 2, 2, 2, 1, 1, 1, mid block 12@1² (SD's pattern, shrunk; no
 * residual has `sample`'s shape, so none is a pass-through). `timestep` is each network's
 * last input, which keeps its weight in the fixtures' mean sums small.
 */
import onnxProto from "onnx-proto";
import { TOKEN_EMBEDDING_INITIALIZER } from "../../../priors/models/onnx_token_embedding.ts";
import {
  buildOnnxFixture,
  type OnnxDataType,
  type OnnxFixture,
  type OnnxValueSpec,
} from "../../../priors/onnx/onnx_fixture.ts";
import { CONTROLNET_RESIDUALS } from "../../../priors/latent/controlnet_denoiser.ts";
import { randomArray } from "../../contracts/_harness.ts";
import { tinyClipVocab } from "../onnx/_fixtures.ts";
import { buildSdFolder, TINY_MERGES } from "./_sd_folder.ts";

/** Residual `[C, h, w]` of the tiny folder, in {@linkcode CONTROLNET_RESIDUALS} order. */
export const TINY_RESIDUALS: readonly (readonly [number, number, number])[] = [
  ...[6, 6, 6, 6, 10, 10, 10, 12, 12, 12, 12, 12].map((c, i) => {
    const s = [8, 8, 8, 4, 4, 4, 2, 2, 2, 1, 1, 1][i]!;
    return [c, s, s] as const;
  }),
  [12, 1, 1],
];

/** Sizes and dtypes of the tiny folder. */
export interface ControlNetFolderOptions {
  /** Float dtype of both networks. */
  dtype?: "float32" | "float16";
  /** `timestep` dtype of both networks. */
  timestep?: OnnxDataType;
  /** Fixed batch of both networks: 2 for cond and uncond apart (maxItems 2), 4 joint. */
  batch?: number;
  /** Text hidden size. */
  hidden?: number;
  /** Side of `controlnet_cond` (16 = the VAE input). */
  controlSize?: number;
  /** Channels of `down_block_res_4` in the UNet only (a mismatched export). */
  unetResidual4Channels?: number;
}

/** What {@linkcode buildControlNetFolder} wrote. */
export interface ControlNetFolder {
  /** The folder. */
  dir: string;
  /** The UNet stand-in. */
  unet: OnnxFixture;
  /** The ControlNet stand-in. */
  controlnet: OnnxFixture;
  /** The text encoder's token table `[vocab][hidden]`. */
  table: Float32Array;
  /** Text hidden size. */
  hidden: number;
  /** The VAE weights. */
  weights: Record<string, Float32Array>;
}

function gatherTextEncoder(table: Float32Array, rows: number, hidden: number): Uint8Array {
  const onnx = onnxProto.onnx;
  const dims = (d: number[]) => ({ dim: d.map((dimValue) => ({ dimValue })) });
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: "", version: 15 }],
    graph: {
      name: "tiny-clip-text",
      initializer: [{
        name: TOKEN_EMBEDDING_INITIALIZER,
        dims: [rows, hidden],
        dataType: onnx.TensorProto.DataType.FLOAT,
        rawData: new Uint8Array(table.buffer),
      }],
      node: [{
        opType: "Gather",
        input: [TOKEN_EMBEDDING_INITIALIZER, "input_ids"],
        output: ["last_hidden_state"],
      }],
      input: [{ name: "input_ids", type: { tensorType: { elemType: 6, shape: dims([1, 77]) } } }],
      output: [{
        name: "last_hidden_state",
        type: { tensorType: { elemType: 1, shape: dims([1, 77, hidden]) } },
      }],
    },
  }).finish();
}

/**
 * The float64 `last_hidden_state` of the folder's text encoder for token ids: the table's
 * rows, with `extra` (a spliced vector) as the row past the table's end.
 */
export function textContext(
  folder: ControlNetFolder,
  ids: ArrayLike<number>,
  extra?: Float32Array,
): Float64Array {
  const D = folder.hidden;
  const rows = folder.table.length / D;
  const out = new Float64Array(ids.length * D);
  for (let t = 0; t < ids.length; t++) {
    const id = ids[t]!;
    const row = id < rows ? folder.table.subarray(id * D, (id + 1) * D) : extra!;
    out.set(row, t * D);
  }
  return out;
}

/** Writes the folder into a fresh temp dir. */
export async function buildControlNetFolder(
  options: ControlNetFolderOptions = {},
): Promise<ControlNetFolder> {
  const dtype = options.dtype ?? "float32";
  const timestep = options.timestep ?? "int64";
  const batch = options.batch ?? 2;
  const hidden = options.hidden ?? 16;
  const S = options.controlSize ?? 16;
  const sd = await buildSdFolder({ dtype, timestep, batch, hidden });
  const dir = sd.dir;
  const value = (name: string, shape: number[]): OnnxValueSpec => ({ name, dtype, shape });
  const sample = value("sample", [batch, 4, 8, 8]);
  const context = value("encoder_hidden_states", [batch, 77, hidden]);
  const t = { name: "timestep", dtype: timestep, shape: [batch] };
  const residuals = (unetSide: boolean) =>
    CONTROLNET_RESIDUALS.map((name, k) => {
      const [c, h, w] = TINY_RESIDUALS[k]!;
      const channels = unetSide && k === 4 ? options.unetResidual4Channels ?? c : c;
      return value(name, [batch, channels, h, w]);
    });
  const controlnet = buildOnnxFixture({
    inputs: [sample, context, value("controlnet_cond", [batch, 3, S, S]), t],
    outputs: residuals(false),
  });
  const unet = buildOnnxFixture({
    inputs: [sample, context, ...residuals(true), t],
    outputs: [value("out_sample", [batch, 4, 8, 8])],
    externalData: "model.onnx_data",
  });
  const rows = Object.keys(tinyClipVocab(TINY_MERGES).vocab).length;
  const table = Float32Array.from(randomArray(rows * hidden, 401, -0.5, 0.5));
  await Deno.mkdir(`${dir}/controlnet`);
  await Deno.writeFile(`${dir}/controlnet/model.onnx`, controlnet.model);
  await Deno.writeFile(`${dir}/unet/model.onnx`, unet.model);
  await Deno.writeFile(`${dir}/unet/model.onnx_data`, unet.externalData[0]!.data);
  await Deno.writeFile(
    `${dir}/text_encoder/model.onnx`,
    gatherTextEncoder(table, rows, hidden),
  );
  return { dir, unet, controlnet, table, hidden, weights: sd.weights };
}
