/**
 * One-cell dilation of an {@linkcode OccupancyGrid}'s bitfield on the GPU
 * (`occupancy_dilate.wgsl`). Built once; `encode` copies the bits to a scratch buffer and
 * dilates them back, so it can follow each occupancy update in the same submit.
 *
 * @module
 */
import type { Gpu } from "./gpu.ts";
import type { OccupancyGrid } from "./occupancy.ts";

/** Threads per workgroup of the dilation kernel. */
export const OCCUPANCY_DILATE_WORKGROUP = 64;

/**
 * The dilation, bound to one grid.
 *
 * @example Dilating a single occupied cell
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { OccupancyGrid } from "./occupancy.ts";
 * import { OccupancyDilate } from "./occupancy_dilate.ts";
 * const gpu = await acquireGpu({ log: null });
 * const occ = await OccupancyGrid.create(gpu, { res: 4, slices: 1 });
 * const bits = new Uint32Array(occ.slices * occ.wordsPerSlice);
 * bits[0] = 1; // cell (0, 0, 0)
 * gpu.upload(occ.bits, bits);
 * const dilate = await OccupancyDilate.create(gpu, occ);
 * gpu.submit((e) => dilate.encode(e));
 * const out = new Uint32Array(await gpu.read(occ.bits));
 * console.log(out[0]!.toString(2).split("").filter((b) => b === "1").length); // 8
 * dilate.destroy();
 * gpu.destroy();
 * ```
 */
export class OccupancyDilate {
  readonly #gpu: Gpu;
  readonly #grid: OccupancyGrid;
  readonly #pipeline: GPUComputePipeline;
  readonly #group: GPUBindGroup;
  readonly #scratch: GPUBuffer;
  readonly #uniform: GPUBuffer;

  private constructor(
    gpu: Gpu,
    grid: OccupancyGrid,
    parts: {
      pipeline: GPUComputePipeline;
      group: GPUBindGroup;
      scratch: GPUBuffer;
      uniform: GPUBuffer;
    },
  ) {
    this.#gpu = gpu;
    this.#grid = grid;
    this.#pipeline = parts.pipeline;
    this.#group = parts.group;
    this.#scratch = parts.scratch;
    this.#uniform = parts.uniform;
  }

  /** Compiles the kernel (cached) and allocates the scratch copy of the bits. */
  static async create(gpu: Gpu, grid: OccupancyGrid): Promise<OccupancyDilate> {
    const pipeline = await gpu.pipeline("occupancy_dilate");
    const scratch = gpu.createBuffer(grid.bits.size, { label: "occupancy dilate scratch" });
    const uniform = gpu.createUniform(16, "occupancy dilate dims");
    gpu.upload(
      uniform,
      new Uint32Array([grid.res, grid.slices, grid.wordsPerSlice, grid.res ** 3]),
    );
    const group = gpu.bindGroup(pipeline, { 0: scratch, 1: grid.bits, 2: uniform });
    return new OccupancyDilate(gpu, grid, { pipeline, group, scratch, uniform });
  }

  /** Records the copy and the dilation into `encoder`. */
  encode(encoder: GPUCommandEncoder): void {
    encoder.copyBufferToBuffer(this.#grid.bits, 0, this.#scratch, 0, this.#grid.bits.size);
    const pass = encoder.beginComputePass({ label: "occupancy dilate" });
    this.#gpu.dispatch(
      pass,
      this.#pipeline,
      this.#group,
      this.#grid.slices * this.#grid.wordsPerSlice,
      OCCUPANCY_DILATE_WORKGROUP,
    );
    pass.end();
  }

  /** Frees the scratch buffer and the uniform. */
  destroy(): void {
    this.#scratch.destroy();
    this.#uniform.destroy();
  }
}
