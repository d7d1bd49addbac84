/**
 * The ControlNet's conditioning image on the GPU (`control_image.wgsl`): control renders
 * `[n][H·W][3]` in [0, 1] (the frozen model's frames, `PriorConditioning.control`) to
 * `controlnet_cond` `[n][3][outH][outW]`, bilinear like the renders and not normalised.
 *
 * @module
 */
import type { Gpu } from "../../kernels/gpu.ts";
import { requireInt } from "../../kernels/validate.ts";
import { BindCache } from "../_bind_cache.ts";
import { loadPriorWgsl } from "../_wgsl.ts";
import type { ResizeShape } from "./image_resize_twin.ts";

/**
 * Workgroup size of `control_image.wgsl`: one thread per output value.
 *
 * @example Workgroups for one 1024² control image
 * ```ts
 * import { CONTROL_IMAGE_WORKGROUP } from "./control_image.ts";
 * console.log(Math.ceil((3 * 1024 * 1024) / CONTROL_IMAGE_WORKGROUP)); // 12288
 * ```
 */
export const CONTROL_IMAGE_WORKGROUP = 256;

/**
 * Options of {@linkcode ControlImage.create}.
 *
 * @example
 * ```ts
 * import type { ControlImageOptions } from "./control_image.ts";
 * const shape: ControlImageOptions["shape"] = { inWidth: 64, inHeight: 64, outWidth: 1024, outHeight: 1024 };
 * console.log(shape.outWidth / shape.inWidth); // 16
 * ```
 */
export interface ControlImageOptions {
  /** Render and model sizes. */
  shape: ResizeShape;
  /** Most frames per call. */
  maxFrames: number;
  /** Where `[repeat][frames][3][outH][outW]` f32 goes. */
  output: GPUBuffer;
  /**
   * Copies of the batch written one after the other; defaults to 1 (2 gives both CFG
   * halves of a joint batch).
   */
  repeat?: number;
}

/**
 * The kernel, with one uniform per frame count built once and bind groups cached per
 * control buffer.
 *
 * @example Two 1×1 frames to 2×2 planes
 * ```ts
 * import { acquireGpu } from "../../kernels/gpu.ts";
 * import { ControlImage } from "./control_image.ts";
 * const gpu = await acquireGpu({ log: null });
 * const output = gpu.createBuffer(4 * 24);
 * const op = await ControlImage.create(gpu, {
 *   shape: { inWidth: 1, inHeight: 1, outWidth: 2, outHeight: 2 }, maxFrames: 2, output,
 * });
 * const renders = gpu.createBuffer(new Float32Array([0, 0.5, 1, 0.25, 0.75, 1]));
 * gpu.submit((e) => {
 *   const pass = e.beginComputePass();
 *   op.encode(pass, renders, 2);
 *   pass.end();
 * });
 * const x = new Float32Array(await gpu.read(output));
 * console.log(x[4], x[12], x[23]); // 0.5 0.25 1
 * op.destroy();
 * gpu.destroy();
 * ```
 */
export class ControlImage {
  /** Render and model sizes. */
  readonly shape: ResizeShape;
  /** Most frames per call. */
  readonly maxFrames: number;
  /** The output buffer. */
  readonly output: GPUBuffer;
  /** Copies of the batch per call. */
  readonly repeat: number;
  readonly #gpu: Gpu;
  readonly #pipeline: GPUComputePipeline;
  readonly #uniforms: GPUBuffer[];
  readonly #groups: BindCache<GPUBindGroup[]>;

