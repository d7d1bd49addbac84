/**
 * Per-sample times from per-frame times, on the GPU.
 *
 * @module
 */
import type { Gpu } from "./gpu.ts";
import { requireInt } from "./validate.ts";

/**
 * The prepared kernel for fixed buffers; `frameTimes` is a buffer of F floats the caller
 * writes.
 *
 * @example
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { SampleTimes } from "./sample_times.ts";
 * const gpu = await acquireGpu({ log: null });
 * const times = gpu.createBuffer(8);
 * const st = await SampleTimes.create(gpu, {
 *   count: gpu.createBuffer(new Uint32Array([2])),
 *   rayIndex: gpu.createBuffer(new Uint32Array([0, 5])),
 *   frameTimes: gpu.createBuffer(new Float32Array([0.25, 0.75])),
 *   times,
 *   raysPerFrame: 4,
 *   frames: 2,
 *   maxSamples: 2,
 * });
 * gpu.submit((e) => { const p = e.beginComputePass(); st.encode(p); p.end(); });
 * console.log(new Float32Array(await gpu.read(times))); // [0.25, 0.75]
 * gpu.destroy();
 * ```
 */
export class SampleTimes {
  readonly #gpu: Gpu;
  readonly #pipeline: GPUComputePipeline;
  readonly #group: GPUBindGroup;
  readonly #max: number;

  private constructor(gpu: Gpu, pipeline: GPUComputePipeline, group: GPUBindGroup, max: number) {
    this.#gpu = gpu;
    this.#pipeline = pipeline;
    this.#group = group;
    this.#max = max;
  }

  /** Builds the kernel for fixed buffers. */
  static async create(
    gpu: Gpu,
    options: {
      count: GPUBuffer;
      rayIndex: GPUBuffer;
      frameTimes: GPUBuffer;
      times: GPUBuffer;
      raysPerFrame: number;
      frames: number;
      maxSamples: number;
    },
  ): Promise<SampleTimes> {
    const pipeline = await gpu.pipeline("sample_times", {
      constants: {
        RAYS_PER_FRAME: requireInt("raysPerFrame", options.raysPerFrame, { min: 1 }),
        FRAMES: requireInt("frames", options.frames, { min: 1 }),
      },
    });
    const group = gpu.bindGroup(pipeline, [
      options.count,
      options.rayIndex,
      options.frameTimes,
      options.times,
    ]);
    return new SampleTimes(
      gpu,
      pipeline,
      group,
      requireInt("maxSamples", options.maxSamples, {
        min: 1,
      }),
    );
  }

  /** Records the kernel over at most `maxSamples` samples. */
  encode(pass: GPUComputePassEncoder): void {
    this.#gpu.dispatch(pass, this.#pipeline, this.#group, this.#max, 64);
  }
}
