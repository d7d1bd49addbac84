/**
 * Adam (SPEC.md §5.3): PyTorch semantics, no weight decay, per-group learning rates and
 * optional clip-by-value of the gradients (±1 in stages 3–4).
 *
 * @module
 */
import type { Gpu } from "./gpu.ts";
import { requireFinite, requireInt } from "./validate.ts";

/**
 * Hyperparameters shared by every group.
 *
 * @example
 * ```ts
 * import { type AdamHyper, resolveAdamHyper } from "./adam.ts";
 * const hyper: AdamHyper = resolveAdamHyper({ clip: 1 });
 * console.log(hyper.clip, hyper.eps); // 1 1e-15
 * ```
 */
export interface AdamHyper {
  /** β1 (0.9). */
  beta1: number;
  /** β2 (0.99). */
  beta2: number;
  /** ε added to the denominator (1e-15). */
  eps: number;
  /** Clip-by-value bound applied to the gradient before the moments; 0 turns it off. */
  clip: number;
}

/**
 * The SPEC.md values: β 0.9/0.99, ε 1e-15, no clipping (stage 2).
 *
 * @example
 * ```ts
 * import { adamStepScalars, DEFAULT_ADAM } from "./adam.ts";
 * console.log(DEFAULT_ADAM.beta1, DEFAULT_ADAM.beta2); // 0.9 0.99
 * // Bias correction of the first step with the default betas: √(1 − 0.99).
 * console.log(adamStepScalars(1, { lr: 0.01, ...DEFAULT_ADAM }).bc2Sqrt.toFixed(3)); // 0.100
 * ```
 */
export const DEFAULT_ADAM: Readonly<AdamHyper> = Object.freeze({
  beta1: 0.9,
  beta2: 0.99,
  eps: 1e-15,
  clip: 0,
});

/**
 * Validates partial hyperparameters and fills in the defaults.
 *
 * @example
 * ```ts
 * import { resolveAdamHyper } from "./adam.ts";
 * console.log(resolveAdamHyper({ clip: 1 }).beta2); // 0.99
 * ```
 */
export function resolveAdamHyper(partial: Partial<AdamHyper> = {}): AdamHyper {
  const known = Object.keys(DEFAULT_ADAM);
  for (const key of Object.keys(partial)) {
    if (!known.includes(key)) {
      throw new RangeError(`Unknown adam option ${key}: expected one of ${known.join(", ")}`);
    }
  }
  const h = { ...DEFAULT_ADAM, ...partial };
  requireBeta("adam.beta1", h.beta1);
  requireBeta("adam.beta2", h.beta2);
  if (typeof h.eps !== "number" || !Number.isFinite(h.eps) || !(h.eps > 0)) {
    throw new RangeError(`Invalid option adam.eps: expected a finite number > 0, got ${h.eps}`);
  }
  requireFinite("adam.clip", h.clip, { min: 0 });
  return h;
}

function requireBeta(field: string, value: unknown): void {
  if (typeof value !== "number" || !(value >= 0 && value < 1)) {
    throw new RangeError(`Invalid option ${field}: expected a number in [0, 1), got ${value}`);
  }
}

/**
 * Validates a learning rate (finite, ≥ 0).
 *
 * @example
 * ```ts
 * import { requireLr } from "./adam.ts";
 * requireLr("adam.groups.grid.lr", 1e-2);
 * ```
 */
export function requireLr(field: string, lr: unknown): number {
  return requireFinite(field, lr, { min: 0 });
}

/**
 * Scalars of step t (1-based), computed in float64 as PyTorch does on the host:
 * `stepSize` = lr / (1 − β1^t) and `bc2Sqrt` = √(1 − β2^t).
 *
 * @example
 * ```ts
 * import { adamStepScalars } from "./adam.ts";
 * console.log(adamStepScalars(1, { lr: 0.1, beta1: 0.9, beta2: 0.99 }).stepSize); // ≈ 1
 * ```
 */
export function adamStepScalars(
  step: number,
  options: { lr: number; beta1: number; beta2: number },
): { stepSize: number; bc2Sqrt: number } {
  const bc1 = 1 - options.beta1 ** step;
  const bc2 = 1 - options.beta2 ** step;
  return { stepSize: options.lr / bc1, bc2Sqrt: Math.sqrt(bc2) };
}

