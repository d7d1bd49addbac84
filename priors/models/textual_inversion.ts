/**
 * Loads a learned textual-inversion embedding (SPEC.md §10.3): the diffusers
 * `learned_embeds.bin` (a `torch.save` ZIP, read by the safe unpickler of
 * `torch_pickle.ts`), or a `.safetensors` file in the diffusers (`{token: [1, 768]}`) or
 * Automatic1111/kohya (`emb_params`, `string_to_param.*`) layouts. The vector is then spliced
 * in for the placeholder token, either into a CPU embedding matrix
 * ({@linkcode spliceEmbedding}) or into the ONNX text encoder's embedding initializer
 * (`onnx_token_embedding.ts`).
 *
 * @example Load a diffusers learned_embeds.bin
 * ```ts
 * import { loadTextualInversion } from "./textual_inversion.ts";
 * import { writeTorchArchive } from "./torch_pickle.ts";
 * const path = await Deno.makeTempFile({ suffix: ".bin" });
 * const vector = new Float32Array(768).map((_, i) => i / 768);
 * await Deno.writeFile(path, writeTorchArchive({ "_panda_": { shape: [768], data: vector } }));
 * const ti = await loadTextualInversion(path);
 * console.log(ti.token, ti.dim, ti.vector[384]); // _panda_ 768 0.5
 * await Deno.remove(path);
 * ```
 *
 * @module
 */
import { readSafetensors } from "../../io/safetensors.ts";
import { readTorchArchive, TorchTensor } from "./torch_pickle.ts";

/**
 * One learned embedding.
 *
 * @example
 * ```ts
 * import type { TextualInversion } from "./textual_inversion.ts";
 * const ti: TextualInversion = { token: "<cat>", vector: new Float32Array(4), dim: 4 };
 * console.log(ti.vector.length === ti.dim); // true
 * ```
 */
export interface TextualInversion {
  /** The placeholder token, e.g. `_panda_`. */
  token: string;
  /** The learned vector, `dim` values. */
  vector: Float32Array;
  /** Width of the text encoder's token embedding (768 for SD v1.5). */
  dim: number;
}

/**
 * Options of {@linkcode loadTextualInversion}.
 *
 * @example
 * ```ts
 * import type { LoadTextualInversionOptions } from "./textual_inversion.ts";
 * const options: LoadTextualInversionOptions = { token: "<my-toy>", dim: 768 };
 * console.log(options.token); // <my-toy>
 * ```
 */
export interface LoadTextualInversionOptions {
  /**
   * The placeholder token. Required to pick one entry of a file with several; for
   * `emb_params`/`string_to_param` files (which do not store a token) it defaults to the
   * file's `name` field, else `<stem>` of the file name.
   */
  token?: string;
  /** Expected vector width; a mismatch throws (e.g. an SD 2 embedding for SD v1.5). */
  dim?: number;
}

const NAMELESS = /^(emb_params|string_to_param(\..*)?)$/;

function stem(path: string): string {
  const base = path.split(/[\\/]/).pop() ?? path;
  return base.replace(/\.[^.]*$/, "");
}

function toVector(
  path: string,
  key: string,
  shape: number[],
  data: Float32Array,
): { vector: Float32Array; dim: number } {
  const dim = shape.at(-1) ?? 0;
  const rows = shape.slice(0, -1).reduce((a, b) => a * b, 1);
  if (shape.length < 1 || shape.length > 2 || dim < 1) {
    throw new Error(
      `Invalid textual inversion ${path}: tensor ${key} has shape [${
        shape.join(", ")
      }], expected [dim] or [1, dim]`,
    );
  }
  if (rows !== 1) {
    throw new Error(
      `Invalid textual inversion ${path}: tensor ${key} has ${rows} vectors (shape [${
        shape.join(", ")
      }]); multi-vector embeddings are not supported, expected [dim] or [1, dim]`,
    );
  }
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) {
      throw new Error(
        `Invalid textual inversion ${path}: tensor ${key} has a non-finite value at ${i}`,
      );
    }
  }
  return { vector: Float32Array.from(data), dim };
}

