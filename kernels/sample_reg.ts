/**
 * The per-sample regularisers on the GPU (`sample_reg.wgsl`, SPEC.md §5.5): entropy of
 * the compositing weights and orientation of the normals, for one frame's samples. The
 * entropy gradient feeds composite's `gradWeights` input; the orientation gradient is
 * added into the normal gradient composite's backward wrote, before shade's backward.
 *
 * @module
 */
import type { Gpu } from "./gpu.ts";
import type { SampleRegInputs } from "./sample_reg_twin.ts";
import { requireFinite, requireInt } from "./validate.ts";

/** Workgroup size of the per-sample entry points (the renderer's indirect arguments). */
export const SAMPLE_REG_WORKGROUP = 64;

/**
 * Buffers bound once by {@linkcode SampleReg.create}; S is the live count `count[0]`.
 *
 * @example Orientation penalty of a normal facing along its ray
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { SampleReg, type SampleRegBuffers } from "./sample_reg.ts";
 * const gpu = await acquireGpu({ log: null });
 * const f = (v: number[]) => gpu.createBuffer(new Float32Array(v));
 * const buffers: SampleRegBuffers = {
 *   count: gpu.createBuffer(new Uint32Array([1])),
 *   weights: f([0.5]),
 *   normals: f([0, 0, 1]),
 *   rayIndex: gpu.createBuffer(new Uint32Array([0])),
 *   directions: f([0, 0, 3]),
 *   gradWeights: f([0]),
 *   gradNormal: f([0, 0, 0]),
 * };
 * const reg = await SampleReg.create(gpu, buffers, { maxSamples: 1, orientation: 1, frames: 1 });
 * gpu.submit((e) => {
 *   reg.clearLoss(e);
 *   const p = e.beginComputePass();
 *   reg.encodeMain(p, 1);
 *   reg.encodeReduce(p);
 *   reg.encodeNormals(p, 1);
 *   p.end();
 * });
 * const [, orientation] = new Float32Array(await gpu.read(reg.loss));
 * console.log(orientation, new Float32Array(await gpu.read(buffers.gradNormal))[2]); // 0.5 1
 * reg.destroy();
 * gpu.destroy();
 * ```
 */
export interface SampleRegBuffers {
  /** `u32` sample count S in element 0 (the marcher's counter). */
  count: GPUBuffer;
  /** `[S]` compositing weights (composite's `weights` output). */
  weights: GPUBuffer;
  /** `[S][3]` sample normals (shade's `normal` output). */
  normals: GPUBuffer;
  /** `[S]` `u32` ray of each sample. */
  rayIndex: GPUBuffer;
  /** `[R][3]` ray directions, not normalised. */
  directions: GPUBuffer;
  /** Output `[S]` λ_e·dL/dw (written). */
  gradWeights: GPUBuffer;
  /** In/out `[S][3]` dL/dnormal: λ_o·dL_orient/dn is added. */
  gradNormal: GPUBuffer;
}

/**
 * Settings that may change between steps.
 *
 * @example
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { SampleReg, type SampleRegSettings } from "./sample_reg.ts";
 * const gpu = await acquireGpu({ log: null });
 * const f = (n: number) => gpu.createBuffer(n * 4);
 * const reg = await SampleReg.create(gpu, {
 *   count: f(1), weights: f(1), normals: f(3), rayIndex: f(1),
 *   directions: f(3), gradWeights: f(1), gradNormal: f(3),
 * }, { maxSamples: 1 });
 * // The SPEC.md schedule at step 500 of 1000 (λ_e = 1e-3·min(1, 2·step/iters)); fields left
 * // out keep their value.
 * const settings: SampleRegSettings = { entropy: 1e-3 * Math.min(1, (2 * 500) / 1000), frames: 4 };
 * reg.set(settings);
 * console.log(reg.entropyOn, reg.orientationOn); // true false
 * reg.set({ entropy: 0 });
 * console.log(reg.entropyOn); // false
 * reg.destroy();
 * gpu.destroy();
 * ```
 */
