/**
 * Per-chunk counts and indirect dispatch arguments from a GPU-side point count, so that
 * the field is evaluated in chunks whose features fit one storage binding.
 *
 * @module
 */
import type { Gpu } from "./gpu.ts";
import { requireInt } from "./validate.ts";

/** Stride in bytes between chunk counts, so each can be bound at an aligned offset. */
export const CHUNK_COUNT_STRIDE = 256;

/**
 * The prepared kernel. After {@linkcode ChunkCounts.encode}, chunk c's count is the u32 at
 * byte `c·256` of `counts`, its grid-encoder arguments at byte `c·24` of `args` and its MLP
 * arguments at byte `c·24 + 12`.
 *
 * @example
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { ChunkCounts } from "./chunk_counts.ts";
 * const gpu = await acquireGpu({ log: null });
 * const total = gpu.createBuffer(new Uint32Array([100]));
 * const cc = await ChunkCounts.create(gpu, total, { chunk: 64, chunks: 2, levels: 16 });
 * gpu.submit((e) => { const p = e.beginComputePass(); cc.encode(p); p.end(); });
 * console.log(new Uint32Array(await gpu.read(cc.counts))[64]); // 36
 * gpu.destroy();
 * ```
 */
export class ChunkCounts {
  /** Chunk counts at a 64-word stride. */
  readonly counts: GPUBuffer;
  /** INDIRECT arguments, 6 u32 per chunk: grid encoder x, y, z, then MLP x, y, z. */
  readonly args: GPUBuffer;
  /** Number of chunks. */
  readonly chunks: number;
  readonly #pipeline: GPUComputePipeline;
  readonly #group: GPUBindGroup;

  private constructor(
    parts: { counts: GPUBuffer; args: GPUBuffer; chunks: number },
    pipeline: GPUComputePipeline,
    group: GPUBindGroup,
  ) {
    this.counts = parts.counts;
    this.args = parts.args;
    this.chunks = parts.chunks;
    this.#pipeline = pipeline;
    this.#group = group;
  }

  /** Builds the kernel for `total[0]` points split into `chunks` chunks of `chunk`. */
  static async create(
    gpu: Gpu,
    total: GPUBuffer,
    options: { chunk: number; chunks: number; levels: number; workgroup?: number },
  ): Promise<ChunkCounts> {
    const chunk = requireInt("chunk", options.chunk, { min: 1 });
    const chunks = requireInt("chunks", options.chunks, { min: 1, max: 65535 * 64 });
    const pipeline = await gpu.pipeline("chunk_counts", {
      constants: {
        CHUNK: chunk,
        CHUNKS: chunks,
        LEVELS: requireInt("levels", options.levels, { min: 1 }),
        WORKGROUP: options.workgroup ?? 64,
      },
    });
    const counts = gpu.createBuffer(chunks * CHUNK_COUNT_STRIDE, { label: "chunk counts" });
    const args = gpu.createBuffer(chunks * 24, {
      label: "chunk dispatch args",
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.INDIRECT | GPUBufferUsage.COPY_SRC,
    });
    const group = gpu.bindGroup(pipeline, [total, counts, args]);
    return new ChunkCounts({ counts, args, chunks }, pipeline, group);
  }

  /** Records the split. */
  encode(pass: GPUComputePassEncoder): void {
    pass.setPipeline(this.#pipeline);
    pass.setBindGroup(0, this.#group);
    pass.dispatchWorkgroups(Math.ceil(this.chunks / 64));
  }

  /** Frees the buffers this object owns. */
  destroy(): void {
    this.counts.destroy();
    this.args.destroy();
  }
}
