/**
 * The VAE posterior sample on the GPU (`posterior.wgsl`; SPEC.md §4 "Encode"):
 * z = s·(μ + exp(½·clamp(logvar, −30, 20))·n) from the encoder's moments and a noise
 * buffer the caller fills, and dL/dmoments from dL/dz.
 *
 * @module
 */
import { type Gpu, workgroupGrid } from "../gpu.ts";
import { requireBuffer, runAndRead, upload } from "./_buffers.ts";
import {
  type PosteriorGeometry,
  posteriorGeometry,
  type PosteriorShape,
} from "./posterior_twin.ts";

/** Workgroup size of both `posterior.wgsl` entry points. */
export const POSTERIOR_WORKGROUP = 256;

/** Options of {@linkcode Posterior.create}. */
export interface PosteriorOptions {
  /** Shape and scale. */
  shape: PosteriorShape;
  /** Moments `[N][2c][h][w]` (the encoder's quant_conv output). */
  moments: GPUBuffer;
  /** Standard normal noise `[N][c][h][w]`, drawn by the caller each step. */
  noise: GPUBuffer;
  /** z `[N][c][h][w]`, overwritten by the forward pass. */
  latent: GPUBuffer;
  /** dL/dz; needed for the backward pass. */
  gradLatent?: GPUBuffer;
  /** dL/dmoments, overwritten by the backward pass. */
  gradMoments?: GPUBuffer;
}

/**
 * The posterior sample with pipelines, uniform and bind groups built once.
 *
 * @example
 * ```ts
 * import { acquireGpu } from "../gpu.ts";
 * import { Posterior } from "./posterior.ts";
 * const gpu = await acquireGpu({ log: null });
 * const b = (v: number[]) => gpu.createBuffer(new Float32Array(v));
 * const post = await Posterior.create(gpu, {
 *   shape: { batch: 1, channels: 1, height: 1, width: 1, scale: 2 },
 *   moments: b([1, 0]), noise: b([0.5]), latent: b([0]),
 * });
 * gpu.submit((e) => { const p = e.beginComputePass(); post.encodeForward(p); p.end(); });
 * console.log(new Float32Array(await gpu.read(post.latent))); // Float32Array(1) [ 3 ]
 * gpu.destroy();
 * ```
 */
export class Posterior {
  /** The checked geometry. */
  readonly geometry: PosteriorGeometry;
  /** z. */
  readonly latent: GPUBuffer;
  readonly #forward: { pipeline: GPUComputePipeline; group: GPUBindGroup };
  readonly #backward: { pipeline: GPUComputePipeline; group: GPUBindGroup } | null;
  readonly #uniform: GPUBuffer;

  private constructor(parts: {
    geometry: PosteriorGeometry;
    latent: GPUBuffer;
    forward: { pipeline: GPUComputePipeline; group: GPUBindGroup };
    backward: { pipeline: GPUComputePipeline; group: GPUBindGroup } | null;
    uniform: GPUBuffer;
  }) {
    this.geometry = parts.geometry;
    this.latent = parts.latent;
    this.#forward = parts.forward;
    this.#backward = parts.backward;
    this.#uniform = parts.uniform;
  }

