/**
 * Density, albedo, finite-difference normals and shading of packed samples on the
 * GPU (`shade.wgsl`), forward and backward.
 *
 * @module
 */
import type { Gpu } from "./gpu.ts";
import { FD_BLOCKS } from "./normal_points_twin.ts";
import {
  type ShadeGrads,
  type ShadeInputs,
  SHADING_MODES,
  type ShadingMode,
} from "./shade_twin.ts";
import { requireFinite, requireInt, requireOneOf } from "./validate.ts";

/** Workgroup size of both `shade.wgsl` entry points. */
export const SHADE_WORKGROUP = 64;

/** Buffers bound once by {@linkcode Shade.create}; S is the live count in `count[0]`. */
export interface ShadeBuffers {
  /** `u32` sample count S in element 0. */
  count: GPUBuffer;
  /** `[7][S][4]` raw MLP outputs at the finite-difference point set. */
  raw: GPUBuffer;
  /** `[S][3]` sample positions. */
  positions: GPUBuffer;
  /** `[S]` `u32` ray index per sample. */
  rayIndex: GPUBuffer;
  /** `[F][3]` normalised light direction per frame. */
  lights: GPUBuffer;
  /** Output `[S]` density. */
  sigma: GPUBuffer;
  /** Output `[S][3]` shaded colour. */
  colour: GPUBuffer;
  /** Output `[S][3]` normal. */
  normal: GPUBuffer;
  /** Backward input `[S]` dL/dσ (the backward buffers come all together or not at all). */
  gradSigma?: GPUBuffer;
  /** Backward input `[S][3]` dL/dcolour. */
  gradColour?: GPUBuffer;
  /** Backward input `[S][3]` dL/dnormal. */
  gradNormal?: GPUBuffer;
  /** Backward output `[7][S][4]` dL/draw (written, not accumulated). */
  gradRaw?: GPUBuffer;
}

/** Shading settings that may change between steps. */
export interface ShadeSettings {
  /** Shading mode; defaults to `albedo`. */
  mode?: ShadingMode;
  /** Ambient ratio a in [0, 1]; defaults to 1. */
  ambient?: number;
}

/** Options for {@linkcode Shade.create}. */
export interface ShadeOptions extends ShadeSettings {
  /** Rays per frame H·W: the frame of ray r is ⌊r / raysPerFrame⌋. */
  raysPerFrame: number;
  /** Frames F in the `lights` buffer; later frames reuse the last light. */
  frames: number;
}

function bindAt(
  gpu: Gpu,
  pipeline: GPUComputePipeline,
  entries: [number, GPUBuffer][],
): GPUBindGroup {
  return gpu.bindGroup(pipeline, Object.fromEntries(entries));
}

/**
 * Prepared `shade` kernels: pipelines, bind groups and the uniform built once;
 * `encode…` methods only record dispatches. {@linkcode Shade.setShading} writes the
 * uniform through the queue, so it applies to everything submitted after it.
 *
 * @example
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { Shade } from "./shade.ts";
 * const gpu = await acquireGpu({ log: null });
 * const b = (n: number) => gpu.createBuffer(n * 4);
 * const op = await Shade.create(gpu, {
 *   count: gpu.createBuffer(new Uint32Array([1])), raw: b(28), positions: b(3),
 *   rayIndex: b(1), lights: gpu.createBuffer(new Float32Array([0, 0, 1])),
 *   sigma: b(1), colour: b(3), normal: b(3),
 * }, { raysPerFrame: 1, frames: 1, mode: "lambertian", ambient: 0.2 });
 * gpu.submit((e) => { const p = e.beginComputePass(); op.encodeForward(p, 1); p.end(); });
 * console.log(new Float32Array(await gpu.read(op.buffers.sigma))[0]); // e^10: the blob
 * gpu.destroy();
 * ```
 */
export class Shade {
  /** The bound buffers. */
  readonly buffers: ShadeBuffers;
  readonly #gpu: Gpu;
  readonly #uniform: GPUBuffer;
  readonly #options: ShadeOptions;
  readonly #forward: [GPUComputePipeline, GPUBindGroup];
  readonly #backward: [GPUComputePipeline, GPUBindGroup] | null;

  private constructor(
    gpu: Gpu,
    parts: {
      buffers: ShadeBuffers;
      uniform: GPUBuffer;
      options: ShadeOptions;
      forward: [GPUComputePipeline, GPUBindGroup];
      backward: [GPUComputePipeline, GPUBindGroup] | null;
    },
  ) {
    this.#gpu = gpu;
    this.buffers = parts.buffers;
    this.#uniform = parts.uniform;
    this.#options = { ...parts.options };
    this.#forward = parts.forward;
    this.#backward = parts.backward;
    this.setShading(parts.options);
  }

