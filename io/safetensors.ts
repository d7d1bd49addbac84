/**
 * Reading and writing the Hugging Face safetensors format: an 8-byte little-endian
 * header length N, N bytes of UTF-8 JSON naming each tensor's dtype, shape and byte
 * range, then the raw little-endian tensor data, contiguous and without gaps.
 *
 * Checkpoints are written atomically (a temp file renamed over the target) and read
 * range by range, so a multi-gigabyte weight file never has to be loaded whole.
 *
 * @module
 */
import { writeFileAtomic } from "./atomic_write.ts";

/**
 * Bytes per element of every dtype this module reads and writes.
 *
 * @example
 * ```ts
 * import { SAFETENSORS_DTYPE_BYTES } from "./safetensors.ts";
 * // Bytes a 4x3 BF16 tensor takes in the data section.
 * console.log(4 * 3 * SAFETENSORS_DTYPE_BYTES.BF16); // 24
 * ```
 */
export const SAFETENSORS_DTYPE_BYTES = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
} as const;

/**
 * A safetensors dtype this module supports.
 *
 * @example
 * ```ts
 * import { readSafetensors, type SafetensorsDtype, writeSafetensors } from "./safetensors.ts";
 * const dtype: SafetensorsDtype = "BF16";
 * const path = await Deno.makeTempFile({ suffix: ".safetensors" });
 * await writeSafetensors(path, { w: { dtype, shape: [2], data: new Float32Array([1, -2]) } });
 * const { tensors } = await readSafetensors(path);
 * console.log(tensors.w?.dtype, tensors.w?.data); // BF16 Float32Array(2) [ 1, -2 ]
 * await Deno.remove(path);
 * ```
 */
export type SafetensorsDtype = keyof typeof SAFETENSORS_DTYPE_BYTES;

/** Dtypes that exist in the spec but that this module does not decode (yet). */
const KNOWN_UNSUPPORTED = ["F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4"];

/** The reference implementation refuses headers above 100 MB; so do we. */
export const SAFETENSORS_MAX_HEADER_BYTES = 100_000_000;

/**
 * Tensor storage. F16 and BF16 tensors are handed over as `Float32Array` (converted)
 * or `Uint16Array` (raw bits); F16 may also be a `Float16Array`. BOOL is a `Uint8Array`.
 *
 * @example
 * ```ts
 * import { readSafetensors, type TensorData, writeSafetensors } from "./safetensors.ts";
 * const data: TensorData = new Uint8Array([1, 0, 1]);
 * const path = await Deno.makeTempFile({ suffix: ".safetensors" });
 * await writeSafetensors(path, { mask: { dtype: "BOOL", shape: [3], data } });
 * const { tensors } = await readSafetensors(path);
 * console.log(tensors.mask?.data); // Uint8Array(3) [ 1, 0, 1 ]
 * await Deno.remove(path);
 * ```
 */
export type TensorData =
  | Float64Array
  | Float32Array
  | Float16Array
  | BigInt64Array
  | BigUint64Array
  | Int32Array
  | Uint32Array
  | Int16Array
  | Uint16Array
  | Int8Array
  | Uint8Array;

/**
 * One named tensor: dtype, shape (row-major) and its elements.
 *
 * @example
 * ```ts
 * import { readSafetensors, type Tensor, writeSafetensors } from "./safetensors.ts";
 * const tensor: Tensor = { dtype: "I32", shape: [2, 2], data: new Int32Array([1, 2, 3, 4]) };
 * const path = await Deno.makeTempFile({ suffix: ".safetensors" });
 * await writeSafetensors(path, { m: tensor });
 * const { tensors } = await readSafetensors(path);
 * console.log(tensors.m?.shape, tensors.m?.data); // [ 2, 2 ] Int32Array(4) [ 1, 2, 3, 4 ]
 * await Deno.remove(path);
 * ```
 */
export interface Tensor {
  /** Element type as the file names it, e.g. `F32`. */
  dtype: SafetensorsDtype;
  /** Dimensions, row-major. */
  shape: number[];
  /** The elements, as many as the shape's product. */
  data: TensorData;
}

