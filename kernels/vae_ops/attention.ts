/**
 * The VAE mid block's single-head spatial self-attention core on the GPU
 * (`attention.wgsl`): o = v·softmax(qᵀk/√C)ᵀ per image, and dL/dq, dL/dk, dL/dv from
 * dL/do. q, k, v and o are `[N][C][T]`, the layout 1x1 convolutions of NCHW activations
 * (to_q, to_k, to_v, to_out) read and write.
 *
 * @module
 */
import type { Gpu } from "../gpu.ts";
import { MAX_WORKGROUPS_PER_DIM } from "../gpu.ts";
import { requireBuffer, runAndRead, upload } from "./_buffers.ts";
import { type AttentionShape, attentionShape } from "./attention_twin.ts";

/** Rows and columns of C one `matmul` workgroup owns. */
export const ATTENTION_TILE = 64;

/** Options of {@linkcode Attention.create}. */
export interface AttentionOptions {
  /** Sizes. */
  shape: AttentionShape;
  /** q `[N][C][T]`. */
  query: GPUBuffer;
  /** k `[N][C][T]`. */
  key: GPUBuffer;
  /** v `[N][C][T]`. */
  value: GPUBuffer;
  /** o `[N][C][T]`, overwritten by the forward pass. */
  output: GPUBuffer;
  /** dL/do; bind it with the three input gradients for the backward pass. */
  gradOutput?: GPUBuffer;
  /** dL/dq, overwritten by the backward pass. */
  gradQuery?: GPUBuffer;
  /** dL/dk, overwritten by the backward pass. */
  gradKey?: GPUBuffer;
  /** dL/dv, overwritten by the backward pass. */
  gradValue?: GPUBuffer;
}

interface Step {
  pipeline: GPUComputePipeline;
  group: GPUBindGroup;
  grid: [number, number, number];
}

/**
 * Attention with pipelines, the probability matrix P `[N][T][T]`, uniforms and bind
 * groups built once. The backward pass reads the P of the last forward pass.
 *
 * @example
 * ```ts
 * import { acquireGpu } from "../gpu.ts";
 * import { Attention } from "./attention.ts";
 * const gpu = await acquireGpu({ log: null });
 * const b = (v: number[]) => gpu.createBuffer(new Float32Array(v));
 * // Equal keys: every query averages the values.
 * const attn = await Attention.create(gpu, {
 *   shape: { batch: 1, channels: 1, tokens: 2 },
 *   query: b([1, 2]), key: b([3, 3]), value: b([10, 20]), output: b([0, 0]),
 * });
 * gpu.submit((e) => { const p = e.beginComputePass(); attn.encodeForward(p); p.end(); });
 * console.log(new Float32Array(await gpu.read(attn.output))); // Float32Array(2) [ 15, 15 ]
 * gpu.destroy();
 * ```
 */
export class Attention {
  /** The checked sizes. */
  readonly shape: AttentionShape;
  /** o. */
  readonly output: GPUBuffer;
  /** P `[N][T][T]` of the last forward pass. */
  readonly probs: GPUBuffer;
  readonly #forward: Step[];
  readonly #backward: Step[];
  readonly #owned: GPUBuffer[];

  private constructor(parts: {
    shape: AttentionShape;
    output: GPUBuffer;
    probs: GPUBuffer;
    forward: Step[];
    backward: Step[];
    owned: GPUBuffer[];
  }) {
    this.shape = parts.shape;
    this.output = parts.output;
    this.probs = parts.probs;
    this.#forward = parts.forward;
    this.#backward = parts.backward;
    this.#owned = parts.owned;
  }

