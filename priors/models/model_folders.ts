/**
 * The `--models DIR` layout and its checks: for each prior (SD v1.5, Zero123-XL, ModelScope
 * T2V, ControlNet-tile) the files it needs and the inputs and outputs its ONNX graphs must
 * declare (names, dtypes, ranks, and fixed sizes where the toolkit depends on them). See
 * docs/models.md for how each folder is exported.
 *
 * @example Check a folder; a missing file names itself and the export command
 * ```ts
 * import { validateModelFolder } from "./model_folders.ts";
 * const dir = await Deno.makeTempDir();
 * try {
 *   await validateModelFolder(dir, "sd");
 * } catch (error) {
 *   console.log((error as Error).message.split("\n")[0]);
 *   // Invalid model folder for sd: text_encoder/model.onnx is missing (the CLIP text encoder)
 * }
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */
import { readSafetensorsHeader } from "../../io/safetensors.ts";
import { EXTERNAL_DATA_SCAN_LIMIT, externalDataLocations } from "../onnx/onnx_external_data.ts";
import { type OnnxValue, readOnnxSignature } from "./onnx_signature.ts";

/**
 * The priors a model folder can hold.
 *
 * @example
 * ```ts
 * import { MODEL_FOLDERS, type PriorName } from "./model_folders.ts";
 * const prior: PriorName = "zero123";
 * console.log(MODEL_FOLDERS[prior].repository); // Yuyang-z/zero123-xl
 * ```
 */
export type PriorName = "sd" | "zero123" | "modelscope" | "controlnet";

/**
 * A size the toolkit needs: a number, or `null` for any (symbolic dims always pass).
 *
 * @example
 * ```ts
 * import { type ExpectedDim, MODEL_FOLDERS } from "./model_folders.ts";
 * const textEncoder = MODEL_FOLDERS.sd.files.find((f) => f.path === "text_encoder/model.onnx")!;
 * const shape: ExpectedDim[] = textEncoder.outputs![0]!.shape;
 * console.log(shape); // [ null, 77, 768 ]
 * ```
 */
export type ExpectedDim = number | null;

/**
 * One expected ONNX input or output.
 *
 * @example
 * ```ts
 * import type { ExpectedValue } from "./model_folders.ts";
 * const v: ExpectedValue = { name: "sample", dtypes: ["float32", "float16"], shape: [null, 4, 64, 64] };
 * console.log(v.shape.length); // 4
 * ```
 */
export interface ExpectedValue {
  /** Name in the graph. */
  name: string;
  /** Accepted element types. */
  dtypes: string[];
  /** One entry per dimension. */
  shape: ExpectedDim[];
}

/**
 * One file of a model folder.
 *
 * @example
 * ```ts
 * import { MODEL_FOLDERS } from "./model_folders.ts";
 * console.log(MODEL_FOLDERS.zero123.files.map((f) => f.path).includes("cc_projection/diffusion_pytorch_model.safetensors")); // true
 * ```
 */
export interface ExpectedFile {
  /** Path relative to the prior's folder; `a|b` means either. */
  path: string;
  /** What it is, for messages. */
  role: string;
  /** For `.onnx` files: the graph's inputs. */
  inputs?: ExpectedValue[];
  /** For `.onnx` files: the graph's outputs that the toolkit reads. */
  outputs?: ExpectedValue[];
  /** For `.safetensors` files: tensors that must be present, with their shapes. */
  tensors?: Record<string, number[]>;
}

/**
 * The layout of one prior's folder.
 *
 * @example
 * ```ts
 * import { MODEL_FOLDERS } from "./model_folders.ts";
 * console.log(MODEL_FOLDERS.sd.folder, MODEL_FOLDERS.sd.repository); // sd runwayml/stable-diffusion-v1-5
 * ```
 */
export interface ModelFolderSpec {
  /** Sub-folder of `--models DIR`. */
  folder: string;
  /** The diffusers repository the weights come from. */
  repository: string;
  /** How to produce the folder (see docs/models.md). */
  exportCommand: string;
  /** Required files. */
  files: ExpectedFile[];
}