function pick<T>(
  path: string,
  entries: [string, T][],
  options: LoadTextualInversionOptions,
  fallbackName: string | undefined,
): { token: string; key: string; value: T } {
  if (entries.length === 0) {
    throw new Error(`Invalid textual inversion ${path}: no tensor found, expected {token: tensor}`);
  }
  if (options.token !== undefined) {
    const exact = entries.find(([k]) => k === options.token);
    if (exact) return { token: options.token, key: exact[0], value: exact[1] };
    if (entries.length === 1 && NAMELESS.test(entries[0]![0])) {
      return { token: options.token, key: entries[0]![0], value: entries[0]![1] };
    }
    throw new Error(
      `Invalid option token: ${options.token} is not in ${path}, expected one of ${
        entries.map(([k]) => k).join(", ")
      }`,
    );
  }
  if (entries.length > 1) {
    throw new Error(
      `Invalid textual inversion ${path}: it holds ${entries.length} embeddings (${
        entries.map(([k]) => k).join(", ")
      }); pass the token option to pick one`,
    );
  }
  const [key, value] = entries[0]!;
  const token = NAMELESS.test(key) ? (fallbackName ?? `<${stem(path)}>`) : key;
  return { token, key, value };
}

function checkDim(path: string, dim: number, options: LoadTextualInversionOptions): void {
  if (options.dim !== undefined && options.dim !== dim) {
    throw new Error(
      `Invalid textual inversion ${path}: vector width ${dim}, expected ${options.dim} (the text encoder's embedding width)`,
    );
  }
}

/**
 * Reads a textual-inversion embedding from a `torch.save` archive held in memory.
 *
 * @param bytes the `learned_embeds.bin` bytes
 * @param options `token`, `dim`, and `source` (file name for errors and the default token)
 * @returns token, vector and width
 *
 * @example
 * ```ts
 * import { parseTorchTextualInversion } from "./textual_inversion.ts";
 * import { writeTorchArchive } from "./torch_pickle.ts";
 * const bytes = writeTorchArchive({ "<t>": { shape: [1, 2], data: new Float32Array([3, 4]) } });
 * console.log(parseTorchTextualInversion(bytes).vector); // Float32Array(2) [ 3, 4 ]
 * ```
 */
export function parseTorchTextualInversion(
  bytes: Uint8Array,
  options: LoadTextualInversionOptions & { source?: string } = {},
): TextualInversion {
  const path = options.source ?? "learned_embeds.bin";
  const root = readTorchArchive(bytes, path);
  if (
    typeof root !== "object" || root === null || Array.isArray(root) || root instanceof TorchTensor
  ) {
    throw new Error(`Invalid textual inversion ${path}: expected a dict {token: tensor}`);
  }
  let dict = root as Record<string, unknown>;
  let fallbackName: string | undefined;
  // Automatic1111's .pt layout: {string_to_param: {"*": tensor}, name: ...}.
  const nested = dict.string_to_param;
  if (typeof nested === "object" && nested !== null && !(nested instanceof TorchTensor)) {
    const values = Object.values(nested as Record<string, unknown>);
    if (values.length === 1 && values[0] instanceof TorchTensor) {
      dict = { string_to_param: values[0] };
      if (typeof (root as Record<string, unknown>).name === "string") {
        fallbackName = (root as Record<string, unknown>).name as string;
      }
    }
  }
  const tensors = Object.entries(dict).filter((e): e is [string, TorchTensor] =>
    e[1] instanceof TorchTensor
  );
  const { token, key, value } = pick(path, tensors, options, fallbackName);
  const { vector, dim } = toVector(path, key, value.shape, value.data);
  checkDim(path, dim, options);
  return { token, vector, dim };
}