  /** Checks the buffers, creates P (and dS), compiles the pipelines (cached) and binds, once. */
  static async create(gpu: Gpu, options: AttentionOptions): Promise<Attention> {
    const s = attentionShape(options.shape);
    const { batch: N, channels: C, tokens: T } = s;
    const ct = C * T;
    const need = (name: string, buffer: GPUBuffer, floats: number) =>
      requireBuffer(gpu, name, { buffer, floats });
    for (const name of ["query", "key", "value", "output"] as const) {
      need(name, options[name], N * ct);
    }
    const grads = [options.gradOutput, options.gradQuery, options.gradKey, options.gradValue];
    const backward = grads.some((g) => g !== undefined);
    if (backward && grads.some((g) => g === undefined)) {
      throw new RangeError(
        "Invalid option gradOutput: bind gradOutput, gradQuery, gradKey and gradValue together",
      );
    }
    if (backward) {
      for (const name of ["gradOutput", "gradQuery", "gradKey", "gradValue"] as const) {
        need(name, options[name]!, N * ct);
      }
    }
    const limit = gpu.limits.maxStorageBufferBindingSize;
    if (N * T * T * 4 > limit) {
      throw new RangeError(
        `Invalid option shape: ${N}·${T}² attention probabilities need ${
          N * T * T * 4
        } bytes, above the device's storage binding limit of ${limit}; encode fewer or smaller images`,
      );
    }
    if (Math.ceil(T / ATTENTION_TILE) > MAX_WORKGROUPS_PER_DIM || N > MAX_WORKGROUPS_PER_DIM) {
      throw new RangeError(`Invalid option shape: ${N} images of ${T} tokens exceed one dispatch`);
    }
    const owned: GPUBuffer[] = [];
    const probs = gpu.createBuffer(N * T * T * 4, { label: "attention probabilities" });
    owned.push(probs);
    const uniform = (
      dims: { m: number; n: number; k: number; alpha?: number },
      strides: [number, number, number],
    ) => {
      const bytes = new ArrayBuffer(32);
      const v = new DataView(bytes);
      v.setUint32(0, dims.m, true);
      v.setUint32(4, dims.n, true);
      v.setUint32(8, dims.k, true);
      v.setFloat32(12, dims.alpha ?? 1, true);
      v.setUint32(16, 0, true);
      strides.forEach((x, i) => v.setUint32(20 + 4 * i, x, true));
      const u = gpu.createUniform(32, "attention uniforms");
      gpu.upload(u, new Uint8Array(bytes));
      owned.push(u);
      return u;
    };
    const matmul = async (
      op: { transA: boolean; transB: boolean; m: number; n: number; k: number; alpha?: number },
      buffers: { a: GPUBuffer; b: GPUBuffer; c: GPUBuffer; strides: [number, number, number] },
    ): Promise<Step> => {
      const pipeline = await gpu.pipeline("vae_ops/attention", {
        entryPoint: "matmul",
        constants: { TRANS_A: op.transA ? 1 : 0, TRANS_B: op.transB ? 1 : 0 },
      });
      const u = uniform(op, buffers.strides);
      return {
        pipeline,
        group: gpu.bindGroup(pipeline, { 0: buffers.a, 1: buffers.b, 2: buffers.c, 3: u }),
        grid: [Math.ceil(op.n / ATTENTION_TILE), Math.ceil(op.m / ATTENTION_TILE), N],
      };
    };
    const rows = async (entryPoint: string, scores: GPUBuffer): Promise<Step> => {
      const pipeline = await gpu.pipeline("vae_ops/attention", { entryPoint });
      const u = uniform({ m: N * T, n: T, k: 0 }, [0, 0, 0]);
      const bindings: Record<number, GPUBuffer> = { 2: scores, 3: u };
      if (entryPoint === "softmax_backward") bindings[4] = probs;
      const y = Math.ceil((N * T) / MAX_WORKGROUPS_PER_DIM);
      return {
        pipeline,
        group: gpu.bindGroup(pipeline, bindings),
        grid: [Math.ceil((N * T) / y), y, 1],
      };
    };
    const scale = 1 / Math.sqrt(C);
    const tt = T * T;
    const forward = [
      await matmul({ transA: true, transB: false, m: T, n: T, k: C, alpha: scale }, {
        a: options.query,
        b: options.key,
        c: probs,
        strides: [ct, ct, tt],
      }),
      await rows("softmax", probs),
      await matmul({ transA: false, transB: true, m: C, n: T, k: T }, {
        a: options.value,
        b: probs,
        c: options.output,
        strides: [ct, tt, ct],
      }),
    ];
    const backwardSteps: Step[] = [];
    if (backward) {
      const dS = gpu.createBuffer(N * tt * 4, { label: "attention score gradients" });
      owned.push(dS);
      const dO = options.gradOutput!;
      backwardSteps.push(
        await matmul({ transA: false, transB: false, m: C, n: T, k: T }, {
          a: dO,
          b: probs,
          c: options.gradValue!,
          strides: [ct, tt, ct],
        }),
        await matmul({ transA: true, transB: false, m: T, n: T, k: C }, {
          a: dO,
          b: options.value,
          c: dS,
          strides: [ct, ct, tt],
        }),
        await rows("softmax_backward", dS),
        await matmul({ transA: false, transB: true, m: C, n: T, k: T, alpha: scale }, {
          a: options.key,
          b: dS,
          c: options.gradQuery!,
          strides: [ct, tt, ct],
        }),
        await matmul({ transA: false, transB: false, m: C, n: T, k: T, alpha: scale }, {
          a: options.query,
          b: dS,
          c: options.gradKey!,
          strides: [ct, tt, ct],
        }),
      );
    }
    return new Attention({
      shape: s,
      output: options.output,
      probs,
      forward,
      backward: backwardSteps,
      owned,
    });
  }

