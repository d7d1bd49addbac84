/**
 * The CLIP tokenizer of the text encoders (SD v1.5, ModelScope T2V, ControlNet), run by
 * `npm:@huggingface/tokenizers` from a model folder's `tokenizer/` files: `tokenizer.json`,
 * or the `vocab.json` + `merges.txt` pair that diffusers ships, turned into the same
 * pipeline as Hugging Face's CLIPTokenizerFast (NFC, whitespace folding, lower case, CLIP's
 * split pattern, byte-level BPE with the `</w>` end-of-word suffix).
 *
 * Ids come back as the encoders take them: `<|startoftext|>`, at most `maxLength − 2`
 * tokens, `<|endoftext|>`, then the pad id up to `maxLength` (77).
 *
 * @example Encode with a three-word vocabulary
 * ```ts
 * import { ClipTokenizer } from "./clip_tokenizer.ts";
 * const vocab = { "a</w>": 0, "c": 1, "a": 2, "t</w>": 3, "ca": 4, "cat</w>": 5,
 *   "<|startoftext|>": 6, "<|endoftext|>": 7 };
 * const tokenizer = ClipTokenizer.fromVocab(vocab, ["c a", "ca t</w>"], { maxLength: 6 });
 * console.log(tokenizer.encode("A cat")); // Int32Array(6) [ 6, 0, 5, 7, 7, 7 ]
 * ```
 *
 * @module
 */
import { Tokenizer } from "@huggingface/tokenizers";

/**
 * CLIP's context length.
 *
 * @example
 * ```ts
 * import { CLIP_MAX_LENGTH, ClipTokenizer } from "./clip_tokenizer.ts";
 * const tokenizer = ClipTokenizer.fromVocab({ "a</w>": 0, "<|startoftext|>": 1, "<|endoftext|>": 2 }, []);
 * console.log(tokenizer.maxLength === CLIP_MAX_LENGTH, tokenizer.encode("a").length); // true 77
 * ```
 */
export const CLIP_MAX_LENGTH = 77;

const BOS = "<|startoftext|>";
const EOS = "<|endoftext|>";
// Hugging Face's CLIP pre-tokenizer pattern: contractions, letter runs, single digits,
// and runs of anything else that is not white space.
const CLIP_SPLIT =
  "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";

/**
 * Options of the {@linkcode ClipTokenizer} constructors.
 *
 * @example A textual-inversion placeholder as one extra token
 * ```ts
 * import type { ClipTokenizerOptions } from "./clip_tokenizer.ts";
 * const options: ClipTokenizerOptions = { addedTokens: ["<cat-toy>"] };
 * console.log(options.addedTokens); // [ "<cat-toy>" ]
 * ```
 */
export interface ClipTokenizerOptions {
  /** Padded length; defaults to the folder's `model_max_length`, else 77. */
  maxLength?: number;
  /** Pad token; defaults to the folder's `pad_token`, else `<|endoftext|>` (SD v1.5). */
  padToken?: string;
  /**
   * Extra whole-word tokens, e.g. a textual-inversion placeholder (SPEC.md §10.3). Each
   * gets the next free id after the vocabulary, in order, unless it is in it already.
   */
  addedTokens?: string[];
}

type Json = Record<string, unknown>;

function tokenContent(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (value && typeof value === "object" && typeof (value as Json).content === "string") {
    return (value as Json).content as string;
  }
  return undefined;
}

