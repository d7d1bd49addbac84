/**
 * The resize-and-layout kernel between the renderer and the VAE encoder
 * (`image_resize.wgsl`): one rendered HWC frame to the encoder's NCHW input in [−1, 1],
 * and the adjoint that ADDS into the frame's slice of the image gradient.
 *
 * @module
 */
import type { Gpu } from "../../kernels/gpu.ts";
import { requireInt } from "../../kernels/validate.ts";
import { loadPriorWgsl } from "../_wgsl.ts";
import { BindCache } from "../_bind_cache.ts";
import type { ResizeShape } from "./image_resize_twin.ts";

/** Workgroup size of both `image_resize.wgsl` entry points. */
export const IMAGE_RESIZE_WORKGROUP = 256;

/**
 * Options of {@linkcode ImageResize.create}.
 *
 * @example
 * ```ts
 * import type { ImageResizeOptions } from "./image_resize.ts";
 * const device = await (await navigator.gpu.requestAdapter())!.requestDevice();
 * const usage = GPUBufferUsage.STORAGE;
 * const options: ImageResizeOptions = {
 *   shape: { inWidth: 64, inHeight: 64, outWidth: 512, outHeight: 512 }, maxFrames: 1,
 *   resized: device.createBuffer({ size: 4 * 3 * 512 * 512, usage }),
 *   gradResized: device.createBuffer({ size: 4 * 3 * 512 * 512, usage }),
 * };
 * console.log(options.resized.size); // 3145728
 * ```
 */
export interface ImageResizeOptions {
  /** Render and model sizes. */
  shape: ResizeShape;
  /** Most frames per call. */
  maxFrames: number;
  /** The model input `[3][outH][outW]` the forward pass writes (the VAE's `input`). */
  resized: GPUBuffer;
  /** dL/d(model input), read by the backward pass (the VAE's `gradInput`). */
  gradResized: GPUBuffer;
}

/**
 * The kernel with pipelines and one uniform per frame built once; bind groups are cached
 * per caller buffer.
 *
 * @example Upsample a 2×2 frame to 4×4 and push a gradient back
 * ```ts
 * import { acquireGpu } from "../../kernels/gpu.ts";
 * import { ImageResize } from "./image_resize.ts";
 * const gpu = await acquireGpu({ log: null });
 * const resized = gpu.createBuffer(4 * 48);
 * const op = await ImageResize.create(gpu, {
 *   shape: { inWidth: 2, inHeight: 2, outWidth: 4, outHeight: 4 }, maxFrames: 1,
 *   resized, gradResized: gpu.createBuffer(new Float32Array(48).fill(1)),
 * });
 * const images = gpu.createBuffer(new Float32Array(12).fill(1));
 * const grad = gpu.createBuffer(4 * 12);
 * gpu.submit((e) => {
 *   const p = e.beginComputePass();
 *   op.encodeForward(p, images, 0);
 *   op.encodeBackward(p, grad, 0);
 *   p.end();
 * });
 * const x = new Float32Array(await gpu.read(resized));
 * const g = new Float32Array(await gpu.read(grad));
 * console.log(x[0], g[0]); // 1 8
 * gpu.destroy();
 * ```
 */
export class ImageResize {
  /** Render and model sizes. */
  readonly shape: ResizeShape;
  /** Most frames per call. */
  readonly maxFrames: number;
  readonly #gpu: Gpu;
  readonly #forward: GPUComputePipeline;
  readonly #backward: GPUComputePipeline;
  readonly #uniforms: GPUBuffer[];
  readonly #forwardGroups: BindCache<GPUBindGroup[]>;
  readonly #backwardGroups: BindCache<GPUBindGroup[]>;