/**
 * Loads a learned embedding from a diffusers `learned_embeds.bin` (torch ZIP) or a
 * `.safetensors` file; the format is told by the file's first bytes, not its name.
 *
 * @param path the file
 * @param options `token` to pick or name the embedding, expected `dim`
 * @returns token, vector and width
 *
 * @example The diffusers safetensors layout
 * ```ts
 * import { writeSafetensors } from "../../io/safetensors.ts";
 * import { loadTextualInversion } from "./textual_inversion.ts";
 * const path = await Deno.makeTempFile({ suffix: ".safetensors" });
 * await writeSafetensors(path, {
 *   "<cat-toy>": { dtype: "F16", shape: [1, 3], data: new Float32Array([0.5, -1, 2]) },
 * });
 * const ti = await loadTextualInversion(path, { dim: 3 });
 * console.log(ti.token, ti.vector); // <cat-toy> Float32Array(3) [ 0.5, -1, 2 ]
 * await Deno.remove(path);
 * ```
 */
export async function loadTextualInversion(
  path: string,
  options: LoadTextualInversionOptions = {},
): Promise<TextualInversion> {
  let head: Uint8Array;
  try {
    const file = await Deno.open(path, { read: true });
    try {
      head = new Uint8Array(9);
      const n = (await file.read(head)) ?? 0;
      head = head.subarray(0, n);
    } finally {
      file.close();
    }
  } catch (error) {
    throw new Error(`Cannot read textual inversion ${path}: ${(error as Error).message}`);
  }
  if (head[0] === 0x50 && head[1] === 0x4b && head[2] === 3 && head[3] === 4) {
    return parseTorchTextualInversion(await Deno.readFile(path), { ...options, source: path });
  }
  if (head.length === 9 && head[8] === 0x7b) {
    const { tensors } = await readSafetensors(path);
    const entries = Object.entries(tensors).map(([k, t]): [string, typeof t] => [k, t]);
    const { token, key, value } = pick(path, entries, options, undefined);
    if (!(value.data instanceof Float32Array)) {
      throw new Error(
        `Invalid textual inversion ${path}: tensor ${key} is ${value.dtype}, expected F32, F16 or BF16`,
      );
    }
    const { vector, dim } = toVector(path, key, value.shape, value.data);
    checkDim(path, dim, options);
    return { token, vector, dim };
  }
  throw new Error(
    `Invalid textual inversion ${path}: expected a torch.save ZIP (learned_embeds.bin) or a safetensors file`,
  );
}

/**
 * Splices a learned vector into a token-embedding matrix `[rows][dim]`: overwrites row
 * `tokenId`, or appends a row when `tokenId` equals the row count (a new placeholder
 * token, as the tokenizer's `addedTokens` numbers it).
 *
 * @param matrix the text encoder's token embeddings, row-major
 * @param inversion the learned embedding
 * @param options `tokenId`, the placeholder's id
 * @returns a new matrix (the input is not modified)
 *
 * @example Append a fourth row
 * ```ts
 * import { spliceEmbedding } from "./textual_inversion.ts";
 * const matrix = new Float32Array([1, 2, 3]);
 * const ti = { token: "<t>", vector: new Float32Array([9]), dim: 1 };
 * console.log(spliceEmbedding(matrix, ti, { tokenId: 3 })); // Float32Array(4) [ 1, 2, 3, 9 ]
 * ```
 */
export function spliceEmbedding(
  matrix: Float32Array,
  inversion: TextualInversion,
  options: { tokenId: number },
): Float32Array {
  const dim = inversion.dim;
  if (inversion.vector.length !== dim || matrix.length % dim !== 0) {
    throw new Error(
      `Invalid embedding matrix: ${matrix.length} values is not a whole number of rows of ${dim} (the vector width of ${inversion.token})`,
    );
  }
  const rows = matrix.length / dim;
  const id = options.tokenId;
  if (!Number.isInteger(id) || id < 0 || id > rows) {
    throw new Error(
      `Invalid option tokenId: expected an integer in [0, ${rows}] (${rows} appends), got ${id}`,
    );
  }
  const out = new Float32Array(Math.max(rows, id + 1) * dim);
  out.set(matrix);
  out.set(inversion.vector, id * dim);
  return out;
}
