/**
 * A {@linkcode Denoiser} of SD v1.5 steered by ControlNet-tile (SPEC.md §4 table, §5.4): per
 * call the ControlNet (`sample`, `timestep`, `encoder_hidden_states`, `controlnet_cond` →
 * `down_block_res_0..11`, `mid_block_res`) sees z_t, its own prompt ("best quality, high
 * resolution" / the negative) and the control renders resized to the VAE input in [0, 1]
 * in BOTH CFG halves; the SD UNet then takes z_t, the main prompt / the negative and the
 * residuals (conditioning scale 1.0: fed as they are). Cond and uncond go in one batch of 2B
 * or as two runs of B, f16 exports through GPU casts, and nothing is read back.
 *
 * @module
 */
import type { Gpu } from "../../kernels/gpu.ts";
import { requireInt } from "../../kernels/validate.ts";
import type { Denoiser, DenoiseRequest } from "../denoiser.ts";
import { MODEL_FOLDERS } from "../models/model_folders.ts";
import type { OrtGpuFeed, OrtModel, OrtValueInfo } from "../onnx/ort_model.ts";
import { ControlImage } from "./control_image.ts";
import { encodeCasts, F16Cast, type F16CastCall } from "./f16_cast.ts";
import type { FloatDtype, TextEmbeddings } from "./text_embeddings.ts";
import type { UnetBatching } from "./unet_denoiser.ts";
import {
  declaredValue,
  timestepFeed,
  timestepInput,
  type UnetTimestepType,
} from "./unet_inputs.ts";
import { fitsShape, unetBatching } from "./unet_checks.ts";

/**
 * The ControlNet prompt of the refinement stage (`Animate124 main: guidance/cn_utils.py`).
 *
 * @example
 * ```ts
 * import { CONTROL_PROMPT } from "./controlnet_denoiser.ts";
 * console.log(CONTROL_PROMPT); // best quality, high resolution
 * ```
 */
export const CONTROL_PROMPT = "best quality, high resolution";

const SPEC = MODEL_FOLDERS.controlnet.files.find((f) => f.path === "controlnet/model.onnx")!;
// The residuals' declared shapes at SD's 128² latent, to scale when an export leaves sizes
// symbolic.
const SPEC_LATENT = SPEC.inputs!.find((i) => i.name === "sample")!.shape[2] as number;

/**
 * The residual names, in the order the ControlNet writes and the UNet reads them.
 *
 * @example
 * ```ts
 * import { CONTROLNET_RESIDUALS } from "./controlnet_denoiser.ts";
 * console.log(CONTROLNET_RESIDUALS.length, CONTROLNET_RESIDUALS.at(-1)); // 13 mid_block_res
 * ```
 */
export const CONTROLNET_RESIDUALS: readonly string[] = SPEC.outputs!.map((o) => o.name);

/**
 * Options of {@linkcode ControlNetDenoiser.create}.
 *
 * @example
 * ```ts
 * import type { ControlNetDenoiserOptions } from "./controlnet_denoiser.ts";
 * const sizes: Partial<ControlNetDenoiserOptions> = {
 *   maxItems: 2, latent: { channels: 4, height: 128, width: 128 }, controlSize: 1024,
 * };
 * console.log(sizes.controlSize! / sizes.latent!.height); // 8
 * ```
 */
export interface ControlNetDenoiserOptions {
  /** The ControlNet-tile session. */
  controlnet: OrtModel;
  /** The SD UNet session that takes the residuals. */
  unet: OrtModel;
  /** Prompt embeddings in the networks' dtype (one text encoder serves both). */
  embeddings: TextEmbeddings;
  /** Most items (frames) per call, B. */
  maxItems: number;
  /** Latent sizes of one item. */
  latent: { channels: number; height: number; width: number };
  /** Size of the control renders (`conditioning.control`, the render size). */
  render: { width: number; height: number };
  /** Side of `controlnet_cond` (the VAE input size). */
  controlSize: number;
  /** UNet prompt when a request's conditioning has none; defaults to `""`. */
  prompt?: string;
  /** Prompt of both unconditional branches; defaults to `""`. */
  negativePrompt?: string;
  /** The ControlNet's conditional prompt; defaults to {@linkcode CONTROL_PROMPT}. */
  controlPrompt?: string;
}