/**
 * A parameter group: one learning rate over one or more buffers.
 *
 * @example
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { Adam, type AdamGroup } from "./adam.ts";
 * const gpu = await acquireGpu({ log: null });
 * const params = [gpu.createBuffer(new Float32Array(4)), gpu.createBuffer(new Float32Array(2))];
 * const grads = [gpu.createBuffer(8 * 4), gpu.createBuffer(2 * 4)];
 * // Only the first 4 of the 8 gradient floats of buffer 0 belong to the parameters.
 * const grid: AdamGroup = { name: "grid", params, grads, floats: [4, 2], lr: 1e-2 };
 * const adam = await Adam.create(gpu, { groups: [grid] });
 * adam.setLr("grid", 5e-3);
 * console.log(adam.lr("grid")); // 0.005
 * adam.destroy();
 * gpu.destroy();
 * ```
 */
export interface AdamGroup {
  /** Name used in errors and in the checkpointed state. */
  name: string;
  /** Parameter buffers (e.g. the grid's keyframe chunks). */
  params: GPUBuffer[];
  /** Gradient buffers, one per parameter buffer (f32 bits; may be atomics elsewhere). */
  grads: GPUBuffer[];
  /** Floats to update in each buffer (a prefix of it). */
  floats: number[];
  /** Learning rate. */
  lr: number;
}

/**
 * Options for {@linkcode Adam.create}.
 *
 * @example Clip and zero the gradients in the step
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { Adam, type AdamOptions } from "./adam.ts";
 * const gpu = await acquireGpu({ log: null });
 * const params = gpu.createBuffer(new Float32Array([1, 2]));
 * const grads = gpu.createBuffer(new Float32Array([50, -50]));
 * const options: AdamOptions = {
 *   groups: [{ name: "w", params: [params], grads: [grads], floats: [2], lr: 0.1 }],
 *   clip: 1,
 *   zeroGrads: true,
 * };
 * const adam = await Adam.create(gpu, options);
 * gpu.submit((e) => { const p = e.beginComputePass(); adam.encodeStep(p); p.end(); });
 * console.log(new Float32Array(await gpu.read(grads))); // Float32Array(2) [ 0, 0 ]
 * adam.destroy();
 * gpu.destroy();
 * ```
 */
export interface AdamOptions extends Partial<AdamHyper> {
  /** The parameter groups. */
  groups: AdamGroup[];
  /** Zero each gradient in the step kernel right after reading it. Defaults to false. */
  zeroGrads?: boolean;
}

/**
 * Optimiser state for checkpoints: the step count and both moments of every buffer.
 *
 * @example Save the moments and restore them into a fresh optimiser
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { Adam, type AdamState } from "./adam.ts";
 * const gpu = await acquireGpu({ log: null });
 * const params = gpu.createBuffer(new Float32Array([1, 2]));
 * const grads = gpu.createBuffer(new Float32Array([0.5, -0.5]));
 * const groups = [{ name: "w", params: [params], grads: [grads], floats: [2], lr: 0.1 }];
 * const adam = await Adam.create(gpu, { groups });
 * gpu.submit((e) => { const p = e.beginComputePass(); adam.encodeStep(p); p.end(); });
 * const state: AdamState = await adam.state();
 * // First moment after one step: (1 − β1)·g.
 * const m = state.groups[0]!.m[0]!;
 * console.log(state.step, Array.from(m, (x) => x.toFixed(2))); // 1 [ "0.05", "-0.05" ]
 * const resumed = await Adam.create(gpu, { groups });
 * resumed.loadState(state);
 * console.log(resumed.step); // 1
 * adam.destroy();
 * resumed.destroy();
 * gpu.destroy();
 * ```
 */
export interface AdamState {
  /** Steps taken so far. */
  step: number;
  /** Moments per group, one array per buffer, in group order. */
  groups: { name: string; m: Float32Array[]; v: Float32Array[] }[];
}

/** Bytes of the per-buffer `Step` uniform struct in adam.wgsl. */
const STEP_BYTES = 32;

interface Entry {
  group: number;
  floats: number;
  grads: GPUBuffer;
  m: GPUBuffer;
  v: GPUBuffer;
  bind: GPUBindGroup;
}

/**
 * Adam over parameter groups. Moments are zero-initialised buffers owned by this object;
 * one uniform buffer holds a 32-byte record per parameter buffer at aligned offsets and
 * is rewritten (one `writeBuffer`, no allocation) by each {@linkcode Adam.encodeStep}.
 *
 * @example Two steps on one buffer
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { Adam } from "./adam.ts";
 * const gpu = await acquireGpu({ log: null });
 * const params = gpu.createBuffer(new Float32Array([1, 2]));
 * const grads = gpu.createBuffer(new Float32Array([0.5, -0.5]));
 * const adam = await Adam.create(gpu, {
 *   groups: [{ name: "w", params: [params], grads: [grads], floats: [2], lr: 0.1 }],
 * });
 * gpu.submit((e) => { const p = e.beginComputePass(); adam.encodeStep(p); p.end(); });
 * console.log(new Float32Array(await gpu.read(params))); // ≈ [0.9, 2.1]
 * gpu.destroy();
 * ```
 */
