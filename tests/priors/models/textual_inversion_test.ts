/**
 * Textual inversion: a torch.save archive built byte by byte here (not by the library's
 * writer), the safetensors layouts, the unpickler's refusals, and the ONNX splice run
 * through ONNX Runtime (wasm) on a Gather-based text encoder stand-in.
 */
import assert from "assert";
import { deflateRawSync } from "node:zlib";
import onnxProto from "onnx-proto";
import { writeSafetensors } from "../../../io/safetensors.ts";
import { OrtRuntime } from "../../../priors/onnx/ort_runtime.ts";
import { ClipTokenizer } from "../../../priors/onnx/clip_tokenizer.ts";
import {
  patchOnnxTokenEmbedding,
  readOnnxTokenEmbedding,
} from "../../../priors/models/onnx_token_embedding.ts";
import {
  loadTextualInversion,
  parseTorchTextualInversion,
  spliceEmbedding,
} from "../../../priors/models/textual_inversion.ts";
import { crc32 } from "../../../priors/models/zip_archive.ts";
import { unpickleTorch } from "../../../priors/models/torch_pickle.ts";

const enc = new TextEncoder();
const le32 = (n: number) => [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255];
const le16 = (n: number) => [n & 255, (n >>> 8) & 255];

/**
 * The pickle torch 2.x writes for `{token: t}` where `t` is a view of `size` floats at
 * `offset` into storage "0" of `numel` floats (a row of a CPU embedding matrix):
 *
 *   PROTO 2 · EMPTY_DICT · BINPUT 0 · BINUNICODE token · BINPUT 1
 *   GLOBAL torch._utils _rebuild_tensor_v2 · BINPUT 2 · MARK · MARK
 *   BINUNICODE "storage" · GLOBAL torch FloatStorage · BINUNICODE "0" · BINUNICODE "cpu"
 *   BININT2 numel · TUPLE · BINPERSID
 *   BININT2 offset · BININT2 size · TUPLE1 · BININT1 1 · TUPLE1 · NEWFALSE
 *   GLOBAL collections OrderedDict · EMPTY_TUPLE · REDUCE · TUPLE · REDUCE · SETITEM · STOP
 */
function torchPickle(token: string, storage: string, numel: number, offset: number, size: number) {
  const uni = (s: string) => [0x58, ...le32(enc.encode(s).length), ...enc.encode(s)];
  const glob = (m: string, n: string) => [0x63, ...enc.encode(`${m}\n${n}\n`)];
  return new Uint8Array([
    0x80,
    2,
    0x7d,
    0x71,
    0,
    ...uni(token),
    0x71,
    1,
    ...glob("torch._utils", "_rebuild_tensor_v2"),
    0x71,
    2,
    0x28,
    0x28,
    ...uni("storage"),
    ...glob("torch", storage),
    ...uni("0"),
    ...uni("cpu"),
    0x4d,
    ...le16(numel),
    0x74,
    0x51,
    0x4d,
    ...le16(offset),
    0x4d,
    ...le16(size),
    0x85,
    0x4b,
    1,
    0x85,
    0x89,
    ...glob("collections", "OrderedDict"),
    0x29,
    0x52,
    0x74,
    0x52,
    0x73,
    0x2e,
  ]);
}

/** A ZIP with the given entries; `deflate` names entries to compress (method 8). */
function zip(files: [string, Uint8Array][], deflate: string[] = []): Uint8Array {
  const out: number[] = [], central: number[] = [];
  for (const [name, data] of files) {
    const packed = deflate.includes(name) ? new Uint8Array(deflateRawSync(data)) : data;
    const method = deflate.includes(name) ? 8 : 0;
    const n = enc.encode(name), offset = out.length;
    const common = [
      ...le16(method),
      0,
      0,
      0,
      0,
      ...le32(crc32(data)),
      ...le32(packed.length),
      ...le32(data.length),
      ...le16(n.length),
    ];
    out.push(...le32(0x04034b50), 20, 0, 0, 0, ...common, 0, 0, ...n, ...packed);
    central.push(
      ...le32(0x02014b50),
      20,
      0,
      20,
      0,
      0,
      0,
      ...common,
      ...new Array<number>(12).fill(0), // extra, comment, disk, attributes
      ...le32(offset),
      ...n,
    );
  }
  const cd = out.length;
  out.push(
    ...central,
    ...le32(0x06054b50),
    0,
    0,
    0,
    0,
    ...le16(files.length),
    ...le16(files.length),
    ...le32(central.length),
    ...le32(cd),
    0,
    0,
  );
  return new Uint8Array(out);
}