/** Channels, height and width of one item of a tensor. */
type ItemShape = readonly [number, number, number];

/**
 * The ControlNet-tile + SD denoiser. Buffers, casts and the control-image kernel are built
 * once for `maxItems`; {@linkcode ControlNetDenoiser.predict} awaits the cached prompt
 * embeddings, records GPU copies and the control resize, runs the ControlNet and then the
 * UNet with GPU feeds, and copies ε̂ into the request's buffers.
 *
 * @example Stand-ins with the real names; ε̂ depends on the control image
 * ```ts
 * import { buildOnnxFixture } from "../onnx/onnx_fixture.ts";
 * import { ClipTokenizer } from "../onnx/clip_tokenizer.ts";
 * import { OrtRuntime } from "../onnx/ort_runtime.ts";
 * import { Gpu } from "../../kernels/gpu.ts";
 * import { TextEmbeddings } from "./text_embeddings.ts";
 * import { ControlNetDenoiser, CONTROLNET_RESIDUALS } from "./controlnet_denoiser.ts";
 * const runtime = await OrtRuntime.create();
 * const gpu = Gpu.wrap(runtime.device!, { log: null });
 * const f = (name: string, shape: number[]) => ({ name, dtype: "float32" as const, shape });
 * const common = [f("sample", [2, 4, 2, 2]), { name: "timestep", dtype: "int64" as const, shape: [2] },
 *   f("encoder_hidden_states", [2, 77, 8])];
 * const residuals = CONTROLNET_RESIDUALS.map((name) => f(name, [2, 5, 1, 1]));
 * const controlnet = await runtime.createModel(buildOnnxFixture({
 *   inputs: [...common, f("controlnet_cond", [2, 3, 4, 4])], outputs: residuals,
 * }).model);
 * const unet = await runtime.createModel(buildOnnxFixture({
 *   inputs: [...common, ...residuals], outputs: [f("out_sample", [2, 4, 2, 2])],
 * }).model);
 * const encoder = await runtime.createModel(buildOnnxFixture({
 *   inputs: [{ name: "input_ids", dtype: "int32", shape: [1, 77] }],
 *   outputs: [f("last_hidden_state", [1, 77, 8])],
 * }).model);
 * const tokenizer = ClipTokenizer.fromVocab({ "a</w>": 0, "<|startoftext|>": 1, "<|endoftext|>": 2 }, []);
 * const embeddings = await TextEmbeddings.create(gpu, { tokenizer, encoder });
 * const denoiser = await ControlNetDenoiser.create(gpu, {
 *   controlnet, unet, embeddings, maxItems: 1, latent: { channels: 4, height: 2, width: 2 },
 *   render: { width: 2, height: 2 }, controlSize: 4,
 * });
 * const eps = async (grey: number) => {
 *   const epsCond = gpu.createBuffer(64);
 *   await denoiser.predict({
 *     noisy: gpu.createBuffer(new Float32Array(16).fill(1)), items: 1, perItem: 16, framesPerItem: 1,
 *     width: 2, height: 2, timesteps: [400], epsCond, epsUncond: gpu.createBuffer(64),
 *     conditioning: { cameras: [], times: [0], control: gpu.createBuffer(new Float32Array(12).fill(grey)) },
 *   });
 *   return new Float32Array(await gpu.read(epsCond))[0]!;
 * };
 * console.log(denoiser.batching, (await eps(1)) > (await eps(0))); // joint true
 * denoiser.destroy();
 * ```
 */
