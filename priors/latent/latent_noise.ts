/**
 * The posterior noise kernel (`latent_noise.wgsl`): fills a buffer with the standard
 * normal draws of one frame and seed, so the VAE's sample never needs an upload.
 *
 * @module
 */
import type { Gpu } from "../../kernels/gpu.ts";
import { requireInt } from "../../kernels/validate.ts";
import { loadPriorWgsl } from "../_wgsl.ts";

/** Workgroup size of `latent_noise.wgsl`. */
export const LATENT_NOISE_WORKGROUP = 256;

/**
 * The kernel bound to one output buffer, with one uniform per frame.
 * {@linkcode LatentNoise.set} writes the seed of the next draws.
 *
 * @example Two frames draw different noise from one seed
 * ```ts
 * import { acquireGpu } from "../../kernels/gpu.ts";
 * import { LatentNoise } from "./latent_noise.ts";
 * const gpu = await acquireGpu({ log: null });
 * const out = gpu.createBuffer(16);
 * const op = await LatentNoise.create(gpu, { output: out, count: 4, maxFrames: 2 });
 * op.set(42);
 * gpu.submit((e) => { const p = e.beginComputePass(); op.encode(p, 1); p.end(); });
 * const n = new Float32Array(await gpu.read(out));
 * console.log(n.length, n.every(Number.isFinite)); // 4 true
 * gpu.destroy();
 * ```
 */
export class LatentNoise {
  /** Elements per frame. */
  readonly count: number;
  readonly #gpu: Gpu;
  readonly #pipeline: GPUComputePipeline;
  readonly #uniforms: GPUBuffer[];
  readonly #groups: GPUBindGroup[];

  private constructor(
    gpu: Gpu,
    pipeline: GPUComputePipeline,
    options: { output: GPUBuffer; count: number; maxFrames: number },
  ) {
    this.#gpu = gpu;
    this.#pipeline = pipeline;
    this.count = options.count;
    this.#uniforms = Array.from(
      { length: options.maxFrames },
      (_, f) => gpu.createUniform(16, `latent_noise frame ${f}`),
    );
    this.#groups = this.#uniforms.map((u) => gpu.bindGroup(pipeline, [options.output, u]));
  }

  /**
   * Compiles the kernel (cached) and binds `output`; call once.
   *
   * @param gpu the device
   * @param options the output buffer (`[count]` f32), elements per frame, most frames
   * @returns the kernel
   */
  static async create(
    gpu: Gpu,
    options: { output: GPUBuffer; count: number; maxFrames: number },
  ): Promise<LatentNoise> {
    const count = requireInt("count", options.count, { min: 1 });
    const maxFrames = requireInt("maxFrames", options.maxFrames, { min: 1 });
    if (options.output.size < 4 * count) {
      throw new RangeError(
        `Invalid option output: expected a buffer of at least ${
          4 * count
        } bytes, got ${options.output.size}`,
      );
    }
    const pipeline = await gpu.pipelineFromSource(loadPriorWgsl("latent/latent_noise"));
    return new LatentNoise(gpu, pipeline, { ...options, count, maxFrames });
  }

  /**
   * Writes the seed of every frame's uniform.
   *
   * @param seed 32-bit seed
   */
  set(seed: number): void {
    requireInt("seed", seed, { min: 0, max: 0xffffffff });
    this.#uniforms.forEach((u, f) =>
      this.#gpu.upload(u, new Uint32Array([this.count, f, seed, 0]))
    );
  }

  /**
   * Records the draw of frame `frame` into the output.
   *
   * @param pass an open compute pass
   * @param frame which frame
   */
  encode(pass: GPUComputePassEncoder, frame: number): void {
    requireInt("frame", frame, { min: 0, max: this.#groups.length - 1 });
    this.#gpu.dispatch(
      pass,
      this.#pipeline,
      this.#groups[frame]!,
      this.count,
      LATENT_NOISE_WORKGROUP,
    );
  }

  /** Frees the uniforms. */
  destroy(): void {
    for (const u of this.#uniforms) u.destroy();
  }
}
