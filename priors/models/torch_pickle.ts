/**
 * A safe reader for the tensors inside a `torch.save` archive (a ZIP with `<prefix>/data.pkl`
 * and one raw storage file per tensor under `<prefix>/data/`), as diffusers writes
 * `learned_embeds.bin` (SPEC.md §1, §10.3).
 *
 * The pickle is interpreted, never executed: the machine knows the opcodes `torch.save`
 * emits for a dict of tensors (protocol 2, plus the protocol-4 framing opcodes), and only
 * these globals: `torch._utils._rebuild_tensor_v2`, `collections.OrderedDict` (the empty
 * backward-hook dict of every tensor) and the storage classes `torch.FloatStorage`,
 * `HalfStorage`, `BFloat16Storage` and `DoubleStorage`. Anything else, e.g. `os.system`,
 * `torch._utils._rebuild_parameter`, or a `BUILD` that would set attributes, is refused
 * with an error naming it.
 *
 * @example A dict of one tensor, pickled and zipped as torch.save does
 * ```ts
 * import { readTorchArchive, TorchTensor } from "./torch_pickle.ts";
 * import { writeTorchArchive } from "./torch_pickle.ts";
 * const bytes = writeTorchArchive({ "<cat>": { shape: [3], data: new Float32Array([1, 2, 3]) } });
 * const dict = readTorchArchive(bytes) as Record<string, TorchTensor>;
 * console.log(dict["<cat>"]!.shape, dict["<cat>"]!.data); // [ 3 ] Float32Array(3) [ 1, 2, 3 ]
 * ```
 *
 * @module
 */
import { crc32, ZipArchive } from "./zip_archive.ts";

/**
 * Element types of the storages the reader accepts.
 *
 * @example
 * ```ts
 * import { readTorchArchive, type TorchFloatType, type TorchTensor, writeTorchArchive } from "./torch_pickle.ts";
 * const bytes = writeTorchArchive({ emb: { shape: [2], data: new Float32Array([0.5, 1]), dtype: "float16" } });
 * const emb = (readTorchArchive(bytes) as Record<string, TorchTensor>).emb!;
 * const dtype: TorchFloatType = emb.dtype;
 * console.log(dtype, emb.data); // float16 Float32Array(2) [ 0.5, 1 ]
 * ```
 */
export type TorchFloatType = "float32" | "float16" | "bfloat16" | "float64";

const STORAGES: Record<string, { dtype: TorchFloatType; bytes: number }> = {
  FloatStorage: { dtype: "float32", bytes: 4 },
  HalfStorage: { dtype: "float16", bytes: 2 },
  BFloat16Storage: { dtype: "bfloat16", bytes: 2 },
  DoubleStorage: { dtype: "float64", bytes: 8 },
};

/**
 * A tensor read from a torch archive, made contiguous and converted to float32.
 *
 * @example
 * ```ts
 * import { TorchTensor } from "./torch_pickle.ts";
 * const t = new TorchTensor("float16", [2], new Float32Array([0.5, 1]));
 * console.log(t.dtype, t.data.length); // float16 2
 * ```
 */
export class TorchTensor {
  /**
   * Wraps converted tensor data.
   *
   * @param dtype the storage's element type
   * @param shape dimensions, row-major
   * @param data the elements in row-major order
   */
  constructor(
    readonly dtype: TorchFloatType,
    readonly shape: number[],
    readonly data: Float32Array,
  ) {}
}

interface Global {
  kind: "global";
  module: string;
  name: string;
}

interface Storage {
  kind: "storage";
  dtype: TorchFloatType;
  values: Float64Array;
}

function isGlobal(v: unknown, module: string, name: string): boolean {
  return typeof v === "object" && v !== null && (v as Global).kind === "global" &&
    (v as Global).module === module && (v as Global).name === name;
}