/** Where one tensor lives in a file, as the header says. */
export interface TensorInfo {
  /** Element type as the file names it, e.g. `F32`. */
  dtype: SafetensorsDtype;
  /** Dimensions, row-major. */
  shape: number[];
  /** `[begin, end)` in bytes, relative to the start of the data section. */
  dataOffsets: [number, number];
}

/** A parsed and validated safetensors header. */
export interface SafetensorsHeader {
  /** The `__metadata__` map; empty when the file has none. */
  metadata: Record<string, string>;
  /** Tensor entries, in data order. */
  tensors: Record<string, TensorInfo>;
  /** Absolute file offset of the data section (8 + header length). */
  dataStart: number;
  /** File size in bytes. */
  fileSize: number;
}

/**
 * Options for {@linkcode writeSafetensors}.
 *
 * @example
 * ```ts
 * import {
 *   readSafetensors,
 *   writeSafetensors,
 *   type WriteSafetensorsOptions,
 * } from "./safetensors.ts";
 * const options: WriteSafetensorsOptions = { metadata: { stage: "static", step: "5000" } };
 * const path = await Deno.makeTempFile({ suffix: ".safetensors" });
 * await writeSafetensors(path, {
 *   w: { dtype: "F32", shape: [1], data: new Float32Array([3]) },
 * }, options);
 * console.log((await readSafetensors(path)).metadata); // { stage: "static", step: "5000" }
 * await Deno.remove(path);
 * ```
 */
export interface WriteSafetensorsOptions {
  /** String-to-string metadata stored under `__metadata__`. */
  metadata?: Record<string, string>;
}

/**
 * Options for {@linkcode readSafetensors}.
 *
 * @example Read one F16 tensor as raw bits
 * ```ts
 * import {
 *   readSafetensors,
 *   type ReadSafetensorsOptions,
 *   writeSafetensors,
 * } from "./safetensors.ts";
 * const path = await Deno.makeTempFile({ suffix: ".safetensors" });
 * await writeSafetensors(path, {
 *   a: { dtype: "F32", shape: [2], data: new Float32Array([1, 2]) },
 *   b: { dtype: "F16", shape: [1], data: new Float32Array([1]) },
 * });
 * const options: ReadSafetensorsOptions = { names: ["b"], half: "bits" };
 * const { tensors } = await readSafetensors(path, options);
 * console.log(Object.keys(tensors), tensors.b?.data); // [ "b" ] Uint16Array(1) [ 15360 ]
 * await Deno.remove(path);
 * ```
 */
export interface ReadSafetensorsOptions {
  /** Read only these tensors (the rest of the file is never touched). Defaults to all. */
  names?: string[];
  /**
   * How F16 and BF16 tensors come back: `"f32"` converts to `Float32Array` (default),
   * `"bits"` returns the raw 16-bit patterns as `Uint16Array`.
   */
  half?: "f32" | "bits";
}

/**
 * What {@linkcode readSafetensors} returns.
 *
 * @example
 * ```ts
 * import { readSafetensors, type SafetensorsContents, writeSafetensors } from "./safetensors.ts";
 * const path = await Deno.makeTempFile({ suffix: ".safetensors" });
 * const data = new Float32Array([0.5, 0.25, 0.125]);
 * await writeSafetensors(path, { w: { dtype: "F32", shape: [3], data } }, {
 *   metadata: { run: "demo" },
 * });
 * const contents: SafetensorsContents = await readSafetensors(path);
 * console.log(contents.metadata.run, contents.tensors.w?.data);
 * // demo Float32Array(3) [ 0.5, 0.25, 0.125 ]
 * await Deno.remove(path);
 * ```
 */
export interface SafetensorsContents {
  /** Tensors by name. */
  tensors: Record<string, Tensor>;
  /** The header's `__metadata__` strings. */
  metadata: Record<string, string>;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function requireLittleEndian(): void {
  // Tensor bytes are copied straight to and from typed arrays, which use host order.
  if (!LITTLE_ENDIAN) throw new Error("safetensors I/O needs a little-endian host");
}

function isDtype(s: string): s is SafetensorsDtype {
  return Object.hasOwn(SAFETENSORS_DTYPE_BYTES, s);
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

// ---------------------------------------------------------------------------
// Half-precision conversions
// ---------------------------------------------------------------------------

/** F32 → BF16 bits with round-to-nearest-even, keeping NaNs NaN. */
function f32ToBf16Bits(src: Float32Array): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < bits.length; i++) {
    const b = bits[i]!;
    if ((b & 0x7fffffff) > 0x7f800000) {
      // Truncation could clear every mantissa bit and turn NaN into Inf; force a quiet NaN.
      out[i] = (b >>> 16) | 0x0040;
    } else {
      out[i] = ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
    }
  }
  return out;
}

