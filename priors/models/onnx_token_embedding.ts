/**
 * Puts a textual-inversion vector into an exported CLIP text encoder (SPEC.md §10.3).
 *
 * An optimum export of `CLIPTextModel` takes only `input_ids`; its first op is a `Gather`
 * from the token-embedding initializer (`text_model.embeddings.token_embedding.weight`,
 * `[49408, 768]` for SD v1.5). The placeholder gets the next id from the tokenizer
 * (`ClipTokenizer` with `addedTokens`), and this module rewrites that one initializer in the
 * model bytes (appending the row, or overwriting an existing one) before the session is
 * created. Nothing else in the graph changes, the rest of the file is copied byte for byte,
 * and prompts without the placeholder encode exactly as before.
 *
 * @example
 * ```ts
 * import { patchOnnxTokenEmbedding, readOnnxTokenEmbedding } from "./onnx_token_embedding.ts";
 * import onnxProto from "onnx-proto";
 * const onnx = onnxProto.onnx;
 * const model = onnx.ModelProto.encode({
 *   irVersion: 8,
 *   opsetImport: [{ version: 15 }],
 *   graph: {
 *     initializer: [{
 *       name: "text_model.embeddings.token_embedding.weight", dims: [2, 2], dataType: 1,
 *       rawData: new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer),
 *     }],
 *   },
 * }).finish();
 * const ti = { token: "<t>", vector: new Float32Array([7, 8]), dim: 2 };
 * const patched = patchOnnxTokenEmbedding(model, ti, { tokenId: 2 });
 * console.log(readOnnxTokenEmbedding(patched).data); // Float32Array(6) [ 1, 2, 3, 4, 7, 8 ]
 * ```
 *
 * @module
 */
import onnxProto from "onnx-proto";
import { encodeVarint, type ProtoField, protoFields, readVarint } from "./onnx_signature.ts";
import type { TextualInversion } from "./textual_inversion.ts";

const onnx = onnxProto.onnx;

/**
 * The initializer name optimum and `torch.onnx.export` give CLIP's token embedding.
 *
 * @example
 * ```ts
 * import onnxProto from "onnx-proto";
 * import { readOnnxTokenEmbedding, TOKEN_EMBEDDING_INITIALIZER } from "./onnx_token_embedding.ts";
 * const model = onnxProto.onnx.ModelProto.encode({
 *   irVersion: 8,
 *   graph: {
 *     initializer: [{
 *       name: TOKEN_EMBEDDING_INITIALIZER, dims: [2, 1], dataType: 1,
 *       rawData: new Uint8Array(new Float32Array([5, 6]).buffer),
 *     }],
 *   },
 * }).finish();
 * const embedding = readOnnxTokenEmbedding(model);
 * console.log(embedding.name === TOKEN_EMBEDDING_INITIALIZER, embedding.data); // true Float32Array(2) [ 5, 6 ]
 * ```
 */
export const TOKEN_EMBEDDING_INITIALIZER = "text_model.embeddings.token_embedding.weight";

const FLOAT = 1, FLOAT16 = 10;

interface Located {
  graph: ProtoField;
  tensor: ProtoField;
  name: string;
  dims: number[];
  dataType: number;
  raw: ProtoField | undefined;
  external: boolean;
}

function decodeText(bytes: Uint8Array, f: ProtoField): string {
  return new TextDecoder().decode(bytes.subarray(f.dataStart, f.end));
}

function tensorSummary(bytes: Uint8Array, graph: ProtoField, tensor: ProtoField): Located {
  let name = "", dataType = 0, raw: ProtoField | undefined, external = false;
  const dims: number[] = [];
  for (const f of protoFields(bytes, tensor.dataStart, tensor.end)) {
    if (f.field === 8 && f.wire === 2) name = decodeText(bytes, f);
    else if (f.field === 2 && f.wire === 0) dataType = Number(f.value);
    else if (f.field === 1 && f.wire === 0) dims.push(Number(f.value));
    else if (f.field === 1 && f.wire === 2) {
      for (let p = f.dataStart; p < f.end;) {
        const v = readVarint(bytes, p);
        dims.push(Number(v.value));
        p = v.next;
      }
    } else if (f.field === 9 && f.wire === 2) raw = f;
    else if (f.field === 14 && f.wire === 0) external = f.value === 1n;
  }
  return { graph, tensor, name, dims, dataType, raw, external };
}