export class ControlNetDenoiser implements Denoiser {
  /** Name for logs. */
  readonly name: string;
  /** The ControlNet session. */
  readonly controlnet: OrtModel;
  /** The UNet session. */
  readonly unet: OrtModel;
  /** Whether cond and uncond share one run (both networks alike). */
  readonly batching: UnetBatching;
  /** Element type of every float input and output of both networks. */
  readonly dtype: FloatDtype;
  /** Most items per call. */
  readonly maxItems: number;
  /**
   * `controlnet_cond` in f32, `[halves][B][3][S][S]` (halves 2 when joint): the control
   * renders resized, in [0, 1].
   */
  readonly controlImage: GPUBuffer;
  /**
   * The residuals of the latest call, one set per run (one when joint, cond then uncond
   * when separate), in {@linkcode CONTROLNET_RESIDUALS} order, `[batch][C][h][w]` each.
   */
  readonly residuals: readonly (readonly GPUBuffer[])[];
  /** Per residual: its `[C, h, w]`. */
  readonly residualShapes: readonly (readonly [number, number, number])[];
  readonly #gpu: Gpu;
  readonly #embeddings: TextEmbeddings;
  readonly #perItem: number;
  readonly #latent: ItemShape;
  readonly #controlSize: number;
  readonly #timestep: { type: UnetTimestepType; scalar: boolean }[];
  readonly #prompts: { prompt: string; negative: string; control: string };
  readonly #sample: GPUBuffer;
  readonly #output: GPUBuffer;
  readonly #controlCond: GPUBuffer;
  readonly #context: GPUBuffer;
  readonly #controlContext: GPUBuffer;
  readonly #uncondContext: GPUBuffer | null;
  readonly #staging: GPUBuffer | null;
  readonly #control: ControlImage;
  // Per item count (f16 models only): casts into sample and controlnet_cond, out of output.
  readonly #casts: { input: F16CastCall[]; eps: F16CastCall[] }[];