Deno.test("torch zip: a row view of a 3×8 storage gives that row (stored and deflated)", () => {
  const storage = new Float32Array(24).map((_, i) => Math.sin(i) * 0.1);
  for (const deflate of [[], ["learned_embeds/data/0"]]) {
    const bytes = zip([
      ["learned_embeds/data.pkl", torchPickle("_panda_", "FloatStorage", 24, 8, 8)],
      ["learned_embeds/byteorder", enc.encode("little")],
      ["learned_embeds/data/0", new Uint8Array(storage.buffer)],
      ["learned_embeds/version", enc.encode("3\n")],
    ], deflate);
    const ti = parseTorchTextualInversion(bytes);
    assert.equal(ti.token, "_panda_");
    assert.equal(ti.dim, 8);
    assert.deepEqual([...ti.vector], [...storage.subarray(8, 16)]);
  }
});

Deno.test("torch zip: HalfStorage converts to float32", () => {
  const half = new Float16Array([0.5, -2, 1024, 0.099975586]);
  const bytes = zip([
    ["archive/data.pkl", torchPickle("<t>", "HalfStorage", 4, 0, 4)],
    ["archive/data/0", new Uint8Array(half.buffer)],
  ]);
  assert.deepEqual([...parseTorchTextualInversion(bytes, { dim: 4 }).vector], [...half]);
});

Deno.test("torch zip: wrong dim, missing storage, bad CRC and big-endian files are named", () => {
  const pkl = torchPickle("<t>", "FloatStorage", 4, 0, 4);
  const good: [string, Uint8Array][] = [["a/data.pkl", pkl], ["a/data/0", new Uint8Array(16)]];
  assert.throws(
    () => parseTorchTextualInversion(zip(good), { dim: 768, source: "x.bin" }),
    /x\.bin: vector width 4, expected 768/,
  );
  assert.throws(
    () => parseTorchTextualInversion(zip([good[0]!])),
    /a\/data\/0 from ZIP .*no such entry/,
  );
  const corrupt = zip(good);
  const inPickle = 30 + "a/data.pkl".length + 5; // a byte of the first entry's payload
  corrupt[inPickle] = corrupt[inPickle]! ^ 1;
  assert.throws(() => parseTorchTextualInversion(corrupt), /CRC-32 mismatch/);
  assert.throws(
    () => parseTorchTextualInversion(zip([...good, ["a/byteorder", enc.encode("big")]])),
    /byte order big, expected little/,
  );
  assert.throws(
    () => parseTorchTextualInversion(zip([["a/data.pkl", pkl], ["a/data/0", new Uint8Array(12)]])),
    /storage 0 holds 12 bytes, expected 4 float32 values/,
  );
});

Deno.test("unpickler refuses code execution and unknown opcodes", () => {
  const storage = () => new Float64Array(0);
  const refuse = (bytes: number[] | string, pattern: RegExp) =>
    assert.throws(
      () =>
        unpickleTorch(typeof bytes === "string" ? enc.encode(bytes) : new Uint8Array(bytes), {
          storage,
        }),
      pattern,
    );
  refuse("cos\nsystem\n(S'ls'\ntR.", /global os\.system is not allowed/);
  refuse("cbuiltins\neval\n.", /global builtins\.eval is not allowed/);
  refuse("ctorch._utils\n_rebuild_parameter\n.", /_rebuild_parameter is not allowed/);
  refuse([0x80, 2, 0x7d, 0x7d, 0x62, 0x2e], /opcode 0x62 .* not one torch\.save writes/); // BUILD
  refuse([0x80, 2, 0x69], /opcode 0x69/); // INST
  refuse([0x80, 2, 0x7d], /ends early/);
  refuse([0x80, 2, 0x29, 0x29, 0x52, 0x2e], /REDUCE of something other/);
});

