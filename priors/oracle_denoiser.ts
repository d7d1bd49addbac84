/**
 * The oracle denoiser on the GPU (`oracle_denoiser.wgsl`): the exact posterior-mean
 * denoiser of finite conditional and unconditional target sets (SPEC.md §10.4), one pair
 * of sets per item, uploaded by the caller before each prediction.
 *
 * @module
 */
import type { Gpu } from "../kernels/gpu.ts";
import { requireInt } from "../kernels/validate.ts";
import { loadPriorWgsl } from "./_wgsl.ts";
import type { Denoiser, DenoiseRequest } from "./denoiser.ts";
import { alphaBar } from "./noise_schedule.ts";

/** Workgroup size of the three `oracle_denoiser.wgsl` entry points. */
export const ORACLE_WORKGROUP = 256;

/** Options of {@linkcode OracleDenoiser.create}. */
export interface OracleDenoiserOptions {
  /** Largest items per call. */
  maxItems: number;
  /** Elements per item (frames per item × H × W × 3). */
  perItem: number;
  /** Largest targets per set (≤ 256). */
  maxTargets: number;
}

/**
 * One item's targets, each `perItem` pixel values in [0, 1] (converted to z = 2y − 1).
 *
 * @example Upload one pixel's sets and read the stored z values back
 * ```ts
 * import { acquireGpu } from "../kernels/gpu.ts";
 * import { OracleDenoiser, type OracleTargetSet } from "./oracle_denoiser.ts";
 * const gpu = await acquireGpu({ log: null });
 * const oracle = await OracleDenoiser.create(gpu, { maxItems: 1, perItem: 3, maxTargets: 2 });
 * const set: OracleTargetSet = { cond: [[1, 0, 0.5]], uncond: [[1, 0, 0.5], [0.5, 0.5, 0.5]] };
 * oracle.setTargets(0, set);
 * console.log(new Float32Array(await gpu.read(oracle.condTargets, { byteLength: 12 }))); // Float32Array(3) [ 1, -1, 0 ]
 * oracle.destroy();
 * gpu.destroy();
 * ```
 */
export interface OracleTargetSet {
  /** Conditional targets (at least one). */
  cond: readonly ArrayLike<number>[];
  /** Unconditional targets (at least one). */
  uncond: readonly ArrayLike<number>[];
}

/**
 * The oracle, built once: {@linkcode OracleDenoiser.setTargets} uploads an item's sets,
 * {@linkcode OracleDenoiser.predict} encodes distances, softmax and ε̂ and submits them.
 *
 * @example With a single conditional target, ε̂_cond recovers the noise exactly
 * ```ts
 * import { acquireGpu } from "../kernels/gpu.ts";
 * import { alphaBar } from "./noise_schedule.ts";
 * import { OracleDenoiser } from "./oracle_denoiser.ts";
 * const gpu = await acquireGpu({ log: null });
 * const oracle = await OracleDenoiser.create(gpu, { maxItems: 1, perItem: 2, maxTargets: 2 });
 * oracle.setTargets(0, { cond: [[1, 0]], uncond: [[1, 0], [0, 0]] });
 * const ab = alphaBar(400), eps = [0.5, -1];
 * const zt = [1, -1].map((z, i) => Math.sqrt(ab) * z + Math.sqrt(1 - ab) * eps[i]!);
 * const epsCond = gpu.createBuffer(8);
 * oracle.predict({
 *   noisy: gpu.createBuffer(new Float32Array(zt)), items: 1, perItem: 2, framesPerItem: 1,
 *   width: 1, height: 1, timesteps: [400], conditioning: { cameras: [], times: [] },
 *   epsCond, epsUncond: gpu.createBuffer(8),
 * });
 * console.log(Array.from(new Float32Array(await gpu.read(epsCond)), (v) => v.toFixed(3)));
 * // [ "0.500", "-1.000" ]
 * gpu.destroy();
 * ```
 */
