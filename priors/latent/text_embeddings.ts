/**
 * Text conditioning of a diffusion UNet (SPEC.md §4 "Text"): the CLIP tokenizer and the
 * ONNX text encoder's `last_hidden_state`, computed once per prompt on ORT's device and
 * cached there in the dtype the UNet reads, so later steps only copy on the GPU.
 *
 * @module
 */
import type { Gpu } from "../../kernels/gpu.ts";
import { requireInt } from "../../kernels/validate.ts";
import type { ClipTokenizer } from "../onnx/clip_tokenizer.ts";
import type { OrtModel } from "../onnx/ort_model.ts";
import { F16Cast } from "./f16_cast.ts";

/**
 * Float element types a UNet takes its conditioning in.
 *
 * @example
 * ```ts
 * import type { FloatDtype } from "./text_embeddings.ts";
 * const dtype: FloatDtype = "float16";
 * console.log(dtype); // float16
 * ```
 */
export type FloatDtype = "float32" | "float16";

/**
 * Options of {@linkcode TextEmbeddings.create}.
 *
 * @example
 * ```ts
 * import type { TextEmbeddingsOptions } from "./text_embeddings.ts";
 * const partial: Partial<TextEmbeddingsOptions> = { dtype: "float16", maxCached: 4 };
 * console.log(partial.maxCached); // 4
 * ```
 */
export interface TextEmbeddingsOptions {
  /** The prompt tokenizer (`ClipTokenizer.load(modelFolder)`). */
  tokenizer: ClipTokenizer;
  /** The text encoder: `input_ids` (int32 or int64) `[1, L]` → `last_hidden_state` `[1, L, D]`. */
  encoder: OrtModel;
  /** Element type of the cached embeddings (the UNet's `encoder_hidden_states`); float32 by default. */
  dtype?: FloatDtype;
  /** Prompts kept on the GPU; the least recently added goes first. Defaults to 16. */
  maxCached?: number;
}

function elementBytes(dtype: FloatDtype): number {
  return dtype === "float16" ? 2 : 4;
}

/**
 * Prompt embeddings on the GPU, `[tokens][hidden]` each, computed on first use.
 *
 * @example A text-encoder stand-in with hidden size 8
 * ```ts
 * import { buildOnnxFixture } from "../onnx/onnx_fixture.ts";
 * import { ClipTokenizer } from "../onnx/clip_tokenizer.ts";
 * import { OrtRuntime } from "../onnx/ort_runtime.ts";
 * import { Gpu } from "../../kernels/gpu.ts";
 * import { TextEmbeddings } from "./text_embeddings.ts";
 * const runtime = await OrtRuntime.create();
 * const gpu = Gpu.wrap(runtime.device!, { log: null });
 * const encoder = await runtime.createModel(buildOnnxFixture({
 *   inputs: [{ name: "input_ids", dtype: "int32", shape: [1, 77] }],
 *   outputs: [{ name: "last_hidden_state", dtype: "float32", shape: [1, 77, 8] }],
 * }).model);
 * const tokenizer = ClipTokenizer.fromVocab({ "a</w>": 0, "<|startoftext|>": 1, "<|endoftext|>": 2 }, []);
 * const text = await TextEmbeddings.create(gpu, { tokenizer, encoder });
 * const a = await text.get("a");
 * console.log(text.tokens, text.hidden, a === await text.get("a"), a.size); // 77 8 true 2464
 * text.destroy();
 * ```
 */
export class TextEmbeddings {
  /** Tokens per prompt (77 for CLIP). */
  readonly tokens: number;
  /** Hidden size D (768 for SD v1.5). */
  readonly hidden: number;
  /** Element type of the cached embeddings. */
  readonly dtype: FloatDtype;
  /** The text encoder. */
  readonly encoder: OrtModel;
  readonly #gpu: Gpu;
  readonly #tokenizer: ClipTokenizer;
  readonly #idsType: "int32" | "int64";
  readonly #outputType: FloatDtype;
  readonly #cast: F16Cast;
  readonly #maxCached: number;
  readonly #cache = new Map<string, Promise<GPUBuffer>>();
  #last: Promise<unknown> = Promise.resolve();
  // Cast scratch of computed prompts, freed in destroy(): the queue may still read it.
  readonly #scratch: { destroy(): void }[] = [];

  private constructor(
    gpu: Gpu,
    parts: {
      options: TextEmbeddingsOptions;
      hidden: number;
      idsType: "int32" | "int64";
      outputType: FloatDtype;
      cast: F16Cast;
    },
  ) {
    this.#gpu = gpu;
    this.#tokenizer = parts.options.tokenizer;
    this.encoder = parts.options.encoder;
    this.tokens = parts.options.tokenizer.maxLength;
    this.hidden = parts.hidden;
    this.dtype = parts.options.dtype ?? "float32";
    this.#idsType = parts.idsType;
    this.#outputType = parts.outputType;
    this.#cast = parts.cast;
    this.#maxCached = parts.options.maxCached ?? 16;
  }