export interface SampleRegSettings {
  /** λ_e; 0 turns the entropy term off. */
  entropy?: number;
  /** λ_o; 0 turns the orientation term off. */
  orientation?: number;
  /** Frames F of the clip (the mean divides by F·S). */
  frames?: number;
}

/** Options of {@linkcode SampleReg.create}. */
export interface SampleRegOptions extends SampleRegSettings {
  /** Most samples S (sizes the partial sums). */
  maxSamples: number;
}

type Bound = [GPUComputePipeline, GPUBindGroup];

/**
 * The per-sample regularisers, built once; `encode…` methods record dispatches and
 * allocate nothing. `loss` holds `[L_entropy, L_orient]` (unweighted), summed over the
 * `encodeReduce` calls since the last {@linkcode SampleReg.clearLoss}.
 *
 * @example Entropy gradient of two samples
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { SampleReg } from "./sample_reg.ts";
 * const gpu = await acquireGpu({ log: null });
 * const f = (v: number[]) => gpu.createBuffer(new Float32Array(v));
 * const reg = await SampleReg.create(gpu, {
 *   count: gpu.createBuffer(new Uint32Array([2])), weights: f([0.5, 0.2]),
 *   normals: f([0, 0, 1, 0, 0, 1]), rayIndex: gpu.createBuffer(new Uint32Array([0, 0])),
 *   directions: f([0, 0, 1]), gradWeights: f([0, 0]), gradNormal: f([0, 0, 0, 0, 0, 0]),
 * }, { maxSamples: 2, entropy: 1, frames: 1 });
 * gpu.submit((e) => {
 *   reg.clearLoss(e);
 *   const p = e.beginComputePass(); reg.encodeMain(p, 2); reg.encodeReduce(p); p.end();
 * });
 * console.log(new Float32Array(await gpu.read(reg.buffers.gradWeights))[1]); // ≈1: log2(4)/2
 * gpu.destroy();
 * ```
 */
export class SampleReg {
  /** Two f32: L_entropy and L_orient, unweighted. */
  readonly loss: GPUBuffer;
  /** The bound buffers. */
  readonly buffers: SampleRegBuffers;
  readonly #gpu: Gpu;
  readonly #uniform: GPUBuffer;
  readonly #partials: GPUBuffer;
  readonly #main: Bound;
  readonly #reduce: Bound;
  readonly #normals: Bound;
  #entropy = 0;
  #orientation = 0;
  #frames = 1;

  private constructor(
    gpu: Gpu,
    parts: {
      buffers: SampleRegBuffers;
      loss: GPUBuffer;
      uniform: GPUBuffer;
      partials: GPUBuffer;
      main: Bound;
      reduce: Bound;
      normals: Bound;
    },
  ) {
    this.#gpu = gpu;
    this.buffers = parts.buffers;
    this.loss = parts.loss;
    this.#uniform = parts.uniform;
    this.#partials = parts.partials;
    this.#main = parts.main;
    this.#reduce = parts.reduce;
    this.#normals = parts.normals;
  }

