/**
 * A {@linkcode Denoiser} backed by the ONNX Zero-1-to-3 UNet (SPEC.md §4): `sample`
 * `[N, 8, h, w]` is z_t with the reference's VAE latent c_concat appended on the channel
 * axis, `encoder_hidden_states` `[N, 1, D]` is cc_projection(concat(CLIP image embedding,
 * T)) for the call's `relativePose`, and the unconditional branch zeroes BOTH the context
 * and c_concat (`Animate124 main: guidance/zero123_diffusers_utils.py`, `train_step`). As
 * in the original batch the unconditional half comes first: item k of the uncond branch is
 * batch entry k, of the cond branch B + k. Run as one batch of 2B, or as two runs of B when
 * the export fixes its batch to B.
 *
 * Per call the only upload is the cond context (B·D floats, `writeBuffer`) and the
 * timesteps; z_t and c_concat are copied on the GPU, f16 exports go through GPU casts, and
 * nothing is read back.
 *
 * @module
 */
import type { Gpu } from "../../kernels/gpu.ts";
import { requireInt } from "../../kernels/validate.ts";
import type { Denoiser, DenoiseRequest } from "../denoiser.ts";
import type { Zero123ImageContext } from "../models/zero123_conditioning.ts";
import { zero123PoseVector } from "../models/zero123_conditioning.ts";
import type { OrtModel } from "../onnx/ort_model.ts";
import { encodeCasts, F16Cast, type F16CastCall } from "./f16_cast.ts";
import type { FloatDtype } from "./text_embeddings.ts";
import type { UnetBatching } from "./unet_denoiser.ts";
import {
  declaredValue,
  timestepFeed,
  timestepInput,
  type UnetTimestepType,
} from "./unet_inputs.ts";
import { fitsShape, floatDtypeOf, unetBatching } from "./unet_checks.ts";

/**
 * Options of {@linkcode Zero123Denoiser.create}.
 *
 * @example
 * ```ts
 * import type { Zero123DenoiserOptions } from "./zero123_denoiser.ts";
 * const latent: Zero123DenoiserOptions["latent"] = { channels: 4, height: 32, width: 32 };
 * console.log(2 * latent.channels); // 8
 * ```
 */
export interface Zero123DenoiserOptions {
  /** The 8-channel UNet session. */
  unet: OrtModel;
  /** The reference's projected embedding (W·clip + b), from `CcProjection.forImage`. */
  image: Zero123ImageContext;
  /**
   * The reference's c_concat `[c][h][w]` f32 (the VAE posterior mean, unscaled); the
   * denoiser owns it from now on.
   */
  cConcat: GPUBuffer;
  /** Most items per call (B). */
  maxItems: number;
  /** Latent sizes of z_t (c = 4); c_concat has the same. */
  latent: { channels: number; height: number; width: number };
}

/** One UNet run: its f32 inputs as the toolkit writes them, and what ORT reads. */
interface Run {
  sample: GPUBuffer;
  context: GPUBuffer;
  sampleFeed: GPUBuffer;
  contextFeed: GPUBuffer;
  /** Items in this run per live item (2 joint, 1 separate). */
  branches: number;
}

