/**
 * The guidance and gradient kernel of score distillation on the GPU (`sds_grad.wgsl`):
 * CFG in either convention, g = c·(ε̂ − ε) with NaN → 0, weight·2·g/B added into the
 * caller's image gradient, and ½‖g‖²/B reduced into a one-float `loss` buffer.
 *
 * @module
 */
import { type Gpu, workgroupGrid } from "../kernels/gpu.ts";
import { requireFinite, requireInt } from "../kernels/validate.ts";
import { loadPriorWgsl } from "./_wgsl.ts";
import { BindCache } from "./_bind_cache.ts";
import { packSdsItems } from "./sds_items.ts";
import type { SdsOptions } from "./sds_options.ts";
import { type SdsSpace, sdsSpaceMap } from "./sds_noise_twin.ts";

/** Workgroup size of both `sds_grad.wgsl` entry points. */
export const SDS_GRAD_WORKGROUP = 256;

/** Options of {@linkcode SdsGrad.create}. */
export interface SdsGradOptions {
  /** ε of the noise kernel, `[maxElements]`. */
  noise: GPUBuffer;
  /** ε̂_cond, `[maxElements]`. */
  epsCond: GPUBuffer;
  /** ε̂_uncond, `[maxElements]`. */
  epsUncond: GPUBuffer;
  /** Per-item constants (`sds_items.ts`); c there selects the SDS or x̂₀ variant. */
  items: GPUBuffer;
  /** Largest items × elements per item. */
  maxElements: number;
}

/**
 * Per-call settings of {@linkcode SdsGrad.set}.
 *
 * @example Zero123 CFG, weight ½: ε̂ = ε_u + 5·(ε_c − ε_u) = 5, so the gradient is (1 − ᾱ₉₉₉)·5
 * ```ts
 * import { acquireGpu } from "../kernels/gpu.ts";
 * import { packSdsItems } from "./sds_items.ts";
 * import { SdsGrad, type SdsGradSettings } from "./sds_grad.ts";
 * const gpu = await acquireGpu({ log: null });
 * const b = (v: number[]) => gpu.createBuffer(new Float32Array(v));
 * const op = await SdsGrad.create(gpu, {
 *   noise: b([0]), epsCond: b([1]), epsUncond: b([0]),
 *   items: gpu.createBuffer(packSdsItems([{ t: 999, lambda: 1 }], "sds")), maxElements: 1,
 * });
 * const settings: SdsGradSettings = {
 *   elements: 1, perItem: 1, weight: 0.5,
 *   sds: { guidanceScale: 5, cfg: "zero123", batchDivisor: 1 },
 * };
 * op.set(settings);
 * const grad = b([0]);
 * gpu.submit((e) => { const p = e.beginComputePass(); op.encode(p, grad); p.end(); });
 * console.log(new Float32Array(await gpu.read(grad))[0]!.toFixed(4)); // 4.9767
 * gpu.destroy();
 * ```
 */
export interface SdsGradSettings {
  /** Live items × elements per item. */
  elements: number;
  /** Elements per item. */
  perItem: number;
  /** CFG scale and convention, and B. */
  sds: Pick<SdsOptions, "guidanceScale" | "cfg" | "batchDivisor">;
  /** Caller weight on the added gradient (the logged loss is unweighted). */
  weight: number;
  /** Input space; defaults to `pixel` (the gradient is dL/dx = 2·dL/dz). */
  space?: SdsSpace;
}

/**
 * The gradient kernel, built once. `loss` (one f32) holds ½‖g‖²/B after
 * {@linkcode SdsGrad.encode}, which records the per-element pass and the reduction.
 *
 * @example Standard CFG on one element at t = 999
 * ```ts
 * import { acquireGpu } from "../kernels/gpu.ts";
 * import { packSdsItems } from "./sds_items.ts";
 * import { SdsGrad } from "./sds_grad.ts";
 * const gpu = await acquireGpu({ log: null });
 * const b = (v: number[]) => gpu.createBuffer(new Float32Array(v));
 * const op = await SdsGrad.create(gpu, {
 *   noise: b([0]), epsCond: b([1]), epsUncond: b([1]),
 *   items: gpu.createBuffer(packSdsItems([{ t: 999, lambda: 1 }], "sds")), maxElements: 1,
 * });
 * op.set({ elements: 1, perItem: 1, weight: 1,
 *   sds: { guidanceScale: 100, cfg: "standard", batchDivisor: 1 } });
 * const grad = b([0]);
 * gpu.submit((e) => { const p = e.beginComputePass(); op.encode(p, grad); p.end(); });
 * console.log(new Float32Array(await gpu.read(grad))[0]!.toFixed(4)); // 1.9907
 * gpu.destroy();
 * ```
 */