const FLOATS = ["float32", "float16"];
const TIMESTEP = ["int64", "float32", "float16"];
const IDS = ["int32", "int64"];
const VAE: ExpectedFile = {
  path: "vae/diffusion_pytorch_model.safetensors",
  role: "the VAE weights, whose encoder the toolkit runs in WGSL",
  tensors: { "encoder.conv_in.weight": [128, 3, 3, 3], "quant_conv.weight": [8, 8, 1, 1] },
};
const TOKENIZER: ExpectedFile = {
  path: "tokenizer/tokenizer.json|tokenizer/vocab.json",
  role: "the CLIP tokenizer",
};
const TOKENIZER_MERGES: ExpectedFile = {
  path: "tokenizer/tokenizer.json|tokenizer/merges.txt",
  role: "the CLIP tokenizer's merges",
};
const SCHEDULER: ExpectedFile = {
  path: "scheduler/scheduler_config.json",
  role: "the DDIM schedule (ᾱ)",
};

function textEncoder(width: number): ExpectedFile {
  return {
    path: "text_encoder/model.onnx",
    role: "the CLIP text encoder",
    inputs: [{ name: "input_ids", dtypes: IDS, shape: [null, 77] }],
    outputs: [{ name: "last_hidden_state", dtypes: FLOATS, shape: [null, 77, width] }],
  };
}

function unet(
  channels: number,
  latent: ExpectedDim[],
  context: number,
  extra: ExpectedValue[] = [],
) {
  return {
    inputs: [
      { name: "sample", dtypes: FLOATS, shape: [null, channels, ...latent] },
      { name: "timestep", dtypes: TIMESTEP, shape: [null] },
      { name: "encoder_hidden_states", dtypes: FLOATS, shape: [null, null, context] },
      ...extra,
    ],
    outputs: [{ name: "out_sample", dtypes: FLOATS, shape: [null, 4, ...latent] }],
  };
}

// The residuals of SD v1.5's ControlNet at 1024² (latent 128): conv_in and the two resnets
// of each down block, plus each downsampler's output (320@128 ×3, 320@64, 640@64 ×2, 640@32,
// 1280@32 ×2, 1280@16 ×3), and the mid block at 1280@16.
const DOWN_CHANNELS = [320, 320, 320, 320, 640, 640, 640, 1280, 1280, 1280, 1280, 1280];
const DOWN_SIZES = [128, 128, 128, 64, 64, 64, 32, 32, 32, 16, 16, 16];
const RESIDUALS: ExpectedValue[] = [
  ...DOWN_CHANNELS.map((c, i) => ({
    name: `down_block_res_${i}`,
    dtypes: FLOATS,
    shape: [null, c, DOWN_SIZES[i]!, DOWN_SIZES[i]!],
  })),
  { name: "mid_block_res", dtypes: FLOATS, shape: [null, 1280, 16, 16] },
];

/**
 * Every prior's folder layout: optimum-style `<part>/model.onnx` exports plus the diffusers
 * files the toolkit reads itself (VAE safetensors, tokenizer, scheduler, cc_projection).
 *
 * @example
 * ```ts
 * import { MODEL_FOLDERS } from "./model_folders.ts";
 * const unet = MODEL_FOLDERS.zero123.files.find((f) => f.path === "unet/model.onnx")!;
 * console.log(unet.inputs![0]!.shape); // [ null, 8, 32, 32 ]
 * ```
 */
