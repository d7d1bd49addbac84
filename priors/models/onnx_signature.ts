/**
 * Reads an ONNX model's declared inputs and outputs without loading its weights: the
 * protobuf is walked field by field and everything but the graph's `input` and `output`
 * entries is skipped by its length prefix. A 500 MB text encoder with inline weights costs a
 * few hundred small reads, not a decode of every initializer, and no ONNX Runtime session
 * is needed.
 *
 * @example
 * ```ts
 * import { buildOnnxFixture } from "../onnx/onnx_fixture.ts";
 * import { readOnnxSignature } from "./onnx_signature.ts";
 * const path = await Deno.makeTempFile({ suffix: ".onnx" });
 * await Deno.writeFile(path, buildOnnxFixture({
 *   inputs: [{ name: "input_ids", dtype: "int32", shape: [1, 77] }],
 *   outputs: [{ name: "last_hidden_state", dtype: "float32", shape: [1, 77, 8] }],
 * }).model);
 * const signature = await readOnnxSignature(path);
 * console.log(signature.inputs[0]); // { name: "input_ids", dtype: "int32", shape: [ 1, 77 ] }
 * await Deno.remove(path);
 * ```
 *
 * @module
 */
import onnxProto from "onnx-proto";

const onnx = onnxProto.onnx;

/**
 * One declared graph input or output. Symbolic dimensions are strings; a dimension with
 * neither a value nor a name is `"?"`.
 *
 * @example
 * ```ts
 * import type { OnnxValue } from "./onnx_signature.ts";
 * const v: OnnxValue = { name: "sample", dtype: "float16", shape: ["batch", 4, 64, 64] };
 * console.log(v.shape.length); // 4
 * ```
 */
export interface OnnxValue {
  /** Value name. */
  name: string;
  /** Element type (`float32`, `float16`, `int64`, ...), or `unknown` for non-tensors. */
  dtype: string;
  /** Dimensions; `[]` for a scalar. */
  shape: (number | string)[];
}

/**
 * What {@linkcode readOnnxSignature} returns.
 *
 * @example
 * ```ts
 * import type { OnnxSignature } from "./onnx_signature.ts";
 * const s: OnnxSignature = { irVersion: 8, opset: 17, inputs: [], outputs: [] };
 * console.log(s.opset); // 17
 * ```
 */
export interface OnnxSignature {
  /** The model's IR version. */
  irVersion: number;
  /** Version of the default (`ai.onnx`) opset; 0 when none is imported. */
  opset: number;
  /** Graph inputs that are not initializers, in order. */
  inputs: OnnxValue[];
  /** Graph outputs, in order. */
  outputs: OnnxValue[];
}

/**
 * ONNX `TensorProto.DataType` numbers by the names ONNX Runtime Web uses.
 *
 * @example
 * ```ts
 * import { ONNX_ELEMENT_TYPES } from "./onnx_signature.ts";
 * console.log(ONNX_ELEMENT_TYPES[1], ONNX_ELEMENT_TYPES[10], ONNX_ELEMENT_TYPES[7]); // float32 float16 int64
 * ```
 */
export const ONNX_ELEMENT_TYPES: Readonly<Record<number, string>> = {
  1: "float32",
  2: "uint8",
  3: "int8",
  4: "uint16",
  5: "int16",
  6: "int32",
  7: "int64",
  8: "string",
  9: "bool",
  10: "float16",
  11: "float64",
  12: "uint32",
  13: "uint64",
  16: "bfloat16",
};

/** A byte range of the file, read on demand through a small window. */
class FileWindow {
  #file: Deno.FsFile;
  #start = 0;
  #buffer = new Uint8Array(0);
  readonly size: number;

  constructor(file: Deno.FsFile, size: number) {
    this.#file = file;
    this.size = size;
  }

