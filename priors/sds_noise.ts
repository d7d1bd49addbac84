/**
 * The forward-diffusion kernel of score distillation on the GPU (`sds_noise.wgsl`):
 * z = 2x − 1, ε ~ N(0, 1) from a seeded counter hash, z_t = √ᾱ·z + √(1 − ᾱ)·ε.
 *
 * @module
 */
import type { Gpu } from "../kernels/gpu.ts";
import { requireInt } from "../kernels/validate.ts";
import { loadPriorWgsl } from "./_wgsl.ts";
import { BindCache } from "./_bind_cache.ts";
import { packSdsItems } from "./sds_items.ts";
import { type SdsSpace, sdsSpaceMap } from "./sds_noise_twin.ts";

/** Workgroup size of `sds_noise.wgsl`. */
export const SDS_NOISE_WORKGROUP = 256;

/** Options of {@linkcode SdsNoise.create}. */
export interface SdsNoiseOptions {
  /** Per-item constants, `array<SdsItem>` for `maxItems` (see `sds_items.ts`). */
  items: GPUBuffer;
  /** Output ε, `[maxElements]` f32. */
  noise: GPUBuffer;
  /** Output z_t, `[maxElements]` f32. */
  noisy: GPUBuffer;
  /** Largest items × elements per item. */
  maxElements: number;
}

/**
 * The noise kernel, built once. {@linkcode SdsNoise.set} writes the uniforms (live element
 * count, elements per item, seed); {@linkcode SdsNoise.encode} records one dispatch over a
 * caller's image buffer (bind groups cached per buffer).
 *
 * @example Noise one pixel at t = 0
 * ```ts
 * import { acquireGpu } from "../kernels/gpu.ts";
 * import { packSdsItems } from "./sds_items.ts";
 * import { SdsNoise } from "./sds_noise.ts";
 * const gpu = await acquireGpu({ log: null });
 * const noisy = gpu.createBuffer(12);
 * const op = await SdsNoise.create(gpu, {
 *   items: gpu.createBuffer(packSdsItems([{ t: 0, lambda: 1 }], "sds")),
 *   noise: gpu.createBuffer(12), noisy, maxElements: 3,
 * });
 * op.set({ elements: 3, perItem: 3, seed: 1 });
 * const image = gpu.createBuffer(new Float32Array([1, 1, 1]));
 * gpu.submit((e) => { const p = e.beginComputePass(); op.encode(p, image); p.end(); });
 * console.log(new Float32Array(await gpu.read(noisy))[0]!.toFixed(1)); // 1.0
 * gpu.destroy();
 * ```
 */
export class SdsNoise {
  /** Largest element count. */
  readonly maxElements: number;
  readonly #gpu: Gpu;
  readonly #pipeline: GPUComputePipeline;
  readonly #uniform: GPUBuffer;
  readonly #groups: BindCache<GPUBindGroup>;
  #elements = 0;

