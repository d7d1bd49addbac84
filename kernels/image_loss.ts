/**
 * The image reconstruction loss on the GPU (`image_loss.wgsl`): mean squared error of a
 * rendered clip against target buffers, its gradient written straight into the
 * renderer's gradient inputs, and the loss reduced into a three-float buffer, with no
 * read-back.
 *
 * @module
 */
import { type Gpu, workgroupGrid } from "./gpu.ts";
import { requireFinite, requireInt } from "./validate.ts";

/** Workgroup size of both `image_loss.wgsl` entry points. */
export const IMAGE_LOSS_WORKGROUP = 256;

/** Buffers bound once by {@linkcode ImageLoss.create}; all `[N]`-sized for the largest N. */
export interface ImageLossBuffers {
  /** Rendered colour `[N][3]` (e.g. `ClipRenderer.clip.image`). */
  image: GPUBuffer;
  /** Rendered alpha `[N]`. */
  alpha: GPUBuffer;
  /** Target colour `[N][3]`. */
  target: GPUBuffer;
  /** Target alpha `[N]`. */
  targetAlpha: GPUBuffer;
  /** Output dL/dimage `[N][3]` (e.g. `ClipRenderer.grads.image`). */
  gradImage: GPUBuffer;
  /** Output dL/dalpha `[N]` (e.g. `ClipRenderer.grads.alpha`). */
  gradAlpha: GPUBuffer;
}

/** Options of {@linkcode ImageLoss.create}. */
export interface ImageLossOptions extends ImageLossBuffers {
  /** Largest pixel count N the buffers hold (frames × H × W). */
  maxPixels: number;
  /** Weight of the alpha term; defaults to 0. */
  alphaWeight?: number;
  /** Weight of the colour term; defaults to 1. */
  rgbWeight?: number;
}

/**
 * The image loss, built once: `setPixels` and `setAlphaWeight` write the uniform,
 * `encode` records two dispatches. `loss` holds `[L_rgb, L_alpha, L]` afterwards.
 *
 * @example Loss of a grey pixel against white
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { ImageLoss } from "./image_loss.ts";
 * const gpu = await acquireGpu({ log: null });
 * const b = (v: number[]) => gpu.createBuffer(new Float32Array(v));
 * const loss = await ImageLoss.create(gpu, {
 *   image: b([0.5, 0.5, 0.5]), alpha: b([1]), target: b([1, 1, 1]), targetAlpha: b([1]),
 *   gradImage: b([0, 0, 0]), gradAlpha: b([0]), maxPixels: 1,
 * });
 * gpu.submit((e) => { const p = e.beginComputePass(); loss.encode(p); p.end(); });
 * console.log(new Float32Array(await gpu.read(loss.loss))[0]); // 0.25
 * gpu.destroy();
 * ```
 */
export class ImageLoss {
  /** Three f32: L_rgb, L_alpha (unweighted) and L = v·L_rgb + w·L_alpha. */
  readonly loss: GPUBuffer;
  /** Largest N. */
  readonly maxPixels: number;
  readonly #gpu: Gpu;
  readonly #main: GPUComputePipeline;
  readonly #reduce: GPUComputePipeline;
  readonly #mainGroup: GPUBindGroup;
  readonly #reduceGroup: GPUBindGroup;
  readonly #uniform: GPUBuffer;
  readonly #partials: GPUBuffer;
  #pixels: number;
  #alphaWeight: number;
  #rgbWeight: number;

  private constructor(
    gpu: Gpu,
    parts: {
      loss: GPUBuffer;
      maxPixels: number;
      main: GPUComputePipeline;
      reduce: GPUComputePipeline;
      mainGroup: GPUBindGroup;
      reduceGroup: GPUBindGroup;
      uniform: GPUBuffer;
      partials: GPUBuffer;
      alphaWeight: number;
      rgbWeight: number;
    },
  ) {
    this.#gpu = gpu;
    this.loss = parts.loss;
    this.maxPixels = parts.maxPixels;
    this.#main = parts.main;
    this.#reduce = parts.reduce;
    this.#mainGroup = parts.mainGroup;
    this.#reduceGroup = parts.reduceGroup;
    this.#uniform = parts.uniform;
    this.#partials = parts.partials;
    this.#pixels = parts.maxPixels;
    this.#alphaWeight = parts.alphaWeight;
    this.#rgbWeight = parts.rgbWeight;
  }

