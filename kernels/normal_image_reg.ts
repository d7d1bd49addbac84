/**
 * The normal-image regularisers on the GPU (`normal_image_reg.wgsl`, SPEC.md §5.5): TV
 * and Gaussian-blur MSE of the composited normal image, their weighted gradient written
 * (or added) into the renderer's normal-image gradient input, and the loss reduced into
 * a three-float buffer, with no read-back.
 *
 * @module
 */
import { type Gpu, workgroupGrid } from "./gpu.ts";
import {
  gaussianKernel1d,
  NORMAL_BLUR_SIGMA,
  NORMAL_BLUR_SIZE,
  NORMAL_IMAGE_REG_WEIGHT,
} from "./normal_image_reg_twin.ts";
import { requireFinite, requireInt } from "./validate.ts";

/** Workgroup size of every `normal_image_reg.wgsl` entry point. */
export const NORMAL_IMAGE_REG_WORKGROUP = 256;

/** Options of {@linkcode NormalImageReg.create}. */
export interface NormalImageRegOptions {
  /** `[F][H·W][3]` normal image (e.g. `ClipRenderer.clip.normalImage`). */
  normalImage: GPUBuffer;
  /** `[F][H·W][3]` output gradient (e.g. `ClipRenderer.grads.normalImage`). */
  grad: GPUBuffer;
  /** Image width W (at least 5). */
  width: number;
  /** Image height H (at least 5). */
  height: number;
  /** Most frames F (sizes the scratch buffers). */
  maxFrames: number;
  /** λ_tv; defaults to 0.5. */
  tvWeight?: number;
  /** λ_blur; defaults to 0.5. */
  blurWeight?: number;
  /**
   * Add the gradient into `grad` instead of overwriting it. Defaults to false: a stage
   * runs this right after the forward, before anything else writes the normal-image
   * gradient.
   */
  accumulate?: boolean;
}

type Entry = "blur_x" | "blur_y" | "adjoint_x" | "finish";
const ENTRIES: Entry[] = ["blur_x", "blur_y", "adjoint_x", "finish"];

/**
 * The normal-image TV and blur regularisers, built once. `encode` records five
 * dispatches and allocates nothing; `loss` holds `[L_tv, L_blur, λ_tv·L_tv +
 * λ_blur·L_blur]` afterwards (the two terms unweighted).
 *
 * @example Regularise the normal image of a fresh render
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { NormalImageReg } from "./normal_image_reg.ts";
 * const gpu = await acquireGpu({ log: null });
 * const n = new Float32Array(8 * 8 * 3).map((_, i) => (i % 5) / 5);
 * const reg = await NormalImageReg.create(gpu, {
 *   normalImage: gpu.createBuffer(n), grad: gpu.createBuffer(n.byteLength),
 *   width: 8, height: 8, maxFrames: 1,
 * });
 * gpu.submit((e) => { const p = e.beginComputePass(); reg.encode(p); p.end(); });
 * const [tv, blur] = new Float32Array(await gpu.read(reg.loss));
 * console.log(tv! > 0, blur! > 0); // true true
 * gpu.destroy();
 * ```
 */
export class NormalImageReg {
  /** Three f32: L_tv, L_blur (unweighted) and the weighted sum. */
  readonly loss: GPUBuffer;
  /** Image width. */
  readonly width: number;
  /** Image height. */
  readonly height: number;
  /** Most frames. */
  readonly maxFrames: number;
  readonly #gpu: Gpu;
  readonly #uniform: GPUBuffer;
  readonly #pipes: Record<Entry | "reduce", [GPUComputePipeline, GPUBindGroup]>;
  readonly #owned: GPUBuffer[];
  #frames: number;
  #tvWeight: number;
  #blurWeight: number;
  #accumulate: boolean;

  private constructor(
    gpu: Gpu,
    parts: {
      options: NormalImageRegOptions;
      loss: GPUBuffer;
      uniform: GPUBuffer;
      pipes: Record<Entry | "reduce", [GPUComputePipeline, GPUBindGroup]>;
      owned: GPUBuffer[];
    },
  ) {
    const o = parts.options;
    this.#gpu = gpu;
    this.loss = parts.loss;
    this.width = o.width;
    this.height = o.height;
    this.maxFrames = o.maxFrames;
    this.#uniform = parts.uniform;
    this.#pipes = parts.pipes;
    this.#owned = parts.owned;
    this.#frames = o.maxFrames;
    this.#tvWeight = o.tvWeight ?? NORMAL_IMAGE_REG_WEIGHT;
    this.#blurWeight = o.blurWeight ?? NORMAL_IMAGE_REG_WEIGHT;
    this.#accumulate = o.accumulate ?? false;
  }

