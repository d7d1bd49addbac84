/**
 * Front-to-back compositing of packed samples on the GPU (`composite.wgsl`), forward
 * and backward.
 *
 * @module
 */
import type { Gpu } from "./gpu.ts";
import type { CompositeGrads, CompositeInputs } from "./composite_twin.ts";
import { requireFinite, requireInt } from "./validate.ts";

/** Workgroup size of both `composite.wgsl` entry points (one thread per ray). */
export const COMPOSITE_WORKGROUP = 64;

/** Buffers bound once by {@linkcode Composite.create}. */
export interface CompositeBuffers {
  /** `[R][2]` `u32` per ray: first sample, sample count. */
  rayInfo: GPUBuffer;
  /** `[S][2]` per sample: t after the step, dt. */
  ts: GPUBuffer;
  /** `[S]` density. */
  sigma: GPUBuffer;
  /** `[S][3]` colour. */
  colour: GPUBuffer;
  /** `[S][3]` normal. */
  normal: GPUBuffer;
  /** Output `[R][3]` image with the background. */
  image: GPUBuffer;
  /** Output `[R]` alpha. */
  alpha: GPUBuffer;
  /** Output `[R]` depth. */
  depth: GPUBuffer;
  /** Output `[R][3]` normal image. */
  normalImage: GPUBuffer;
  /** Output `[S]` weights. */
  weights: GPUBuffer;
  /**
   * Backward input `[R][3]` dL/dimage. The backward needs gradImage, gradAlpha,
   * gradDepth, gradNormalImage, gradSigma, gradColour and gradNormal together.
   */
  gradImage?: GPUBuffer;
  /** Backward input `[R]` dL/dalpha. */
  gradAlpha?: GPUBuffer;
  /** Backward input `[R]` dL/ddepth. */
  gradDepth?: GPUBuffer;
  /** Backward input `[R][3]` dL/dnormalImage. */
  gradNormalImage?: GPUBuffer;
  /** Optional backward input `[S]` dL/dweights (entropy regulariser); zero when absent. */
  gradWeights?: GPUBuffer;
  /** Backward output `[S]` dL/dσ (written, not accumulated). */
  gradSigma?: GPUBuffer;
  /** Backward output `[S][3]` dL/dcolour. */
  gradColour?: GPUBuffer;
  /** Backward output `[S][3]` dL/dnormal. */
  gradNormal?: GPUBuffer;
}

/** Options for {@linkcode Composite.create}. */
export interface CompositeOptions {
  /** Number of rays R. */
  rays: number;
  /** Background RGB; defaults to white. */
  background?: ArrayLike<number>;
}

type Bound = [GPUComputePipeline, GPUBindGroup];

function bindAt(
  gpu: Gpu,
  pipeline: GPUComputePipeline,
  entries: [number, GPUBuffer][],
): GPUBindGroup {
  return gpu.bindGroup(pipeline, Object.fromEntries(entries));
}

/**
 * Prepared `composite` kernels: pipelines, bind groups and the uniform built once;
 * `encode…` methods only record dispatches. {@linkcode Composite.setBackground}
 * writes the uniform through the queue, so it applies to work submitted after it.
 *
 * @example
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { Composite } from "./composite.ts";
 * const gpu = await acquireGpu({ log: null });
 * const b = (n: number) => gpu.createBuffer(n * 4);
 * const op = await Composite.create(gpu, {
 *   rayInfo: gpu.createBuffer(new Uint32Array([0, 0])), ts: b(2), sigma: b(1),
 *   colour: b(3), normal: b(3), image: b(3), alpha: b(1), depth: b(1),
 *   normalImage: b(3), weights: b(1),
 * }, { rays: 1, background: [0, 0.5, 1] });
 * gpu.submit((e) => { const p = e.beginComputePass(); op.encodeForward(p); p.end(); });
 * console.log(new Float32Array(await gpu.read(op.buffers.image))[1]); // 0.5: no samples
 * gpu.destroy();
 * ```
 */
export class Composite {
  /** The bound buffers. */
  readonly buffers: CompositeBuffers;
  readonly #gpu: Gpu;
  readonly #uniform: GPUBuffer;
  readonly #rays: number;
  readonly #hasGradWeights: boolean;
  #useGradWeights: boolean;
  #background: number[] = [1, 1, 1];
  readonly #forward: Bound;
  readonly #backward: Bound | null;
  readonly #owned: GPUBuffer[];

  private constructor(
    gpu: Gpu,
    parts: {
      buffers: CompositeBuffers;
      uniform: GPUBuffer;
      rays: number;
      forward: Bound;
      backward: Bound | null;
      owned: GPUBuffer[];
    },
  ) {
    this.#gpu = gpu;
    this.buffers = parts.buffers;
    this.#uniform = parts.uniform;
    this.#rays = parts.rays;
    this.#hasGradWeights = parts.buffers.gradWeights !== undefined;
    this.#useGradWeights = this.#hasGradWeights;
    this.#forward = parts.forward;
    this.#backward = parts.backward;
    this.#owned = parts.owned;
  }