  /** Compiles both entry points (cached) and binds `options`' buffers; call once. */
  static async create(gpu: Gpu, options: ImageLossOptions): Promise<ImageLoss> {
    const maxPixels = requireInt("maxPixels", options.maxPixels, { min: 1 });
    const alphaWeight = requireFinite("alphaWeight", options.alphaWeight ?? 0, { min: 0 });
    const rgbWeight = requireFinite("rgbWeight", options.rgbWeight ?? 1, { min: 0 });
    const sizes: [keyof ImageLossBuffers, number][] = [
      ["image", 12],
      ["target", 12],
      ["gradImage", 12],
      ["alpha", 4],
      ["targetAlpha", 4],
      ["gradAlpha", 4],
    ];
    for (const [name, bytes] of sizes) {
      if (options[name].size < maxPixels * bytes) {
        throw new RangeError(
          `Invalid option ${name}: expected a buffer of at least ${
            maxPixels * bytes
          } bytes for ${maxPixels} pixels, got ${options[name].size}`,
        );
      }
    }
    const [main, reduce] = await Promise.all([
      gpu.pipeline("image_loss", { entryPoint: "main" }),
      gpu.pipeline("image_loss", { entryPoint: "reduce" }),
    ]);
    const [x, y] = workgroupGrid(maxPixels, IMAGE_LOSS_WORKGROUP);
    const partials = gpu.createBuffer(x * y * 8, { label: "image_loss partials" });
    const loss = gpu.createBuffer(12, { label: "image_loss loss" });
    const uniform = gpu.createUniform(16, "image_loss uniforms");
    const mainGroup = gpu.bindGroup(main, {
      0: options.image,
      1: options.alpha,
      2: options.target,
      3: options.targetAlpha,
      4: options.gradImage,
      5: options.gradAlpha,
      6: partials,
      8: uniform,
    });
    const reduceGroup = gpu.bindGroup(reduce, { 6: partials, 7: loss, 8: uniform });
    const op = new ImageLoss(gpu, {
      loss,
      maxPixels,
      main,
      reduce,
      mainGroup,
      reduceGroup,
      uniform,
      partials,
      alphaWeight,
      rgbWeight,
    });
    op.#writeUniform();
    return op;
  }

  /** Live pixel count N (frames of this step × H × W); defaults to `maxPixels`. */
  get pixels(): number {
    return this.#pixels;
  }

  /** Weight of the alpha term. */
  get alphaWeight(): number {
    return this.#alphaWeight;
  }

  /** Sets the live pixel count N (at most `maxPixels`) for the next `encode`. */
  setPixels(pixels: number): void {
    this.#pixels = requireInt("pixels", pixels, { min: 1, max: this.maxPixels });
    this.#writeUniform();
  }

  /** Sets the weight of the alpha term for the next `encode`. */
  setAlphaWeight(alphaWeight: number): void {
    this.#alphaWeight = requireFinite("alphaWeight", alphaWeight, { min: 0 });
    this.#writeUniform();
  }

  /** Weight of the colour term. */
  get rgbWeight(): number {
    return this.#rgbWeight;
  }

  /** Sets the weight of the colour term for the next `encode`. */
  setRgbWeight(rgbWeight: number): void {
    this.#rgbWeight = requireFinite("rgbWeight", rgbWeight, { min: 0 });
    this.#writeUniform();
  }

