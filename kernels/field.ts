/**
 * The 4D radiance field's parameters on the GPU: K keyframe grids and the MLP, with
 * their gradient buffers.
 *
 * @module
 */
import type { Gpu } from "./gpu.ts";
import { type GridConfig, type GridLayout, gridLayout, initGridValues } from "./grid_config.ts";
import { createGridBuffers, readGridBuffers } from "./grid_encode.ts";
import { initMlpParams, type MlpConfig, type MlpLayout, mlpLayout } from "./mlp.ts";
import { seededRandom } from "./random.ts";

/**
 * Options of {@linkcode Field.create}.
 *
 * @example
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { Field, type FieldOptions } from "./field.ts";
 * const gpu = await acquireGpu({ log: null });
 * const options: FieldOptions = {
 *   grid: { levels: 2, log2TableSize: 8, keyframes: 2 },
 *   mlp: { hidden: 16 },
 *   seed: 7,
 * };
 * const field = await Field.create(gpu, options);
 * // The MLP's input width follows the grid: 2 levels × 2 features.
 * console.log(field.mlpLayout.config); // { input: 4, hidden: 16, output: 4 }
 * field.destroy();
 * gpu.destroy();
 * ```
 */
export interface FieldOptions {
  /** Grid options (SPEC.md defaults for any left out). */
  grid?: Partial<GridConfig>;
  /** MLP widths; the input width always equals the grid's L·F. */
  mlp?: Partial<Omit<MlpConfig, "input">>;
  /** Seed of the initialisation. */
  seed?: number;
}

/**
 * Field parameters and gradients. Grid gradients hold f32 bits that the grid backward
 * adds to with compare-and-swap; Adam reads them as floats.
 *
 * @example
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { Field } from "./field.ts";
 * const gpu = await acquireGpu({ log: null });
 * const field = await Field.create(gpu, { grid: { levels: 4, log2TableSize: 10, keyframes: 2 } });
 * console.log(field.layout.config.keyframes); // 2
 * gpu.destroy();
 * ```
 */
export class Field {
  /** Grid layout (keyframes, levels, chunking). */
  readonly layout: GridLayout;
  /** MLP parameter layout. */
  readonly mlpLayout: MlpLayout;
  /** Grid parameter chunk buffers. */
  readonly grid: GPUBuffer[];
  /** Grid gradient chunk buffers. */
  readonly gridGrads: GPUBuffer[];
  /** MLP parameters. */
  readonly mlp: GPUBuffer;
  /** MLP gradients. */
  readonly mlpGrads: GPUBuffer;
  readonly #gpu: Gpu;

  private constructor(
    gpu: Gpu,
    parts: {
      layout: GridLayout;
      mlpLayout: MlpLayout;
      grid: GPUBuffer[];
      gridGrads: GPUBuffer[];
      mlp: GPUBuffer;
      mlpGrads: GPUBuffer;
    },
  ) {
    this.#gpu = gpu;
    this.layout = parts.layout;
    this.mlpLayout = parts.mlpLayout;
    this.grid = parts.grid;
    this.gridGrads = parts.gridGrads;
    this.mlp = parts.mlp;
    this.mlpGrads = parts.mlpGrads;
  }

  /**
   * Allocates and initialises a field as the original does: grid entries U(±1e-4), every
   * keyframe a copy of the first, PyTorch-default MLP init.
   */
  static create(gpu: Gpu, options: FieldOptions = {}): Promise<Field> {
    const layout = gridLayout(options.grid ?? {}, {
      maxBindingBytes: gpu.limits.maxStorageBufferBindingSize,
    });
    const mlpL = mlpLayout({ ...options.mlp, input: layout.outputDim });
    const random = seededRandom(options.seed ?? 0);
    const values = initGridValues(layout, random);
    const grid = createGridBuffers(gpu, layout, { values, label: "grid" });
    const gridGrads = createGridBuffers(gpu, layout, { label: "grid grads" });
    const mlp = gpu.createBuffer(initMlpParams(mlpL.config, random), { label: "mlp" });
    const mlpGrads = gpu.createBuffer(mlpL.size * 4, { label: "mlp grads" });
    return Promise.resolve(
      new Field(gpu, { layout, mlpLayout: mlpL, grid, gridGrads, mlp, mlpGrads }),
    );
  }

  /** Total trainable floats (grid entries of all keyframes plus MLP). */
  get parameterCount(): number {
    const c = this.layout.config;
    return this.layout.entries * c.featuresPerLevel * c.keyframes + this.mlpLayout.size;
  }

  /** Records clearing every gradient buffer. */
  encodeZeroGrads(encoder: GPUCommandEncoder): void {
    for (const b of this.gridGrads) encoder.clearBuffer(b);
    encoder.clearBuffer(this.mlpGrads);
  }

  /** Reads the parameters back (checkpoints, tests); never inside a training step. */
  async read(): Promise<{ grid: Float32Array[]; mlp: Float32Array }> {
    const grid = await readGridBuffers(this.#gpu, this.layout, this.grid);
    const mlp = new Float32Array(await this.#gpu.read(this.mlp)).slice(0, this.mlpLayout.size);
    return { grid, mlp };
  }

  /** Reads the gradients back (tests). */
  async readGrads(): Promise<{ grid: Float32Array[]; mlp: Float32Array }> {
    const grid = await readGridBuffers(this.#gpu, this.layout, this.gridGrads);
    const mlp = new Float32Array(await this.#gpu.read(this.mlpGrads)).slice(
      0,
      this.mlpLayout.size,
    );
    return { grid, mlp };
  }

  /** Replaces the parameters (checkpoint restore, tests). */
  write(values: { grid?: Float32Array<ArrayBuffer>[]; mlp?: Float32Array<ArrayBuffer> }): void {
    if (values.grid !== undefined) {
      const kpc = this.layout.keyframesPerChunk;
      values.grid.forEach((g, k) => {
        const chunk = this.grid[Math.floor(k / kpc)]!;
        this.#gpu.upload(
          chunk,
          g.subarray(0, this.layout.keyframeStride),
          (k % kpc) * this.layout.keyframeStride * 4,
        );
      });
    }
    if (values.mlp !== undefined) this.#gpu.upload(this.mlp, values.mlp);
  }

  /** Frees every buffer. */
  destroy(): void {
    for (const b of [...this.grid, ...this.gridGrads, this.mlp, this.mlpGrads]) b.destroy();
  }
}
