/**
 * The VAE encoder's 2-D convolution on the GPU (`conv2d.wgsl`): forward, dL/dx and,
 * when asked for, dL/dW and dL/db, each one tiled implicit GEMM. NCHW activations,
 * `[C_out][C_in][k][k]` weights.
 *
 * @module
 */
import type { Gpu } from "../gpu.ts";
import { MAX_WORKGROUPS_PER_DIM } from "../gpu.ts";
import { requireBuffer, runAndRead, upload } from "./_buffers.ts";
import { type Conv2dGeometry, conv2dGeometry, type Conv2dShape } from "./conv2d_twin.ts";

/** Rows and columns of C one `conv2d.wgsl` workgroup owns. */
export const CONV2D_TILE = 64;

/** Buffers bound once by {@linkcode Conv2d.create}. */
export interface Conv2dBuffers {
  /** x `[N][C_in][H][W]`. */
  input: GPUBuffer;
  /** W `[C_out][C_in][k][k]`. */
  weight: GPUBuffer;
  /** b `[C_out]`. */
  bias: GPUBuffer;
  /** y `[N][C_out][H_o][W_o]`, overwritten by the forward pass. */
  output: GPUBuffer;
  /** dL/dy, same shape as y; needed for the backward pass. */
  gradOutput?: GPUBuffer;
  /** dL/dx, written (or added to: `accumulateGradInput`) by the backward pass. */
  gradInput?: GPUBuffer;
  /** dL/dW, added to by the backward pass (clear it before a step); omit for frozen weights. */
  gradWeight?: GPUBuffer;
  /** dL/db, added to by the backward pass; omit for frozen weights. */
  gradBias?: GPUBuffer;
}

/** Options of {@linkcode Conv2d.create}. */
export interface Conv2dOptions extends Conv2dBuffers {
  /** Geometry of the convolution. */
  shape: Conv2dShape;
  /** Add dL/dx into `gradInput` instead of overwriting it (a branch joining a residual). */
  accumulateGradInput?: boolean;
  /** Add y into `output` instead of overwriting it (the residual branch's last conv). */
  accumulateOutput?: boolean;
}

interface Pass {
  pipeline: GPUComputePipeline;
  group: GPUBindGroup;
  x: number;
  y: number;
}

/**
 * A convolution with its pipelines, uniforms and bind groups built once;
 * {@linkcode Conv2d.encodeForward} and {@linkcode Conv2d.encodeBackward} only record
 * dispatches.
 *
 * @example Forward and backward of a 3x3 convolution
 * ```ts
 * import { acquireGpu } from "../gpu.ts";
 * import { Conv2d } from "./conv2d.ts";
 * const gpu = await acquireGpu({ log: null });
 * const b = (v: number[]) => gpu.createBuffer(new Float32Array(v));
 * const conv = await Conv2d.create(gpu, {
 *   shape: { batch: 1, inChannels: 1, outChannels: 1, height: 2, width: 2, kernel: 3 },
 *   input: b([1, 2, 3, 4]), weight: b([0, 0, 0, 0, 1, 1, 0, 0, 0]), bias: b([0.5]),
 *   output: b([0, 0, 0, 0]), gradOutput: b([1, 0, 0, 0]), gradInput: b([0, 0, 0, 0]),
 * });
 * gpu.submit((e) => {
 *   const p = e.beginComputePass();
 *   conv.encodeForward(p);
 *   conv.encodeBackward(p);
 *   p.end();
 * });
 * console.log(new Float32Array(await gpu.read(conv.output))); // Float32Array(4) [ 3.5, 2.5, 7.5, 4.5 ]
 * console.log(new Float32Array(await gpu.read(conv.gradInput!))); // Float32Array(4) [ 1, 1, 0, 0 ]
 * gpu.destroy();
 * ```
 */
export class Conv2d {
  /** The checked geometry, output size included. */
  readonly geometry: Conv2dGeometry;
  /** y. */
  readonly output: GPUBuffer;
  /** dL/dx, when bound. */
  readonly gradInput: GPUBuffer | undefined;
  readonly #forward: Pass;
  readonly #gradInput: Pass | null;
  readonly #gradWeight: Pass | null;
  readonly #gradBias: Pass | null;
  readonly #uniforms: GPUBuffer[];

  private constructor(parts: {
    geometry: Conv2dGeometry;
    output: GPUBuffer;
    gradInput: GPUBuffer | undefined;
    forward: Pass;
    gradInputPass: Pass | null;
    gradWeightPass: Pass | null;
    gradBiasPass: Pass | null;
    uniforms: GPUBuffer[];
  }) {
    this.geometry = parts.geometry;
    this.output = parts.output;
    this.gradInput = parts.gradInput;
    this.#forward = parts.forward;
    this.#gradInput = parts.gradInputPass;
    this.#gradWeight = parts.gradWeightPass;
    this.#gradBias = parts.gradBiasPass;
    this.#uniforms = parts.uniforms;
  }