  /** Checks the buffers, compiles the pipelines (cached) and binds, once. */
  static async create(gpu: Gpu, options: PosteriorOptions): Promise<Posterior> {
    const g = posteriorGeometry(options.shape);
    const count = g.batch * g.channels * g.pixels;
    const need = (name: string, buffer: GPUBuffer, floats: number) =>
      requireBuffer(gpu, name, { buffer, floats });
    need("moments", options.moments, 2 * count);
    need("noise", options.noise, count);
    need("latent", options.latent, count);
    if ((options.gradLatent === undefined) !== (options.gradMoments === undefined)) {
      throw new RangeError("Invalid option gradMoments: bind gradLatent and gradMoments together");
    }
    const words = new ArrayBuffer(16);
    const view = new DataView(words);
    view.setUint32(0, count, true);
    view.setUint32(4, g.channels, true);
    view.setUint32(8, g.pixels, true);
    view.setFloat32(12, g.scale, true);
    const uniform = gpu.createUniform(16, "posterior uniforms");
    gpu.upload(uniform, new Uint8Array(words));
    const [fwd, bwd] = await Promise.all(
      ["forward", "backward"].map((entryPoint) =>
        gpu.pipeline("vae_ops/posterior", { entryPoint })
      ),
    );
    const forward = {
      pipeline: fwd!,
      group: gpu.bindGroup(fwd!, {
        0: options.moments,
        1: options.noise,
        2: options.latent,
        5: uniform,
      }),
    };
    let backward = null;
    if (options.gradLatent !== undefined && options.gradMoments !== undefined) {
      need("gradLatent", options.gradLatent, count);
      need("gradMoments", options.gradMoments, 2 * count);
      backward = {
        pipeline: bwd!,
        group: gpu.bindGroup(bwd!, {
          0: options.moments,
          1: options.noise,
          3: options.gradLatent,
          4: options.gradMoments,
          5: uniform,
        }),
      };
    }
    return new Posterior({ geometry: g, latent: options.latent, forward, backward, uniform });
  }

  /** Records z = s·(μ + σ·n). */
  encodeForward(pass: GPUComputePassEncoder): void {
    this.#dispatch(pass, this.#forward);
  }

  /** Records dL/dmoments from dL/dz. */
  encodeBackward(pass: GPUComputePassEncoder): void {
    if (this.#backward === null) {
      throw new Error("Posterior was created without gradLatent and gradMoments: no backward pass");
    }
    this.#dispatch(pass, this.#backward);
  }

  #dispatch(
    pass: GPUComputePassEncoder,
    p: { pipeline: GPUComputePipeline; group: GPUBindGroup },
  ): void {
    const g = this.geometry;
    const [x, y] = workgroupGrid(g.batch * g.channels * g.pixels, POSTERIOR_WORKGROUP);
    pass.setPipeline(p.pipeline);
    pass.setBindGroup(0, p.group);
    pass.dispatchWorkgroups(x, y);
  }

  /** Frees the uniform this object created. */
  destroy(): void {
    this.#uniform.destroy();
  }
}

/**
 * One-shot forward and backward (upload, run, read back) for tests and benchmarks.
 *
 * @example
 * ```ts
 * import { acquireGpu } from "../gpu.ts";
 * import { posteriorOnce } from "./posterior.ts";
 * const gpu = await acquireGpu({ log: null });
 * const r = await posteriorOnce(
 *   gpu,
 *   { batch: 1, channels: 1, height: 1, width: 1, scale: 2 },
 *   { moments: [1, 0], noise: [0.5], gradLatent: [1] },
 * );
 * console.log(r.latent, r.gradMoments); // Float32Array(1) [ 3 ] Float32Array(2) [ 2, 0.5 ]
 * gpu.destroy();
 * ```
 */
export async function posteriorOnce(
  gpu: Gpu,
  shape: PosteriorShape,
  arrays: { moments: ArrayLike<number>; noise: ArrayLike<number>; gradLatent: ArrayLike<number> },
): Promise<{ latent: Float32Array; gradMoments: Float32Array }> {
  const moments = upload(gpu, arrays.moments);
  const noise = upload(gpu, arrays.noise);
  const gradLatent = upload(gpu, arrays.gradLatent);
  const latent = gpu.createBuffer(arrays.noise.length * 4);
  const gradMoments = gpu.createBuffer(arrays.moments.length * 4);
  const post = await Posterior.create(gpu, {
    shape,
    moments,
    noise,
    latent,
    gradLatent,
    gradMoments,
  });
  const out = await runAndRead(gpu, (p) => {
    post.encodeForward(p);
    post.encodeBackward(p);
  }, {
    outputs: { latent, gradMoments },
    owned: [moments, noise, gradLatent, latent, gradMoments],
  });
  post.destroy();
  return out;
}