  #writeUniform(): void {
    const [x, y] = workgroupGrid(this.#pixels, IMAGE_LOSS_WORKGROUP);
    const bytes = new ArrayBuffer(16);
    const view = new DataView(bytes);
    view.setUint32(0, this.#pixels, true);
    view.setUint32(4, x * y, true);
    view.setFloat32(8, this.#alphaWeight, true);
    view.setFloat32(12, this.#rgbWeight, true);
    this.#gpu.upload(this.#uniform, new Uint8Array(bytes));
  }

  /** Records the per-pixel pass (loss terms and gradients) and the final reduction. */
  encode(pass: GPUComputePassEncoder): void {
    this.#gpu.dispatch(pass, this.#main, this.#mainGroup, this.#pixels, IMAGE_LOSS_WORKGROUP);
    pass.setPipeline(this.#reduce);
    pass.setBindGroup(0, this.#reduceGroup);
    pass.dispatchWorkgroups(1);
  }

  /** Frees the buffers this object created (partials, loss, uniform). */
  destroy(): void {
    for (const b of [this.loss, this.#partials, this.#uniform]) b.destroy();
  }
}

/** Inputs of {@linkcode imageLoss}. */
export interface ImageLossArrays {
  image: Float32Array<ArrayBuffer>;
  alpha: Float32Array<ArrayBuffer>;
  target: Float32Array<ArrayBuffer>;
  targetAlpha: Float32Array<ArrayBuffer>;
  alphaWeight?: number;
  rgbWeight?: number;
}

/**
 * One-shot helper for tests and benchmarks: uploads, runs {@linkcode ImageLoss} and reads
 * the loss terms and gradients back. Training code uses the class.
 *
 * @example
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { imageLoss } from "./image_loss.ts";
 * const gpu = await acquireGpu({ log: null });
 * const out = await imageLoss(gpu, {
 *   image: new Float32Array([0, 0, 0]), target: new Float32Array([1, 1, 1]),
 *   alpha: new Float32Array([0]), targetAlpha: new Float32Array([1]),
 * });
 * console.log(out.rgb, out.gradImage[0]); // 1 -0.666…
 * gpu.destroy();
 * ```
 */
export async function imageLoss(
  gpu: Gpu,
  inputs: ImageLossArrays,
): Promise<
  { rgb: number; alpha: number; total: number; gradImage: Float32Array; gradAlpha: Float32Array }
> {
  const n = inputs.alpha.length;
  const buffers: ImageLossBuffers = {
    image: gpu.createBuffer(inputs.image, { label: "image_loss image" }),
    alpha: gpu.createBuffer(inputs.alpha, { label: "image_loss alpha" }),
    target: gpu.createBuffer(inputs.target, { label: "image_loss target" }),
    targetAlpha: gpu.createBuffer(inputs.targetAlpha, { label: "image_loss target alpha" }),
    gradImage: gpu.createBuffer(n * 12, { label: "image_loss grad image" }),
    gradAlpha: gpu.createBuffer(n * 4, { label: "image_loss grad alpha" }),
  };
  const op = await ImageLoss.create(gpu, {
    ...buffers,
    maxPixels: n,
    ...(inputs.alphaWeight === undefined ? {} : { alphaWeight: inputs.alphaWeight }),
    ...(inputs.rgbWeight === undefined ? {} : { rgbWeight: inputs.rgbWeight }),
  });
  gpu.submit((encoder) => {
    const pass = encoder.beginComputePass({ label: "image_loss" });
    op.encode(pass);
    pass.end();
  });
  const [rgb, alpha, total] = new Float32Array(await gpu.read(op.loss));
  const gradImage = new Float32Array(await gpu.read(buffers.gradImage)).slice(0, 3 * n);
  const gradAlpha = new Float32Array(await gpu.read(buffers.gradAlpha)).slice(0, n);
  op.destroy();
  for (const b of Object.values(buffers)) (b as GPUBuffer).destroy();
  return { rgb: rgb!, alpha: alpha!, total: total!, gradImage, gradAlpha };
}