function bf16BitsToF32(src: Uint16Array): Float32Array {
  const out = new Uint32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = src[i]! << 16;
  return new Float32Array(out.buffer);
}

// ---------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------

/** Typed-array constructors accepted for each dtype, in the order error messages list them. */
const ACCEPTED: Record<SafetensorsDtype, string[]> = {
  F64: ["Float64Array"],
  F32: ["Float32Array"],
  F16: ["Float32Array", "Float16Array", "Uint16Array"],
  BF16: ["Float32Array", "Uint16Array"],
  I64: ["BigInt64Array"],
  I32: ["Int32Array"],
  I16: ["Int16Array"],
  I8: ["Int8Array"],
  U64: ["BigUint64Array"],
  U32: ["Uint32Array"],
  U16: ["Uint16Array"],
  U8: ["Uint8Array"],
  BOOL: ["Uint8Array"],
};

/** The tensor's on-disk bytes, converting half-precision input when needed. */
function tensorBytes(t: Tensor): Uint8Array {
  let d: TensorData = t.data;
  if (t.dtype === "F16" && d instanceof Float32Array) d = new Float16Array(d);
  if (t.dtype === "BF16" && d instanceof Float32Array) d = f32ToBf16Bits(d);
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

function checkTensorForWrite(where: string, name: string, t: Tensor): void {
  if (name === "" || name === "__metadata__") {
    throw new Error(`${where}: tensor name ${JSON.stringify(name)} is reserved or empty`);
  }
  if (!isDtype(t.dtype)) {
    throw new Error(
      `${where}: tensor ${name} has unknown dtype ${JSON.stringify(t.dtype)}; expected one of ${
        Object.keys(SAFETENSORS_DTYPE_BYTES).join(", ")
      }`,
    );
  }
  if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new Error(
      `${where}: tensor ${name} has shape ${
        JSON.stringify(t.shape)
      }; expected an array of non-negative integers`,
    );
  }
  const kind = t.data?.constructor?.name ?? typeof t.data;
  const accepted = ACCEPTED[t.dtype];
  if (!accepted.includes(kind)) {
    throw new Error(
      `${where}: tensor ${name} has dtype ${t.dtype} but its data is a ${kind}; expected ${
        accepted.join(" or ")
      }`,
    );
  }
  const n = elementCount(t.shape);
  if (!Number.isSafeInteger(n) || n !== t.data.length) {
    throw new Error(
      `${where}: tensor ${name} has shape ${
        shapeText(t.shape)
      } (${n} elements) but its data holds ${t.data.length}`,
    );
  }
}

/**
 * The exact header bytes (JSON plus space padding) for tensors laid out in `order`.
 * Keys are emitted by hand because `JSON.stringify` moves integer-like keys first,
 * which would make the byte layout depend on tensor names.
 */
function encodeHeader(
  order: [string, Tensor][],
  metadata: Record<string, string> | undefined,
): Uint8Array {
  const parts: string[] = [];
  if (metadata !== undefined) parts.push(`"__metadata__":${JSON.stringify(metadata)}`);
  let offset = 0;
  for (const [name, t] of order) {
    const size = elementCount(t.shape) * SAFETENSORS_DTYPE_BYTES[t.dtype];
    const entry = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    parts.push(`${JSON.stringify(name)}:${JSON.stringify(entry)}`);
    offset += size;
  }
  const json = new TextEncoder().encode(`{${parts.join(",")}}`);
  // Spaces pad the header so the data section starts 8-byte aligned, as the spec allows.
  const padded = new Uint8Array(Math.ceil(json.length / 8) * 8).fill(0x20);
  padded.set(json);
  return padded;
}