  /** Records S = qᵀk/√C, the row softmax and o = v·Pᵀ. */
  encodeForward(pass: GPUComputePassEncoder): void {
    for (const s of this.#forward) record(pass, s);
  }

  /** Records dL/dv, dL/dq and dL/dk from dL/do and the forward pass's P. */
  encodeBackward(pass: GPUComputePassEncoder): void {
    if (this.#backward.length === 0) {
      throw new Error("Attention was created without gradient buffers: no backward pass");
    }
    for (const s of this.#backward) record(pass, s);
  }

  /** Frees the buffers this object created (P, dS, uniforms). */
  destroy(): void {
    for (const b of this.#owned) b.destroy();
  }
}

function record(pass: GPUComputePassEncoder, s: Step): void {
  pass.setPipeline(s.pipeline);
  pass.setBindGroup(0, s.group);
  pass.dispatchWorkgroups(...s.grid);
}

/** Host arrays of the attention one-shot helpers, each `[N][C][T]`. */
export interface AttentionArrays {
  /** q. */
  query: ArrayLike<number>;
  /** k. */
  key: ArrayLike<number>;
  /** v. */
  value: ArrayLike<number>;
}

/**
 * One-shot forward (upload, run, read back) for tests and benchmarks.
 *
 * @example
 * ```ts
 * import { acquireGpu } from "../gpu.ts";
 * import { attentionOnce } from "./attention.ts";
 * const gpu = await acquireGpu({ log: null });
 * const o = await attentionOnce(gpu, { batch: 1, channels: 1, tokens: 2 }, {
 *   query: [1, 2], key: [3, 3], value: [10, 20],
 * });
 * console.log(o); // Float32Array(2) [ 15, 15 ]
 * gpu.destroy();
 * ```
 */
export async function attentionOnce(
  gpu: Gpu,
  shape: AttentionShape,
  arrays: AttentionArrays,
): Promise<Float32Array> {
  const query = upload(gpu, arrays.query);
  const key = upload(gpu, arrays.key);
  const value = upload(gpu, arrays.value);
  const output = gpu.createBuffer(arrays.query.length * 4);
  const attn = await Attention.create(gpu, { shape, query, key, value, output });
  const out = await runAndRead(gpu, (p) => attn.encodeForward(p), {
    outputs: { output },
    owned: [query, key, value, output],
  });
  attn.destroy();
  return out.output;
}

/**
 * One-shot forward then backward (upload, run, read back): dL/dq, dL/dk, dL/dv.
 *
 * @example
 * ```ts
 * import { acquireGpu } from "../gpu.ts";
 * import { attentionBackwardOnce } from "./attention.ts";
 * const gpu = await acquireGpu({ log: null });
 * const g = await attentionBackwardOnce(gpu, { batch: 1, channels: 1, tokens: 2 }, {
 *   query: [1, 2], key: [3, 3], value: [10, 20], gradOutput: [1, 1],
 * });
 * console.log(g.gradValue); // Float32Array(2) [ 1, 1 ]
 * gpu.destroy();
 * ```
 */
export async function attentionBackwardOnce(
  gpu: Gpu,
  shape: AttentionShape,
  arrays: AttentionArrays & { gradOutput: ArrayLike<number> },
): Promise<{ gradQuery: Float32Array; gradKey: Float32Array; gradValue: Float32Array }> {
  const n = arrays.query.length * 4;
  const query = upload(gpu, arrays.query);
  const key = upload(gpu, arrays.key);
  const value = upload(gpu, arrays.value);
  const gradOutput = upload(gpu, arrays.gradOutput);
  const output = gpu.createBuffer(n);
  const gradQuery = gpu.createBuffer(n);
  const gradKey = gpu.createBuffer(n);
  const gradValue = gpu.createBuffer(n);
  const attn = await Attention.create(gpu, {
    shape,
    query,
    key,
    value,
    output,
    gradOutput,
    gradQuery,
    gradKey,
    gradValue,
  });
  const out = await runAndRead(gpu, (p) => {
    attn.encodeForward(p);
    attn.encodeBackward(p);
  }, {
    outputs: { gradQuery, gradKey, gradValue },
    owned: [query, key, value, gradOutput, output, gradQuery, gradKey, gradValue],
  });
  attn.destroy();
  return out;
}
