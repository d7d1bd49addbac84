/**
 * A {@linkcode Denoiser} backed by an ONNX diffusion UNet with the names optimum-cli and
 * diffusers export (`sample` `[B, 4, h, w]`, `timestep`, `encoder_hidden_states`
 * `[B, 77, D]` → `out_sample`), run by ONNX Runtime on the toolkit's own device. The
 * conditional and unconditional branches go in as one batch of 2B (cond first), or as
 * two runs of B when the model fixes its batch size to B. f16 exports are fed and read
 * through GPU casts; nothing is read back.
 *
 * Video UNets (ModelScope's UNet3D, `latent.frames` set) take `sample` `[B, C, F, h, w]`:
 * the request's frame-major z_t (`[B][F][C][h][w]`, as the VAE encodes frames) is
 * reordered channel-major on the way in and ε̂ back on the way out (`latent_frames.ts`).
 *
 * @module
 */
import type { Gpu } from "../../kernels/gpu.ts";
import { requireInt } from "../../kernels/validate.ts";
import type { Denoiser, DenoiseRequest } from "../denoiser.ts";
import type { OrtModel } from "../onnx/ort_model.ts";
import { encodeCasts, F16Cast, type F16CastCall } from "./f16_cast.ts";
import { encodeLatentFrames, latentFrameCopies, type LatentFrameCopy } from "./latent_frames.ts";
import type { FloatDtype, TextEmbeddings } from "./text_embeddings.ts";
import {
  declaredValue,
  timestepFeed,
  timestepInput,
  type UnetTimestepType,
} from "./unet_inputs.ts";
import { fitsShape, floatDtypeOf, unetBatching } from "./unet_checks.ts";

/**
 * Options of {@linkcode UnetDenoiser.create}.
 *
 * @example
 * ```ts
 * import type { UnetDenoiserOptions } from "./unet_denoiser.ts";
 * const image: UnetDenoiserOptions["latent"] = { channels: 4, height: 64, width: 64 };
 * // ModelScope's UNet3D: sample [B, 4, 16, 32, 32], one clip per item
 * const clip: UnetDenoiserOptions["latent"] = { channels: 4, frames: 16, height: 32, width: 32 };
 * console.log(image.channels * image.height * image.width, clip.frames! * 4 * 32 * 32); // 16384 65536
 * ```
 */
export interface UnetDenoiserOptions {
  /** The UNet session. */
  unet: OrtModel;
  /** Prompt embeddings in the UNet's dtype. */
  embeddings: TextEmbeddings;
  /** Most items per call (B). */
  maxItems: number;
  /**
   * Latent sizes of one item; `frames` (video UNets) makes `sample` 5-D,
   * `[B, channels, frames, height, width]`, and each item a clip of that many frames.
   */
  latent: { channels: number; height: number; width: number; frames?: number };
  /** Prompt when a request's conditioning has none; defaults to `""`. */
  prompt?: string;
  /** Prompt of the unconditional branch; defaults to `""` (the original's empty negative). */
  negativePrompt?: string;
}

/**
 * How a UNet takes the batch: `joint` runs cond and uncond as one batch of 2B,
 * `separate` runs them one after the other (a model exported with a fixed batch of B).
 *
 * @example
 * ```ts
 * import type { UnetBatching } from "./unet_denoiser.ts";
 * const modes: UnetBatching[] = ["joint", "separate"];
 * console.log(modes.length); // 2
 * ```
 */
export type UnetBatching = "joint" | "separate";

