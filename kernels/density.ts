/**
 * Density at arbitrary points from raw MLP outputs, for the occupancy update.
 *
 * @module
 */
import type { BufferRange, Gpu } from "./gpu.ts";
import { requireInt } from "./validate.ts";

/**
 * The prepared kernel: writes `sigma[i] = exp(raw[i][0] + blob(points[i]))` for
 * `count[0]` points.
 *
 * @example
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { Density } from "./density.ts";
 * const gpu = await acquireGpu({ log: null });
 * const sigma = gpu.createBuffer(4);
 * const d = await Density.create(gpu, {
 *   count: gpu.createBuffer(new Uint32Array([1])),
 *   points: gpu.createBuffer(new Float32Array([1, 1, 1])),
 *   raw: gpu.createBuffer(new Float32Array([0, 0, 0, 0])),
 *   sigma,
 *   maxPoints: 1,
 * });
 * gpu.submit((e) => { const p = e.beginComputePass(); d.encode(p); p.end(); });
 * console.log(new Float32Array(await gpu.read(sigma))[0]! > 1);
 * gpu.destroy();
 * ```
 */
export class Density {
  readonly #gpu: Gpu;
  readonly #pipeline: GPUComputePipeline;
  readonly #group: GPUBindGroup;
  readonly #maxPoints: number;

  private constructor(gpu: Gpu, pipeline: GPUComputePipeline, group: GPUBindGroup, n: number) {
    this.#gpu = gpu;
    this.#pipeline = pipeline;
    this.#group = group;
    this.#maxPoints = n;
  }

  /** Builds the kernel for fixed buffers. */
  static async create(
    gpu: Gpu,
    buffers: {
      count: GPUBuffer | BufferRange;
      points: GPUBuffer | BufferRange;
      raw: GPUBuffer | BufferRange;
      sigma: GPUBuffer | BufferRange;
      maxPoints: number;
    },
  ): Promise<Density> {
    const maxPoints = requireInt("maxPoints", buffers.maxPoints, { min: 1 });
    const pipeline = await gpu.pipeline("density");
    const group = gpu.bindGroup(pipeline, [
      buffers.count,
      buffers.points,
      buffers.raw,
      buffers.sigma,
    ]);
    return new Density(gpu, pipeline, group, maxPoints);
  }

  /** Records the kernel over at most `maxPoints` points. */
  encode(pass: GPUComputePassEncoder): void {
    this.#gpu.dispatch(pass, this.#pipeline, this.#group, this.#maxPoints, 64);
  }
}