  /** Compiles both entry points (cached) and binds `buffers`; call once, outside any loop. */
  static async create(
    gpu: Gpu,
    buffers: CompositeBuffers,
    options: CompositeOptions,
  ): Promise<Composite> {
    const rays = requireInt("rays", options.rays, { min: 0 });
    const b = buffers;
    const grads = [
      b.gradImage,
      b.gradAlpha,
      b.gradDepth,
      b.gradNormalImage,
      b.gradSigma,
      b.gradColour,
      b.gradNormal,
    ];
    const given = grads.filter((g) => g !== undefined).length;
    if (given !== 0 && given !== grads.length) {
      throw new Error(
        "Invalid option buffers: gradImage, gradAlpha, gradDepth, gradNormalImage, gradSigma, gradColour and gradNormal come together",
      );
    }
    const uniform = gpu.createUniform(32, "composite params");
    const owned = [uniform];
    const common: [number, GPUBuffer][] = [
      [0, uniform],
      [1, b.rayInfo],
      [2, b.ts],
      [3, b.sigma],
      [4, b.colour],
      [5, b.normal],
    ];
    const fwd = await gpu.pipeline("composite", { entryPoint: "forward" });
    const forward: Bound = [
      fwd,
      bindAt(gpu, fwd, [
        ...common,
        [6, b.image],
        [7, b.alpha],
        [8, b.depth],
        [9, b.normalImage],
        [10, b.weights],
      ]),
    ];
    let backward: Bound | null = null;
    if (given > 0) {
      const bwd = await gpu.pipeline("composite", { entryPoint: "backward" });
      let gradWeights = b.gradWeights;
      if (gradWeights === undefined) {
        // The kernel skips it (has_grad_weights = 0), but the layout still has the slot.
        gradWeights = gpu.createBuffer(4, { label: "composite dummy dweights" });
        owned.push(gradWeights);
      }
      backward = [
        bwd,
        bindAt(gpu, bwd, [
          ...common,
          [11, b.gradImage!],
          [12, b.gradAlpha!],
          [13, b.gradDepth!],
          [14, b.gradNormalImage!],
          [15, gradWeights],
          [16, b.gradSigma!],
          [17, b.gradColour!],
          [18, b.gradNormal!],
        ]),
      ];
    }
    const op = new Composite(gpu, { buffers, uniform, rays, forward, backward, owned });
    op.setBackground(options.background ?? [1, 1, 1]);
    return op;
  }

  /** Sets the background RGB for work submitted from now on (SDS steps draw one per step). */
  setBackground(rgb: ArrayLike<number>): void {
    const bg = [0, 1, 2].map((c) => requireFinite(`background[${c}]`, rgb[c]));
    this.#background = bg;
    this.#writeUniform();
  }