function decodeStorage(bytes: Uint8Array, dtype: TorchFloatType): Float64Array {
  const own = new Uint8Array(bytes.length); // aligned, and never a Node Buffer view
  own.set(bytes);
  const copy = own.buffer;
  switch (dtype) {
    case "float32":
      return Float64Array.from(new Float32Array(copy));
    case "float64":
      return new Float64Array(copy);
    case "float16":
      return Float64Array.from(new Float16Array(copy));
    case "bfloat16": {
      const bits = new Uint16Array(copy);
      const wide = new Uint32Array(bits.length);
      for (let i = 0; i < bits.length; i++) wide[i] = bits[i]! << 16;
      return Float64Array.from(new Float32Array(wide.buffer));
    }
  }
}

/**
 * Interprets a torch pickle.
 *
 * @param pickle the bytes of `data.pkl`
 * @param options `storage(key, dtype, numel)` returns the values of storage file `key`;
 *   `source` names the file in errors
 * @returns the unpickled root: dicts become plain objects, tuples arrays, tensors
 *   {@linkcode TorchTensor}s
 *
 * @example Refuses a pickle that would call `os.system`
 * ```ts
 * import { unpickleTorch } from "./torch_pickle.ts";
 * const evil = new TextEncoder().encode("cos\nsystem\n(S'echo pwned'\ntR.");
 * try {
 *   unpickleTorch(evil, { storage: () => new Float64Array(0), source: "evil.pkl" });
 * } catch (error) {
 *   console.log((error as Error).message); // Refusing to load evil.pkl: global os.system is not allowed, expected torch._utils._rebuild_tensor_v2, collections.OrderedDict or a torch float storage
 * }
 * ```
 */