async function readJson(path: string): Promise<Json | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw new Error(`Cannot read tokenizer file ${path}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text) as Json;
  } catch (error) {
    throw new Error(`Cannot parse tokenizer file ${path}: ${(error as Error).message}`);
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

function addedTokenEntry(content: string, id: number): Json {
  return {
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  };
}

/**
 * A CLIP tokenizer padded and truncated as the text encoders expect.
 *
 * @example Load the `tokenizer/` folder of a diffusers model
 * ```ts
 * import { ClipTokenizer } from "./clip_tokenizer.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.mkdir(`${dir}/tokenizer`);
 * const vocab = { "h": 0, "i</w>": 1, "hi</w>": 2, "<|startoftext|>": 3, "<|endoftext|>": 4 };
 * await Deno.writeTextFile(`${dir}/tokenizer/vocab.json`, JSON.stringify(vocab));
 * await Deno.writeTextFile(`${dir}/tokenizer/merges.txt`, "#version: 0.2\nh i</w>\n");
 * const tokenizer = await ClipTokenizer.load(dir);
 * console.log(tokenizer.encode("hi hi").slice(0, 5), tokenizer.maxLength); // Int32Array(5) [ 3, 2, 2, 4, 4 ] 77
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class ClipTokenizer {
  /** The `tokenizer.json` form it runs, e.g. to save a tokenizer built from vocab + merges. */
  readonly json: Record<string, unknown>;
  /** Padded length of {@linkcode ClipTokenizer.encode}. */
  readonly maxLength: number;
  /** Id of `<|startoftext|>`. */
  readonly bosId: number;
  /** Id of `<|endoftext|>`. */
  readonly eosId: number;
  /** Id that fills the tail. */
  readonly padId: number;

  #tokenizer: Tokenizer;

  private constructor(
    json: Record<string, unknown>,
    config: Record<string, unknown>,
    options: { maxLength: number; padToken: string },
  ) {
    if (!Number.isInteger(options.maxLength) || options.maxLength < 2) {
      throw new RangeError(
        `Invalid option maxLength: expected an integer >= 2, got ${options.maxLength}`,
      );
    }
    const tokenizer = new Tokenizer(json, config);
    this.#tokenizer = tokenizer;
    this.json = json;
    this.maxLength = options.maxLength;
    const id = (token: string, role: string) => {
      const value = tokenizer.token_to_id(token);
      if (value === undefined) {
        throw new Error(`Invalid CLIP vocabulary: ${role} token ${token} is missing`);
      }
      return value;
    };
    this.bosId = id(BOS, "start");
    this.eosId = id(EOS, "end");
    this.padId = id(options.padToken, "pad");
  }

  /**
   * Builds the tokenizer from a `vocab.json` object and the lines of `merges.txt`.
   *
   * @param vocab token → id, as in `vocab.json`
   * @param merges `merges.txt` lines (a `#version` header line is skipped) or its text
   * @param options length, pad token, added tokens
   * @returns the tokenizer
   *
   * @example
   * ```ts
   * import { ClipTokenizer } from "./clip_tokenizer.ts";
   * const vocab = { "o": 0, "k</w>": 1, "ok</w>": 2, "<|startoftext|>": 3, "<|endoftext|>": 4, "!": 5 };
   * const tokenizer = ClipTokenizer.fromVocab(vocab, "#version: 0.2\no k</w>", {
   *   maxLength: 5, padToken: "!",
   * });
   * console.log(tokenizer.encode("OK")); // Int32Array(5) [ 3, 2, 4, 5, 5 ]
   * ```
   */
  static fromVocab(
    vocab: Record<string, number>,
    merges: string[] | string,
    options: ClipTokenizerOptions = {},
  ): ClipTokenizer {
    const lines = (typeof merges === "string" ? merges.split(/\r?\n/) : merges)
      .filter((line) => line.trim() !== "" && !line.startsWith("#version"));
    for (const [token, role] of [[BOS, "start"], [EOS, "end"]]) {
      if (vocab[token!] === undefined) {
        throw new Error(`Invalid CLIP vocabulary: ${role} token ${token} is missing`);
      }
    }
    let next = Math.max(-1, ...Object.values(vocab)) + 1;
    const added = [BOS, EOS, ...(options.addedTokens ?? [])].map((content) =>
      addedTokenEntry(content, vocab[content] ?? next++)
    );
    const json: Json = {
      version: "1.0",
      truncation: null,
      padding: null,
      added_tokens: added,
      normalizer: {
        type: "Sequence",
        normalizers: [
          { type: "NFC" },
          { type: "Replace", pattern: { Regex: "\\s+" }, content: " " },
          { type: "Lowercase" },
        ],
      },
      pre_tokenizer: {
        type: "Sequence",
        pretokenizers: [
          { type: "Split", pattern: { Regex: CLIP_SPLIT }, behavior: "Removed", invert: true },
          { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false },
        ],
      },
      post_processor: null,
      decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: {
        type: "BPE",
        dropout: null,
        unk_token: EOS,
        continuing_subword_prefix: "",
        end_of_word_suffix: "</w>",
        fuse_unk: false,
        byte_fallback: false,
        vocab,
        merges: lines,
      },
    };
    return new ClipTokenizer(json, {}, {
      maxLength: options.maxLength ?? CLIP_MAX_LENGTH,
      padToken: options.padToken ?? EOS,
    });
  }

  /**
   * Builds the tokenizer from a parsed `tokenizer.json` (and optionally its
   * `tokenizer_config.json`).
   *
   * @param json parsed `tokenizer.json`
   * @param options length, pad token, added tokens, and `config`
   * @returns the tokenizer
   *
   * @example Round-trip through the `tokenizer.json` form
   * ```ts
   * import { ClipTokenizer } from "./clip_tokenizer.ts";
   * const vocab = { "n": 0, "o</w>": 1, "no</w>": 2, "<|startoftext|>": 3, "<|endoftext|>": 4 };
   * const first = ClipTokenizer.fromVocab(vocab, ["n o</w>"]);
   * const json = JSON.parse(JSON.stringify(first.json));
   * const second = ClipTokenizer.fromTokenizerJson(json, { maxLength: 4 });
   * console.log(second.encode("no")); // Int32Array(4) [ 3, 2, 4, 4 ]
   * ```
   */
  static fromTokenizerJson(
    json: Record<string, unknown>,
    options: ClipTokenizerOptions & { config?: Record<string, unknown> } = {},
  ): ClipTokenizer {
    const model = json.model as Json | undefined;
    if (!model || typeof model.vocab !== "object") {
      throw new Error("Invalid tokenizer.json: expected a model with a vocab");
    }
    const extra = options.addedTokens ?? [];
    const copy: Json = { ...json, added_tokens: [...(json.added_tokens as Json[] ?? [])] };
    if (extra.length > 0) {
      const vocab = model.vocab as Record<string, number>;
      const taken = (copy.added_tokens as Json[]).map((t) => t.id as number);
      let next = Math.max(-1, ...Object.values(vocab), ...taken) + 1;
      for (const content of extra) {
        if ((copy.added_tokens as Json[]).some((t) => t.content === content)) continue;
        (copy.added_tokens as Json[]).push(addedTokenEntry(content, vocab[content] ?? next++));
      }
    }
    const config = options.config ?? {};
    const configLength = config.model_max_length;
    return new ClipTokenizer(copy, config, {
      maxLength: options.maxLength ??
        (typeof configLength === "number" && configLength <= 4096 ? configLength : CLIP_MAX_LENGTH),
      padToken: options.padToken ?? tokenContent(config.pad_token) ?? EOS,
    });
  }

  /**
   * Loads the tokenizer of a model folder: `folder/tokenizer/` if it exists, else
   * `folder` itself; `tokenizer.json` if present, else `vocab.json` + `merges.txt`.
   * `tokenizer_config.json` and `special_tokens_map.json` give the length and pad token.
   *
   * @param folder model folder, or its `tokenizer/` folder
   * @param options overrides of length and pad token, added tokens
   * @returns the tokenizer
   *
   * @example A missing folder names what it looked for
   * ```ts
   * import { ClipTokenizer } from "./clip_tokenizer.ts";
   * try {
   *   await ClipTokenizer.load("/nonexistent-model");
   * } catch (error) {
   *   console.log((error as Error).message.startsWith("Cannot load CLIP tokenizer")); // true
   * }
   * ```
   */
  static async load(folder: string, options: ClipTokenizerOptions = {}): Promise<ClipTokenizer> {
    const dir = await isDirectory(`${folder}/tokenizer`) ? `${folder}/tokenizer` : folder;
    const config = await readJson(`${dir}/tokenizer_config.json`) ?? {};
    const special = await readJson(`${dir}/special_tokens_map.json`) ?? {};
    const padToken = options.padToken ?? tokenContent(special.pad_token) ??
      tokenContent(config.pad_token);
    const merged: Json = { ...config };
    if (padToken !== undefined) merged.pad_token = padToken;
    const json = await readJson(`${dir}/tokenizer.json`);
    if (json !== undefined) {
      return ClipTokenizer.fromTokenizerJson(json, { ...options, config: merged });
    }
    const vocab = await readJson(`${dir}/vocab.json`);
    let merges: string | undefined;
    try {
      merges = await Deno.readTextFile(`${dir}/merges.txt`);
    } catch {
      merges = undefined;
    }
    if (vocab === undefined || merges === undefined) {
      throw new Error(
        `Cannot load CLIP tokenizer from ${dir}: expected tokenizer.json, or vocab.json and merges.txt`,
      );
    }
    const configLength = config.model_max_length;
    const maxLength = options.maxLength ??
      (typeof configLength === "number" && configLength <= 4096 ? configLength : undefined);
    const resolved: ClipTokenizerOptions = { ...options };
    if (maxLength !== undefined) resolved.maxLength = maxLength;
    if (padToken !== undefined) resolved.padToken = padToken;
    return ClipTokenizer.fromVocab(vocab as Record<string, number>, merges, resolved);
  }

  /**
   * BPE tokens of `text`, without start and end tokens or padding.
   *
   * @param text the prompt
   * @returns the token strings
   *
   * @example
   * ```ts
   * import { ClipTokenizer } from "./clip_tokenizer.ts";
   * const vocab = { "u": 0, "p</w>": 1, "up</w>": 2, "<|startoftext|>": 3, "<|endoftext|>": 4 };
   * console.log(ClipTokenizer.fromVocab(vocab, ["u p</w>"]).tokenize("Up UP")); // [ "up</w>", "up</w>" ]
   * ```
   */
  tokenize(text: string): string[] {
    return this.#tokenizer.tokenize(text, { add_special_tokens: false });
  }

  /**
   * Ids of `text`: start token, at most `maxLength − 2` tokens, end token, padding.
   *
   * @param text the prompt
   * @returns `maxLength` ids
   *
   * @example Long prompts keep their end token
   * ```ts
   * import { ClipTokenizer } from "./clip_tokenizer.ts";
   * const vocab = { "a</w>": 0, "<|startoftext|>": 1, "<|endoftext|>": 2 };
   * const tokenizer = ClipTokenizer.fromVocab(vocab, [], { maxLength: 4 });
   * console.log(tokenizer.encode("a a a a a")); // Int32Array(4) [ 1, 0, 0, 2 ]
   * ```
   */
  encode(text: string): Int32Array {
    const ids = this.#tokenizer.encode(text, { add_special_tokens: false }).ids;
    const out = new Int32Array(this.maxLength).fill(this.padId);
    const kept = Math.min(ids.length, this.maxLength - 2);
    out[0] = this.bosId;
    for (let i = 0; i < kept; i++) out[i + 1] = ids[i]!;
    out[kept + 1] = this.eosId;
    return out;
  }

  /**
   * Ids of several prompts, `[texts.length][maxLength]` row-major, in the integer type
   * the text encoder's `input_ids` declares.
   *
   * @param texts the prompts
   * @param options `dtype` `int32` (default) or `int64`
   * @returns the ids
   *
   * @example A conditional and an empty unconditional prompt for an int64 encoder
   * ```ts
   * import { ClipTokenizer } from "./clip_tokenizer.ts";
   * const vocab = { "a</w>": 0, "<|startoftext|>": 1, "<|endoftext|>": 2 };
   * const tokenizer = ClipTokenizer.fromVocab(vocab, [], { maxLength: 3 });
   * console.log(tokenizer.encodeBatch(["a", ""], { dtype: "int64" })); // BigInt64Array(6) [ 1n, 0n, 2n, 1n, 2n, 2n ]
   * ```
   */
  encodeBatch(texts: string[], options: { dtype: "int64" }): BigInt64Array;
  /** Ids of several prompts as `Int32Array` (the default dtype). */
  encodeBatch(texts: string[], options?: { dtype?: "int32" }): Int32Array;
  encodeBatch(
    texts: string[],
    options: { dtype?: "int32" | "int64" } = {},
  ): Int32Array | BigInt64Array {
    const dtype = options.dtype ?? "int32";
    if (dtype !== "int32" && dtype !== "int64") {
      throw new Error(
        `Invalid option dtype: expected int32 or int64, got ${JSON.stringify(dtype)}`,
      );
    }
    const ids = new Int32Array(texts.length * this.maxLength);
    texts.forEach((text, i) => ids.set(this.encode(text), i * this.maxLength));
    return dtype === "int32" ? ids : BigInt64Array.from(ids, (v) => BigInt(v));
  }
}
