/**
 * Tiny stand-ins for the real priors' ONNX files, with their input and output names,
 * ranks and dtypes (diffusers/optimum exports), and a tiny CLIP vocabulary.
 */
import {
  buildOnnxFixture,
  type OnnxDataType,
  type OnnxFixture,
} from "../../../priors/onnx/onnx_fixture.ts";

/** SD-style UNet: `sample`, `timestep`, `encoder_hidden_states` → `out_sample`. */
export function unetFixture(options: {
  dtype: "float32" | "float16";
  timestep: OnnxDataType;
  latent?: number[];
  context?: number[];
  externalData?: string;
}): OnnxFixture {
  const latent = options.latent ?? [1, 4, 8, 8];
  const spec = {
    inputs: [
      { name: "sample", dtype: options.dtype, shape: latent },
      { name: "timestep", dtype: options.timestep, shape: [1] },
      {
        name: "encoder_hidden_states",
        dtype: options.dtype,
        shape: options.context ?? [1, 77, 32],
      },
    ],
    outputs: [{ name: "out_sample", dtype: options.dtype, shape: latent }],
  };
  return buildOnnxFixture(
    options.externalData === undefined ? spec : { ...spec, externalData: options.externalData },
  );
}

/** CLIP text encoder: `input_ids` → `last_hidden_state`, `pooler_output`. */
export function textEncoderFixture(width = 32): OnnxFixture {
  return buildOnnxFixture({
    inputs: [{ name: "input_ids", dtype: "int32", shape: [1, 77] }],
    outputs: [
      { name: "last_hidden_state", dtype: "float32", shape: [1, 77, width] },
      { name: "pooler_output", dtype: "float32", shape: [1, width] },
    ],
  });
}

/** CLIP image encoder with projection: `pixel_values` → `image_embeds`. */
export function imageEncoderFixture(size = 16, width = 32): OnnxFixture {
  return buildOnnxFixture({
    inputs: [{ name: "pixel_values", dtype: "float32", shape: [1, 3, size, size] }],
    outputs: [{ name: "image_embeds", dtype: "float32", shape: [1, width] }],
  });
}

/**
 * A CLIP-style vocabulary over lower-case letters, digits and a few marks: every byte
 * alone and with `</w>`, the merges `listed` in order, and the special tokens last, as in
 * the real `vocab.json` (49406 and 49407 there).
 */
export function tinyClipVocab(listed: string[]): {
  vocab: Record<string, number>;
  merges: string;
} {
  const vocab: Record<string, number> = {};
  const add = (token: string) => {
    if (!(token in vocab)) vocab[token] = Object.keys(vocab).length;
  };
  for (const c of "abcdefghijklmnopqrstuvwxyz0123456789,.!'") add(c);
  for (const c of "abcdefghijklmnopqrstuvwxyz0123456789,.!'") add(`${c}</w>`);
  for (const merge of listed) add(merge.replace(" ", ""));
  add("<|startoftext|>");
  add("<|endoftext|>");
  return { vocab, merges: ["#version: 0.2", ...listed].join("\n") + "\n" };
}