  /**
   * Turns the `gradWeights` input on or off for work submitted from now on (on by
   * default when the buffer was bound). Off, the backward skips it entirely, so a
   * disabled entropy term leaves the gradients bit-identical to a composite without it.
   */
  useGradWeights(on: boolean): void {
    if (on && !this.#hasGradWeights) {
      throw new Error("Composite was created without gradWeights: cannot use dL/dweights");
    }
    if (on === this.#useGradWeights) return;
    this.#useGradWeights = on;
    this.#writeUniform();
  }

  #writeUniform(): void {
    const bytes = new ArrayBuffer(32);
    const view = new DataView(bytes);
    for (let c = 0; c < 3; c++) view.setFloat32(4 * c, this.#background[c]!, true);
    view.setUint32(12, this.#rays, true);
    view.setUint32(16, this.#useGradWeights ? 1 : 0, true);
    this.#gpu.upload(this.#uniform, new Uint8Array(bytes));
  }

  /** Records the forward over all R rays. */
  encodeForward(pass: GPUComputePassEncoder): void {
    this.#gpu.dispatch(pass, this.#forward[0], this.#forward[1], this.#rays, COMPOSITE_WORKGROUP);
  }

  /** Records the backward over all R rays; needs the gradient buffers. */
  encodeBackward(pass: GPUComputePassEncoder): void {
    if (this.#backward === null) {
      throw new Error("Composite was created without gradient buffers: cannot encode the backward");
    }
    this.#gpu.dispatch(pass, this.#backward[0], this.#backward[1], this.#rays, COMPOSITE_WORKGROUP);
  }

  /** Releases the uniform and internal buffers (the bound buffers belong to the caller). */
  destroy(): void {
    for (const b of this.#owned) b.destroy();
  }
}

/** Result of the one-shot {@linkcode composite}. */
export interface CompositeResult {
  /** `[R][3]` image. */
  image: Float32Array;
  /** `[R]` alpha. */
  alpha: Float32Array;
  /** `[R]` depth. */
  depth: Float32Array;
  /** `[R][3]` normal image. */
  normalImage: Float32Array;
  /** `[S]` weights. */
  weights: Float32Array;
}

/** Result of the one-shot {@linkcode compositeBackward}. */
export interface CompositeBackwardResult {
  /** `[S]` dL/dσ. */
  sigma: Float32Array;
  /** `[S][3]` dL/dcolour. */
  colour: Float32Array;
  /** `[S][3]` dL/dnormal. */
  normal: Float32Array;
}

async function runOnce(
  gpu: Gpu,
  inputs: CompositeInputs,
  grads: CompositeGrads | null,
): Promise<{ forward: CompositeResult; backward: CompositeBackwardResult | null }> {
  const rays = Math.floor(inputs.rayInfo.length / 2);
  const s = inputs.sigma.length;
  const f32 = (data: ArrayLike<number>, label: string) =>
    gpu.createBuffer(new Float32Array(Array.from(data)), { label });
  const out = (n: number, label: string) => gpu.createBuffer(n * 4, { label });
  const buffers: CompositeBuffers = {
    rayInfo: gpu.createBuffer(new Uint32Array(Array.from(inputs.rayInfo)), { label: "ray info" }),
    ts: f32(inputs.ts, "composite ts"),
    sigma: f32(inputs.sigma, "composite sigma"),
    colour: f32(inputs.colour, "composite colour"),
    normal: f32(inputs.normal, "composite normal"),
    image: out(3 * rays, "composite image"),
    alpha: out(rays, "composite alpha"),
    depth: out(rays, "composite depth"),
    normalImage: out(3 * rays, "composite normal image"),
    weights: out(s, "composite weights"),
  };
  if (grads !== null) {
    buffers.gradImage = f32(grads.image, "composite dimage");
    buffers.gradAlpha = f32(grads.alpha, "composite dalpha");
    buffers.gradDepth = f32(grads.depth, "composite ddepth");
    buffers.gradNormalImage = f32(grads.normalImage, "composite dnormal image");
    if (grads.weights !== undefined) buffers.gradWeights = f32(grads.weights, "dweights");
    buffers.gradSigma = out(s, "composite dsigma");
    buffers.gradColour = out(3 * s, "composite dcolour");
    buffers.gradNormal = out(3 * s, "composite dnormal");
  }
  const op = await Composite.create(gpu, buffers, { rays, background: inputs.background });
  gpu.submit((encoder) => {
    const pass = encoder.beginComputePass();
    op.encodeForward(pass);
    if (grads !== null) op.encodeBackward(pass);
    pass.end();
  });
  const read = async (b: GPUBuffer, n: number) => new Float32Array(await gpu.read(b)).slice(0, n);
  const forward = {
    image: await read(buffers.image, 3 * rays),
    alpha: await read(buffers.alpha, rays),
    depth: await read(buffers.depth, rays),
    normalImage: await read(buffers.normalImage, 3 * rays),
    weights: await read(buffers.weights, s),
  };
  const backward = grads === null ? null : {
    sigma: await read(buffers.gradSigma!, s),
    colour: await read(buffers.gradColour!, 3 * s),
    normal: await read(buffers.gradNormal!, 3 * s),
  };
  op.destroy();
  for (const b of Object.values(buffers)) (b as GPUBuffer).destroy();
  return { forward, backward };
}

/**
 * One-shot forward for tests and benchmarks: uploads, runs and reads back.
 *
 * @param gpu the device
 * @param inputs the same inputs as the twin's {@linkcode CompositeInputs}
 * @returns image, alpha, depth, normal image and weights
 *
 * @example
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { composite } from "./composite.ts";
 * const gpu = await acquireGpu({ log: null });
 * const out = await composite(gpu, {
 *   rayInfo: [0, 1], ts: [1, 0.5], sigma: [Math.log(4)], colour: [1, 0, 0],
 *   normal: [0, 0, 1], background: [1, 1, 1],
 * });
 * console.log(out.alpha[0]); // ≈0.5
 * gpu.destroy();
 * ```
 */
export async function composite(gpu: Gpu, inputs: CompositeInputs): Promise<CompositeResult> {
  return (await runOnce(gpu, inputs, null)).forward;
}

/**
 * One-shot forward and backward for tests and benchmarks.
 *
 * @param gpu the device
 * @param inputs the forward's inputs
 * @param grads upstream gradients (dL/dweights optional)
 * @returns dL/dσ, dL/dcolour and dL/dnormal
 *
 * @example
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { compositeBackward } from "./composite.ts";
 * const gpu = await acquireGpu({ log: null });
 * const g = await compositeBackward(gpu, {
 *   rayInfo: [0, 1], ts: [1, 0.5], sigma: [1], colour: [1, 0, 0],
 *   normal: [0, 0, 1], background: [0, 0, 0],
 * }, { image: [1, 0, 0], alpha: [0], depth: [0], normalImage: [0, 0, 0] });
 * console.log(g.sigma[0]! > 0); // true
 * gpu.destroy();
 * ```
 */
export async function compositeBackward(
  gpu: Gpu,
  inputs: CompositeInputs,
  grads: CompositeGrads,
): Promise<CompositeBackwardResult> {
  return (await runOnce(gpu, inputs, grads)).backward!;
}