  /** Compiles the three entry points (cached) and binds `buffers`; call once. */
  static async create(
    gpu: Gpu,
    buffers: SampleRegBuffers,
    options: SampleRegOptions,
  ): Promise<SampleReg> {
    const maxSamples = requireInt("maxSamples", options.maxSamples, { min: 1 });
    const rows = Math.ceil(maxSamples / SAMPLE_REG_WORKGROUP);
    const partials = gpu.createBuffer(rows * 8, { label: "sample_reg partials" });
    const loss = gpu.createBuffer(8, { label: "sample_reg loss" });
    const uniform = gpu.createUniform(16, "sample_reg params");
    const b = buffers;
    const [main, reduce, normals] = await Promise.all(
      ["main", "reduce", "normals_main"].map((entryPoint) =>
        gpu.pipeline("sample_reg", { entryPoint })
      ),
    );
    const op = new SampleReg(gpu, {
      buffers,
      loss,
      uniform,
      partials,
      main: [
        main!,
        gpu.bindGroup(main!, {
          0: uniform,
          1: b.count,
          2: b.weights,
          3: b.normals,
          4: b.rayIndex,
          5: b.directions,
          6: b.gradWeights,
          8: partials,
        }),
      ],
      reduce: [reduce!, gpu.bindGroup(reduce!, { 0: uniform, 1: b.count, 8: partials, 9: loss })],
      normals: [
        normals!,
        gpu.bindGroup(normals!, {
          0: uniform,
          1: b.count,
          2: b.weights,
          3: b.normals,
          4: b.rayIndex,
          5: b.directions,
          7: b.gradNormal,
        }),
      ],
    });
    op.set(options);
    return op;
  }

  /** Whether the entropy term is on (λ_e ≠ 0). */
  get entropyOn(): boolean {
    return this.#entropy !== 0;
  }

  /** Whether the orientation term is on (λ_o ≠ 0). */
  get orientationOn(): boolean {
    return this.#orientation !== 0;
  }