  async bytes(offset: number, length: number): Promise<Uint8Array> {
    if (offset < this.#start || offset + length > this.#start + this.#buffer.length) {
      const want = Math.min(Math.max(length, 1 << 16), this.size - offset);
      const buffer = new Uint8Array(want);
      await this.#file.seek(offset, Deno.SeekMode.Start);
      let got = 0;
      while (got < want) {
        const n = await this.#file.read(buffer.subarray(got));
        if (n === null) break;
        got += n;
      }
      this.#start = offset;
      this.#buffer = buffer.subarray(0, got);
    }
    const at = offset - this.#start;
    if (at + length > this.#buffer.length) throw new Error("truncated protobuf");
    return this.#buffer.subarray(at, at + length);
  }
}

/**
 * One protobuf field: its number, wire type and where its payload lies.
 *
 * @example
 * ```ts
 * import { type ProtoField, protoFields } from "./onnx_signature.ts";
 * // field 1 = 150 (varint), field 2 = "hi"
 * const bytes = new Uint8Array([8, 150, 1, 18, 2, 104, 105]);
 * const [n, s]: ProtoField[] = protoFields(bytes);
 * console.log(n!.value, new TextDecoder().decode(bytes.subarray(s!.dataStart, s!.end))); // 150n hi
 * ```
 */
export interface ProtoField {
  /** Field number. */
  field: number;
  /** Wire type: 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32. */
  wire: number;
  /** Offset of the field's tag. */
  start: number;
  /** Offset of the payload (after the length prefix for wire type 2). */
  dataStart: number;
  /** Offset just past the payload. */
  end: number;
  /** The value of a varint field. */
  value: bigint;
}

/**
 * Decodes a varint.
 *
 * @param bytes buffer
 * @param at offset of the first byte
 * @returns the value and the offset after it
 *
 * @example
 * ```ts
 * import { readVarint } from "./onnx_signature.ts";
 * console.log(readVarint(new Uint8Array([0xac, 0x02]), 0)); // { value: 300n, next: 2 }
 * ```
 */
export function readVarint(bytes: Uint8Array, at: number): { value: bigint; next: number } {
  let value = 0n, shift = 0n, p = at;
  for (;;) {
    if (p >= bytes.length || shift > 63n) throw new Error(`bad varint at byte ${at}`);
    const b = bytes[p++]!;
    value |= BigInt(b & 0x7f) << shift;
    if (!(b & 0x80)) return { value, next: p };
    shift += 7n;
  }
}

/**
 * Encodes a non-negative varint.
 *
 * @param value the number
 * @returns its bytes
 *
 * @example
 * ```ts
 * import { encodeVarint } from "./onnx_signature.ts";
 * console.log(encodeVarint(300)); // Uint8Array(2) [ 172, 2 ]
 * ```
 */
export function encodeVarint(value: number | bigint): Uint8Array {
  let v = BigInt(value);
  const out: number[] = [];
  do {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v > 0n ? b | 0x80 : b);
  } while (v > 0n);
  return new Uint8Array(out);
}

function parseField(head: Uint8Array, base: number, limit: number): ProtoField {
  const tag = readVarint(head, 0);
  const field = Number(tag.value >> 3n), wire = Number(tag.value & 7n);
  let dataStart = base + tag.next, end: number, value = 0n;
  if (wire === 0) {
    const v = readVarint(head, tag.next);
    value = v.value;
    end = base + v.next;
  } else if (wire === 1) end = dataStart + 8;
  else if (wire === 5) end = dataStart + 4;
  else if (wire === 2) {
    const length = readVarint(head, tag.next);
    dataStart = base + length.next;
    end = dataStart + Number(length.value);
  } else throw new Error(`unsupported protobuf wire type ${wire} at byte ${base}`);
  if (field === 0 || end > limit) throw new Error(`corrupt protobuf field at byte ${base}`);
  return { field, wire, start: base, dataStart, end, value };
}

/**
 * The fields of one protobuf message held in memory.
 *
 * @param bytes buffer
 * @param start first byte of the message
 * @param end byte after the message
 * @returns the fields in file order
 *
 * @example
 * ```ts
 * import { protoFields } from "./onnx_signature.ts";
 * // field 1 = 150 (varint), field 2 = "hi"
 * const fields = protoFields(new Uint8Array([8, 150, 1, 18, 2, 104, 105]));
 * console.log(fields.map((f) => [f.field, f.wire, f.end - f.dataStart])); // [ [ 1, 0, 2 ], [ 2, 2, 2 ] ]
 * ```
 */
export function protoFields(bytes: Uint8Array, start = 0, end = bytes.length): ProtoField[] {
  const fields: ProtoField[] = [];
  let p = start;
  while (p < end) {
    const field = parseField(bytes.subarray(p, Math.min(end, p + 20)), p, end);
    fields.push(field);
    p = field.end;
  }
  return fields;
}

