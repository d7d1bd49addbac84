/**
 * The occupancy grid update of SPEC.md §3.2 driven by the field: for every slice, the
 * density at jittered cell centres, then the EMA, then the threshold and bitfield.
 *
 * @module
 */
import { Density } from "./density.ts";
import type { Field } from "./field.ts";
import { FieldEval } from "./field_eval.ts";
import type { Gpu } from "./gpu.ts";
import { OccupancyGrid, type OccupancyGridOptions } from "./occupancy.ts";
import { occupancySliceTimes } from "./occupancy_twin.ts";

/**
 * An occupancy grid with the field evaluation that refreshes it, built once.
 *
 * @example
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { Field } from "./field.ts";
 * import { OccupancyUpdater } from "./occupancy_updater.ts";
 * import { seededRandom } from "./random.ts";
 * const gpu = await acquireGpu({ log: null });
 * const field = await Field.create(gpu, { grid: { levels: 2, log2TableSize: 8 } });
 * const occ = await OccupancyUpdater.create(gpu, field, { res: 8, slices: 1 });
 * occ.update(0, seededRandom(1));
 * const [mean] = new Float32Array(await gpu.read(occ.grid.stats));
 * console.log(mean! > 0);
 * gpu.destroy();
 * ```
 */
export class OccupancyUpdater {
  /** The grid the marcher reads. */
  readonly grid: OccupancyGrid;
  readonly #gpu: Gpu;
  readonly #eval: FieldEval;
  readonly #density: Density;
  readonly #raw: GPUBuffer;
  readonly #count: GPUBuffer;

  private constructor(
    gpu: Gpu,
    parts: {
      grid: OccupancyGrid;
      eval: FieldEval;
      density: Density;
      raw: GPUBuffer;
      count: GPUBuffer;
    },
  ) {
    this.#gpu = gpu;
    this.grid = parts.grid;
    this.#eval = parts.eval;
    this.#density = parts.density;
    this.#raw = parts.raw;
    this.#count = parts.count;
  }

  /**
   * Builds the grid and its field evaluation. Cells are processed in chunks of at most
   * 2^19 points so the features fit one storage binding on any adapter.
   */
  static async create(
    gpu: Gpu,
    field: Field,
    options: Omit<OccupancyGridOptions, "sigmaBuffer" | "sigmaStride" | "chunkCells"> = {},
  ): Promise<OccupancyUpdater> {
    const res = options.res ?? 128;
    const chunkCells = Math.min(res ** 3, 2 ** 19);
    const grid = await OccupancyGrid.create(gpu, { ...options, chunkCells });
    const count = gpu.createBuffer(new Uint32Array([chunkCells]), { label: "occupancy count" });
    const raw = gpu.createBuffer(chunkCells * 16, { label: "occupancy raw" });
    const ev = await FieldEval.create(gpu, field, {
      points: grid.points,
      times: grid.times,
      count,
      raw,
      maxPoints: chunkCells,
    });
    const density = await Density.create(gpu, {
      count,
      points: grid.points,
      raw,
      sigma: grid.sigma,
      maxPoints: chunkCells,
    });
    return new OccupancyUpdater(gpu, { grid, eval: ev, density, raw, count });
  }

  /**
   * Records and submits one update at global step `step`; `random` draws the per-slice
   * times. Nothing is read back.
   */
  update(step: number, random: () => number): void {
    const g = this.grid;
    g.setUpdate({ step, sliceTimes: occupancySliceTimes(g.slices, random) });
    this.#gpu.submit((encoder) => {
      const pass = encoder.beginComputePass({ label: "occupancy update" });
      for (let k = 0; k < g.chunks; k++) {
        g.encodePoints(pass, k);
        this.#eval.encodeForward(pass);
        this.#density.encode(pass);
        g.encodeEma(pass, k);
      }
      g.encodeThreshold(pass);
      pass.end();
    });
  }

  /** Frees the grid and the evaluation buffers (not the field). */
  destroy(): void {
    this.#eval.destroy();
    this.grid.destroy();
    this.#raw.destroy();
    this.#count.destroy();
  }
}