export class Adam {
  /** Hyperparameters shared by every group. */
  readonly hyper: Readonly<AdamHyper>;
  /** Whether the step kernel zeroes the gradients. */
  readonly zeroGrads: boolean;
  readonly #gpu: Gpu;
  readonly #pipeline: GPUComputePipeline;
  readonly #groups: AdamGroup[];
  readonly #lrs: number[];
  readonly #entries: Entry[];
  readonly #uniform: GPUBuffer;
  readonly #stride: number;
  readonly #bytes: ArrayBuffer;
  readonly #view: DataView;
  #step = 0;

  private constructor(init: {
    gpu: Gpu;
    pipeline: GPUComputePipeline;
    hyper: AdamHyper;
    zeroGrads: boolean;
    groups: AdamGroup[];
    entries: Entry[];
    uniform: GPUBuffer;
    stride: number;
  }) {
    this.#gpu = init.gpu;
    this.#pipeline = init.pipeline;
    this.hyper = Object.freeze(init.hyper);
    this.zeroGrads = init.zeroGrads;
    this.#groups = init.groups;
    this.#lrs = init.groups.map((g) => g.lr);
    this.#entries = init.entries;
    this.#uniform = init.uniform;
    this.#stride = init.stride;
    this.#bytes = new ArrayBuffer(init.uniform.size);
    this.#view = new DataView(this.#bytes);
  }

  /** Validates the groups, allocates zeroed moments and binds everything once. */
  static async create(gpu: Gpu, options: AdamOptions): Promise<Adam> {
    const { groups, zeroGrads, ...partial } = options;
    const hyper = resolveAdamHyper(partial);
    if (!Array.isArray(groups) || groups.length === 0) {
      throw new RangeError("Invalid option adam.groups: expected at least one group");
    }
    const names = new Set<string>();
    for (const g of groups) {
      const field = `adam.groups.${g.name}`;
      if (names.has(g.name)) throw new RangeError(`Invalid option ${field}: duplicate name`);
      names.add(g.name);
      requireLr(`${field}.lr`, g.lr);
      const n = g.params.length;
      if (n === 0 || g.grads.length !== n || g.floats.length !== n) {
        throw new RangeError(
          `Invalid option ${field}: expected as many params, grads and floats (at least 1), got ${n}, ${g.grads.length}, ${g.floats.length}`,
        );
      }
      for (let i = 0; i < n; i++) {
        const floats = requireInt(`${field}.floats[${i}]`, g.floats[i], { min: 0 });
        const smaller = Math.min(g.params[i]!.size, g.grads[i]!.size) / 4;
        if (floats > smaller) {
          throw new RangeError(
            `Invalid option ${field}.floats[${i}]: expected at most ${smaller} (the buffer size), got ${floats}`,
          );
        }
      }
    }
    const pipeline = await gpu.pipeline("adam");
    const stride = Math.max(STEP_BYTES, gpu.limits.minUniformBufferOffsetAlignment);
    const total = groups.reduce((s, g) => s + g.params.length, 0);
    const uniform = gpu.createUniform(total * stride, "adam step");
    const entries: Entry[] = [];
    groups.forEach((g, group) => {
      g.params.forEach((params, i) => {
        const floats = g.floats[i]!;
        const grads = g.grads[i]!;
        const m = gpu.createBuffer(floats * 4, { label: `adam m ${g.name}[${i}]` });
        const v = gpu.createBuffer(floats * 4, { label: `adam v ${g.name}[${i}]` });
        const bind = gpu.bindGroup(pipeline, [params, grads, m, v, {
          buffer: uniform,
          offset: entries.length * stride,
          size: STEP_BYTES,
        }]);
        entries.push({ group, floats, grads, m, v, bind });
      });
    });
    return new Adam({
      gpu,
      pipeline,
      hyper,
      zeroGrads: zeroGrads ?? false,
      groups: groups.map((g) => ({ ...g })),
      entries,
      uniform,
      stride,
    });
  }

  /** Steps taken so far (the next {@linkcode Adam.encodeStep} uses step + 1). */
  get step(): number {
    return this.#step;
  }

  /** Learning rate of group `name`. */
  lr(name: string): number {
    return this.#lrs[this.#groupIndex(name)]!;
  }