/**
 * The Zero123 denoiser. Buffers, casts and bind groups are built once for `maxItems`.
 *
 * @example A stand-in UNet (8-channel sample, context of width 2) on a 2×2 latent
 * ```ts
 * import { buildOnnxFixture } from "../onnx/onnx_fixture.ts";
 * import { OrtRuntime } from "../onnx/ort_runtime.ts";
 * import { Gpu } from "../../kernels/gpu.ts";
 * import { CcProjection } from "../models/zero123_conditioning.ts";
 * import { Zero123Denoiser } from "./zero123_denoiser.ts";
 * const runtime = await OrtRuntime.create();
 * const gpu = Gpu.wrap(runtime.device!, { log: null });
 * const unet = await runtime.createModel(buildOnnxFixture({
 *   inputs: [
 *     { name: "sample", dtype: "float32", shape: [2, 8, 2, 2] },
 *     { name: "timestep", dtype: "int64", shape: [2] },
 *     { name: "encoder_hidden_states", dtype: "float32", shape: [2, 1, 2] },
 *   ],
 *   outputs: [{ name: "out_sample", dtype: "float32", shape: [2, 4, 2, 2] }],
 * }).model);
 * const projection = new CcProjection(new Float32Array(12).fill(0.1), new Float32Array(2));
 * const denoiser = await Zero123Denoiser.create(gpu, {
 *   unet, image: projection.forImage(new Float32Array([1, 1])),
 *   cConcat: gpu.createBuffer(new Float32Array(16).fill(0.5)), maxItems: 1,
 *   latent: { channels: 4, height: 2, width: 2 },
 * });
 * const epsCond = gpu.createBuffer(64);
 * await denoiser.predict({
 *   noisy: gpu.createBuffer(new Float32Array(16).fill(1)), items: 1, perItem: 16, framesPerItem: 1,
 *   width: 2, height: 2, timesteps: [0],
 *   conditioning: { cameras: [], times: [0], relativePose: { dTheta: 0, dPhi: 90, dRadius: 0 } },
 *   epsCond, epsUncond: gpu.createBuffer(64),
 * });
 * console.log(denoiser.batching, new Float32Array(await gpu.read(epsCond)).every(Number.isFinite)); // joint true
 * denoiser.destroy();
 * ```
 */
export class Zero123Denoiser implements Denoiser {
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
  readonly #gpu: Gpu;
  readonly #image: Zero123ImageContext;
  readonly #cConcat: GPUBuffer;
  readonly #latent: readonly [number, number, number];
  readonly #perItem: number;
  readonly #hidden: number;
  readonly #scalarTimestep: boolean;
  readonly #runs: Run[];
  // ε̂ of both branches, uncond half first: f32 (`output`) and what ORT writes (`outputFeed`).
  readonly #output: GPUBuffer;
  readonly #outputFeed: GPUBuffer;
  readonly #contextHost: Float32Array<ArrayBuffer>;
  // Per live item count (f16 exports only): casts of every run's inputs, and of ε̂.
  readonly #casts: { inputs: F16CastCall[]; eps: F16CastCall[] }[] = [];
  readonly #owned: GPUBuffer[] = [];