  private constructor(gpu: Gpu, pipeline: GPUComputePipeline, options: SdsNoiseOptions) {
    this.#gpu = gpu;
    this.#pipeline = pipeline;
    this.maxElements = options.maxElements;
    this.#uniform = gpu.createUniform(32, "sds_noise uniforms");
    this.#groups = new BindCache((image) =>
      gpu.bindGroup(pipeline, [image, options.items, options.noise, options.noisy, this.#uniform])
    );
  }

  /** Compiles the kernel (cached) and checks the buffer sizes; call once. */
  static async create(gpu: Gpu, options: SdsNoiseOptions): Promise<SdsNoise> {
    const maxElements = requireInt("maxElements", options.maxElements, { min: 1 });
    for (const name of ["noise", "noisy"] as const) {
      if (options[name].size < 4 * maxElements) {
        throw new RangeError(
          `Invalid option ${name}: expected a buffer of at least ${4 * maxElements} bytes, got ${
            options[name].size
          }`,
        );
      }
    }
    const pipeline = await gpu.pipelineFromSource(loadPriorWgsl("sds_noise"));
    return new SdsNoise(gpu, pipeline, { ...options, maxElements });
  }

  /**
   * Sets the live element count (items × `perItem`), the item size, the seed and the
   * input space (`pixel` by default: z = 2x − 1; `latent`: z = x).
   *
   * @param settings elements, elements per item, 32-bit seed and space
   */
  set(settings: { elements: number; perItem: number; seed: number; space?: SdsSpace }): void {
    this.#elements = requireInt("elements", settings.elements, { min: 1, max: this.maxElements });
    const perItem = requireInt("perItem", settings.perItem, { min: 1 });
    const seed = requireInt("seed", settings.seed, { min: 0, max: 0xffffffff });
    const map = sdsSpaceMap(settings.space ?? "pixel");
    const words = new ArrayBuffer(32);
    new Uint32Array(words, 0, 4).set([this.#elements, perItem, seed, 0]);
    new Float32Array(words, 16, 2).set([map.scale, map.offset]);
    this.#gpu.upload(this.#uniform, new Uint8Array(words));
  }

  /**
   * Records the dispatch over `image` (`[elements]` pixels in [0, 1], or latents).
   *
   * @param pass an open compute pass
   * @param image the rendered pixels
   */
  encode(pass: GPUComputePassEncoder, image: GPUBuffer): void {
    if (image.size < 4 * this.#elements) {
      throw new RangeError(
        `Invalid option images: expected a buffer of at least ${
          4 * this.#elements
        } bytes, got ${image.size}`,
      );
    }
    this.#gpu.dispatch(
      pass,
      this.#pipeline,
      this.#groups.get(image),
      this.#elements,
      SDS_NOISE_WORKGROUP,
    );
  }

  /** Frees the uniform buffer. */
  destroy(): void {
    this.#groups.clear();
    this.#uniform.destroy();
  }
}

/**
 * One-shot helper for tests: uploads, runs {@linkcode SdsNoise} and reads ε and z_t back.
 *
 * @param gpu the device
 * @param inputs pixels, per-item timesteps, elements per item and seed
 * @returns ε and z_t
 *
 * @example
 * ```ts
 * import { acquireGpu } from "../kernels/gpu.ts";
 * import { sdsNoise } from "./sds_noise.ts";
 * const gpu = await acquireGpu({ log: null });
 * const r = await sdsNoise(gpu, {
 *   image: new Float32Array(8).fill(0.5), timesteps: [500, 999], perItem: 4, seed: 9,
 * });
 * console.log(r.noise.length); // 8
 * gpu.destroy();
 * ```
 */
export async function sdsNoise(
  gpu: Gpu,
  inputs: {
    image: Float32Array<ArrayBuffer>;
    timesteps: readonly number[];
    perItem: number;
    seed: number;
    space?: SdsSpace;
  },
): Promise<{ noise: Float32Array; noisy: Float32Array }> {
  const n = inputs.image.length;
  const items = gpu.createBuffer(
    packSdsItems(inputs.timesteps.map((t) => ({ t, lambda: 1 })), "sds"),
    { label: "sds items" },
  );
  const image = gpu.createBuffer(inputs.image, { label: "sds image" });
  const noise = gpu.createBuffer(4 * n, { label: "sds noise" });
  const noisy = gpu.createBuffer(4 * n, { label: "sds noisy" });
  const op = await SdsNoise.create(gpu, { items, noise, noisy, maxElements: n });
  op.set({
    elements: n,
    perItem: inputs.perItem,
    seed: inputs.seed,
    ...(inputs.space === undefined ? {} : { space: inputs.space }),
  });
  gpu.submit((e) => {
    const pass = e.beginComputePass({ label: "sds_noise" });
    op.encode(pass, image);
    pass.end();
  });
  const out = {
    noise: new Float32Array(await gpu.read(noise)).slice(0, n),
    noisy: new Float32Array(await gpu.read(noisy)).slice(0, n),
  };
  op.destroy();
  for (const b of [items, image, noise, noisy]) b.destroy();
  return out;
}