export const MODEL_FOLDERS: Readonly<Record<PriorName, ModelFolderSpec>> = {
  sd: {
    folder: "sd",
    repository: "runwayml/stable-diffusion-v1-5",
    exportCommand:
      "optimum-cli export onnx --model runwayml/stable-diffusion-v1-5 --task text-to-image DIR/sd && huggingface-cli download runwayml/stable-diffusion-v1-5 vae/diffusion_pytorch_model.safetensors vae/config.json --local-dir DIR/sd",
    files: [
      textEncoder(768),
      { path: "unet/model.onnx", role: "the SD v1.5 UNet", ...unet(4, [64, 64], 768) },
      VAE,
      TOKENIZER,
      TOKENIZER_MERGES,
      SCHEDULER,
    ],
  },
  zero123: {
    folder: "zero123",
    repository: "Yuyang-z/zero123-xl",
    exportCommand:
      "huggingface-cli download Yuyang-z/zero123-xl --local-dir DIR/zero123-src && python export_zero123.py DIR/zero123-src DIR/zero123 (the script is in docs/models.md, section Zero-1-to-3-XL)",
    files: [
      {
        path: "image_encoder/model.onnx",
        role: "the CLIP image encoder with projection",
        inputs: [{ name: "pixel_values", dtypes: FLOATS, shape: [null, 3, 224, 224] }],
        outputs: [{ name: "image_embeds", dtypes: FLOATS, shape: [null, 768] }],
      },
      {
        path: "cc_projection/diffusion_pytorch_model.safetensors",
        role: "cc_projection, Linear(772, 768)",
        tensors: { "cc_projection.weight|weight|projection.weight": [768, 772] },
      },
      { path: "unet/model.onnx", role: "the 8-channel Zero123 UNet", ...unet(8, [32, 32], 768) },
      VAE,
      SCHEDULER,
    ],
  },
  modelscope: {
    folder: "modelscope",
    repository: "damo-vilab/text-to-video-ms-1.7b",
    exportCommand:
      "huggingface-cli download damo-vilab/text-to-video-ms-1.7b --local-dir DIR/modelscope-src && python export_modelscope.py DIR/modelscope-src DIR/modelscope (the script is in docs/models.md, section ModelScope T2V)",
    files: [
      textEncoder(1024),
      {
        path: "unet/model.onnx",
        role: "the ModelScope UNet3D (16 frames at 256²)",
        inputs: [
          { name: "sample", dtypes: FLOATS, shape: [null, 4, 16, 32, 32] },
          { name: "timestep", dtypes: TIMESTEP, shape: [null] },
          { name: "encoder_hidden_states", dtypes: FLOATS, shape: [null, 77, 1024] },
        ],
        outputs: [{ name: "out_sample", dtypes: FLOATS, shape: [null, 4, 16, 32, 32] }],
      },
      VAE,
      TOKENIZER,
      TOKENIZER_MERGES,
      SCHEDULER,
    ],
  },
  controlnet: {
    folder: "controlnet",
    repository: "lllyasviel/control_v11f1e_sd15_tile (on runwayml/stable-diffusion-v1-5)",
    exportCommand:
      "python export_controlnet.py lllyasviel/control_v11f1e_sd15_tile runwayml/stable-diffusion-v1-5 DIR/controlnet (the script is in docs/models.md, section ControlNet-tile)",
    files: [
      textEncoder(768),
      {
        path: "controlnet/model.onnx",
        role: "the ControlNet-tile network",
        inputs: [
          { name: "sample", dtypes: FLOATS, shape: [null, 4, 128, 128] },
          { name: "timestep", dtypes: TIMESTEP, shape: [null] },
          { name: "encoder_hidden_states", dtypes: FLOATS, shape: [null, null, 768] },
          { name: "controlnet_cond", dtypes: FLOATS, shape: [null, 3, 1024, 1024] },
        ],
        outputs: RESIDUALS,
      },
      {
        path: "unet/model.onnx",
        role: "the SD v1.5 UNet taking ControlNet residuals",
        ...unet(4, [128, 128], 768, RESIDUALS),
      },
      VAE,
      TOKENIZER,
      TOKENIZER_MERGES,
      SCHEDULER,
    ],
  },
};