export function unpickleTorch(
  pickle: Uint8Array,
  options: {
    storage: (key: string, dtype: TorchFloatType, numel: number) => Float64Array;
    source?: string;
  },
): unknown {
  const source = options.source ?? "data.pkl";
  const refuse = (why: string): never => {
    throw new Error(`Refusing to load ${source}: ${why}`);
  };
  const view = new DataView(pickle.buffer, pickle.byteOffset, pickle.byteLength);
  const text = new TextDecoder("utf-8", { fatal: true });
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  const storages = new Map<string, Storage>();
  let p = 0;
  const need = (n: number) => {
    if (p + n > pickle.length) refuse("the pickle ends early");
  };
  const pop = (): unknown => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks.at(-1)!)) {
      refuse(`stack underflow at byte ${p}`);
    }
    return stack.pop();
  };
  const popMark = (): unknown[] => {
    const at = marks.pop();
    if (at === undefined) return refuse(`no MARK before byte ${p}`);
    return stack.splice(at);
  };
  const line = (): string => {
    const end = pickle.indexOf(0x0a, p);
    if (end < 0) refuse("unterminated GLOBAL");
    const s = text.decode(pickle.subarray(p, end));
    p = end + 1;
    return s;
  };
  const str = (n: number): string => {
    need(n);
    const s = text.decode(pickle.subarray(p, p + n));
    p += n;
    return s;
  };
  const setItems = (dict: unknown, items: unknown[]) => {
    if (
      typeof dict !== "object" || dict === null || Array.isArray(dict) ||
      dict instanceof TorchTensor
    ) {
      refuse("SETITEM on something that is not a dict");
    }
    for (let i = 0; i + 1 < items.length; i += 2) {
      const key = items[i];
      if (typeof key !== "string") refuse(`dict key ${String(key)} is not a string`);
      Object.defineProperty(dict, key as string, {
        value: items[i + 1],
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
  };
  const rebuildTensor = (args: unknown[]): TorchTensor => {
    const [storage, offset, size, stride] = args;
    if (typeof storage !== "object" || (storage as Storage).kind !== "storage") {
      return refuse("_rebuild_tensor_v2 without a storage");
    }
    const ints = (v: unknown) => Array.isArray(v) && v.every((d) => Number.isSafeInteger(d));
    if (!Number.isSafeInteger(offset) || !ints(size) || !ints(stride)) {
      return refuse("_rebuild_tensor_v2 with malformed offset, size or stride");
    }
    const shape = size as number[], strides = stride as number[];
    if (shape.length !== strides.length) refuse("size and stride ranks differ");
    const values = (storage as Storage).values;
    const count = shape.reduce((a, b) => a * b, 1);
    const out = new Float32Array(count);
    // Strided gather: a view on a larger storage (e.g. one row of the whole embedding
    // matrix, as a CPU-trained textual inversion saves it) keeps its offset and strides.
    const index = new Array<number>(shape.length).fill(0);
    for (let e = 0; e < count; e++) {
      let at = offset as number;
      for (let d = 0; d < shape.length; d++) at += index[d]! * strides[d]!;
      if (at < 0 || at >= values.length) {
        refuse(`tensor element ${e} lies outside its storage of ${values.length} values`);
      }
      out[e] = values[at]!;
      for (let d = shape.length - 1; d >= 0; d--) {
        if (++index[d]! < shape[d]!) break;
        index[d] = 0;
      }
    }
    return new TorchTensor((storage as Storage).dtype, [...shape], out);
  };

  for (;;) {
    need(1);
    const op = pickle[p++]!;
    switch (op) {
      case 0x80: // PROTO
        need(1);
        if (pickle[p]! > 5) refuse(`pickle protocol ${pickle[p]} is not supported`);
        p += 1;
        break;
      case 0x95: // FRAME: an 8-byte length, the framing itself carries no value.
        need(8);
        p += 8;
        break;
      case 0x7d: // EMPTY_DICT
        stack.push({});
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x71: // BINPUT
        need(1);
        memo.set(pickle[p++]!, stack.at(-1));
        break;
      case 0x72: // LONG_BINPUT
        need(4);
        memo.set(view.getUint32(p, true), stack.at(-1));
        p += 4;
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, stack.at(-1));
        break;
      case 0x68: // BINGET
      case 0x6a: { // LONG_BINGET
        const n = op === 0x68 ? 1 : 4;
        need(n);
        const key = n === 1 ? pickle[p]! : view.getUint32(p, true);
        p += n;
        if (!memo.has(key)) refuse(`memo entry ${key} is missing`);
        stack.push(memo.get(key));
        break;
      }
      case 0x58: // BINUNICODE
        need(4);
        p += 4;
        stack.push(str(view.getUint32(p - 4, true)));
        break;
      case 0x8c: // SHORT_BINUNICODE
        need(1);
        p += 1;
        stack.push(str(pickle[p - 1]!));
        break;
      case 0x4b: // BININT1
        need(1);
        stack.push(pickle[p++]!);
        break;
      case 0x4d: // BININT2
        need(2);
        stack.push(view.getUint16(p, true));
        p += 2;
        break;
      case 0x4a: // BININT
        need(4);
        stack.push(view.getInt32(p, true));
        p += 4;
        break;
      case 0x8a: { // LONG1: little-endian two's complement of n bytes
        need(1);
        const n = pickle[p++]!;
        need(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(pickle[p + i]!);
        if (n > 0 && pickle[p + n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
        p += n;
        if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
          refuse(`integer ${v} is too large`);
        }
        stack.push(Number(v));
        break;
      }
      case 0x47: // BINFLOAT (big-endian)
        need(8);
        stack.push(view.getFloat64(p, false));
        p += 8;
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x74: // TUPLE
        stack.push(popMark());
        break;
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: { // TUPLE2
        const b = pop(), a = pop();
        stack.push([a, b]);
        break;
      }
      case 0x87: { // TUPLE3
        const c = pop(), b = pop(), a = pop();
        stack.push([a, b, c]);
        break;
      }
      case 0x61: { // APPEND
        const v = pop();
        const list = stack.at(-1);
        if (!Array.isArray(list)) refuse("APPEND to something that is not a list");
        (list as unknown[]).push(v);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        const list = stack.at(-1);
        if (!Array.isArray(list)) refuse("APPENDS to something that is not a list");
        (list as unknown[]).push(...items);
        break;
      }
      case 0x73: { // SETITEM
        const v = pop(), k = pop();
        setItems(stack.at(-1), [k, v]);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        setItems(stack.at(-1), items);
        break;
      }
      case 0x63: { // GLOBAL
        const module = line(), name = line();
        const allowed = (module === "torch._utils" && name === "_rebuild_tensor_v2") ||
          (module === "collections" && name === "OrderedDict") ||
          (module === "torch" && name in STORAGES);
        if (!allowed) {
          refuse(
            `global ${module}.${name} is not allowed, expected torch._utils._rebuild_tensor_v2, collections.OrderedDict or a torch float storage`,
          );
        }
        stack.push({ kind: "global", module, name } satisfies Global);
        break;
      }
      case 0x51: { // BINPERSID: torch's ('storage', class, key, location, numel)
        const pid = pop();
        if (!Array.isArray(pid) || pid[0] !== "storage" || pid.length !== 5) {
          return refuse("persistent id is not a torch storage reference");
        }
        const [, cls, key, , numel] = pid;
        const type = typeof cls === "object" && cls !== null && (cls as Global).module === "torch"
          ? STORAGES[(cls as Global).name]
          : undefined;
        if (type === undefined) return refuse("storage reference without a float storage class");
        if (typeof key !== "string" || !/^[\w.-]+$/.test(key) || !Number.isSafeInteger(numel)) {
          return refuse(`malformed storage reference ${JSON.stringify(pid.slice(2))}`);
        }
        let storage = storages.get(key);
        if (storage === undefined) {
          const values = options.storage(key, type.dtype, numel as number);
          storage = { kind: "storage", dtype: type.dtype, values };
          storages.set(key, storage);
        }
        stack.push(storage);
        break;
      }
      case 0x52: { // REDUCE
        const args = pop(), callable = pop();
        if (!Array.isArray(args)) return refuse("REDUCE arguments are not a tuple");
        if (isGlobal(callable, "collections", "OrderedDict")) {
          if (args.length !== 0) refuse("OrderedDict with arguments");
          stack.push({});
        } else if (isGlobal(callable, "torch._utils", "_rebuild_tensor_v2")) {
          stack.push(rebuildTensor(args));
        } else {
          refuse("REDUCE of something other than _rebuild_tensor_v2 or OrderedDict");
        }
        break;
      }
      case 0x2e: // STOP
        if (stack.length !== 1) refuse(`STOP with ${stack.length} values on the stack`);
        return stack[0];
      default:
        return refuse(
          `opcode 0x${op.toString(16).padStart(2, "0")} at byte ${
            p - 1
          } is not one torch.save writes for tensors`,
        );
    }
  }
}

/**
 * Reads a `torch.save` archive (the ZIP format of torch ≥ 1.6).
 *
 * @param bytes the archive
 * @param source file name for error messages
 * @returns the unpickled root value, see {@linkcode unpickleTorch}
 *
 * @example
 * ```ts
 * import { readTorchArchive, type TorchTensor, writeTorchArchive } from "./torch_pickle.ts";
 * const bytes = writeTorchArchive({ w: { shape: [2, 1], data: new Float32Array([4, 5]), dtype: "float16" } });
 * const w = (readTorchArchive(bytes) as Record<string, TorchTensor>).w!;
 * console.log(w.dtype, w.shape, w.data); // float16 [ 2, 1 ] Float32Array(2) [ 4, 5 ]
 * ```
 */
export function readTorchArchive(bytes: Uint8Array, source = "(bytes)"): unknown {
  const zip = ZipArchive.fromBytes(bytes, source);
  const pickles = zip.names.filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pickles.length !== 1) {
    throw new Error(
      `Cannot read torch archive ${source}: expected one <prefix>/data.pkl, found ${
        pickles.length === 0 ? "none" : pickles.join(", ")
      }`,
    );
  }
  const prefix = pickles[0]!.slice(0, -"data.pkl".length);
  if (zip.entries.has(`${prefix}byteorder`)) {
    const order = new TextDecoder().decode(zip.read(`${prefix}byteorder`)).trim();
    if (order !== "little") {
      throw new Error(`Cannot read torch archive ${source}: byte order ${order}, expected little`);
    }
  }
  return unpickleTorch(zip.read(pickles[0]!), {
    source: `${source}:${pickles[0]}`,
    storage: (key, dtype, numel) => {
      const data = zip.read(`${prefix}data/${key}`);
      const width = STORAGES[Object.keys(STORAGES).find((k) => STORAGES[k]!.dtype === dtype)!]!
        .bytes;
      if (data.length !== numel * width) {
        throw new Error(
          `Cannot read torch archive ${source}: storage ${key} holds ${data.length} bytes, expected ${numel} ${dtype} values (${
            numel * width
          } bytes)`,
        );
      }
      return decodeStorage(data, dtype);
    },
  });
}

/**
 * One tensor for {@linkcode writeTorchArchive}.
 *
 * @example
 * ```ts
 * import { readTorchArchive, type TorchTensor, type TorchTensorInput, writeTorchArchive } from "./torch_pickle.ts";
 * const input: TorchTensorInput = { shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) };
 * const dict = readTorchArchive(writeTorchArchive({ "<cat>": input })) as Record<string, TorchTensor>;
 * console.log(dict["<cat>"]!.shape, dict["<cat>"]!.dtype); // [ 2, 2 ] float32
 * ```
 */
export interface TorchTensorInput {
  /** Dimensions. */
  shape: number[];
  /** Row-major values. */
  data: Float32Array;
  /** Storage type; default `float32`. */
  dtype?: "float32" | "float16";
}

function u32(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}

function u16(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff];
}

/**
 * Writes a dict of tensors in `torch.save`'s format: the pickle opcodes of protocol 2
 * (PROTO, EMPTY_DICT, BINPUT, MARK, BINUNICODE, GLOBAL, BININT1/BININT2/BININT, TUPLE,
 * TUPLE1, BINPERSID, NEWFALSE, EMPTY_TUPLE, REDUCE, SETITEMS, STOP) and a stored ZIP whose
 * storage entries start on 64-byte boundaries, as PyTorch aligns them. Used to build
 * fixtures, and to export an embedding for Python tools.
 *
 * @param tensors tensors by name
 * @param options `prefix` of the entries (torch uses `archive`)
 * @returns the archive bytes
 *
 * @example
 * ```ts
 * import { writeTorchArchive } from "./torch_pickle.ts";
 * const bytes = writeTorchArchive({ x: { shape: [1], data: new Float32Array([1]) } });
 * console.log(new TextDecoder().decode(bytes.subarray(30, 46))); // archive/data.pkl
 * ```
 */
export function writeTorchArchive(
  tensors: Record<string, TorchTensorInput>,
  options: { prefix?: string } = {},
): Uint8Array {
  const prefix = options.prefix ?? "archive";
  const enc = new TextEncoder();
  const out: number[] = [0x80, 2, 0x7d]; // PROTO 2, EMPTY_DICT
  let memo = 0;
  const put = () => out.push(0x71, memo++ & 0xff);
  const unicode = (s: string) => {
    const b = enc.encode(s);
    out.push(0x58, ...u32(b.length), ...b);
    put();
  };
  const int = (n: number) => {
    if (n < 256) out.push(0x4b, n);
    else if (n < 65536) out.push(0x4d, ...u16(n));
    else out.push(0x4a, ...u32(n));
  };
  const global = (module: string, name: string) => {
    out.push(0x63, ...enc.encode(`${module}\n${name}\n`));
    put();
  };
  put();
  out.push(0x28); // MARK for SETITEMS
  const storages: Uint8Array[] = [];
  for (const [name, t] of Object.entries(tensors)) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) {
      throw new Error(
        `Invalid tensor ${name}: shape [${t.shape}] needs ${count} values, got ${t.data.length}`,
      );
    }
    const half = t.dtype === "float16";
    unicode(name);
    global("torch._utils", "_rebuild_tensor_v2");
    out.push(0x28, 0x28); // MARK (args), MARK (persistent id)
    unicode("storage");
    global("torch", half ? "HalfStorage" : "FloatStorage");
    unicode(String(storages.length));
    unicode("cpu");
    int(count);
    out.push(0x74); // TUPLE
    put();
    out.push(0x51); // BINPERSID
    int(0); // storage offset
    const strides = t.shape.map((_, d) => t.shape.slice(d + 1).reduce((a, b) => a * b, 1));
    for (const dims of [t.shape, strides]) {
      out.push(0x28);
      for (const d of dims) int(d);
      out.push(0x74);
      put();
    }
    out.push(0x89); // requires_grad = False
    global("collections", "OrderedDict");
    out.push(0x29, 0x52); // EMPTY_TUPLE, REDUCE
    put();
    out.push(0x74, 0x52); // TUPLE (args), REDUCE
    put();
    const raw = half ? new Float16Array(t.data) : new Float32Array(t.data);
    storages.push(new Uint8Array(raw.buffer.slice(0)));
  }
  out.push(0x75, 0x2e); // SETITEMS, STOP
  const files: [string, Uint8Array][] = [
    [`${prefix}/data.pkl`, new Uint8Array(out)],
    [`${prefix}/byteorder`, enc.encode("little")],
    ...storages.map((s, i): [string, Uint8Array] => [`${prefix}/data/${i}`, s]),
    [`${prefix}/version`, enc.encode("3\n")],
  ];
  return storedZip(files);
}