/**
 * The UNet denoiser. Buffers, casts and bind groups are built once for `maxItems`;
 * {@linkcode UnetDenoiser.predict} awaits the cached prompt embeddings, records GPU copies,
 * runs the session with GPU feeds and copies ε̂ into the request's buffers.
 *
 * @example A UNet stand-in that takes cond and uncond in one batch of 2
 * ```ts
 * import { buildOnnxFixture } from "../onnx/onnx_fixture.ts";
 * import { ClipTokenizer } from "../onnx/clip_tokenizer.ts";
 * import { OrtRuntime } from "../onnx/ort_runtime.ts";
 * import { Gpu } from "../../kernels/gpu.ts";
 * import { TextEmbeddings } from "./text_embeddings.ts";
 * import { UnetDenoiser } from "./unet_denoiser.ts";
 * const runtime = await OrtRuntime.create();
 * const gpu = Gpu.wrap(runtime.device!, { log: null });
 * const tokenizer = ClipTokenizer.fromVocab({ "a</w>": 0, "<|startoftext|>": 1, "<|endoftext|>": 2 }, []);
 * const encoder = await runtime.createModel(buildOnnxFixture({
 *   inputs: [{ name: "input_ids", dtype: "int32", shape: [1, 77] }],
 *   outputs: [{ name: "last_hidden_state", dtype: "float32", shape: [1, 77, 8] }],
 * }).model);
 * const unet = await runtime.createModel(buildOnnxFixture({
 *   inputs: [
 *     { name: "sample", dtype: "float32", shape: [2, 4, 2, 2] },
 *     { name: "timestep", dtype: "int64", shape: [2] },
 *     { name: "encoder_hidden_states", dtype: "float32", shape: [2, 77, 8] },
 *   ],
 *   outputs: [{ name: "out_sample", dtype: "float32", shape: [2, 4, 2, 2] }],
 * }).model);
 * const embeddings = await TextEmbeddings.create(gpu, { tokenizer, encoder });
 * const denoiser = await UnetDenoiser.create(gpu, {
 *   unet, embeddings, maxItems: 1, latent: { channels: 4, height: 2, width: 2 },
 * });
 * const epsCond = gpu.createBuffer(64);
 * await denoiser.predict({
 *   noisy: gpu.createBuffer(new Float32Array(16).fill(1)), items: 1, perItem: 16, framesPerItem: 1,
 *   width: 2, height: 2, timesteps: [400], conditioning: { prompt: "a", cameras: [], times: [0] },
 *   epsCond, epsUncond: gpu.createBuffer(64),
 * });
 * console.log(denoiser.batching, new Float32Array(await gpu.read(epsCond)).every(Number.isFinite)); // joint true
 * denoiser.destroy();
 * ```
 */
export class UnetDenoiser implements Denoiser {
  /** Name for logs. */
  readonly name: string;
  /** The UNet session. */
  readonly unet: OrtModel;
  /** Whether cond and uncond share one run. */
  readonly batching: UnetBatching;
  /** Element type of `sample`, `encoder_hidden_states` and `out_sample`. */
  readonly dtype: FloatDtype;
  /** Element type of `timestep`. */
  readonly timestepType: UnetTimestepType;
  /** Most items per call. */
  readonly maxItems: number;
  /** Frames per item of a video UNet's 5-D `sample`; `null` for image UNets (4-D). */
  readonly frames: number | null;
  readonly #gpu: Gpu;
  readonly #embeddings: TextEmbeddings;
  readonly #perItem: number;
  readonly #latent: readonly number[];
  readonly #scalarTimestep: boolean;
  readonly #prompt: string;
  readonly #negative: string;
  readonly #sample: GPUBuffer;
  readonly #context: GPUBuffer;
  readonly #contextUncond: GPUBuffer | null;
  readonly #output: GPUBuffer;
  // f16 models: float32 scratch the casts read from and write to (null for f32 models).
  readonly #staging: GPUBuffer | null;
  // Per item count: the casts into `sample` (cond and uncond halves) and out of `output`.
  readonly #casts: { sample: F16CastCall[]; eps: F16CastCall[] }[];
  // Per item count: frame-major → channel-major copies and back (one copy for image UNets).
  readonly #reorder: { sample: LatentFrameCopy[]; eps: LatentFrameCopy[] }[];