  private constructor(gpu: Gpu, pipeline: GPUComputePipeline, options: ControlImageOptions) {
    this.#gpu = gpu;
    this.#pipeline = pipeline;
    this.shape = options.shape;
    this.maxFrames = options.maxFrames;
    this.output = options.output;
    this.repeat = options.repeat ?? 1;
    const s = options.shape;
    this.#uniforms = [];
    for (let frames = 1; frames <= options.maxFrames; frames++) {
      const words = new ArrayBuffer(32);
      new Uint32Array(words, 0, 6).set([
        s.inWidth,
        s.inHeight,
        s.outWidth,
        s.outHeight,
        frames,
        this.repeat,
      ]);
      new Float32Array(words, 24, 2).set([s.inWidth / s.outWidth, s.inHeight / s.outHeight]);
      const u = gpu.createUniform(32, `control_image ${frames} frames`);
      gpu.upload(u, new Uint8Array(words));
      this.#uniforms.push(u);
    }
    this.#groups = new BindCache((images) =>
      this.#uniforms.map((u) => gpu.bindGroup(pipeline, { 0: images, 1: options.output, 2: u }))
    );
  }

  /**
   * Compiles the kernel (cached by the device) and checks the output's size; call once.
   *
   * @param gpu the device
   * @param options sizes, frame count and output buffer
   * @returns the kernel
   * @throws {RangeError} naming the option and the bytes needed
   */
  static async create(gpu: Gpu, options: ControlImageOptions): Promise<ControlImage> {
    const s = options.shape;
    for (const k of ["inWidth", "inHeight", "outWidth", "outHeight"] as const) {
      requireInt(`shape.${k}`, s[k], { min: 1 });
    }
    const maxFrames = requireInt("maxFrames", options.maxFrames, { min: 1 });
    const repeat = requireInt("repeat", options.repeat ?? 1, { min: 1 });
    const bytes = 4 * repeat * maxFrames * 3 * s.outWidth * s.outHeight;
    if (options.output.size < bytes) {
      throw new RangeError(
        `Invalid option output: expected a buffer of at least ${bytes} bytes, got ${options.output.size}`,
      );
    }
    const source = loadPriorWgsl("latent/control_image");
    const pipeline = await gpu.pipelineFromSource(source, { entryPoint: "main" });
    return new ControlImage(gpu, pipeline, { ...options, maxFrames, repeat });
  }

  /**
   * Records the resize of the first `frames` frames of `images` into the output, `repeat`
   * times (copy r at `r·frames·3·outH·outW`).
   *
   * @param pass an open compute pass
   * @param images control renders `[frames][H·W][3]` in [0, 1]
   * @param frames how many
   * @throws {RangeError} when `images` is too small for `frames` frames
   */
  encode(pass: GPUComputePassEncoder, images: GPUBuffer, frames: number): void {
    requireInt("frames", frames, { min: 1, max: this.maxFrames });
    const s = this.shape;
    const bytes = 4 * frames * s.inWidth * s.inHeight * 3;
    if (images.size < bytes) {
      throw new RangeError(
        `Invalid option control: ${frames} frames of ${s.inWidth}×${s.inHeight} RGB need a buffer of at least ${bytes} bytes, got ${images.size}`,
      );
    }
    const n = frames * 3 * s.outWidth * s.outHeight;
    const group = this.#groups.get(images)[frames - 1]!;
    this.#gpu.dispatch(pass, this.#pipeline, group, n, CONTROL_IMAGE_WORKGROUP);
  }

  /** Frees the uniforms. */
  destroy(): void {
    this.#groups.clear();
    for (const u of this.#uniforms) u.destroy();
  }
}

/**
 * One-shot helper for tests: uploads the renders, resizes `frames` of them and reads the
 * result back.
 *
 * @param gpu the device
 * @param inputs sizes, renders, frame count and copies
 * @returns `[repeat][frames][3][outH][outW]`
 *
 * @example
 * ```ts
 * import { acquireGpu } from "../../kernels/gpu.ts";
 * import { controlImage } from "./control_image.ts";
 * const gpu = await acquireGpu({ log: null });
 * const x = await controlImage(gpu, {
 *   shape: { inWidth: 2, inHeight: 1, outWidth: 4, outHeight: 1 },
 *   images: new Float32Array([0, 0, 0, 1, 1, 1]), frames: 1,
 * });
 * console.log(Array.from(x.slice(0, 4))); // [ 0, 0.25, 0.75, 1 ]
 * gpu.destroy();
 * ```
 */
export async function controlImage(
  gpu: Gpu,
  inputs: {
    shape: ResizeShape;
    images: Float32Array<ArrayBuffer>;
    frames: number;
    repeat?: number;
  },
): Promise<Float32Array> {
  const s = inputs.shape;
  const repeat = inputs.repeat ?? 1;
  const n = repeat * inputs.frames * 3 * s.outWidth * s.outHeight;
  const output = gpu.createBuffer(4 * n);
  const images = gpu.createBuffer(inputs.images);
  const op = await ControlImage.create(gpu, {
    shape: s,
    maxFrames: inputs.frames,
    output,
    repeat,
  });
  gpu.submit((e) => {
    const pass = e.beginComputePass({ label: "control_image" });
    op.encode(pass, images, inputs.frames);
    pass.end();
  });
  const out = new Float32Array(await gpu.read(output)).slice(0, n);
  op.destroy();
  output.destroy();
  images.destroy();
  return out;
}