  /** Changes the learning rate of group `name` from the next step on. */
  setLr(name: string, lr: number): void {
    const index = this.#groupIndex(name);
    this.#lrs[index] = requireLr(`adam.groups.${name}.lr`, lr);
  }

  #groupIndex(name: string): number {
    const index = this.#groups.findIndex((g) => g.name === name);
    if (index < 0) {
      throw new RangeError(
        `Unknown adam group ${name}: expected one of ${this.#groups.map((g) => g.name).join(", ")}`,
      );
    }
    return index;
  }

  /**
   * Advances the step counter, writes the step's scalars into the uniform and records the
   * update of every group. The uniform is written through the queue, so record at most one
   * step per submitted command buffer.
   */
  encodeStep(pass: GPUComputePassEncoder): void {
    this.#step++;
    const h = this.hyper;
    const view = this.#view;
    this.#entries.forEach((e, index) => {
      const { stepSize, bc2Sqrt } = adamStepScalars(this.#step, {
        lr: this.#lrs[e.group]!,
        beta1: h.beta1,
        beta2: h.beta2,
      });
      const at = index * this.#stride;
      view.setUint32(at, e.floats, true);
      view.setFloat32(at + 4, h.clip, true);
      view.setFloat32(at + 8, h.beta1, true);
      view.setFloat32(at + 12, h.beta2, true);
      view.setFloat32(at + 16, h.eps, true);
      view.setFloat32(at + 20, stepSize, true);
      view.setFloat32(at + 24, bc2Sqrt, true);
      view.setUint32(at + 28, this.zeroGrads ? 1 : 0, true);
    });
    this.#gpu.device.queue.writeBuffer(this.#uniform, 0, this.#bytes);
    for (const e of this.#entries) {
      this.#gpu.dispatch(pass, this.#pipeline, e.bind, e.floats, 256);
    }
  }

  /** Records clearing every gradient buffer (the updated prefix of each) to zero. */
  encodeZeroGrads(encoder: GPUCommandEncoder): void {
    for (const e of this.#entries) {
      // clearBuffer needs a multiple of 4 bytes, which a float count always is.
      if (e.floats > 0) encoder.clearBuffer(e.grads, 0, e.floats * 4);
    }
  }

  /** Reads the step count and both moments back (for checkpoints). */
  async state(): Promise<AdamState> {
    const groups: AdamState["groups"] = this.#groups.map((g) => ({ name: g.name, m: [], v: [] }));
    for (const e of this.#entries) {
      const bytes = e.floats * 4;
      const out = groups[e.group]!;
      out.m.push(await readFloats(this.#gpu, e.m, bytes));
      out.v.push(await readFloats(this.#gpu, e.v, bytes));
    }
    return { step: this.#step, groups };
  }

  /** Restores a state from {@linkcode Adam.state}; groups must match by name and size. */
  loadState(state: AdamState): void {
    requireInt("adam.state.step", state.step, { min: 0 });
    if (state.groups.length !== this.#groups.length) {
      throw new RangeError(
        `Invalid adam state: expected ${this.#groups.length} groups, got ${state.groups.length}`,
      );
    }
    const counters = this.#groups.map(() => 0);
    for (const e of this.#entries) {
      const mine = this.#groups[e.group]!;
      const saved = state.groups[e.group]!;
      const i = counters[e.group]!++;
      const m = saved.m[i];
      const v = saved.v[i];
      if (saved.name !== mine.name || m === undefined || v === undefined) {
        throw new RangeError(
          `Invalid adam state: group ${e.group} is ${saved.name} with ${saved.m.length} buffers, expected ${mine.name} with ${mine.params.length}`,
        );
      }
      if (m.length !== e.floats || v.length !== e.floats) {
        throw new RangeError(
          `Invalid adam state: ${mine.name}[${i}] holds ${m.length}/${v.length} floats, expected ${e.floats}`,
        );
      }
      if (e.floats > 0) {
        this.#gpu.upload(e.m, Float32Array.from(m));
        this.#gpu.upload(e.v, Float32Array.from(v));
      }
    }
    this.#step = state.step;
  }

  /** Frees the moments and the uniform (not the parameter or gradient buffers). */
  destroy(): void {
    for (const e of this.#entries) {
      e.m.destroy();
      e.v.destroy();
    }
    this.#uniform.destroy();
  }
}

async function readFloats(gpu: Gpu, buffer: GPUBuffer, bytes: number): Promise<Float32Array> {
  if (bytes === 0) return new Float32Array(0);
  return new Float32Array(await gpu.read(buffer, { byteLength: bytes }));
}
