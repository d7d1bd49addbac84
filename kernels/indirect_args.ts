/**
 * Indirect dispatch arguments from a count that lives on the GPU.
 *
 * @module
 */
import type { Gpu } from "./gpu.ts";

/**
 * A prepared converter from `countBuffer[0]` (times `multiplier`) to dispatch arguments.
 * `scaled` holds the multiplied count, ready to bind as another kernel's `count`.
 *
 * @example
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { IndirectArgs } from "./indirect_args.ts";
 * const gpu = await acquireGpu({ log: null });
 * const count = gpu.createBuffer(new Uint32Array([1000]));
 * const ind = await IndirectArgs.create(gpu, count, { workgroupSize: 64 });
 * gpu.submit((e) => { const p = e.beginComputePass(); ind.encode(p); p.end(); });
 * console.log(new Uint32Array(await gpu.read(ind.args))[0]); // 16
 * gpu.destroy();
 * ```
 */
export class IndirectArgs {
  /** INDIRECT buffer of three u32: workgroups x, y, z. */
  readonly args: GPUBuffer;
  /** One u32: the count times the multiplier. */
  readonly scaled: GPUBuffer;
  readonly #pipeline: GPUComputePipeline;
  readonly #group: GPUBindGroup;

  private constructor(args: GPUBuffer, scaled: GPUBuffer, p: GPUComputePipeline, g: GPUBindGroup) {
    this.args = args;
    this.scaled = scaled;
    this.#pipeline = p;
    this.#group = g;
  }

  /** Builds the converter for `countBuffer` once, outside any loop. */
  static async create(
    gpu: Gpu,
    countBuffer: GPUBuffer,
    options: { workgroupSize: number; multiplier?: number },
  ): Promise<IndirectArgs> {
    const pipeline = await gpu.pipeline("indirect_args", {
      constants: { WORKGROUP: options.workgroupSize, MULTIPLIER: options.multiplier ?? 1 },
    });
    const args = gpu.createBuffer(12, {
      label: "indirect args",
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.INDIRECT | GPUBufferUsage.COPY_SRC,
    });
    const scaled = gpu.createBuffer(4, { label: "scaled count" });
    const group = gpu.bindGroup(pipeline, [countBuffer, args, scaled]);
    return new IndirectArgs(args, scaled, pipeline, group);
  }

  /** Records the conversion; dispatches recorded after it in the same pass may use `args`. */
  encode(pass: GPUComputePassEncoder): void {
    pass.setPipeline(this.#pipeline);
    pass.setBindGroup(0, this.#group);
    pass.dispatchWorkgroups(1);
  }

  /** Frees the two buffers this object owns. */
  destroy(): void {
    this.args.destroy();
    this.scaled.destroy();
  }
}