  /** Compiles both entry points (cached) and binds `buffers`; call once, outside any loop. */
  static async create(gpu: Gpu, buffers: ShadeBuffers, options: ShadeOptions): Promise<Shade> {
    requireInt("raysPerFrame", options.raysPerFrame, { min: 1 });
    requireInt("frames", options.frames, { min: 1 });
    const grads = [buffers.gradSigma, buffers.gradColour, buffers.gradNormal, buffers.gradRaw];
    const given = grads.filter((g) => g !== undefined).length;
    if (given !== 0 && given !== 4) {
      throw new Error(
        "Invalid option buffers: gradSigma, gradColour, gradNormal and gradRaw come together",
      );
    }
    const uniform = gpu.createUniform(16, "shade params");
    const common: [number, GPUBuffer][] = [
      [0, uniform],
      [1, buffers.count],
      [2, buffers.raw],
      [3, buffers.positions],
      [4, buffers.rayIndex],
      [5, buffers.lights],
    ];
    const fwd = await gpu.pipeline("shade", { entryPoint: "forward" });
    const forward: [GPUComputePipeline, GPUBindGroup] = [
      fwd,
      bindAt(gpu, fwd, [...common, [6, buffers.sigma], [7, buffers.colour], [8, buffers.normal]]),
    ];
    let backward: [GPUComputePipeline, GPUBindGroup] | null = null;
    if (given === 4) {
      const bwd = await gpu.pipeline("shade", { entryPoint: "backward" });
      backward = [
        bwd,
        bindAt(gpu, bwd, [
          ...common,
          [9, buffers.gradSigma!],
          [10, buffers.gradColour!],
          [11, buffers.gradNormal!],
          [12, buffers.gradRaw!],
        ]),
      ];
    }
    return new Shade(gpu, { buffers, uniform, options, forward, backward });
  }