function locate(model: Uint8Array, options: { initializer?: string; dim?: number }): Located {
  const graph = protoFields(model).find((f) => f.field === 7 && f.wire === 2);
  if (graph === undefined) throw new Error("Cannot patch ONNX model: it has no graph");
  const fields = protoFields(model, graph.dataStart, graph.end);
  const tensors = fields.filter((f) => f.field === 5 && f.wire === 2)
    .map((f) => tensorSummary(model, graph, f));
  const wanted = options.initializer ?? TOKEN_EMBEDDING_INITIALIZER;
  const named = tensors.find((t) => t.name === wanted);
  if (named) return named;
  if (options.initializer === undefined) {
    // Exports that rename weights: the 2-D float initializer gathered by a Gather node.
    const gathered = new Set<string>();
    for (const f of fields) {
      if (f.field !== 1 || f.wire !== 2) continue;
      const node = onnx.NodeProto.decode(model.subarray(f.dataStart, f.end));
      if (node.opType === "Gather" && node.input?.[0]) gathered.add(node.input[0]);
    }
    const candidates = tensors.filter((t) =>
      gathered.has(t.name) && t.dims.length === 2 &&
      (options.dim === undefined || t.dims[1] === options.dim) &&
      (t.dataType === FLOAT || t.dataType === FLOAT16)
    );
    if (candidates.length === 1) return candidates[0]!;
  }
  throw new Error(
    `Cannot patch ONNX model: no token-embedding initializer ${wanted}${
      options.initializer === undefined
        ? " and no unique 2-D float initializer feeding a Gather"
        : ""
    }; pass the initializer option with its name`,
  );
}

function floatRows(bytes: Uint8Array, located: Located): Float32Array {
  const raw = located.raw!;
  // A copy, never `slice`: protobufjs hands out Node Buffers, whose slice is a view.
  const copy = new Uint8Array(raw.end - raw.dataStart);
  copy.set(bytes.subarray(raw.dataStart, raw.end));
  return located.dataType === FLOAT
    ? new Float32Array(copy.buffer)
    : Float32Array.from(new Float16Array(copy.buffer));
}

function check(located: Located): void {
  if (located.external) {
    throw new Error(
      `Cannot patch ONNX initializer ${located.name}: its data is stored externally; export the text encoder without external data (it is under 2 GB)`,
    );
  }
  if (located.dataType !== FLOAT && located.dataType !== FLOAT16) {
    throw new Error(
      `Cannot patch ONNX initializer ${located.name}: data type ${located.dataType}, expected float32 (1) or float16 (10)`,
    );
  }
  if (located.dims.length !== 2 || located.raw === undefined) {
    throw new Error(
      `Cannot patch ONNX initializer ${located.name}: expected a 2-D tensor with raw_data, got dims [${
        located.dims.join(", ")
      }]${located.raw === undefined ? " and no raw_data" : ""}`,
    );
  }
}

/**
 * Reads the token-embedding matrix of a text encoder model.
 *
 * @param model serialized `ModelProto`
 * @param options `initializer` name (default {@linkcode TOKEN_EMBEDDING_INITIALIZER},
 *   falling back to the unique 2-D float initializer feeding a `Gather`)
 * @returns the initializer's name, its dims `[rows, dim]` and the values as float32
 *
 * @example
 * ```ts
 * import { readOnnxTokenEmbedding } from "./onnx_token_embedding.ts";
 * import onnxProto from "onnx-proto";
 * const model = onnxProto.onnx.ModelProto.encode({
 *   irVersion: 8,
 *   graph: {
 *     initializer: [{ name: "emb", dims: [1, 2], dataType: 1, rawData: new Uint8Array(8) }],
 *     node: [{ opType: "Gather", input: ["emb", "input_ids"], output: ["h"] }],
 *   },
 * }).finish();
 * const e = readOnnxTokenEmbedding(model);
 * console.log(e.name, e.dims); // emb [ 1, 2 ]
 * ```
 */
export function readOnnxTokenEmbedding(
  model: Uint8Array,
  options: { initializer?: string } = {},
): { name: string; dims: number[]; data: Float32Array } {
  const located = locate(model, options);
  check(located);
  return { name: located.name, dims: located.dims, data: floatRows(model, located) };
}