  /** Checks the buffers against the shape, compiles the pipelines (cached) and binds, once. */
  static async create(gpu: Gpu, options: Conv2dOptions): Promise<Conv2d> {
    const g = conv2dGeometry(options.shape);
    const k2 = g.kernel * g.kernel;
    const inFloats = g.batch * g.inChannels * g.height * g.width;
    const outPixels = g.batch * g.outHeight * g.outWidth;
    const outFloats = outPixels * g.outChannels;
    const need = (name: string, buffer: GPUBuffer, floats: number) =>
      requireBuffer(gpu, name, { buffer, floats });
    need("input", options.input, inFloats);
    need("weight", options.weight, g.outChannels * g.inChannels * k2);
    need("bias", options.bias, g.outChannels);
    need("output", options.output, outFloats);
    const backward = options.gradInput !== undefined || options.gradWeight !== undefined ||
      options.gradBias !== undefined;
    if (backward && options.gradOutput === undefined) {
      throw new RangeError("Invalid option gradOutput: required when any gradient is bound");
    }
    if (options.gradOutput !== undefined) need("gradOutput", options.gradOutput, outFloats);
    if (options.gradInput !== undefined) need("gradInput", options.gradInput, inFloats);
    if (options.gradWeight !== undefined) {
      need("gradWeight", options.gradWeight, g.outChannels * g.inChannels * k2);
    }
    if (options.gradBias !== undefined) need("gradBias", options.gradBias, g.outChannels);
    const cols = Math.max(outPixels, g.batch * g.height * g.width);
    if (Math.ceil(cols / CONV2D_TILE) > MAX_WORKGROUPS_PER_DIM) {
      throw new RangeError(
        `Invalid option shape: ${cols} pixels per channel exceed one dispatch (${
          MAX_WORKGROUPS_PER_DIM * CONV2D_TILE
        }); split the batch`,
      );
    }
    const pipe = (mode: number, entryPoint = "main") =>
      gpu.pipeline("vae_ops/conv2d", {
        entryPoint,
        constants: { MODE: mode, KS: g.kernel, STRIDE: g.stride },
      });
    const uniform = (accumulate: boolean) => {
      const words = new Uint32Array([
        g.batch,
        g.inChannels,
        g.outChannels,
        g.height,
        g.width,
        g.outHeight,
        g.outWidth,
        g.padTop,
        g.padLeft,
        accumulate ? 1 : 0,
        0,
        0,
      ]);
      const u = gpu.createUniform(words.byteLength, "conv2d uniforms");
      gpu.upload(u, words);
      return u;
    };
    const tiles = (rows: number, columns: number) => ({
      x: Math.ceil(columns / CONV2D_TILE),
      y: Math.ceil(rows / CONV2D_TILE),
    });
    const uniforms: GPUBuffer[] = [];
    const uForward = uniform(options.accumulateOutput ?? false);
    uniforms.push(uForward);
    const forwardPipe = await pipe(0);
    const forward: Pass = {
      pipeline: forwardPipe,
      group: gpu.bindGroup(forwardPipe, {
        0: options.weight,
        1: options.input,
        2: options.output,
        3: options.bias,
        4: uForward,
      }),
      ...tiles(g.outChannels, outPixels),
    };
    let gradInputPass: Pass | null = null;
    if (options.gradInput !== undefined) {
      const u = uniform(options.accumulateGradInput ?? false);
      uniforms.push(u);
      const pipeline = await pipe(1);
      gradInputPass = {
        pipeline,
        group: gpu.bindGroup(pipeline, {
          0: options.weight,
          1: options.gradOutput!,
          2: options.gradInput,
          3: options.bias,
          4: u,
        }),
        ...tiles(g.inChannels, g.batch * g.height * g.width),
      };
    }
    let gradWeightPass: Pass | null = null;
    let gradBiasPass: Pass | null = null;
    if (options.gradWeight !== undefined || options.gradBias !== undefined) {
      const u = uniform(true);
      uniforms.push(u);
      if (options.gradWeight !== undefined) {
        const pipeline = await pipe(2);
        gradWeightPass = {
          pipeline,
          group: gpu.bindGroup(pipeline, {
            0: options.gradOutput!,
            1: options.input,
            2: options.gradWeight,
            3: options.bias,
            4: u,
          }),
          ...tiles(g.outChannels, g.inChannels * k2),
        };
      }
      if (options.gradBias !== undefined) {
        const pipeline = await pipe(2, "bias_grad");
        gradBiasPass = {
          pipeline,
          group: gpu.bindGroup(pipeline, { 0: options.gradOutput!, 4: u, 5: options.gradBias }),
          x: g.outChannels,
          y: 1,
        };
      }
    }
    return new Conv2d({
      geometry: g,
      output: options.output,
      gradInput: options.gradInput,
      forward,
      gradInputPass,
      gradWeightPass,
      gradBiasPass,
      uniforms,
    });
  }