async function* fileFields(
  window: FileWindow,
  start: number,
  end: number,
): AsyncGenerator<ProtoField> {
  let p = start;
  while (p < end) {
    const head = await window.bytes(p, Math.min(20, end - p));
    const field = parseField(head, p, end);
    yield field;
    p = field.end;
  }
}

/**
 * Converts a decoded `ValueInfoProto` into an {@linkcode OnnxValue}.
 *
 * @param info decoded value info
 * @returns name, dtype and shape
 *
 * @example
 * ```ts
 * import { describeValueInfo } from "./onnx_signature.ts";
 * const info = { name: "t", type: { tensorType: { elemType: 7, shape: { dim: [{ dimParam: "steps" }] } } } };
 * console.log(describeValueInfo(info)); // { name: "t", dtype: "int64", shape: [ "steps" ] }
 * ```
 */
export function describeValueInfo(info: {
  name?: string | null;
  type?: {
    tensorType?: {
      elemType?: number | null;
      shape?: {
        dim?:
          | { dimValue?: number | { toNumber(): number } | null; dimParam?: string | null }[]
          | null;
      } | null;
    } | null;
  } | null;
}): OnnxValue {
  const tensor = info.type?.tensorType;
  const shape = (tensor?.shape?.dim ?? []).map((d) => {
    if (d.dimParam) return d.dimParam;
    const v = d.dimValue;
    if (v === null || v === undefined) return "?";
    return typeof v === "number" ? v : v.toNumber();
  });
  const elem = tensor?.elemType ?? 0;
  return {
    name: info.name ?? "",
    dtype: tensor ? (ONNX_ELEMENT_TYPES[elem] ?? `type${elem}`) : "unknown",
    shape,
  };
}

/**
 * Reads the declared inputs and outputs of an ONNX model file. Inputs that are also
 * initializers (old exports list weights as inputs) are left out.
 *
 * @param path the `.onnx` file
 * @returns IR version, opset, inputs and outputs
 *
 * @example A file that is not ONNX names itself
 * ```ts
 * import { readOnnxSignature } from "./onnx_signature.ts";
 * const path = await Deno.makeTempFile({ suffix: ".onnx" });
 * await Deno.writeTextFile(path, "<html>404</html>");
 * try {
 *   await readOnnxSignature(path);
 * } catch (error) {
 *   console.log((error as Error).message.startsWith(`Cannot read ONNX model ${path}`)); // true
 * }
 * await Deno.remove(path);
 * ```
 */
export async function readOnnxSignature(path: string): Promise<OnnxSignature> {
  const file = await Deno.open(path, { read: true });
  try {
    const size = (await file.stat()).size;
    const window = new FileWindow(file, size);
    let irVersion = 0, opset = 0, graph: ProtoField | undefined;
    for await (const f of fileFields(window, 0, size)) {
      if (f.field === 1 && f.wire === 0) irVersion = Number(f.value);
      else if (f.field === 8 && f.wire === 2) {
        const id = onnx.OperatorSetIdProto.decode(
          await window.bytes(f.dataStart, f.end - f.dataStart),
        );
        if (!id.domain || id.domain === "ai.onnx") opset = Number(id.version);
      } else if (f.field === 7 && f.wire === 2) graph = f;
    }
    if (graph === undefined || irVersion === 0) throw new Error("no graph or IR version");
    const inputs: OnnxValue[] = [], outputs: OnnxValue[] = [];
    const initializers = new Set<string>();
    for await (const f of fileFields(window, graph.dataStart, graph.end)) {
      if (f.wire !== 2) continue;
      if (f.field === 11 || f.field === 12) {
        const info = onnx.ValueInfoProto.decode(
          await window.bytes(f.dataStart, f.end - f.dataStart),
        );
        (f.field === 11 ? inputs : outputs).push(describeValueInfo(info));
      } else if (f.field === 5) {
        // Only the initializer's name (field 8) is needed; its data is skipped.
        for await (const t of fileFields(window, f.dataStart, f.end)) {
          if (t.field === 8 && t.wire === 2) {
            initializers.add(
              new TextDecoder().decode(await window.bytes(t.dataStart, t.end - t.dataStart)),
            );
            break;
          }
        }
      }
    }
    return { irVersion, opset, inputs: inputs.filter((i) => !initializers.has(i.name)), outputs };
  } catch (error) {
    throw new Error(`Cannot read ONNX model ${path}: ${(error as Error).message}`);
  } finally {
    file.close();
  }
}