  /** Changes the mode and/or ambient ratio for work submitted from now on. */
  setShading(settings: ShadeSettings): void {
    if (settings.mode !== undefined) this.#options.mode = settings.mode;
    if (settings.ambient !== undefined) this.#options.ambient = settings.ambient;
    const mode = requireOneOf("mode", this.#options.mode ?? "albedo", SHADING_MODES);
    const ambient = requireFinite("ambient", this.#options.ambient ?? 1, { min: 0, max: 1 });
    const bytes = new ArrayBuffer(16);
    const view = new DataView(bytes);
    view.setUint32(0, SHADING_MODES.indexOf(mode), true);
    view.setUint32(4, this.#options.raysPerFrame, true);
    view.setUint32(8, this.#options.frames, true);
    view.setFloat32(12, ambient, true);
    this.#gpu.upload(this.#uniform, new Uint8Array(bytes));
  }

  /** Records the forward for at most `maxSamples` samples (the live count is `count[0]`). */
  encodeForward(pass: GPUComputePassEncoder, maxSamples: number): void {
    this.#gpu.dispatch(pass, this.#forward[0], this.#forward[1], maxSamples, SHADE_WORKGROUP);
  }

  /** Records the forward with indirect arguments (`IndirectArgs`, workgroup size 64). */
  encodeForwardIndirect(pass: GPUComputePassEncoder, args: GPUBuffer): void {
    pass.setPipeline(this.#forward[0]);
    pass.setBindGroup(0, this.#forward[1]);
    pass.dispatchWorkgroupsIndirect(args, 0);
  }

  /** Records the backward for at most `maxSamples` samples; needs the gradient buffers. */
  encodeBackward(pass: GPUComputePassEncoder, maxSamples: number): void {
    const [pipeline, group] = this.#requireBackward();
    this.#gpu.dispatch(pass, pipeline, group, maxSamples, SHADE_WORKGROUP);
  }

  /** Records the backward with indirect arguments (`IndirectArgs`, workgroup size 64). */
  encodeBackwardIndirect(pass: GPUComputePassEncoder, args: GPUBuffer): void {
    const [pipeline, group] = this.#requireBackward();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroupsIndirect(args, 0);
  }

  /** Releases the uniform (the bound buffers belong to the caller). */
  destroy(): void {
    this.#uniform.destroy();
  }

  #requireBackward(): [GPUComputePipeline, GPUBindGroup] {
    if (this.#backward === null) {
      throw new Error("Shade was created without gradient buffers: cannot encode the backward");
    }
    return this.#backward;
  }
}

/** Result of the one-shot {@linkcode shade}. */
export interface ShadeResult {
  /** `[S]` density. */
  sigma: Float32Array;
  /** `[S][3]` colour. */
  colour: Float32Array;
  /** `[S][3]` normal. */
  normal: Float32Array;
}

async function runOnce(
  gpu: Gpu,
  inputs: ShadeInputs,
  grads: ShadeGrads | null,
): Promise<{ forward: ShadeResult; gradRaw: Float32Array | null }> {
  const s = Math.floor(inputs.positions.length / 3);
  const f32 = (data: ArrayLike<number>, label: string) =>
    gpu.createBuffer(new Float32Array(Array.from(data)), { label });
  const out = (n: number, label: string) => gpu.createBuffer(n * 4, { label });
  const buffers: ShadeBuffers = {
    count: gpu.createBuffer(new Uint32Array([s]), { label: "shade count" }),
    raw: f32(inputs.raw, "shade raw"),
    positions: f32(inputs.positions, "shade positions"),
    rayIndex: gpu.createBuffer(new Uint32Array(Array.from(inputs.rayIndex)), { label: "rays" }),
    lights: f32(inputs.lights, "shade lights"),
    sigma: out(s, "shade sigma"),
    colour: out(3 * s, "shade colour"),
    normal: out(3 * s, "shade normal"),
  };
  if (grads !== null) {
    buffers.gradSigma = f32(grads.sigma, "shade dsigma");
    buffers.gradColour = f32(grads.colour, "shade dcolour");
    buffers.gradNormal = f32(grads.normal, "shade dnormal");
    buffers.gradRaw = out(FD_BLOCKS * 4 * s, "shade draw");
  }
  const op = await Shade.create(gpu, buffers, {
    raysPerFrame: inputs.raysPerFrame,
    frames: Math.max(1, Math.floor(inputs.lights.length / 3)),
    mode: inputs.mode,
    ambient: inputs.ambient,
  });
  gpu.submit((encoder) => {
    const pass = encoder.beginComputePass();
    op.encodeForward(pass, s);
    if (grads !== null) op.encodeBackward(pass, s);
    pass.end();
  });
  const read = async (b: GPUBuffer, n: number) => new Float32Array(await gpu.read(b)).slice(0, n);
  const forward = {
    sigma: await read(buffers.sigma, s),
    colour: await read(buffers.colour, 3 * s),
    normal: await read(buffers.normal, 3 * s),
  };
  const gradRaw = buffers.gradRaw === undefined
    ? null
    : await read(buffers.gradRaw, FD_BLOCKS * 4 * s);
  op.destroy();
  for (const b of Object.values(buffers)) (b as GPUBuffer).destroy();
  return { forward, gradRaw };
}

/**
 * One-shot forward for tests and benchmarks: uploads, runs and reads back.
 *
 * @param gpu the device
 * @param inputs the same inputs as the twin's {@linkcode ShadeInputs}
 * @returns per-sample σ, colour and normal
 *
 * @example
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { shade } from "./shade.ts";
 * const gpu = await acquireGpu({ log: null });
 * const out = await shade(gpu, {
 *   raw: new Float32Array(28), positions: [0.5, 0, 0], rayIndex: [0], lights: [1, 0, 0],
 *   raysPerFrame: 1, mode: "normal", ambient: 1,
 * });
 * console.log(out.colour[0]); // 1: the normal points along +x
 * gpu.destroy();
 * ```
 */
export async function shade(gpu: Gpu, inputs: ShadeInputs): Promise<ShadeResult> {
  return (await runOnce(gpu, inputs, null)).forward;
}

/**
 * One-shot forward and backward for tests and benchmarks.
 *
 * @param gpu the device
 * @param inputs the forward's inputs
 * @param grads upstream dL/dσ, dL/dcolour and dL/dnormal
 * @returns dL/draw `[7][S][4]`
 *
 * @example
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { shadeBackward } from "./shade.ts";
 * const gpu = await acquireGpu({ log: null });
 * const g = await shadeBackward(gpu, {
 *   raw: new Float32Array(28), positions: [0.5, 0, 0], rayIndex: [0], lights: [1, 0, 0],
 *   raysPerFrame: 1, mode: "albedo", ambient: 1,
 * }, { sigma: [1], colour: [1, 1, 1], normal: [0, 0, 0] });
 * console.log(g[1]); // 0.25: sigmoid'(0)
 * gpu.destroy();
 * ```
 */
export async function shadeBackward(
  gpu: Gpu,
  inputs: ShadeInputs,
  grads: ShadeGrads,
): Promise<Float32Array> {
  return (await runOnce(gpu, inputs, grads)).gradRaw!;
}