  private constructor(gpu: Gpu, parts: {
    options: UnetDenoiserOptions;
    batching: UnetBatching;
    dtype: FloatDtype;
    timestepType: UnetTimestepType;
    scalarTimestep: boolean;
    cast: F16Cast | null;
  }) {
    const o = parts.options;
    this.#gpu = gpu;
    this.unet = o.unet;
    this.name = `unet ${o.unet.name}`;
    this.batching = parts.batching;
    this.dtype = parts.dtype;
    this.timestepType = parts.timestepType;
    this.#scalarTimestep = parts.scalarTimestep;
    this.maxItems = o.maxItems;
    this.#embeddings = o.embeddings;
    const l = o.latent;
    this.frames = l.frames ?? null;
    this.#latent = this.frames === null
      ? [l.channels, l.height, l.width]
      : [l.channels, this.frames, l.height, l.width];
    this.#perItem = this.#latent.reduce((a, b) => a * b, 1);
    this.#prompt = o.prompt ?? "";
    this.#negative = o.negativePrompt ?? "";
    const bytes = this.dtype === "float16" ? 2 : 4;
    const B = o.maxItems;
    const f = (count: number, label: string) =>
      gpu.createBuffer(count * bytes, { label: `${this.name} ${label}`, align: 16 });
    this.#sample = f(2 * B * this.#perItem, "sample");
    this.#output = f(2 * B * this.#perItem, "out_sample");
    const ctx = o.embeddings.tokens * o.embeddings.hidden;
    this.#context = f((parts.batching === "joint" ? 2 : 1) * B * ctx, "encoder_hidden_states");
    this.#contextUncond = parts.batching === "separate" ? f(B * ctx, "uncond context") : null;
    this.#casts = [];
    this.#reorder = [];
    for (let items = 1; items <= B; items++) {
      const shape = {
        items,
        frames: this.frames ?? 1,
        channels: l.channels,
        plane: l.height * l.width,
      };
      this.#reorder[items] = {
        sample: latentFrameCopies(shape, { to: "channelMajor" }),
        eps: latentFrameCopies(shape, { to: "frameMajor" }),
      };
    }
    const cast = parts.cast;
    if (cast !== null) {
      // Binding the request's buffers would rebuild bind groups every call, so the casts
      // read and write this object's own buffers and predict copies around them.
      this.#staging = gpu.createBuffer(4 * 2 * B * this.#perItem, { label: `${this.name} f32` });
      for (let items = 1; items <= B; items++) {
        const n = items * this.#perItem;
        this.#casts[items] = {
          sample: [
            cast.bind("toF16", this.#staging, this.#sample, { count: n }),
            cast.bind("toF16", this.#staging, this.#sample, { count: n, dstOffset: n }),
          ],
          eps: [cast.bind("toF32", this.#output, this.#staging, { count: 2 * n })],
        };
      }
    } else {
      this.#staging = null;
    }
  }

  /**
   * Checks the UNet's declared inputs and outputs and builds the buffers; call once.
   *
   * @param gpu the toolkit's view of ORT's device
   * @param options UNet, embeddings, batch size, latent sizes and prompts
   * @returns the denoiser
   * @throws {Error} naming the UNet, the input and the expected dtype or shape
   */
  static async create(gpu: Gpu, options: UnetDenoiserOptions): Promise<UnetDenoiser> {
    const unet = options.unet;
    const maxItems = requireInt("maxItems", options.maxItems, { min: 1 });
    const l = options.latent;
    for (const k of ["channels", "height", "width"] as const) {
      requireInt(`latent.${k}`, l[k], { min: 1 });
    }
    if (l.frames !== undefined) requireInt("latent.frames", l.frames, { min: 1 });
    if (unet.runtime.device !== gpu.device || !unet.outputsOnGpu) {
      throw new Error(
        `Invalid option unet: ${unet.name} must run on the toolkit's device with outputs on the GPU (webgpu execution provider)`,
      );
    }
    const sample = declaredValue(unet, "sample", { list: "inputs" });
    const timestep = timestepInput(unet);
    const context = declaredValue(unet, "encoder_hidden_states", { list: "inputs" });
    const out = declaredValue(unet, "out_sample", { list: "outputs" });
    const dtype = floatDtypeOf(unet, [sample, context, out]);
    const want = l.frames === undefined
      ? [l.channels, l.height, l.width]
      : [l.channels, l.frames, l.height, l.width];
    if (!fitsShape(sample.shape, want) || !fitsShape(out.shape, want)) {
      throw new Error(
        `Invalid UNet ${unet.name}: expected sample and out_sample of shape [B, ${
          want.join(", ")
        }]${
          l.frames === undefined ? "" : " ([B, channels, frames, h, w])"
        }, got [${sample.shape}] and [${out.shape}]`,
      );
    }
    const e = options.embeddings;
    if (!fitsShape(context.shape, [e.tokens, e.hidden])) {
      throw new Error(
        `Invalid UNet ${unet.name}: expected encoder_hidden_states of shape [B, ${e.tokens}, ${e.hidden}] (the text encoder's last_hidden_state), got [${context.shape}]`,
      );
    }
    if (e.dtype !== dtype) {
      throw new Error(
        `Invalid option embeddings: the UNet ${unet.name} takes ${dtype} encoder_hidden_states, the embeddings are ${e.dtype}`,
      );
    }
    const batching = unetBatching(unet, sample, { maxItems });
    const cast = dtype === "float16" ? await F16Cast.create(gpu) : null;
    return new UnetDenoiser(gpu, {
      options: { ...options, maxItems },
      batching,
      dtype,
      timestepType: timestep.type,
      scalarTimestep: timestep.scalar,
      cast,
    });
  }

  #timesteps(ts: readonly number[], repeat: number) {
    return timestepFeed(ts, {
      type: this.timestepType,
      scalar: this.#scalarTimestep,
      repeat,
      model: this.unet.name,
    });
  }

  /**
   * Writes ε̂_cond and ε̂_uncond of the request's z_t.
   *
   * @param request the noisy latents `[items][c·h·w]` (`[items][F][c·h·w]` for video UNets),
   *   timesteps and prompt
   * @returns a promise settling once the work is queued
   */
  async predict(request: DenoiseRequest): Promise<void> {
    const B = requireInt("items", request.items, { min: 1, max: this.maxItems });
    if (request.perItem !== this.#perItem) {
      throw new RangeError(
        `Invalid option perItem: the UNet ${this.unet.name} takes ${this.#perItem} values per item (${
          this.#latent.join("×")
        }), got ${request.perItem}`,
      );
    }
    if (request.framesPerItem !== (this.frames ?? 1)) {
      throw new RangeError(
        `Invalid option framesPerItem: the UNet ${this.unet.name} takes ${
          this.frames ?? 1
        } frames per item, got ${request.framesPerItem}`,
      );
    }
    const cond = await this.#embeddings.get(request.conditioning.prompt ?? this.#prompt);
    const uncond = await this.#embeddings.get(this.#negative);
    const n = B * this.#perItem;
    const f32Bytes = 4 * n;
    const ctxBytes = this.#embeddings.bytes;
    const joint = this.batching === "joint";
    const reorder = this.#reorder[B]!;
    this.#gpu.submit((e) => {
      if (this.#staging === null) {
        encodeLatentFrames(e, reorder.sample, { src: request.noisy, dst: this.#sample });
        if (joint) {
          encodeLatentFrames(e, reorder.sample, {
            src: request.noisy,
            dst: this.#sample,
            dstOffset: f32Bytes,
          });
        }
      } else {
        encodeLatentFrames(e, reorder.sample, { src: request.noisy, dst: this.#staging });
        encodeCasts(e, this.#casts[B]!.sample, { label: `${this.name} sample f16` });
      }
      for (let k = 0; k < B; k++) {
        e.copyBufferToBuffer(cond, 0, this.#context, k * ctxBytes, ctxBytes);
        const [target, at] = joint
          ? [this.#context, (B + k) * ctxBytes]
          : [this.#contextUncond!, k * ctxBytes];
        e.copyBufferToBuffer(uncond, 0, target, at, ctxBytes);
      }
    });
    const dims = this.#latent;
    const hidden = [this.#embeddings.tokens, this.#embeddings.hidden];
    const bytes = this.dtype === "float16" ? 2 : 4;
    if (joint) {
      await this.unet.runInto({
        sample: { buffer: this.#sample, dtype: this.dtype, dims: [2 * B, ...dims] },
        timestep: this.#timesteps(request.timesteps, 2),
        encoder_hidden_states: {
          buffer: this.#context,
          dtype: this.dtype,
          dims: [2 * B, ...hidden],
        },
      }, { out_sample: this.#output });
    } else {
      for (
        const [context, offset] of [[this.#context, 0], [this.#contextUncond!, n * bytes]] as const
      ) {
        await this.unet.runInto({
          sample: { buffer: this.#sample, dtype: this.dtype, dims: [B, ...dims] },
          timestep: this.#timesteps(request.timesteps, 1),
          encoder_hidden_states: { buffer: context, dtype: this.dtype, dims: [B, ...hidden] },
        }, { out_sample: { buffer: this.#output, offset } });
      }
    }
    this.#gpu.submit((e) => {
      let from = this.#output;
      if (this.#staging !== null) {
        encodeCasts(e, this.#casts[B]!.eps, { label: `${this.name} out_sample f32` });
        from = this.#staging;
      }
      encodeLatentFrames(e, reorder.eps, { src: from, dst: request.epsCond });
      encodeLatentFrames(e, reorder.eps, {
        src: from,
        srcOffset: f32Bytes,
        dst: request.epsUncond,
      });
    });
  }

  /** Frees the denoiser's buffers (not the session or the embeddings, which callers share). */
  destroy(): void {
    for (const set of this.#casts) {
      if (set === undefined) continue;
      for (const c of [...set.sample, ...set.eps]) c.destroy();
    }
    for (
      const b of [this.#sample, this.#output, this.#context, this.#contextUncond, this.#staging]
    ) {
      b?.destroy();
    }
  }
}