export class OracleDenoiser implements Denoiser {
  /** `oracle`. */
  readonly name = "oracle";
  /** Largest items per call. */
  readonly maxItems: number;
  /** Elements per item. */
  readonly perItem: number;
  /** Largest targets per set. */
  readonly maxTargets: number;
  /** Conditional targets `[maxItems][maxTargets][perItem]`, z space. */
  readonly condTargets: GPUBuffer;
  /** Unconditional targets, same layout. */
  readonly uncondTargets: GPUBuffer;
  readonly #gpu: Gpu;
  readonly #pipes: {
    distances: GPUComputePipeline;
    softmax: GPUComputePipeline;
    denoise: GPUComputePipeline;
  };
  readonly #items: GPUBuffer;
  readonly #weights: GPUBuffer;
  readonly #uniform: GPUBuffer;
  readonly #counts: [number, number][];
  readonly #scratch: Float32Array<ArrayBuffer>;
  #groups: { key: GPUBuffer[]; groups: GPUBindGroup[] } | null = null;

  private constructor(
    gpu: Gpu,
    pipes: {
      distances: GPUComputePipeline;
      softmax: GPUComputePipeline;
      denoise: GPUComputePipeline;
    },
    options: OracleDenoiserOptions,
  ) {
    this.#gpu = gpu;
    this.#pipes = pipes;
    this.maxItems = options.maxItems;
    this.perItem = options.perItem;
    this.maxTargets = options.maxTargets;
    const setBytes = 4 * options.maxItems * options.maxTargets * options.perItem;
    this.condTargets = gpu.createBuffer(setBytes, { label: "oracle cond targets" });
    this.uncondTargets = gpu.createBuffer(setBytes, { label: "oracle uncond targets" });
    this.#items = gpu.createBuffer(16 * options.maxItems, { label: "oracle items" });
    this.#weights = gpu.createBuffer(8 * options.maxItems * options.maxTargets, {
      label: "oracle weights",
    });
    this.#uniform = gpu.createUniform(16, "oracle uniforms");
    this.#counts = Array.from({ length: options.maxItems }, () => [0, 0]);
    this.#scratch = new Float32Array(options.perItem);
  }

  /** Compiles the three entry points (cached) and allocates the target buffers; call once. */
  static async create(gpu: Gpu, options: OracleDenoiserOptions): Promise<OracleDenoiser> {
    const maxItems = requireInt("maxItems", options.maxItems, { min: 1 });
    const perItem = requireInt("perItem", options.perItem, { min: 1 });
    const maxTargets = requireInt("maxTargets", options.maxTargets, {
      min: 1,
      max: ORACLE_WORKGROUP,
    });
    const setBytes = 4 * maxItems * maxTargets * perItem;
    const limit = gpu.limits.maxStorageBufferBindingSize;
    if (setBytes > limit) {
      throw new RangeError(
        `Invalid option maxTargets: ${maxItems} items × ${maxTargets} targets × ${perItem} floats need ${setBytes} bytes per target set, above the device's ${limit}-byte storage binding limit`,
      );
    }
    const source = loadPriorWgsl("oracle_denoiser");
    const [distances, softmax, denoise] = await Promise.all(
      ["distances", "softmax", "denoise"].map((entryPoint) =>
        gpu.pipelineFromSource(source, { entryPoint })
      ),
    );
    return new OracleDenoiser(
      gpu,
      { distances: distances!, softmax: softmax!, denoise: denoise! },
      {
        maxItems,
        perItem,
        maxTargets,
      },
    );
  }

  /**
   * Uploads the targets of item `item` (pixel values in [0, 1], stored as z = 2y − 1).
   *
   * @param item item index in [0, maxItems)
   * @param targets the conditional and unconditional sets
   */
  setTargets(item: number, targets: OracleTargetSet): void {
    requireInt("item", item, { min: 0, max: this.maxItems - 1 });
    const sets = [
      ["cond", targets.cond, this.condTargets],
      ["uncond", targets.uncond, this.uncondTargets],
    ] as const;
    sets.forEach(([name, list, buffer], s) => {
      requireInt(`targets.${name}.length`, list.length, { min: 1, max: this.maxTargets });
      list.forEach((y, k) => {
        if (y.length !== this.perItem) {
          throw new RangeError(
            `Invalid option targets.${name}[${k}]: expected ${this.perItem} values (frames × H × W × 3), got ${y.length}`,
          );
        }
        for (let e = 0; e < this.perItem; e++) this.#scratch[e] = 2 * y[e]! - 1;
        this.#gpu.upload(buffer, this.#scratch, 4 * (item * this.maxTargets + k) * this.perItem);
      });
      this.#counts[item]![s] = list.length;
    });
  }

  #bindGroups(request: DenoiseRequest): GPUBindGroup[] {
    const key = [request.noisy, request.epsCond, request.epsUncond];
    if (this.#groups === null || this.#groups.key.some((b, i) => b !== key[i])) {
      const all = {
        0: request.noisy,
        1: this.condTargets,
        2: this.uncondTargets,
        3: this.#items,
        4: this.#weights,
        5: request.epsCond,
        6: request.epsUncond,
        7: this.#uniform,
      };
      const g = this.#gpu;
      this.#groups = {
        key,
        groups: [
          g.bindGroup(this.#pipes.distances, {
            0: all[0],
            1: all[1],
            2: all[2],
            3: all[3],
            4: all[4],
            7: all[7],
          }),
          g.bindGroup(this.#pipes.softmax, { 3: all[3], 4: all[4], 7: all[7] }),
          g.bindGroup(this.#pipes.denoise, all),
        ],
      };
    }
    return this.#groups.groups;
  }

  /**
   * Encodes and submits ε̂_cond and ε̂_uncond of `request` from the targets last set for
   * each item.
   *
   * @param request z_t, items, timesteps and output buffers
   */
  predict(request: DenoiseRequest): void {
    const items = requireInt("items", request.items, { min: 1, max: this.maxItems });
    if (request.perItem !== this.perItem) {
      throw new RangeError(
        `Invalid option perItem: the oracle was built for ${this.perItem} elements per item, got ${request.perItem}`,
      );
    }
    const params = new ArrayBuffer(16 * items);
    const view = new DataView(params);
    let widest = 0;
    for (let k = 0; k < items; k++) {
      const [nc, nu] = this.#counts[k]!;
      if (nc === 0 || nu === 0) {
        throw new Error(`Cannot denoise item ${k}: no targets set (call setTargets first)`);
      }
      const ab = alphaBar(request.timesteps[k]!);
      view.setFloat32(16 * k, Math.sqrt(ab), true);
      view.setFloat32(16 * k + 4, Math.sqrt(1 - ab), true);
      view.setUint32(16 * k + 8, nc, true);
      view.setUint32(16 * k + 12, nu, true);
      widest = Math.max(widest, nc, nu);
    }
    this.#gpu.upload(this.#items, new Uint8Array(params));
    this.#gpu.upload(
      this.#uniform,
      new Uint32Array([this.perItem, this.maxTargets, items * this.perItem, 0]),
    );
    const [distances, softmax, denoise] = this.#bindGroups(request);
    this.#gpu.submit((encoder) => {
      const pass = encoder.beginComputePass({ label: "oracle_denoiser" });
      pass.setPipeline(this.#pipes.distances);
      pass.setBindGroup(0, distances!);
      pass.dispatchWorkgroups(widest, 2, items);
      pass.setPipeline(this.#pipes.softmax);
      pass.setBindGroup(0, softmax!);
      pass.dispatchWorkgroups(2, items);
      this.#gpu.dispatch(
        pass,
        this.#pipes.denoise,
        denoise!,
        items * this.perItem,
        ORACLE_WORKGROUP,
      );
      pass.end();
    });
  }

  /** Frees the target, weight and uniform buffers. */
  destroy(): void {
    this.#groups = null;
    for (
      const b of [this.condTargets, this.uncondTargets, this.#items, this.#weights, this.#uniform]
    ) {
      b.destroy();
    }
  }
}