  /** Changes weights and/or the clip's frame count for work submitted from now on. */
  set(settings: SampleRegSettings): void {
    if (settings.entropy !== undefined) {
      this.#entropy = requireFinite("regularisers.entropy", settings.entropy, { min: 0 });
    }
    if (settings.orientation !== undefined) {
      this.#orientation = requireFinite("regularisers.orientation", settings.orientation, {
        min: 0,
      });
    }
    if (settings.frames !== undefined) {
      this.#frames = requireInt("frames", settings.frames, { min: 1 });
    }
    const bytes = new ArrayBuffer(16);
    const view = new DataView(bytes);
    view.setUint32(0, this.#frames, true);
    view.setUint32(4, (this.entropyOn ? 1 : 0) | (this.orientationOn ? 2 : 0), true);
    view.setFloat32(8, this.#entropy, true);
    view.setFloat32(12, this.#orientation, true);
    this.#gpu.upload(this.#uniform, new Uint8Array(bytes));
  }

  /** Zeroes `loss` (once per backward pass, before the first frame's reduce). */
  clearLoss(encoder: GPUCommandEncoder): void {
    encoder.clearBuffer(this.loss);
  }

  /** Records `main` (dL/dw and partial sums) for at most `maxSamples` samples. */
  encodeMain(pass: GPUComputePassEncoder, maxSamples: number): void {
    this.#gpu.dispatch(pass, this.#main[0], this.#main[1], maxSamples, SAMPLE_REG_WORKGROUP);
  }

  /** Records `main` with indirect arguments (`IndirectArgs`, workgroup size 64). */
  encodeMainIndirect(pass: GPUComputePassEncoder, args: GPUBuffer): void {
    pass.setPipeline(this.#main[0]);
    pass.setBindGroup(0, this.#main[1]);
    pass.dispatchWorkgroupsIndirect(args, 0);
  }

  /** Records the reduction that adds this frame's loss shares into `loss`. */
  encodeReduce(pass: GPUComputePassEncoder): void {
    pass.setPipeline(this.#reduce[0]);
    pass.setBindGroup(0, this.#reduce[1]);
    pass.dispatchWorkgroups(1);
  }

  /** Records the orientation gradient (added into `gradNormal`) for ≤ `maxSamples`. */
  encodeNormals(pass: GPUComputePassEncoder, maxSamples: number): void {
    this.#gpu.dispatch(
      pass,
      this.#normals[0],
      this.#normals[1],
      maxSamples,
      SAMPLE_REG_WORKGROUP,
    );
  }

  /** Records the orientation gradient with indirect arguments. */
  encodeNormalsIndirect(pass: GPUComputePassEncoder, args: GPUBuffer): void {
    pass.setPipeline(this.#normals[0]);
    pass.setBindGroup(0, this.#normals[1]);
    pass.dispatchWorkgroupsIndirect(args, 0);
  }

  /** Frees the buffers this object created (partials, loss, uniform). */
  destroy(): void {
    for (const b of [this.#partials, this.loss, this.#uniform]) b.destroy();
  }
}

/** Result of the one-shot {@linkcode sampleReg}. */
export interface SampleRegOnceResult {
  /** L_entropy share, unweighted. */
  entropy: number;
  /** L_orient share, unweighted. */
  orientation: number;
  /** `[S]` λ_e·dL/dw. */
  gradWeights: Float32Array;
  /** `[S][3]` the initial `gradNormal` plus λ_o·dL/dn. */
  gradNormal: Float32Array;
}

/**
 * One-shot helper for tests and benchmarks: uploads, runs main, reduce and normals over
 * all samples, reads back. Training code uses the class.
 *
 * @param gpu the device
 * @param inputs weights, normals, ray indices, directions, and optionally the normal
 *   gradient to add into
 * @returns the loss shares and gradients
 *
 * @example
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { sampleReg } from "./sample_reg.ts";
 * const gpu = await acquireGpu({ log: null });
 * const out = await sampleReg(gpu, {
 *   weights: [0.5], normals: [0, 0, 1], rayIndex: [0], directions: [0, 0, 3],
 *   entropy: 0, orientation: 1, frames: 1,
 * });
 * console.log(out.orientation, out.gradNormal[2]); // 0.5 1
 * gpu.destroy();
 * ```
 */
export async function sampleReg(
  gpu: Gpu,
  inputs: SampleRegInputs & {
    entropy: number;
    orientation: number;
    frames: number;
    gradNormal?: ArrayLike<number>;
  },
): Promise<SampleRegOnceResult> {
  const s = inputs.weights.length;
  const f32 = (data: ArrayLike<number>, label: string) =>
    gpu.createBuffer(new Float32Array(Array.from(data)), { label });
  const buffers: SampleRegBuffers = {
    count: gpu.createBuffer(new Uint32Array([s]), { label: "sample_reg count" }),
    weights: f32(inputs.weights, "sample_reg weights"),
    normals: f32(inputs.normals, "sample_reg normals"),
    rayIndex: gpu.createBuffer(new Uint32Array(Array.from(inputs.rayIndex)), {
      label: "sample_reg rays",
    }),
    directions: f32(inputs.directions, "sample_reg directions"),
    gradWeights: gpu.createBuffer(Math.max(1, s) * 4, { label: "sample_reg dweights" }),
    gradNormal: inputs.gradNormal === undefined
      ? gpu.createBuffer(Math.max(1, s) * 12, { label: "sample_reg dnormal" })
      : f32(inputs.gradNormal, "sample_reg dnormal"),
  };
  const op = await SampleReg.create(gpu, buffers, {
    maxSamples: Math.max(1, s),
    entropy: inputs.entropy,
    orientation: inputs.orientation,
    frames: inputs.frames,
  });
  gpu.submit((encoder) => {
    op.clearLoss(encoder);
    const pass = encoder.beginComputePass({ label: "sample_reg" });
    op.encodeMain(pass, s);
    op.encodeReduce(pass);
    if (op.orientationOn) op.encodeNormals(pass, s);
    pass.end();
  });
  const [entropy, orientation] = new Float32Array(await gpu.read(op.loss));
  const gradWeights = new Float32Array(await gpu.read(buffers.gradWeights)).slice(0, s);
  const gradNormal = new Float32Array(await gpu.read(buffers.gradNormal)).slice(0, 3 * s);
  op.destroy();
  for (const b of Object.values(buffers)) (b as GPUBuffer).destroy();
  return { entropy: entropy!, orientation: orientation!, gradWeights, gradNormal };
}