/**
 * Writes tensors to a safetensors file, atomically: the bytes go to a temp file in
 * the same directory that is synced and then renamed over `path`, so a crash
 * mid-write leaves the previous checkpoint intact.
 *
 * Tensors are laid out largest element size first, then by name, so every tensor
 * starts aligned to its element size (readers can view it without copying).
 * F16/BF16 tensors given as `Float32Array` are rounded to nearest even.
 *
 * @example Save a small checkpoint
 * ```ts
 * import { writeSafetensors } from "./safetensors.ts";
 * const path = await Deno.makeTempFile({ suffix: ".safetensors" });
 * await writeSafetensors(path, {
 *   "grid.0": { dtype: "F16", shape: [2, 2], data: new Float32Array([0, 0.5, 1, 2]) },
 *   step: { dtype: "I32", shape: [], data: new Int32Array([100]) },
 * }, { metadata: { stage: "static" } });
 * await Deno.remove(path);
 * ```
 */
export async function writeSafetensors(
  path: string,
  tensors: Record<string, Tensor>,
  options: WriteSafetensorsOptions = {},
): Promise<void> {
  requireLittleEndian();
  const where = `Cannot write checkpoint ${path}`;
  const entries = Object.entries(tensors);
  for (const [name, t] of entries) checkTensorForWrite(where, name, t);
  if (options.metadata !== undefined) {
    for (const [k, v] of Object.entries(options.metadata)) {
      if (typeof v !== "string") {
        throw new Error(`${where}: metadata value for ${k} is a ${typeof v}; expected a string`);
      }
    }
  }
  entries.sort(([an, a], [bn, b]) =>
    SAFETENSORS_DTYPE_BYTES[b.dtype] - SAFETENSORS_DTYPE_BYTES[a.dtype] ||
    (an < bn ? -1 : an > bn ? 1 : 0)
  );
  const header = encodeHeader(entries, options.metadata);
  if (header.length > SAFETENSORS_MAX_HEADER_BYTES) {
    throw new Error(
      `${where}: the header would be ${header.length} bytes, over the ${SAFETENSORS_MAX_HEADER_BYTES}-byte limit`,
    );
  }
  const lengthBytes = new Uint8Array(8);
  new DataView(lengthBytes.buffer).setBigUint64(0, BigInt(header.length), true);

  try {
    await writeFileAtomic(path, async (write) => {
      await write(lengthBytes);
      await write(header);
      for (const [, t] of entries) await write(tensorBytes(t));
    });
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new Error(`${where}: ${msg}`, { cause: err });
  }
}

// ---------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------

