/**
 * Model-folder validation on stand-in folders: a good SD and Zero123 folder pass; missing
 * files, wrong channels, wrong dtypes, wrong tensor shapes and missing external data each
 * give an error naming the file, what was expected and the export command.
 */
import assert from "assert";
import onnxProto from "onnx-proto";
import { writeSafetensors } from "../../../io/safetensors.ts";
import { buildOnnxFixture } from "../../../priors/onnx/onnx_fixture.ts";
import { MODEL_FOLDERS, validateModelFolder } from "../../../priors/models/model_folders.ts";
import { readOnnxSignature } from "../../../priors/models/onnx_signature.ts";

const onnx = onnxProto.onnx;
const ELEM: Record<string, number> = { float32: 1, float16: 10, int32: 6, int64: 7 };

type Dims = (number | string)[];

/** A graph-only model with symbolic dims where given as strings (validation never runs it). */
function signatureModel(inputs: [string, string, Dims][], outputs: [string, string, Dims][]) {
  const info = ([name, dtype, dims]: [string, string, Dims]) => ({
    name,
    type: {
      tensorType: {
        elemType: ELEM[dtype]!,
        shape: { dim: dims.map((d) => typeof d === "string" ? { dimParam: d } : { dimValue: d }) },
      },
    },
  });
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ version: 17 }],
    graph: { name: "g", input: inputs.map(info), output: outputs.map(info) },
  }).finish();
}

async function write(dir: string, path: string, data: Uint8Array | string) {
  await Deno.mkdir(`${dir}/${path.replace(/\/[^/]*$/, "")}`, { recursive: true });
  if (typeof data === "string") await Deno.writeTextFile(`${dir}/${path}`, data);
  else await Deno.writeFile(`${dir}/${path}`, data);
}

async function common(dir: string, textWidth = 768) {
  // A real runnable fixture (initializers before inputs in the file) for the text encoder.
  await write(
    dir,
    "text_encoder/model.onnx",
    buildOnnxFixture({
      inputs: [{ name: "input_ids", dtype: "int32", shape: [1, 77] }],
      outputs: [
        { name: "last_hidden_state", dtype: "float32", shape: [1, 77, textWidth] },
        { name: "pooler_output", dtype: "float32", shape: [1, textWidth] },
      ],
    }).model,
  );
  await write(
    dir,
    "tokenizer/vocab.json",
    JSON.stringify({ "<|startoftext|>": 0, "<|endoftext|>": 1 }),
  );
  await write(dir, "tokenizer/merges.txt", "#version: 0.2\n");
  await write(
    dir,
    "scheduler/scheduler_config.json",
    JSON.stringify({ beta_schedule: "scaled_linear" }),
  );
  await Deno.mkdir(`${dir}/vae`, { recursive: true });
  await writeSafetensors(`${dir}/vae/diffusion_pytorch_model.safetensors`, {
    "encoder.conv_in.weight": { dtype: "F16", shape: [128, 3, 3, 3], data: new Float32Array(3456) },
    "quant_conv.weight": { dtype: "F16", shape: [8, 8, 1, 1], data: new Float32Array(64) },
  });
}

function unetModel(channels: number, size: number | string, dtype = "float16") {
  return signatureModel(
    [
      ["sample", dtype, ["batch", channels, size, size]],
      ["timestep", "int64", ["steps"]],
      ["encoder_hidden_states", dtype, ["batch", "sequence", 768]],
    ],
    [["out_sample", dtype, ["batch", 4, size, size]]],
  );
}