  /**
   * Checks the encoder's declared inputs and outputs against the tokenizer; call once.
   *
   * @param gpu the toolkit's view of ORT's device
   * @param options tokenizer, encoder, dtype and cache size
   * @returns the cache, empty
   * @throws {Error} naming the encoder and the expected names, dtypes and shapes
   */
  static async create(gpu: Gpu, options: TextEmbeddingsOptions): Promise<TextEmbeddings> {
    const enc = options.encoder;
    if (enc.runtime.device !== gpu.device || !enc.outputsOnGpu) {
      throw new Error(
        `Invalid option encoder: ${enc.name} must run on the toolkit's device with outputs on the GPU (webgpu execution provider)`,
      );
    }
    const ids = enc.inputs.find((i) => i.name === "input_ids");
    const out = enc.outputs.find((o) => o.name === "last_hidden_state");
    const tokens = options.tokenizer.maxLength;
    if (ids === undefined || (ids.dtype !== "int32" && ids.dtype !== "int64")) {
      throw new Error(
        `Invalid text encoder ${enc.name}: expected an input input_ids of dtype int32 or int64 and shape [1, ${tokens}], got ${
          ids === undefined ? "none" : `${ids.dtype} [${ids.shape}]`
        }`,
      );
    }
    const hidden = out?.shape[2];
    if (
      out === undefined || (out.dtype !== "float32" && out.dtype !== "float16") ||
      out.shape.length !== 3 || typeof hidden !== "number"
    ) {
      throw new Error(
        `Invalid text encoder ${enc.name}: expected an output last_hidden_state of dtype float32 or float16 and shape [1, ${tokens}, D] with a fixed D, got ${
          out === undefined ? "none" : `${out.dtype} [${out.shape}]`
        }`,
      );
    }
    requireInt("maxCached", options.maxCached ?? 16, { min: 2 });
    return new TextEmbeddings(gpu, {
      options,
      hidden,
      idsType: ids.dtype,
      outputType: out.dtype,
      cast: await F16Cast.create(gpu),
    });
  }

  /** Bytes of one prompt's embeddings in {@linkcode TextEmbeddings.dtype}. */
  get bytes(): number {
    return this.tokens * this.hidden * elementBytes(this.dtype);
  }

  /**
   * The embeddings of `prompt`, `[tokens][hidden]` in {@linkcode TextEmbeddings.dtype};
   * the text encoder runs on the first request only. The buffer stays owned by the cache.
   *
   * @param prompt the text (`""` for the unconditional branch)
   * @returns the buffer, valid until it leaves the cache or {@linkcode TextEmbeddings.destroy}
   */
  get(prompt: string): Promise<GPUBuffer> {
    let hit = this.#cache.get(prompt);
    if (hit === undefined) {
      // One session runs one call at a time: queue behind the previous prompt.
      hit = this.#last.then(() => this.#compute(prompt));
      this.#last = hit.catch(() => {});
      this.#cache.set(prompt, hit);
      hit.catch(() => this.#cache.delete(prompt));
      if (this.#cache.size > this.#maxCached) {
        const [oldest, buffer] = this.#cache.entries().next().value!;
        this.#cache.delete(oldest);
        buffer.then((b) => b.destroy(), () => {});
      }
    }
    return hit;
  }

  async #compute(prompt: string): Promise<GPUBuffer> {
    const ids = this.#idsType === "int64"
      ? this.#tokenizer.encodeBatch([prompt], { dtype: "int64" })
      : this.#tokenizer.encodeBatch([prompt]);
    const count = this.tokens * this.hidden;
    const gpu = this.#gpu;
    const target = gpu.createBuffer(this.bytes, { label: `text ${prompt}`, align: 16 });
    if (this.#outputType === this.dtype) {
      await this.encoder.runInto(
        { input_ids: { data: ids, dtype: this.#idsType, dims: [1, this.tokens] } },
        { last_hidden_state: target },
      );
      return target;
    }
    const staging = gpu.createBuffer(count * elementBytes(this.#outputType), { align: 16 });
    await this.encoder.runInto(
      { input_ids: { data: ids, dtype: this.#idsType, dims: [1, this.tokens] } },
      { last_hidden_state: staging },
    );
    const call = this.#cast.bind(this.dtype === "float16" ? "toF16" : "toF32", staging, target, {
      count,
    });
    gpu.submit((e) => {
      const pass = e.beginComputePass({ label: "text embeddings cast" });
      call.encode(pass);
      pass.end();
    });
    this.#scratch.push(call, staging);
    return target;
  }

  /** Frees every cached embedding. */
  destroy(): void {
    for (const b of this.#cache.values()) b.then((buffer) => buffer.destroy(), () => {});
    this.#cache.clear();
    for (const s of this.#scratch.splice(0)) s.destroy();
  }
}