async function exists(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

function shapeText(shape: (number | string | null)[]): string {
  return `[${shape.map((d) => d === null ? "any" : d).join(", ")}]`;
}

function compare(
  kind: string,
  want: ExpectedValue,
  got: OnnxValue | undefined,
): string | undefined {
  if (got === undefined) return `no ${kind} ${want.name}`;
  const shapeOk = got.shape.length === want.shape.length &&
    want.shape.every((d, i) =>
      d === null || typeof got.shape[i] === "string" || got.shape[i] === d
    );
  if (!want.dtypes.includes(got.dtype) || !shapeOk) {
    return `${kind} ${want.name} is ${got.dtype} ${shapeText(got.shape)}, expected ${
      want.dtypes.join(" or ")
    } ${shapeText(want.shape)}`;
  }
  return undefined;
}

/**
 * Problems with one ONNX file against its expected inputs and outputs (empty if none).
 *
 * @param path the `.onnx` file
 * @param expected the file's spec
 * @returns one line per problem
 *
 * @example
 * ```ts
 * import { buildOnnxFixture } from "../onnx/onnx_fixture.ts";
 * import { checkOnnxFile, MODEL_FOLDERS } from "./model_folders.ts";
 * const path = await Deno.makeTempFile({ suffix: ".onnx" });
 * await Deno.writeFile(path, buildOnnxFixture({
 *   inputs: [{ name: "input_ids", dtype: "int32", shape: [1, 77] }],
 *   outputs: [{ name: "last_hidden_state", dtype: "float32", shape: [1, 77, 1024] }],
 * }).model);
 * const sdText = MODEL_FOLDERS.sd.files[0]!;
 * console.log(await checkOnnxFile(path, sdText)); // [ "output last_hidden_state is float32 [1, 77, 1024], expected float32 or float16 [any, 77, 768]" ]
 * await Deno.remove(path);
 * ```
 */
export async function checkOnnxFile(path: string, expected: ExpectedFile): Promise<string[]> {
  const signature = await readOnnxSignature(path);
  const problems: string[] = [];
  for (const want of expected.inputs ?? []) {
    const p = compare("input", want, signature.inputs.find((i) => i.name === want.name));
    if (p) problems.push(p);
  }
  const known = new Set((expected.inputs ?? []).map((i) => i.name));
  for (const extra of signature.inputs.filter((i) => !known.has(i.name))) {
    problems.push(`unexpected input ${extra.name} ${extra.dtype} ${shapeText(extra.shape)}`);
  }
  for (const want of expected.outputs ?? []) {
    const p = compare("output", want, signature.outputs.find((o) => o.name === want.name));
    if (p) problems.push(p);
  }
  const size = (await Deno.stat(path)).size;
  if (size <= EXTERNAL_DATA_SCAN_LIMIT) {
    const dir = path.replace(/[\\/][^\\/]*$/, "");
    for (const location of externalDataLocations(await Deno.readFile(path))) {
      if (!(await exists(`${dir}/${location}`))) {
        problems.push(`external data file ${location} (next to the model) is missing`);
      }
    }
  }
  return problems;
}

async function checkSafetensors(path: string, expected: ExpectedFile): Promise<string[]> {
  const header = await readSafetensorsHeader(path);
  const problems: string[] = [];
  for (const [names, shape] of Object.entries(expected.tensors ?? {})) {
    const options = names.split("|");
    const found = options.map((n) => header.tensors[n]).find((t) => t !== undefined);
    if (found === undefined) problems.push(`tensor ${options[0]} ${shapeText(shape)} is missing`);
    else if (found.shape.join() !== shape.join()) {
      problems.push(
        `tensor ${options[0]} is [${found.shape.join(", ")}], expected ${shapeText(shape)}`,
      );
    }
  }
  return problems;
}

/**
 * Checks that `dir` holds the files of `prior` with the expected ONNX signatures and
 * tensor shapes, and throws one error listing every problem, each naming its file and
 * what was expected, followed by the export command for that model.
 *
 * @param dir the prior's folder (e.g. `--models DIR` + `/sd`)
 * @param prior which prior
 * @returns the checked file paths, when all is well
 *
 * @example A missing folder lists its files and the export command
 * ```ts
 * import { validateModelFolder } from "./model_folders.ts";
 * try {
 *   await validateModelFolder("/nonexistent", "modelscope");
 * } catch (error) {
 *   console.log((error as Error).message.includes("optimum-cli") || (error as Error).message.includes("export_modelscope")); // true
 * }
 * ```
 */
export async function validateModelFolder(dir: string, prior: PriorName): Promise<string[]> {
  const spec = MODEL_FOLDERS[prior];
  if (spec === undefined) {
    throw new Error(
      `Invalid prior ${JSON.stringify(prior)}: expected one of ${
        Object.keys(MODEL_FOLDERS).join(", ")
      }`,
    );
  }
  const problems: string[] = [];
  const checked: string[] = [];
  for (const file of spec.files) {
    const candidates = file.path.split("|");
    let path: string | undefined;
    for (const c of candidates) {
      if (await exists(`${dir}/${c}`)) {
        path = c;
        break;
      }
    }
    if (path === undefined) {
      problems.push(`${candidates.join(" or ")} is missing (${file.role})`);
      continue;
    }
    const full = `${dir}/${path}`;
    checked.push(full);
    try {
      const found = path.endsWith(".onnx")
        ? await checkOnnxFile(full, file)
        : path.endsWith(".safetensors")
        ? await checkSafetensors(full, file)
        : [];
      for (const p of found) problems.push(`${path}: ${p}`);
    } catch (error) {
      problems.push(`${path}: ${(error as Error).message}`);
    }
  }
  if (problems.length > 0) {
    throw new Error(
      `Invalid model folder for ${prior}: ${
        problems.join("\n  ")
      }\nIn ${dir}. Export it with: ${spec.exportCommand}`,
    );
  }
  return checked;
}