  private constructor(gpu: Gpu, parts: {
    options: Zero123DenoiserOptions;
    batching: UnetBatching;
    dtype: FloatDtype;
    timestepType: UnetTimestepType;
    scalarTimestep: boolean;
    hidden: number;
    cast: F16Cast | null;
  }) {
    const o = parts.options;
    this.#gpu = gpu;
    this.unet = o.unet;
    this.name = `zero123 ${o.unet.name}`;
    this.batching = parts.batching;
    this.dtype = parts.dtype;
    this.timestepType = parts.timestepType;
    this.#scalarTimestep = parts.scalarTimestep;
    this.maxItems = o.maxItems;
    this.#image = o.image;
    this.#cConcat = o.cConcat;
    this.#hidden = parts.hidden;
    this.#latent = [o.latent.channels, o.latent.height, o.latent.width];
    this.#perItem = o.latent.channels * o.latent.height * o.latent.width;
    this.#contextHost = new Float32Array(o.maxItems * parts.hidden);
    const B = o.maxItems;
    const f16 = parts.cast !== null;
    const buffer = (floats: number, label: string, half: boolean) => {
      const b = gpu.createBuffer(floats * (half ? 2 : 4), {
        label: `${this.name} ${label}`,
        align: 16,
      });
      this.#owned.push(b);
      return b;
    };
    const branches = parts.batching === "joint" ? 2 : 1;
    const runCount = parts.batching === "joint" ? 1 : 2;
    this.#runs = [];
    for (let r = 0; r < runCount; r++) {
      const items = branches * B;
      const sample = buffer(2 * items * this.#perItem, `sample ${r}`, false);
      const context = buffer(items * parts.hidden, `context ${r}`, false);
      this.#runs.push({
        sample,
        context,
        sampleFeed: f16 ? buffer(2 * items * this.#perItem, `sample f16 ${r}`, true) : sample,
        contextFeed: f16 ? buffer(items * parts.hidden, `context f16 ${r}`, true) : context,
        branches,
      });
    }
    this.#output = buffer(2 * B * this.#perItem, "out_sample", false);
    this.#outputFeed = f16 ? buffer(2 * B * this.#perItem, "out_sample f16", true) : this.#output;
    if (parts.cast !== null) {
      const cast = parts.cast;
      for (let items = 1; items <= B; items++) {
        const inputs: F16CastCall[] = [];
        for (const run of this.#runs) {
          const n = run.branches * items;
          inputs.push(
            cast.bind("toF16", run.sample, run.sampleFeed, { count: 2 * n * this.#perItem }),
            cast.bind("toF16", run.context, run.contextFeed, { count: n * parts.hidden }),
          );
        }
        const eps = [
          cast.bind("toF32", this.#outputFeed, this.#output, { count: 2 * items * this.#perItem }),
        ];
        this.#casts[items] = { inputs, eps };
      }
    }
  }

  /**
   * Checks the UNet's declared inputs and outputs and builds the buffers; call once.
   *
   * @param gpu the toolkit's view of ORT's device
   * @param options UNet, reference conditioning, batch size and latent sizes
   * @returns the denoiser
   * @throws {Error} naming the UNet, the input and the expected dtype or shape
   */
  static async create(gpu: Gpu, options: Zero123DenoiserOptions): Promise<Zero123Denoiser> {
    const unet = options.unet;
    const maxItems = requireInt("maxItems", options.maxItems, { min: 1 });
    const l = options.latent;
    for (const k of ["channels", "height", "width"] as const) {
      requireInt(`latent.${k}`, l[k], { min: 1 });
    }
    if (unet.runtime.device !== gpu.device || !unet.outputsOnGpu) {
      throw new Error(
        `Invalid option unet: ${unet.name} must run on the toolkit's device with outputs on the GPU (webgpu execution provider)`,
      );
    }
    const perItem = l.channels * l.height * l.width;
    if (options.cConcat.size < 4 * perItem) {
      throw new Error(
        `Invalid option cConcat: expected ${perItem} floats (${l.channels}×${l.height}×${l.width}), got a ${options.cConcat.size}-byte buffer`,
      );
    }
    const sample = declaredValue(unet, "sample", { list: "inputs" });
    const timestep = timestepInput(unet);
    const context = declaredValue(unet, "encoder_hidden_states", { list: "inputs" });
    const out = declaredValue(unet, "out_sample", { list: "outputs" });
    const dtype = floatDtypeOf(unet, [sample, context, out]);
    const doubled = [2 * l.channels, l.height, l.width];
    const single = [l.channels, l.height, l.width];
    if (!fitsShape(sample.shape, doubled) || !fitsShape(out.shape, single)) {
      throw new Error(
        `Invalid UNet ${unet.name}: expected sample [B, ${
          doubled.join(", ")
        }] (z_t and c_concat) and out_sample [B, ${
          single.join(", ")
        }], got [${sample.shape}] and [${out.shape}]`,
      );
    }
    const hidden = options.image.width;
    if (!fitsShape(context.shape, [1, hidden])) {
      throw new Error(
        `Invalid UNet ${unet.name}: expected encoder_hidden_states of shape [B, 1, ${hidden}] (cc_projection's output), got [${context.shape}]`,
      );
    }
    const batching = unetBatching(unet, sample, { maxItems });
    const cast = dtype === "float16" ? await F16Cast.create(gpu) : null;
    return new Zero123Denoiser(gpu, {
      options: { ...options, maxItems },
      batching,
      dtype,
      timestepType: timestep.type,
      scalarTimestep: timestep.scalar,
      hidden,
      cast,
    });
  }

  /**
   * Where item k of a branch sits: the run, and its index in that run's batch.
   */
  #slot(branch: "uncond" | "cond", k: number, items: number): { run: Run; index: number } {
    if (this.batching === "joint") {
      return { run: this.#runs[0]!, index: branch === "uncond" ? k : items + k };
    }
    return { run: this.#runs[branch === "uncond" ? 0 : 1]!, index: k };
  }

  /**
   * Writes ε̂_cond and ε̂_uncond of the request's z_t.
   *
   * @param request the noisy latents `[items][c·h·w]`, timesteps and `relativePose`
   * @returns a promise settling once the work is queued
   * @throws {Error} when the conditioning has no `relativePose`
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
    const pose = request.conditioning.relativePose;
    if (pose === undefined) {
      throw new Error(
        `Cannot run ${this.name}: conditioning.relativePose is missing (Zero123 is conditioned on the camera's offsets from the reference view)`,
      );
    }
    // One relativePose per call (the first frame's): every item shares it; Zero123 runs B = 1.
    const T = zero123PoseVector(pose);
    const D = this.#hidden;
    for (let k = 0; k < B; k++) this.#image.context(T, this.#contextHost, k * D);
    const n = this.#perItem;
    const zBytes = 4 * n;
    for (let k = 0; k < B; k++) {
      const { run, index } = this.#slot("cond", k, B);
      this.#gpu.upload(run.context, this.#contextHost.subarray(k * D, (k + 1) * D), 4 * index * D);
    }
    this.#gpu.submit((e) => {
      for (let k = 0; k < B; k++) {
        for (const branch of ["uncond", "cond"] as const) {
          const { run, index } = this.#slot(branch, k, B);
          const at = 4 * index * 2 * n;
          e.copyBufferToBuffer(request.noisy, k * zBytes, run.sample, at, zBytes);
          if (branch === "cond") {
            e.copyBufferToBuffer(this.#cConcat, 0, run.sample, at + zBytes, zBytes);
          } else {
            e.clearBuffer(run.sample, at + zBytes, zBytes);
            e.clearBuffer(run.context, 4 * index * D, 4 * D);
          }
        }
      }
      const casts = this.#casts[B];
      if (casts !== undefined) {
        encodeCasts(e, casts.inputs, { label: `${this.name} inputs f16` });
      }
    });
    const [c, h, w] = this.#latent;
    const bytes = this.dtype === "float16" ? 2 : 4;
    for (const [r, run] of this.#runs.entries()) {
      const N = run.branches * B;
      await this.unet.runInto({
        sample: { buffer: run.sampleFeed, dtype: this.dtype, dims: [N, 2 * c, h, w] },
        timestep: timestepFeed(request.timesteps.slice(0, B), {
          type: this.timestepType,
          scalar: this.#scalarTimestep,
          repeat: run.branches,
          model: this.unet.name,
        }),
        encoder_hidden_states: { buffer: run.contextFeed, dtype: this.dtype, dims: [N, 1, D] },
      }, { out_sample: { buffer: this.#outputFeed, offset: r * B * n * bytes } });
    }
    this.#gpu.submit((e) => {
      const casts = this.#casts[B];
      if (casts !== undefined) {
        encodeCasts(e, casts.eps, { label: `${this.name} out_sample f32` });
      }
      e.copyBufferToBuffer(this.#output, 0, request.epsUncond, 0, B * zBytes);
      e.copyBufferToBuffer(this.#output, B * zBytes, request.epsCond, 0, B * zBytes);
    });
  }

  /** Frees the denoiser's buffers and c_concat (not the session, which the prior releases). */
  destroy(): void {
    for (const set of this.#casts) {
      if (set === undefined) continue;
      for (const c of [...set.inputs, ...set.eps]) c.destroy();
    }
    for (const b of this.#owned) b.destroy();
    this.#cConcat.destroy();
  }
}