function lengthDelimited(field: number, payloadLength: number): Uint8Array {
  const tag = encodeVarint((field << 3) | 2);
  const length = encodeVarint(payloadLength);
  const out = new Uint8Array(tag.length + length.length);
  out.set(tag);
  out.set(length, tag.length);
  return out;
}

/**
 * Returns a copy of a text encoder model whose token-embedding initializer holds the
 * learned vector at `tokenId`: row `tokenId` is overwritten, or a row is appended when
 * `tokenId` equals the row count. Float16 initializers are written in float16.
 *
 * @param model serialized `ModelProto` of the text encoder (weights inline)
 * @param inversion the learned embedding
 * @param options `tokenId` (the placeholder's id from the tokenizer), `initializer` name
 * @returns the patched model bytes
 *
 * @example An id past the end is refused
 * ```ts
 * import { patchOnnxTokenEmbedding } from "./onnx_token_embedding.ts";
 * import onnxProto from "onnx-proto";
 * const model = onnxProto.onnx.ModelProto.encode({ irVersion: 8, graph: {
 *   initializer: [{ name: "text_model.embeddings.token_embedding.weight", dims: [1, 1], dataType: 1, rawData: new Uint8Array(4) }],
 * } }).finish();
 * try {
 *   patchOnnxTokenEmbedding(model, { token: "<t>", vector: new Float32Array([1]), dim: 1 }, { tokenId: 5 });
 * } catch (error) {
 *   console.log((error as Error).message); // Invalid option tokenId: expected an integer in [0, 1] (1 appends a row), got 5
 * }
 * ```
 */
export function patchOnnxTokenEmbedding(
  model: Uint8Array,
  inversion: TextualInversion,
  options: { tokenId: number; initializer?: string },
): Uint8Array {
  const located = locate(model, { ...options, dim: inversion.dim });
  check(located);
  const [rows, dim] = located.dims as [number, number];
  if (dim !== inversion.dim || inversion.vector.length !== dim) {
    throw new Error(
      `Cannot splice ${inversion.token}: vector width ${inversion.vector.length}, expected ${dim} (the width of ONNX initializer ${located.name})`,
    );
  }
  const id = options.tokenId;
  if (!Number.isInteger(id) || id < 0 || id > rows) {
    throw new Error(
      `Invalid option tokenId: expected an integer in [0, ${rows}] (${rows} appends a row), got ${id}`,
    );
  }
  const newRows = Math.max(rows, id + 1);
  const width = located.dataType === FLOAT ? 4 : 2;
  const raw = located.raw!;
  const data = new Uint8Array(newRows * dim * width);
  data.set(model.subarray(raw.dataStart, raw.end));
  const row = located.dataType === FLOAT
    ? new Float32Array(inversion.vector)
    : new Float16Array(inversion.vector);
  data.set(new Uint8Array(row.buffer), id * dim * width);

  // The tensor: its fields copied in order, dims re-encoded, raw_data replaced.
  const parts: Uint8Array[] = [];
  let dimsWritten = false;
  for (const f of protoFields(model, located.tensor.dataStart, located.tensor.end)) {
    if (f.field === 1) {
      if (dimsWritten) continue;
      dimsWritten = true;
      for (const d of [newRows, dim]) parts.push(encodeVarint(1 << 3), encodeVarint(d));
    } else if (f.start === raw.start) {
      parts.push(lengthDelimited(9, data.length), data);
    } else parts.push(model.subarray(f.start, f.end));
  }
  const tensorLength = parts.reduce((n, p) => n + p.length, 0);
  const tensorHead = lengthDelimited(5, tensorLength);
  const graph = located.graph;
  const graphLength = (located.tensor.start - graph.dataStart) + tensorHead.length + tensorLength +
    (graph.end - located.tensor.end);
  const graphHead = lengthDelimited(7, graphLength);
  const pieces = [
    model.subarray(0, graph.start),
    graphHead,
    model.subarray(graph.dataStart, located.tensor.start),
    tensorHead,
    ...parts,
    model.subarray(located.tensor.end, graph.end),
    model.subarray(graph.end),
  ];
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of pieces) out.set(p, at), at += p.length;
  return out;
}