  /** Records y = b + W ⋆ x (added to `output` when `accumulateOutput`). */
  encodeForward(pass: GPUComputePassEncoder): void {
    record(pass, this.#forward);
  }

  /** Records dL/dx (when bound), then dL/dW and dL/db (when bound), from dL/dy. */
  encodeBackward(pass: GPUComputePassEncoder): void {
    for (const p of [this.#gradInput, this.#gradWeight, this.#gradBias]) {
      if (p !== null) record(pass, p);
    }
  }

  /** Frees the uniforms this object created; the bound buffers belong to the caller. */
  destroy(): void {
    for (const u of this.#uniforms) u.destroy();
  }
}

function record(pass: GPUComputePassEncoder, p: Pass): void {
  pass.setPipeline(p.pipeline);
  pass.setBindGroup(0, p.group);
  pass.dispatchWorkgroups(p.x, p.y);
}

/** Host arrays of the convolution's one-shot helpers. */
export interface Conv2dArrays {
  /** x `[N][C_in][H][W]`. */
  input: ArrayLike<number>;
  /** W `[C_out][C_in][k][k]`. */
  weight: ArrayLike<number>;
  /** b `[C_out]`. */
  bias: ArrayLike<number>;
}

/**
 * One-shot forward (upload, run, read back) for tests and benchmarks.
 *
 * @example
 * ```ts
 * import { acquireGpu } from "../gpu.ts";
 * import { conv2dOnce } from "./conv2d.ts";
 * const gpu = await acquireGpu({ log: null });
 * const y = await conv2dOnce(
 *   gpu,
 *   { batch: 1, inChannels: 2, outChannels: 1, height: 1, width: 2, kernel: 1 },
 *   { input: [1, 2, 3, 4], weight: [10, 1], bias: [0.5] },
 * );
 * console.log(y); // Float32Array(2) [ 13.5, 24.5 ]
 * gpu.destroy();
 * ```
 */
export async function conv2dOnce(
  gpu: Gpu,
  shape: Conv2dShape,
  arrays: Conv2dArrays,
): Promise<Float32Array> {
  const g = conv2dGeometry(shape);
  const input = upload(gpu, arrays.input);
  const weight = upload(gpu, arrays.weight);
  const bias = upload(gpu, arrays.bias);
  const output = gpu.createBuffer(g.batch * g.outChannels * g.outHeight * g.outWidth * 4);
  const conv = await Conv2d.create(gpu, { shape, input, weight, bias, output });
  const out = await runAndRead(gpu, (p) => conv.encodeForward(p), {
    outputs: { output },
    owned: [input, weight, bias, output],
  });
  conv.destroy();
  return out.output;
}

/**
 * One-shot backward (upload, run, read back): dL/dx, dL/dW and dL/db for an upstream dL/dy.
 *
 * @example
 * ```ts
 * import { acquireGpu } from "../gpu.ts";
 * import { conv2dBackwardOnce } from "./conv2d.ts";
 * const gpu = await acquireGpu({ log: null });
 * const g = await conv2dBackwardOnce(
 *   gpu,
 *   { batch: 1, inChannels: 2, outChannels: 1, height: 1, width: 2, kernel: 1 },
 *   { input: [1, 2, 3, 4], weight: [10, 1], bias: [0], gradOutput: [1, -1] },
 * );
 * console.log(g.gradInput, g.gradWeight); // Float32Array(4) [ 10, -10, 1, -1 ] Float32Array(2) [ -1, -1 ]
 * gpu.destroy();
 * ```
 */
export async function conv2dBackwardOnce(
  gpu: Gpu,
  shape: Conv2dShape,
  arrays: Conv2dArrays & { gradOutput: ArrayLike<number> },
): Promise<{ gradInput: Float32Array; gradWeight: Float32Array; gradBias: Float32Array }> {
  const g = conv2dGeometry(shape);
  const input = upload(gpu, arrays.input);
  const weight = upload(gpu, arrays.weight);
  const bias = upload(gpu, arrays.bias);
  const gradOutput = upload(gpu, arrays.gradOutput);
  const output = gpu.createBuffer(g.batch * g.outChannels * g.outHeight * g.outWidth * 4);
  const gradInput = gpu.createBuffer(g.batch * g.inChannels * g.height * g.width * 4);
  const gradWeight = gpu.createBuffer(g.outChannels * g.inChannels * g.kernel ** 2 * 4);
  const gradBias = gpu.createBuffer(g.outChannels * 4);
  const conv = await Conv2d.create(gpu, {
    shape,
    input,
    weight,
    bias,
    output,
    gradOutput,
    gradInput,
    gradWeight,
    gradBias,
  });
  const out = await runAndRead(gpu, (p) => conv.encodeBackward(p), {
    outputs: { gradInput, gradWeight, gradBias },
    owned: [input, weight, bias, gradOutput, output, gradInput, gradWeight, gradBias],
  });
  conv.destroy();
  return out;
}