  /** Compiles the entry points (cached), allocates the scratch buffers and binds; once. */
  static async create(gpu: Gpu, options: NormalImageRegOptions): Promise<NormalImageReg> {
    const width = requireInt("width", options.width, { min: 5, max: 8192 });
    const height = requireInt("height", options.height, { min: 5, max: 8192 });
    const maxFrames = requireInt("maxFrames", options.maxFrames, { min: 1, max: 4096 });
    requireFinite("tvWeight", options.tvWeight ?? NORMAL_IMAGE_REG_WEIGHT);
    requireFinite("blurWeight", options.blurWeight ?? NORMAL_IMAGE_REG_WEIGHT);
    const elements = maxFrames * width * height * 3;
    for (const name of ["normalImage", "grad"] as const) {
      if (options[name].size < elements * 4) {
        throw new RangeError(
          `Invalid option ${name}: expected a buffer of at least ${
            elements * 4
          } bytes for ${maxFrames} frames of ${width}×${height}, got ${options[name].size}`,
        );
      }
    }
    const [x, y] = workgroupGrid(elements, NORMAL_IMAGE_REG_WORKGROUP);
    const owned = [
      gpu.createBuffer(elements * 4, { label: "normal_image_reg scratch a" }),
      gpu.createBuffer(elements * 4, { label: "normal_image_reg scratch d" }),
      gpu.createBuffer(x * y * 12, { label: "normal_image_reg partials" }),
      gpu.createBuffer(12, { label: "normal_image_reg loss" }),
      gpu.createUniform(96, "normal_image_reg params"),
    ];
    const [scratchA, scratchD, partials, loss, uniform] = owned as [
      GPUBuffer,
      GPUBuffer,
      GPUBuffer,
      GPUBuffer,
      GPUBuffer,
    ];
    const all: Record<number, GPUBuffer> = {
      0: uniform,
      1: options.normalImage,
      2: scratchA,
      3: scratchD,
      4: options.grad,
      5: partials,
      6: loss,
    };
    // Layout "auto" drops the bindings an entry point does not use.
    const used: Record<Entry | "reduce", number[]> = {
      blur_x: [0, 1, 2],
      blur_y: [0, 1, 2, 3, 5],
      adjoint_x: [0, 3, 2],
      finish: [0, 1, 2, 3, 4],
      reduce: [0, 5, 6],
    };
    const names = [...ENTRIES, "reduce"] as const;
    const pipelines = await Promise.all(
      names.map((entryPoint) => gpu.pipeline("normal_image_reg", { entryPoint })),
    );
    const pipes = Object.fromEntries(names.map((name, i) => {
      const p = pipelines[i]!;
      const group = gpu.bindGroup(p, Object.fromEntries(used[name].map((b) => [b, all[b]!])));
      return [name, [p, group]];
    })) as Record<Entry | "reduce", [GPUComputePipeline, GPUBindGroup]>;
    const op = new NormalImageReg(gpu, {
      options: { ...options, width, height, maxFrames },
      loss,
      uniform,
      pipes,
      owned,
    });
    op.#writeUniform();
    return op;
  }

  /** Live frame count F of the next `encode` (defaults to `maxFrames`). */
  get frames(): number {
    return this.#frames;
  }

  /** Sets the live frame count (at most `maxFrames`). */
  setFrames(frames: number): void {
    this.#frames = requireInt("frames", frames, { min: 1, max: this.maxFrames });
    this.#writeUniform();
  }

  /** Sets λ_tv and/or λ_blur for the next `encode`. */
  setWeights(weights: { tv?: number; blur?: number }): void {
    if (weights.tv !== undefined) this.#tvWeight = requireFinite("tvWeight", weights.tv);
    if (weights.blur !== undefined) this.#blurWeight = requireFinite("blurWeight", weights.blur);
    this.#writeUniform();
  }

  /** Chooses between adding into the gradient buffer (true) and overwriting it (false). */
  setAccumulate(accumulate: boolean): void {
    this.#accumulate = accumulate;
    this.#writeUniform();
  }