async function readExactly(
  file: Deno.FsFile,
  offset: number,
  length: number,
  where: string,
): Promise<Uint8Array> {
  const buf = new Uint8Array(length);
  await file.seek(offset, Deno.SeekMode.Start);
  let done = 0;
  while (done < length) {
    const n = await file.read(buf.subarray(done));
    if (n === null) {
      throw new Error(
        `${where}: the file ended at byte ${offset + done} while reading bytes ${offset}–${
          offset + length
        } (was it truncated while being read?)`,
      );
    }
    done += n;
  }
  return buf;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Validates a parsed header against the file size; every message names file and tensor. */
function validateHeader(
  where: string,
  json: unknown,
  dataStart: number,
  fileSize: number,
): SafetensorsHeader {
  if (!isPlainObject(json)) {
    throw new Error(`${where}: the header is not a JSON object`);
  }
  let metadata: Record<string, string> = {};
  const infos: [string, TensorInfo][] = [];
  for (const [name, value] of Object.entries(json)) {
    if (name === "__metadata__") {
      if (!isPlainObject(value)) {
        throw new Error(`${where}: __metadata__ is not an object of strings`);
      }
      for (const [k, v] of Object.entries(value)) {
        if (typeof v !== "string") {
          throw new Error(
            `${where}: __metadata__ value for ${k} is ${JSON.stringify(v)}; expected a string`,
          );
        }
      }
      metadata = Object.fromEntries(Object.entries(value as Record<string, string>));
      continue;
    }
    if (!isPlainObject(value)) {
      throw new Error(
        `${where}: tensor ${name} entry is not an object with dtype, shape and data_offsets`,
      );
    }
    const { dtype, shape, data_offsets: offsets } = value;
    if (typeof dtype !== "string" || !isDtype(dtype)) {
      const unsupported = typeof dtype === "string" && KNOWN_UNSUPPORTED.includes(dtype);
      throw new Error(
        `${where}: tensor ${name} has ${unsupported ? "unsupported" : "unknown"} dtype ${
          JSON.stringify(dtype)
        }; expected one of ${Object.keys(SAFETENSORS_DTYPE_BYTES).join(", ")}`,
      );
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new Error(
        `${where}: tensor ${name} has shape ${
          JSON.stringify(shape)
        }; expected an array of non-negative integers`,
      );
    }
    if (
      !Array.isArray(offsets) || offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) || offsets[0] > offsets[1]
    ) {
      throw new Error(
        `${where}: tensor ${name} has data_offsets ${
          JSON.stringify(offsets)
        }; expected [begin, end] with 0 <= begin <= end`,
      );
    }
    const [begin, end] = offsets as [number, number];
    if (dataStart + end > fileSize) {
      throw new Error(
        `${where}: tensor ${name} ends at byte ${
          dataStart + end
        }, past the end of the file (${fileSize} bytes)`,
      );
    }
    const n = elementCount(shape as number[]);
    const need = n * SAFETENSORS_DTYPE_BYTES[dtype];
    if (!Number.isSafeInteger(need) || need !== end - begin) {
      throw new Error(
        `${where}: tensor ${name} has dtype ${dtype} and shape ${
          shapeText(shape as number[])
        }, which needs ${need} bytes, but its data_offsets [${begin}, ${end}] span ${
          end - begin
        } bytes`,
      );
    }
    infos.push([name, { dtype, shape: [...(shape as number[])], dataOffsets: [begin, end] }]);
  }

  // Contiguity: sorted by range, each tensor must start exactly where the previous ended.
  infos.sort(([, a], [, b]) =>
    a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1]
  );
  let cursor = 0;
  let prev = "";
  for (const [name, info] of infos) {
    const [begin, end] = info.dataOffsets;
    if (begin < cursor) {
      throw new Error(
        `${where}: tensor ${name} starts at data byte ${begin}, inside tensor ${prev} (which ends at ${cursor}); tensors must not overlap`,
      );
    }
    if (begin > cursor) {
      throw new Error(
        prev === ""
          ? `${where}: the first tensor ${name} starts at data byte ${begin}; expected 0 (no gaps allowed)`
          : `${where}: tensor ${name} starts at data byte ${begin} but tensor ${prev} ends at ${cursor}; tensors must be contiguous`,
      );
    }
    cursor = end;
    prev = name;
  }
  const dataBytes = fileSize - dataStart;
  if (cursor !== dataBytes) {
    throw new Error(
      `${where}: the tensors end at data byte ${cursor} but the data section holds ${dataBytes} bytes; ${
        dataBytes - cursor
      } trailing bytes belong to no tensor`,
    );
  }
  return { metadata, tensors: Object.fromEntries(infos), dataStart, fileSize };
}

async function headerOf(file: Deno.FsFile, where: string): Promise<SafetensorsHeader> {
  const fileSize = (await file.stat()).size;
  if (fileSize < 8) {
    throw new Error(
      `${where}: the file is ${fileSize} bytes, too short for the 8-byte header length`,
    );
  }
  const lenBytes = await readExactly(file, 0, 8, where);
  const big = new DataView(lenBytes.buffer).getBigUint64(0, true);
  if (big > BigInt(SAFETENSORS_MAX_HEADER_BYTES)) {
    throw new Error(
      `${where}: header length ${big} is over the ${SAFETENSORS_MAX_HEADER_BYTES}-byte limit (not a safetensors file?)`,
    );
  }
  const n = Number(big);
  if (n < 2) throw new Error(`${where}: header length ${n} is too small for a JSON object`);
  if (8 + n > fileSize) {
    throw new Error(
      `${where}: header length ${n} runs past the end of the file (${fileSize} bytes)`,
    );
  }
  const raw = await readExactly(file, 8, n, where);
  if (raw[0] !== 0x7b) {
    throw new Error(`${where}: the header does not start with "{"`);
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(raw));
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new Error(`${where}: the header is not valid UTF-8 JSON (${msg})`, { cause: err });
  }
  return validateHeader(where, json, 8 + n, fileSize);
}