export class SdsGrad {
  /** One f32: ½‖g‖²/B. */
  readonly loss: GPUBuffer;
  /** Largest element count. */
  readonly maxElements: number;
  readonly #gpu: Gpu;
  readonly #main: GPUComputePipeline;
  readonly #reduce: GPUComputePipeline;
  readonly #reduceGroup: GPUBindGroup;
  readonly #uniform: GPUBuffer;
  readonly #partials: GPUBuffer;
  readonly #groups: BindCache<GPUBindGroup>;
  #elements = 0;

  private constructor(
    gpu: Gpu,
    pipes: { main: GPUComputePipeline; reduce: GPUComputePipeline },
    options: SdsGradOptions,
  ) {
    this.#gpu = gpu;
    this.maxElements = options.maxElements;
    this.#main = pipes.main;
    this.#reduce = pipes.reduce;
    const [x, y] = workgroupGrid(options.maxElements, SDS_GRAD_WORKGROUP);
    this.#partials = gpu.createBuffer(4 * x * y, { label: "sds_grad partials" });
    this.loss = gpu.createBuffer(4, { label: "sds_grad loss" });
    this.#uniform = gpu.createUniform(32, "sds_grad uniforms");
    this.#reduceGroup = gpu.bindGroup(pipes.reduce, {
      5: this.#partials,
      6: this.loss,
      7: this.#uniform,
    });
    this.#groups = new BindCache((grad) =>
      gpu.bindGroup(pipes.main, {
        0: options.noise,
        1: options.epsCond,
        2: options.epsUncond,
        3: options.items,
        4: grad,
        5: this.#partials,
        7: this.#uniform,
      })
    );
  }

  /** Compiles both entry points (cached) and checks the buffer sizes; call once. */
  static async create(gpu: Gpu, options: SdsGradOptions): Promise<SdsGrad> {
    const maxElements = requireInt("maxElements", options.maxElements, { min: 1 });
    for (const name of ["noise", "epsCond", "epsUncond"] as const) {
      if (options[name].size < 4 * maxElements) {
        throw new RangeError(
          `Invalid option ${name}: expected a buffer of at least ${4 * maxElements} bytes, got ${
            options[name].size
          }`,
        );
      }
    }
    const source = loadPriorWgsl("sds_grad");
    const [main, reduce] = await Promise.all([
      gpu.pipelineFromSource(source, { entryPoint: "main" }),
      gpu.pipelineFromSource(source, { entryPoint: "reduce" }),
    ]);
    return new SdsGrad(gpu, { main, reduce }, { ...options, maxElements });
  }

  /**
   * Writes the uniforms of the next {@linkcode SdsGrad.encode}.
   *
   * @param settings element counts, CFG, B and the caller weight
   */
  set(settings: SdsGradSettings): void {
    this.#elements = requireInt("elements", settings.elements, { min: 1, max: this.maxElements });
    const perItem = requireInt("perItem", settings.perItem, { min: 1 });
    const scale = requireFinite("sds.guidanceScale", settings.sds.guidanceScale);
    const batch = requireFinite("sds.batchDivisor", settings.sds.batchDivisor, { min: 1e-12 });
    const weight = requireFinite("weight", settings.weight);
    const [x, y] = workgroupGrid(this.#elements, SDS_GRAD_WORKGROUP);
    const bytes = new ArrayBuffer(32);
    const view = new DataView(bytes);
    view.setUint32(0, this.#elements, true);
    view.setUint32(4, perItem, true);
    view.setUint32(8, settings.sds.cfg === "zero123" ? 1 : 0, true);
    view.setUint32(12, x * y, true);
    view.setFloat32(16, scale, true);
    view.setFloat32(20, 1 / batch, true);
    view.setFloat32(24, weight, true);
    view.setFloat32(28, sdsSpaceMap(settings.space ?? "pixel").scale, true);
    this.#gpu.upload(this.#uniform, new Uint8Array(bytes));
  }

  /**
   * Records the per-element pass, adding into `grad`, and the loss reduction.
   *
   * @param pass an open compute pass
   * @param grad the image gradient `[elements]` to add into
   */
  encode(pass: GPUComputePassEncoder, grad: GPUBuffer): void {
    if (grad.size < 4 * this.#elements) {
      throw new RangeError(
        `Invalid option grad: expected a buffer of at least ${
          4 * this.#elements
        } bytes, got ${grad.size}`,
      );
    }
    this.#gpu.dispatch(
      pass,
      this.#main,
      this.#groups.get(grad),
      this.#elements,
      SDS_GRAD_WORKGROUP,
    );
    pass.setPipeline(this.#reduce);
    pass.setBindGroup(0, this.#reduceGroup);
    pass.dispatchWorkgroups(1);
  }

  /** Frees the buffers this object created (loss, partials, uniform). */
  destroy(): void {
    this.#groups.clear();
    for (const b of [this.loss, this.#partials, this.#uniform]) b.destroy();
  }
}

/** Inputs of {@linkcode sdsGrad}. */
export interface SdsGradArrays {
  noise: Float32Array<ArrayBuffer>;
  epsCond: Float32Array<ArrayBuffer>;
  epsUncond: Float32Array<ArrayBuffer>;
  /** Starting gradient to add into. */
  grad: Float32Array<ArrayBuffer>;
  timesteps: readonly number[];
  lambdas: readonly number[];
  perItem: number;
  weight: number;
  sds: Pick<SdsOptions, "guidanceScale" | "cfg" | "batchDivisor" | "variant">;
  /** Input space; defaults to `pixel`. */
  space?: SdsSpace;
}

/**
 * One-shot helper for tests: uploads, runs {@linkcode SdsGrad} and reads the summed
 * gradient and the loss back.
 *
 * @param gpu the device
 * @param inputs noise, predictions, starting gradient, timesteps and constants
 * @returns the gradient after the addition and the loss
 *
 * @example
 * ```ts
 * import { acquireGpu } from "../kernels/gpu.ts";
 * import { sdsGrad } from "./sds_grad.ts";
 * const gpu = await acquireGpu({ log: null });
 * const f = (v: number[]) => new Float32Array(v);
 * const r = await sdsGrad(gpu, {
 *   noise: f([0, 0]), epsCond: f([1, 1]), epsUncond: f([0, 0]), grad: f([0, 0]),
 *   timesteps: [500], lambdas: [1], perItem: 2, weight: 1,
 *   sds: { guidanceScale: 5, cfg: "zero123", batchDivisor: 1, variant: "sds" },
 * });
 * console.log(r.loss > 0); // true
 * gpu.destroy();
 * ```
 */
export async function sdsGrad(
  gpu: Gpu,
  inputs: SdsGradArrays,
): Promise<{ grad: Float32Array; loss: number }> {
  const n = inputs.noise.length;
  const items = gpu.createBuffer(
    packSdsItems(
      inputs.timesteps.map((t, k) => ({ t, lambda: inputs.lambdas[k] ?? 1 })),
      inputs.sds.variant,
    ),
    { label: "sds items" },
  );
  const noise = gpu.createBuffer(inputs.noise);
  const epsCond = gpu.createBuffer(inputs.epsCond);
  const epsUncond = gpu.createBuffer(inputs.epsUncond);
  const grad = gpu.createBuffer(inputs.grad);
  const op = await SdsGrad.create(gpu, { noise, epsCond, epsUncond, items, maxElements: n });
  op.set({
    elements: n,
    perItem: inputs.perItem,
    sds: inputs.sds,
    weight: inputs.weight,
    ...(inputs.space === undefined ? {} : { space: inputs.space }),
  });
  gpu.submit((e) => {
    const pass = e.beginComputePass({ label: "sds_grad" });
    op.encode(pass, grad);
    pass.end();
  });
  const out = {
    grad: new Float32Array(await gpu.read(grad)).slice(0, n),
    loss: new Float32Array(await gpu.read(op.loss))[0]!,
  };
  op.destroy();
  for (const b of [items, noise, epsCond, epsUncond, grad]) b.destroy();
  return out;
}