Deno.test("a good SD folder passes, and the signature reader sees symbolic dims", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await common(dir);
    await write(dir, "unet/model.onnx", unetModel(4, "height"));
    const checked = await validateModelFolder(dir, "sd");
    assert.equal(checked.length, 6);
    const sig = await readOnnxSignature(`${dir}/unet/model.onnx`);
    assert.deepEqual(sig.inputs[0], {
      name: "sample",
      dtype: "float16",
      shape: ["batch", 4, "height", "height"],
    });
    assert.equal(sig.opset, 17);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("broken SD folders: every problem names its file, the expectation and the export", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await common(dir, 1024);
    await write(dir, "unet/model.onnx", unetModel(4, 32, "int32"));
    await Deno.remove(`${dir}/tokenizer/merges.txt`);
    const error = await validateModelFolder(dir, "sd").then(() => undefined, (e: Error) => e);
    assert.ok(error);
    const message = error.message;
    assert.match(message, /^Invalid model folder for sd: /);
    assert.match(
      message,
      /text_encoder\/model\.onnx: output last_hidden_state is float32 \[1, 77, 1024\], expected float32 or float16 \[any, 77, 768\]/,
    );
    assert.match(
      message,
      /unet\/model\.onnx: input sample is int32 \[batch, 4, 32, 32\], expected float32 or float16 \[any, 4, 64, 64\]/,
    );
    assert.match(message, /tokenizer\/tokenizer\.json or tokenizer\/merges\.txt is missing/);
    assert.ok(message.includes(MODEL_FOLDERS.sd.exportCommand));
    assert.ok(
      !message.split("Export it with")[0]!.includes("vae/"),
      "the good VAE is not reported",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("zero123: 4-channel UNet, wrong cc_projection and missing external data fail", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await common(dir);
    await write(
      dir,
      "image_encoder/model.onnx",
      signatureModel([["pixel_values", "float32", ["batch", 3, 224, 224]]], [[
        "image_embeds",
        "float32",
        ["batch", 768],
      ]]),
    );
    await Deno.mkdir(`${dir}/cc_projection`);
    await writeSafetensors(`${dir}/cc_projection/diffusion_pytorch_model.safetensors`, {
      "cc_projection.weight": {
        dtype: "F32",
        shape: [768, 772],
        data: new Float32Array(768 * 772),
      },
      "cc_projection.bias": { dtype: "F32", shape: [768], data: new Float32Array(768) },
    });
    await write(dir, "unet/model.onnx", unetModel(8, 32));
    assert.equal((await validateModelFolder(dir, "zero123")).length, 5);

    await write(dir, "unet/model.onnx", unetModel(4, 32));
    await writeSafetensors(`${dir}/cc_projection/diffusion_pytorch_model.safetensors`, {
      "cc_projection.weight": {
        dtype: "F32",
        shape: [768, 768],
        data: new Float32Array(768 * 768),
      },
    });
    const message = await validateModelFolder(dir, "zero123").then(
      () => "",
      (e: Error) => e.message,
    );
    assert.match(
      message,
      /unet\/model\.onnx: input sample is float16 \[batch, 4, 32, 32\], expected float32 or float16 \[any, 8, 32, 32\]/,
    );
    assert.match(
      message,
      /cc_projection\/diffusion_pytorch_model\.safetensors: tensor cc_projection\.weight is \[768, 768\], expected \[768, 772\]/,
    );
    assert.ok(message.includes("export_zero123.py"));

    const fixture = buildOnnxFixture({
      inputs: [{ name: "pixel_values", dtype: "float32", shape: [1, 3, 224, 224] }],
      outputs: [{ name: "image_embeds", dtype: "float32", shape: [1, 768] }],
      externalData: "model.onnx_data",
    });
    await write(dir, "image_encoder/model.onnx", fixture.model);
    const missing = await validateModelFolder(dir, "zero123").then(
      () => "",
      (e: Error) => e.message,
    );
    assert.match(
      missing,
      /image_encoder\/model\.onnx: external data file model\.onnx_data \(next to the model\) is missing/,
    );
    await write(dir, "image_encoder/model.onnx_data", fixture.externalData[0]!.data);
    const after = await validateModelFolder(dir, "zero123").then(() => "", (e: Error) => e.message);
    assert.ok(!after.includes("image_encoder"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an unknown prior and an unexpected extra input are named", async () => {
  await assert.rejects(
    validateModelFolder("/tmp", "sdxl" as "sd"),
    /Invalid prior "sdxl": expected one of sd, zero123, modelscope, controlnet/,
  );
  const dir = await Deno.makeTempDir();
  try {
    await common(dir);
    await write(
      dir,
      "unet/model.onnx",
      signatureModel(
        [
          ["sample", "float32", [2, 4, 64, 64]],
          ["timestep", "float32", [2]],
          ["encoder_hidden_states", "float32", [2, 77, 768]],
          ["timestep_cond", "float32", [2, 256]],
        ],
        [["out_sample", "float32", [2, 4, 64, 64]]],
      ),
    );
    await assert.rejects(
      validateModelFolder(dir, "sd"),
      /unet\/model\.onnx: unexpected input timestep_cond float32 \[2, 256\]/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