  #elements(): number {
    return this.#frames * this.width * this.height * 3;
  }

  #writeUniform(): void {
    const [x, y] = workgroupGrid(this.#elements(), NORMAL_IMAGE_REG_WORKGROUP);
    const bytes = new ArrayBuffer(96);
    const u32 = new Uint32Array(bytes);
    const f32 = new Float32Array(bytes);
    u32.set([this.#frames, this.width, this.height, this.#elements(), x * y]);
    u32[5] = this.#accumulate ? 1 : 0;
    f32[8] = this.#tvWeight;
    f32[9] = this.#blurWeight;
    f32.set(gaussianKernel1d(NORMAL_BLUR_SIZE, NORMAL_BLUR_SIGMA), 12);
    this.#gpu.upload(this.#uniform, new Uint8Array(bytes));
  }

  /** Records the four element passes and the loss reduction. */
  encode(pass: GPUComputePassEncoder): void {
    const n = this.#elements();
    for (const entry of ENTRIES) {
      const [p, g] = this.#pipes[entry];
      this.#gpu.dispatch(pass, p, g, n, NORMAL_IMAGE_REG_WORKGROUP);
    }
    const [p, g] = this.#pipes.reduce;
    pass.setPipeline(p);
    pass.setBindGroup(0, g);
    pass.dispatchWorkgroups(1);
  }

  /** Frees the buffers this object created (scratch, partials, loss, uniform). */
  destroy(): void {
    for (const b of this.#owned) b.destroy();
  }
}

/** Inputs of the one-shot {@linkcode normalImageReg}. */
export interface NormalImageRegArrays {
  /** `[F][H·W][3]` normal image. */
  normalImage: Float32Array<ArrayBuffer>;
  frames: number;
  width: number;
  height: number;
  tvWeight?: number;
  blurWeight?: number;
  /** Initial gradient contents, added to when given (accumulate mode). */
  accumulateInto?: Float32Array<ArrayBuffer>;
}

/** Result of the one-shot {@linkcode normalImageReg}. */
export interface NormalImageRegResult {
  tv: number;
  blur: number;
  total: number;
  /** `[F][H·W][3]` weighted gradient. */
  grad: Float32Array;
}

/**
 * One-shot helper for tests and benchmarks: uploads, runs {@linkcode NormalImageReg}
 * and reads the loss and gradient back. Training code uses the class.
 *
 * @param gpu the device
 * @param inputs the image, its shape and the weights
 * @returns the loss terms and the gradient
 *
 * @example
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { normalImageReg } from "./normal_image_reg.ts";
 * const gpu = await acquireGpu({ log: null });
 * const out = await normalImageReg(gpu, {
 *   normalImage: new Float32Array(6 * 6 * 3).fill(0.5), frames: 1, width: 6, height: 6,
 * });
 * console.log(out.tv, Math.abs(out.blur) < 1e-12); // 0 true: a flat image costs nothing
 * gpu.destroy();
 * ```
 */
export async function normalImageReg(
  gpu: Gpu,
  inputs: NormalImageRegArrays,
): Promise<NormalImageRegResult> {
  const n = inputs.frames * inputs.width * inputs.height * 3;
  if (inputs.normalImage.length !== n) {
    throw new RangeError(
      `Invalid option normalImage: expected ${n} floats (F·H·W·3), got ${inputs.normalImage.length}`,
    );
  }
  const image = gpu.createBuffer(inputs.normalImage, { label: "normal_image_reg image" });
  const grad = inputs.accumulateInto === undefined
    ? gpu.createBuffer(n * 4, { label: "normal_image_reg grad" })
    : gpu.createBuffer(inputs.accumulateInto, { label: "normal_image_reg grad" });
  const op = await NormalImageReg.create(gpu, {
    normalImage: image,
    grad,
    width: inputs.width,
    height: inputs.height,
    maxFrames: inputs.frames,
    accumulate: inputs.accumulateInto !== undefined,
    ...(inputs.tvWeight === undefined ? {} : { tvWeight: inputs.tvWeight }),
    ...(inputs.blurWeight === undefined ? {} : { blurWeight: inputs.blurWeight }),
  });
  gpu.submit((encoder) => {
    const pass = encoder.beginComputePass({ label: "normal_image_reg" });
    op.encode(pass);
    pass.end();
  });
  const [tv, blur, total] = new Float32Array(await gpu.read(op.loss));
  const g = new Float32Array(await gpu.read(grad)).slice(0, n);
  op.destroy();
  image.destroy();
  grad.destroy();
  return { tv: tv!, blur: blur!, total: total!, grad: g };
}