function storedZip(files: [string, Uint8Array][]): Uint8Array {
  const enc = new TextEncoder();
  const central: number[] = [];
  const chunks: Uint8Array[] = [];
  let offset = 0;
  const emit = (bytes: number[] | Uint8Array) => {
    const chunk = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
    chunks.push(chunk);
    offset += chunk.length;
  };
  for (const [name, data] of files) {
    const nameBytes = enc.encode(name);
    const crc = crc32(data);
    // Pad with an extra field (id 0x4246, "FB" as PyTorch names it) so data is 64-aligned.
    const headerEnd = offset + 30 + nameBytes.length + 4;
    const pad = (64 - (headerEnd % 64)) % 64;
    const local = [
      ...u32(0x04034b50),
      ...u16(20),
      ...u16(0),
      ...u16(0),
      ...u16(0),
      ...u16(0x21),
      ...u32(crc),
      ...u32(data.length),
      ...u32(data.length),
      ...u16(nameBytes.length),
      ...u16(4 + pad),
      ...nameBytes,
      ...u16(0x4246),
      ...u16(pad),
      ...new Array<number>(pad).fill(0x5a),
    ];
    const localOffset = offset;
    emit(local);
    emit(data);
    central.push(
      ...u32(0x02014b50),
      ...u16(20),
      ...u16(20),
      ...u16(0),
      ...u16(0),
      ...u16(0),
      ...u16(0x21),
      ...u32(crc),
      ...u32(data.length),
      ...u32(data.length),
      ...u16(nameBytes.length),
      ...u16(0),
      ...u16(0),
      ...u16(0),
      ...u16(0),
      ...u32(0),
      ...u32(localOffset),
      ...nameBytes,
    );
  }
  const cdOffset = offset;
  emit(central);
  emit([
    ...u32(0x06054b50),
    ...u16(0),
    ...u16(0),
    ...u16(files.length),
    ...u16(files.length),
    ...u32(central.length),
    ...u32(cdOffset),
    ...u16(0),
  ]);
  const result = new Uint8Array(offset);
  let at = 0;
  for (const c of chunks) result.set(c, at), at += c.length;
  return result;
}