Deno.test("safetensors: diffusers, emb_params and token option", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const v = new Float32Array([0.25, -0.5, 0.75]);
    await writeSafetensors(`${dir}/learned_embeds.safetensors`, {
      "<cat-toy>": { dtype: "F32", shape: [1, 3], data: v },
    });
    const a = await loadTextualInversion(`${dir}/learned_embeds.safetensors`);
    assert.deepEqual([a.token, [...a.vector], a.dim], ["<cat-toy>", [...v], 3]);

    await writeSafetensors(`${dir}/my-toy.safetensors`, {
      emb_params: { dtype: "F32", shape: [1, 3], data: v },
    });
    assert.equal((await loadTextualInversion(`${dir}/my-toy.safetensors`)).token, "<my-toy>");
    assert.equal(
      (await loadTextualInversion(`${dir}/my-toy.safetensors`, { token: "_toy_" })).token,
      "_toy_",
    );

    await writeSafetensors(`${dir}/multi.safetensors`, {
      emb_params: { dtype: "F32", shape: [2, 3], data: new Float32Array(6) },
    });
    await assert.rejects(
      loadTextualInversion(`${dir}/multi.safetensors`),
      /2 vectors .* multi-vector embeddings are not supported/,
    );
    await Deno.writeTextFile(`${dir}/junk.bin`, "not an embedding");
    await assert.rejects(loadTextualInversion(`${dir}/junk.bin`), /expected a torch\.save ZIP/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("spliceEmbedding overwrites or appends one row", () => {
  const ti = { token: "<t>", vector: new Float32Array([7, 8]), dim: 2 };
  const m = new Float32Array([1, 2, 3, 4]);
  assert.deepEqual([...spliceEmbedding(m, ti, { tokenId: 0 })], [7, 8, 3, 4]);
  assert.deepEqual([...spliceEmbedding(m, ti, { tokenId: 2 })], [1, 2, 3, 4, 7, 8]);
  assert.deepEqual([...m], [1, 2, 3, 4]);
  assert.throws(
    () => spliceEmbedding(m, ti, { tokenId: 3 }),
    /tokenId: expected an integer in \[0, 2\]/,
  );
});

/** A text encoder stand-in: last_hidden_state = Gather(token_embedding, input_ids) + 1. */
function gatherEncoder(rows: number, dim: number, half: boolean): Uint8Array {
  const onnx = onnxProto.onnx;
  const table = new Float32Array(rows * dim).map((_, i) => (i % 7) * 0.125 - 0.25);
  const raw = half ? new Float16Array(table) : table;
  const elem = half ? 10 : 1;
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ version: 15 }],
    graph: {
      name: "clip-text-stand-in",
      initializer: [
        {
          name: "text_model.embeddings.token_embedding.weight",
          dims: [rows, dim],
          dataType: elem,
          rawData: new Uint8Array(raw.buffer),
        },
        {
          name: "one",
          dims: [],
          dataType: elem,
          rawData: new Uint8Array((half ? new Float16Array([1]) : new Float32Array([1])).buffer),
        },
      ],
      node: [
        {
          opType: "Gather",
          input: ["text_model.embeddings.token_embedding.weight", "input_ids"],
          output: ["e"],
        },
        { opType: "Add", input: ["e", "one"], output: ["last_hidden_state"] },
      ],
      input: [{
        name: "input_ids",
        type: { tensorType: { elemType: 7, shape: { dim: [{ dimValue: 1 }, { dimValue: 5 }] } } },
      }],
      output: [{
        name: "last_hidden_state",
        type: {
          tensorType: {
            elemType: elem,
            shape: { dim: [{ dimValue: 1 }, { dimValue: 5 }, { dimValue: dim }] },
          },
        },
      }],
    },
  }).finish();
}

Deno.test("ONNX splice: ORT encodes the placeholder as the learned vector, other tokens unchanged", async () => {
  const vocab = { "a</w>": 0, "b</w>": 1, "<|startoftext|>": 2, "<|endoftext|>": 3 };
  const ti = { token: "_panda_", vector: new Float32Array([0.5, -1.5, 2.25, 3]), dim: 4 };
  const tokenizer = ClipTokenizer.fromVocab(vocab, [], { maxLength: 5, addedTokens: [ti.token] });
  const ids = tokenizer.encode("a _panda_ b");
  assert.deepEqual([...ids], [2, 0, 4, 1, 3]);
  const runtime = await OrtRuntime.create({ executionProvider: "wasm" });
  for (const half of [false, true]) {
    const original = gatherEncoder(4, 4, half);
    const before = readOnnxTokenEmbedding(original);
    const patched = patchOnnxTokenEmbedding(original, ti, { tokenId: ids[2]! });
    const after = readOnnxTokenEmbedding(patched);
    assert.deepEqual(after.dims, [5, 4]);
    assert.deepEqual([...after.data.subarray(0, 16)], [...before.data]);
    const model = await runtime.createModel(patched);
    const out = await model.run({
      input_ids: { data: BigInt64Array.from(ids, BigInt), dtype: "int64", dims: [1, 5] },
    });
    const hidden = out.last_hidden_state!.data as Float32Array | Uint16Array;
    const values = half
      ? [...new Float16Array(hidden.buffer, hidden.byteOffset, hidden.length)]
      : [...hidden];
    for (let t = 0; t < 5; t++) {
      const expected = t === 2
        ? [...ti.vector].map((x) => x + 1)
        : [...before.data.subarray(ids[t]! * 4, ids[t]! * 4 + 4)].map((x) => x + 1);
      assert.deepEqual(values.slice(t * 4, t * 4 + 4), expected, `token ${t} (half ${half})`);
    }
    await model.release();
  }
});