/**
 * Reads and validates only the header of a safetensors file: tensor names, dtypes,
 * shapes and offsets plus metadata. Only the first 8 + N bytes are read.
 *
 * @example List what a file holds
 * ```ts
 * import { readSafetensorsHeader, writeSafetensors } from "./safetensors.ts";
 * const path = await Deno.makeTempFile({ suffix: ".safetensors" });
 * await writeSafetensors(path, { w: { dtype: "F32", shape: [3], data: new Float32Array(3) } });
 * const header = await readSafetensorsHeader(path);
 * if (header.tensors.w?.dataOffsets[1] !== 12) throw new Error("unexpected layout");
 * await Deno.remove(path);
 * ```
 */
export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader> {
  const where = `Cannot read checkpoint ${path}`;
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new Error(`${where}: ${msg}`, { cause: err });
  }
  try {
    return await headerOf(file, where);
  } finally {
    file.close();
  }
}

function decodeTensor(
  info: TensorInfo,
  bytes: Uint8Array,
  half: "f32" | "bits",
): TensorData {
  // `bytes` is a fresh buffer, so every view below is aligned.
  const b = bytes.buffer;
  switch (info.dtype) {
    case "F64":
      return new Float64Array(b);
    case "F32":
      return new Float32Array(b);
    case "F16":
      return half === "bits" ? new Uint16Array(b) : new Float32Array(new Float16Array(b));
    case "BF16":
      return half === "bits" ? new Uint16Array(b) : bf16BitsToF32(new Uint16Array(b));
    case "I64":
      return new BigInt64Array(b);
    case "U64":
      return new BigUint64Array(b);
    case "I32":
      return new Int32Array(b);
    case "U32":
      return new Uint32Array(b);
    case "I16":
      return new Int16Array(b);
    case "U16":
      return new Uint16Array(b);
    case "I8":
      return new Int8Array(b);
    case "U8":
    case "BOOL":
      return bytes;
  }
}

/**
 * Reads a safetensors file, validating the header first (length, JSON, dtypes,
 * shapes against byte ranges, offsets inside the file, no overlaps or gaps).
 * Tensors are read one byte range at a time; pass `names` to read only some.
 *
 * @example Round trip a tensor
 * ```ts
 * import { readSafetensors, writeSafetensors } from "./safetensors.ts";
 * const path = await Deno.makeTempFile({ suffix: ".safetensors" });
 * await writeSafetensors(path, { w: { dtype: "F16", shape: [2], data: new Float32Array([1, 0.25]) } });
 * const { tensors } = await readSafetensors(path);
 * if (tensors.w?.data[1] !== 0.25) throw new Error("round trip failed");
 * await Deno.remove(path);
 * ```
 */
export async function readSafetensors(
  path: string,
  options: ReadSafetensorsOptions = {},
): Promise<SafetensorsContents> {
  requireLittleEndian();
  const where = `Cannot read checkpoint ${path}`;
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new Error(`${where}: ${msg}`, { cause: err });
  }
  try {
    const header = await headerOf(file, where);
    const available = Object.keys(header.tensors);
    const wanted = new Set(options.names ?? available);
    for (const name of wanted) {
      if (!Object.hasOwn(header.tensors, name)) {
        throw new Error(
          `${where}: tensor ${name} is not in the file (it has ${available.join(", ") || "none"})`,
        );
      }
    }
    const out: [string, Tensor][] = [];
    // Header entries are in data order, so this reads the file front to back.
    for (const [name, info] of Object.entries(header.tensors)) {
      if (!wanted.has(name)) continue;
      const [begin, end] = info.dataOffsets;
      const bytes = await readExactly(file, header.dataStart + begin, end - begin, where);
      out.push([name, {
        dtype: info.dtype,
        shape: info.shape,
        data: decodeTensor(info, bytes, options.half ?? "f32"),
      }]);
    }
    return { tensors: Object.fromEntries(out), metadata: header.metadata };
  } finally {
    file.close();
  }
}