  private constructor(
    gpu: Gpu,
    pipes: { forward: GPUComputePipeline; backward: GPUComputePipeline },
    options: ImageResizeOptions,
  ) {
    this.#gpu = gpu;
    this.shape = options.shape;
    this.maxFrames = options.maxFrames;
    this.#forward = pipes.forward;
    this.#backward = pipes.backward;
    const s = options.shape;
    this.#uniforms = [];
    for (let f = 0; f < options.maxFrames; f++) {
      const words = new ArrayBuffer(48);
      new Uint32Array(words, 0, 5).set([s.inWidth, s.inHeight, s.outWidth, s.outHeight, f]);
      new Float32Array(words, 32, 4).set([s.inWidth / s.outWidth, s.inHeight / s.outHeight, 2, -1]);
      const u = gpu.createUniform(48, `image_resize frame ${f}`);
      gpu.upload(u, new Uint8Array(words));
      this.#uniforms.push(u);
    }
    this.#forwardGroups = new BindCache((images) =>
      this.#uniforms.map((u) =>
        gpu.bindGroup(pipes.forward, { 0: images, 1: options.resized, 4: u })
      )
    );
    this.#backwardGroups = new BindCache((grad) =>
      this.#uniforms.map((u) =>
        gpu.bindGroup(pipes.backward, { 2: options.gradResized, 3: grad, 4: u })
      )
    );
  }

  /** Compiles both entry points (cached) and checks the buffers; call once. */
  static async create(gpu: Gpu, options: ImageResizeOptions): Promise<ImageResize> {
    const s = options.shape;
    for (const k of ["inWidth", "inHeight", "outWidth", "outHeight"] as const) {
      requireInt(`shape.${k}`, s[k], { min: 1 });
    }
    const maxFrames = requireInt("maxFrames", options.maxFrames, { min: 1 });
    const bytes = 4 * 3 * s.outWidth * s.outHeight;
    for (const name of ["resized", "gradResized"] as const) {
      if (options[name].size < bytes) {
        throw new RangeError(
          `Invalid option ${name}: expected a buffer of at least ${bytes} bytes, got ${
            options[name].size
          }`,
        );
      }
    }
    const source = loadPriorWgsl("latent/image_resize");
    const [forward, backward] = await Promise.all([
      gpu.pipelineFromSource(source, { entryPoint: "forward" }),
      gpu.pipelineFromSource(source, { entryPoint: "backward" }),
    ]);
    return new ImageResize(gpu, { forward, backward }, { ...options, maxFrames });
  }

  #frame(frame: number): number {
    return requireInt("frame", frame, { min: 0, max: this.maxFrames - 1 });
  }

  #needs(name: string, buffer: GPUBuffer, frame: number): void {
    const bytes = 4 * 3 * this.shape.inWidth * this.shape.inHeight * (frame + 1);
    if (buffer.size < bytes) {
      throw new RangeError(
        `Invalid option ${name}: frame ${frame} needs a buffer of at least ${bytes} bytes, got ${buffer.size}`,
      );
    }
  }

  /**
   * Records the resize of frame `frame` of `images` (`[frames][H·W][3]`) into `resized`.
   *
   * @param pass an open compute pass
   * @param images the rendered frames
   * @param frame which frame
   */
  encodeForward(pass: GPUComputePassEncoder, images: GPUBuffer, frame: number): void {
    this.#needs("images", images, this.#frame(frame));
    const n = 3 * this.shape.outWidth * this.shape.outHeight;
    const group = this.#forwardGroups.get(images)[frame]!;
    this.#gpu.dispatch(pass, this.#forward, group, n, IMAGE_RESIZE_WORKGROUP);
  }

  /**
   * Records the adjoint: ADDS 2·Rᵀ·gradResized into frame `frame` of `grad`.
   *
   * @param pass an open compute pass
   * @param grad the image gradient `[frames][H·W][3]`
   * @param frame which frame
   */
  encodeBackward(pass: GPUComputePassEncoder, grad: GPUBuffer, frame: number): void {
    this.#needs("grad", grad, this.#frame(frame));
    const n = 3 * this.shape.inWidth * this.shape.inHeight;
    const group = this.#backwardGroups.get(grad)[frame]!;
    this.#gpu.dispatch(pass, this.#backward, group, n, IMAGE_RESIZE_WORKGROUP);
  }

  /** Frees the uniforms. */
  destroy(): void {
    this.#forwardGroups.clear();
    this.#backwardGroups.clear();
    for (const u of this.#uniforms) u.destroy();
  }
}

/**
 * One-shot helper for tests: resizes frame `frame`, runs the adjoint on `gradResized` into
 * a copy of `grad`, and reads both back.
 *
 * @param gpu the device
 * @param inputs sizes, frames, gradients and the frame index
 * @returns the resized frame (NCHW) and the image gradient after the addition
 *
 * @example
 * ```ts
 * import { acquireGpu } from "../../kernels/gpu.ts";
 * import { imageResize } from "./image_resize.ts";
 * const gpu = await acquireGpu({ log: null });
 * const r = await imageResize(gpu, {
 *   shape: { inWidth: 1, inHeight: 1, outWidth: 2, outHeight: 2 },
 *   images: new Float32Array([0, 0.5, 1]), gradResized: new Float32Array(12).fill(1),
 *   grad: new Float32Array(3),
 * });
 * console.log(Array.from(r.resized.slice(0, 5)), Array.from(r.grad)); // [ -1, -1, -1, -1, 0 ] [ 8, 8, 8 ]
 * gpu.destroy();
 * ```
 */
export async function imageResize(
  gpu: Gpu,
  inputs: {
    shape: ResizeShape;
    images: Float32Array<ArrayBuffer>;
    gradResized: Float32Array<ArrayBuffer>;
    grad: Float32Array<ArrayBuffer>;
    frame?: number;
  },
): Promise<{ resized: Float32Array; grad: Float32Array }> {
  const frame = inputs.frame ?? 0;
  const n = 3 * inputs.shape.outWidth * inputs.shape.outHeight;
  const resized = gpu.createBuffer(4 * n);
  const gradResized = gpu.createBuffer(inputs.gradResized);
  const images = gpu.createBuffer(inputs.images);
  const grad = gpu.createBuffer(inputs.grad);
  const op = await ImageResize.create(gpu, {
    shape: inputs.shape,
    maxFrames: frame + 1,
    resized,
    gradResized,
  });
  gpu.submit((e) => {
    const p = e.beginComputePass({ label: "image_resize" });
    op.encodeForward(p, images, frame);
    op.encodeBackward(p, grad, frame);
    p.end();
  });
  const out = {
    resized: new Float32Array(await gpu.read(resized)).slice(0, n),
    grad: new Float32Array(await gpu.read(grad)).slice(0, inputs.grad.length),
  };
  op.destroy();
  for (const b of [resized, gradResized, images, grad]) b.destroy();
  return out;
}