  private constructor(gpu: Gpu, parts: {
    options: ControlNetDenoiserOptions;
    batching: UnetBatching;
    dtype: FloatDtype;
    timestep: { type: UnetTimestepType; scalar: boolean }[];
    residualShapes: ItemShape[];
    control: ControlImage;
    controlImage: GPUBuffer;
    cast: F16Cast | null;
  }) {
    const o = parts.options;
    this.#gpu = gpu;
    this.controlnet = o.controlnet;
    this.unet = o.unet;
    this.name = `controlnet ${o.controlnet.name} + unet ${o.unet.name}`;
    this.batching = parts.batching;
    this.dtype = parts.dtype;
    this.maxItems = o.maxItems;
    this.#embeddings = o.embeddings;
    this.#latent = [o.latent.channels, o.latent.height, o.latent.width];
    this.#perItem = o.latent.channels * o.latent.height * o.latent.width;
    this.#controlSize = o.controlSize;
    this.#timestep = parts.timestep;
    this.#prompts = {
      prompt: o.prompt ?? "",
      negative: o.negativePrompt ?? "",
      control: o.controlPrompt ?? CONTROL_PROMPT,
    };
    this.residualShapes = parts.residualShapes;
    this.#control = parts.control;
    this.controlImage = parts.controlImage;
    const joint = parts.batching === "joint";
    const bytes = this.dtype === "float16" ? 2 : 4;
    const B = o.maxItems;
    const f = (count: number, label: string) =>
      gpu.createBuffer(count * bytes, { label: `${this.name} ${label}`, align: 16 });
    this.#sample = f(2 * B * this.#perItem, "sample");
    this.#output = f(2 * B * this.#perItem, "out_sample");
    const ctx = o.embeddings.tokens * o.embeddings.hidden;
    const halfBatch = joint ? 2 * B : B;
    this.#context = f(halfBatch * ctx, "unet context");
    this.#controlContext = f(halfBatch * ctx, "controlnet context");
    this.#uncondContext = joint ? null : f(B * ctx, "uncond context");
    this.residuals = Array.from(
      { length: joint ? 1 : 2 },
      (_, run) =>
        parts.residualShapes.map((s, k) =>
          f(halfBatch * s[0] * s[1] * s[2], `${CONTROLNET_RESIDUALS[k]} run ${run}`)
        ),
    );
    const plane = 3 * o.controlSize * o.controlSize;
    this.#casts = [];
    const cast = parts.cast;
    if (cast !== null) {
      this.#controlCond = f(halfBatch * plane, "controlnet_cond");
      this.#staging = gpu.createBuffer(4 * 2 * B * this.#perItem, { label: `${this.name} f32` });
      for (let items = 1; items <= B; items++) {
        const n = items * this.#perItem;
        const half = joint ? 2 * items : items;
        this.#casts[items] = {
          input: [
            cast.bind("toF16", this.#staging, this.#sample, { count: n }),
            ...(joint
              ? [cast.bind("toF16", this.#staging, this.#sample, { count: n, dstOffset: n })]
              : []),
            cast.bind("toF16", this.controlImage, this.#controlCond, { count: half * plane }),
          ],
          eps: [cast.bind("toF32", this.#output, this.#staging, { count: 2 * n })],
        };
      }
    } else {
      this.#controlCond = this.controlImage;
      this.#staging = null;
    }
  }

  /**
   * Checks both networks' declared inputs and outputs and builds the buffers; call once.
   *
   * @param gpu the toolkit's view of ORT's device
   * @param options networks, embeddings, batch size, sizes and prompts
   * @returns the denoiser
   * @throws {Error} naming the network, the value and the expected dtype or shape
   */
  static async create(
    gpu: Gpu,
    options: ControlNetDenoiserOptions,
  ): Promise<ControlNetDenoiser> {
    const { controlnet, unet } = options;
    const maxItems = requireInt("maxItems", options.maxItems, { min: 1 });
    const l = options.latent;
    for (const k of ["channels", "height", "width"] as const) {
      requireInt(`latent.${k}`, l[k], { min: 1 });
    }
    requireInt("render.width", options.render.width, { min: 1 });
    requireInt("render.height", options.render.height, { min: 1 });
    const S = requireInt("controlSize", options.controlSize, { min: 1 });
    for (const model of [controlnet, unet]) {
      if (model.runtime.device !== gpu.device || !model.outputsOnGpu) {
        throw new Error(
          `Invalid model ${model.name}: it must run on the toolkit's device with outputs on the GPU (webgpu execution provider)`,
        );
      }
    }
    const cnRole = "ControlNet";
    const sample = declaredValue(unet, "sample", { list: "inputs" });
    const cnSample = declaredValue(controlnet, "sample", { list: "inputs", role: cnRole });
    const dtype = sample.dtype;
    if (dtype !== "float32" && dtype !== "float16") {
      throw new Error(
        `Invalid UNet ${unet.name}: expected input sample of dtype float32 or float16, got ${dtype}`,
      );
    }
    const e = options.embeddings;
    if (e.dtype !== dtype) {
      throw new Error(
        `Invalid option embeddings: the UNet ${unet.name} takes ${dtype} encoder_hidden_states, the embeddings are ${e.dtype}`,
      );
    }
    const latent = [l.channels, l.height, l.width];
    const expect = (
      model: OrtModel,
      role: string,
      value: OrtValueInfo,
      tail: readonly number[],
      what = "",
    ) => {
      if (value.dtype !== dtype || !fitsShape(value.shape, tail)) {
        throw new Error(
          `Invalid ${role} ${model.name}: expected ${value.name} of dtype ${dtype} and shape [B, ${
            tail.join(", ")
          }]${what}, got ${value.dtype} [${value.shape}]`,
        );
      }
    };
    const context = [e.tokens, e.hidden];
    const ctxNote = " (the text encoder's last_hidden_state)";
    expect(unet, "UNet", sample, latent);
    expect(unet, "UNet", declaredValue(unet, "out_sample", { list: "outputs" }), latent);
    expect(
      unet,
      "UNet",
      declaredValue(unet, "encoder_hidden_states", { list: "inputs" }),
      context,
      ctxNote,
    );
    expect(controlnet, cnRole, cnSample, latent);
    expect(
      controlnet,
      cnRole,
      declaredValue(controlnet, "encoder_hidden_states", { list: "inputs", role: cnRole }),
      context,
      ctxNote,
    );
    expect(
      controlnet,
      cnRole,
      declaredValue(controlnet, "controlnet_cond", { list: "inputs", role: cnRole }),
      [3, S, S],
      " (the control renders at the VAE input size)",
    );
    const residualShapes: ItemShape[] = SPEC.outputs!.map((want) => {
      const out = declaredValue(controlnet, want.name, { list: "outputs", role: cnRole });
      const input = declaredValue(unet, want.name, { list: "inputs" });
      const shape = [1, 2, 3].map((k) => {
        const d = out.shape[k] ?? input.shape[k];
        if (typeof d === "number") return d;
        const fallback = typeof input.shape[k] === "number" ? input.shape[k] as number : null;
        if (fallback !== null) return fallback;
        // Symbolic in both: SD v1.5's channels, spatial sizes scaled to this latent.
        const spec = want.shape[k] as number;
        return k === 1 ? spec : Math.max(1, Math.round((spec * l.height) / SPEC_LATENT));
      }) as unknown as ItemShape;
      expect(controlnet, cnRole, out, shape);
      expect(unet, "UNet", input, shape, ` (the ControlNet's ${want.name})`);
      return shape;
    });
    const batching = unetBatching(unet, sample, { maxItems, role: "model" });
    const cnBatching = unetBatching(controlnet, cnSample, { maxItems, role: "model" });
    if (batching !== cnBatching) {
      throw new Error(
        `Invalid models: the UNet ${unet.name} takes a batch of ${
          sample.shape[0]
        } and the ControlNet ${controlnet.name} ${
          cnSample.shape[0]
        }; export both with the same (dynamic) batch`,
      );
    }
    const timestep = [timestepInput(controlnet, cnRole), timestepInput(unet)];
    const halves = batching === "joint" ? 2 : 1;
    const controlImage = gpu.createBuffer(4 * halves * maxItems * 3 * S * S, {
      label: "controlnet_cond f32",
    });
    const control = await ControlImage.create(gpu, {
      shape: {
        inWidth: options.render.width,
        inHeight: options.render.height,
        outWidth: S,
        outHeight: S,
      },
      maxFrames: maxItems,
      output: controlImage,
      repeat: halves,
    });
    const cast = dtype === "float16" ? await F16Cast.create(gpu) : null;
    return new ControlNetDenoiser(gpu, {
      options: { ...options, maxItems },
      batching,
      dtype,
      timestep,
      residualShapes,
      control,
      controlImage,
      cast,
    });
  }

  /**
   * Writes ε̂_cond and ε̂_uncond of the request's z_t.
   *
   * @param request the noisy latents `[items][c·h·w]`, timesteps, prompt and
   *   `conditioning.control` (the frozen model's renders, one per item)
   * @returns a promise settling once the work is queued
   * @throws {Error} when `conditioning.control` is missing or too small
   */
  async predict(request: DenoiseRequest): Promise<void> {
    const B = requireInt("items", request.items, { min: 1, max: this.maxItems });
    if (request.perItem !== this.#perItem) {
      throw new RangeError(
        `Invalid option perItem: ${this.name} takes ${this.#perItem} values per item (${
          this.#latent.join("×")
        }), got ${request.perItem}`,
      );
    }
    const control = request.conditioning.control;
    const r = this.#control.shape;
    if (control === undefined) {
      throw new Error(
        `Missing conditioning.control: ${this.name} needs the frozen model's renders, ${B} frames of ${r.inWidth}×${r.inHeight} RGB in [0, 1] like the images`,
      );
    }
    const [cond, uncond, controlCond] = await Promise.all([
      this.#embeddings.get(request.conditioning.prompt ?? this.#prompts.prompt),
      this.#embeddings.get(this.#prompts.negative),
      this.#embeddings.get(this.#prompts.control),
    ]);
    const n = B * this.#perItem;
    const f32Bytes = 4 * n;
    const ctxBytes = this.#embeddings.bytes;
    const joint = this.batching === "joint";
    this.#gpu.submit((e) => {
      const pass = e.beginComputePass({ label: `${this.name} controlnet_cond` });
      this.#control.encode(pass, control, B);
      pass.end();
      if (this.#staging === null) {
        e.copyBufferToBuffer(request.noisy, 0, this.#sample, 0, f32Bytes);
        if (joint) e.copyBufferToBuffer(request.noisy, 0, this.#sample, f32Bytes, f32Bytes);
      } else {
        e.copyBufferToBuffer(request.noisy, 0, this.#staging, 0, f32Bytes);
        encodeCasts(e, this.#casts[B]!.input, { label: `${this.name} inputs f16` });
      }
      for (let k = 0; k < B; k++) {
        e.copyBufferToBuffer(cond, 0, this.#context, k * ctxBytes, ctxBytes);
        e.copyBufferToBuffer(controlCond, 0, this.#controlContext, k * ctxBytes, ctxBytes);
        if (joint) {
          for (const target of [this.#context, this.#controlContext]) {
            e.copyBufferToBuffer(uncond, 0, target, (B + k) * ctxBytes, ctxBytes);
          }
        } else {
          e.copyBufferToBuffer(uncond, 0, this.#uncondContext!, k * ctxBytes, ctxBytes);
        }
      }
    });
    const bytes = this.dtype === "float16" ? 2 : 4;
    const S = this.#controlSize;
    const feed = (buffer: GPUBuffer, dims: number[]): OrtGpuFeed => ({
      buffer,
      dtype: this.dtype,
      dims,
    });
    const hidden = [this.#embeddings.tokens, this.#embeddings.hidden];
    const runs = joint
      ? [{ batch: 2 * B, cn: this.#controlContext, unet: this.#context, offset: 0 }]
      : [
        { batch: B, cn: this.#controlContext, unet: this.#context, offset: 0 },
        { batch: B, cn: this.#uncondContext!, unet: this.#uncondContext!, offset: n * bytes },
      ];
    for (const [i, run] of runs.entries()) {
      const sample = feed(this.#sample, [run.batch, ...this.#latent]);
      const residuals = this.residuals[i]!;
      const timesteps = this.#timestep.map((t, k) =>
        timestepFeed(request.timesteps, {
          ...t,
          repeat: joint ? 2 : 1,
          model: k === 0 ? this.controlnet.name : this.unet.name,
        })
      );
      await this.controlnet.runInto(
        {
          sample,
          timestep: timesteps[0]!,
          encoder_hidden_states: feed(run.cn, [run.batch, ...hidden]),
          controlnet_cond: feed(this.#controlCond, [run.batch, 3, S, S]),
        },
        Object.fromEntries(CONTROLNET_RESIDUALS.map((name, k) => [name, residuals[k]!])),
      );
      await this.unet.runInto({
        sample,
        timestep: timesteps[1]!,
        encoder_hidden_states: feed(run.unet, [run.batch, ...hidden]),
        ...Object.fromEntries(
          CONTROLNET_RESIDUALS.map((name, k) => [
            name,
            feed(residuals[k]!, [run.batch, ...this.residualShapes[k]!]),
          ]),
        ),
      }, { out_sample: { buffer: this.#output, offset: run.offset } });
    }
    this.#gpu.submit((e) => {
      let from = this.#output;
      if (this.#staging !== null) {
        encodeCasts(e, this.#casts[B]!.eps, { label: `${this.name} out_sample f32` });
        from = this.#staging;
      }
      e.copyBufferToBuffer(from, 0, request.epsCond, 0, f32Bytes);
      e.copyBufferToBuffer(from, f32Bytes, request.epsUncond, 0, f32Bytes);
    });
  }

  /** Frees the denoiser's buffers (not the sessions or the embeddings, which callers share). */
  destroy(): void {
    for (const set of this.#casts) {
      if (set === undefined) continue;
      for (const c of [...set.input, ...set.eps]) c.destroy();
    }
    this.#control.destroy();
    const own = [
      this.#sample,
      this.#output,
      this.#context,
      this.#controlContext,
      this.#uncondContext,
      this.#staging,
      this.controlImage,
      ...(this.#controlCond === this.controlImage ? [] : [this.#controlCond]),
      ...this.residuals.flat(),
    ];
    for (const b of own) b?.destroy();
  }
}
