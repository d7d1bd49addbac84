/**
 * WebGPU wrapper of `march.wgsl`: training ray marching over the temporal occupancy grid
 * (SPEC.md §3.2), writing the packed sample layout of docs/kernels.md without any
 * read-back. Twin: `march_twin.ts`.
 *
 * Outputs: `positions [capacity][3]` (clamp(o + t·d, −1, 1) at the t *before* the step,
 * where σ is evaluated), `ts [capacity][2]` (t + dt, dt), `rayIndex [capacity]`,
 * `rayRanges [R][2]` (first sample, count; each ray's samples are contiguous and in
 * march order, rays themselves in arbitrary order), and `count` (u32 ×4): `count[0]`
 * emitted samples ≤ capacity (bind it as later kernels' `count`, or feed it to
 * `IndirectArgs`), `count[1]` samples requested, `count[2]` 1 when the capacity
 * overflowed (the rays past it are cut short: their counts are clamped, possibly to 0).
 *
 * @module
 */
import type { Gpu } from "./gpu.ts";
import {
  DEFAULT_DT,
  DEFAULT_MAX_STEPS,
  DEFAULT_MIN_NEAR,
  type MarchSettings,
  sliceOfTime,
} from "./march_twin.ts";
import { wordsPerSlice } from "./occupancy_twin.ts";
import { requireFinite, requireInt } from "./validate.ts";

const WG = 64;

/** The occupancy a marcher reads: an `OccupancyGrid` fits. */
export interface OccupancySource {
  /** Bitfield `[S][ceil(res³/32)]`. */
  bits: GPUBuffer;
  /** Cells per axis. */
  res: number;
  /** Temporal slices S. */
  slices: number;
}

/** Options for {@linkcode RayMarcher.create}. */
export interface RayMarcherOptions extends Omit<MarchSettings, "step"> {
  /** Rays R = frames·H·W. */
  rays: number;
  /** H·W: ray r belongs to frame ⌊r / raysPerFrame⌋. */
  raysPerFrame: number;
  /** Sample capacity of the packed buffers. */
  capacity: number;
  /** Ray origins `[R][3]`. */
  origins: GPUBuffer;
  /** Ray directions `[R][3]`, not normalised. */
  directions: GPUBuffer;
  /** Occupancy to march against. */
  occupancy: OccupancySource;
}

/**
 * The marcher built once: pipelines, output buffers, uniforms and bind groups.
 * `setFrames` uploads the per-frame slices and the step; `encode` records four dispatches.
 *
 * @example March one ray through a fully occupied grid
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { RayMarcher } from "./march.ts";
 * import { OccupancyGrid } from "./occupancy.ts";
 * const gpu = await acquireGpu({ log: null });
 * const occupancy = await OccupancyGrid.create(gpu, { res: 4, slices: 1 }); // all bits set
 * const marcher = await RayMarcher.create(gpu, {
 *   rays: 1,
 *   raysPerFrame: 1,
 *   capacity: 64,
 *   origins: gpu.createBuffer(new Float32Array([0, 0, 1.8])),
 *   directions: gpu.createBuffer(new Float32Array([0, 0, -1])),
 *   occupancy,
 *   dt: 0.5,
 *   perturb: false,
 * });
 * marcher.setFrames({ times: [0], step: 0 });
 * gpu.submit((e) => { const p = e.beginComputePass(); marcher.encode(p); p.end(); });
 * console.log(new Uint32Array(await gpu.read(marcher.count))[0]); // 4
 * gpu.destroy();
 * ```
 */
export class RayMarcher {
  /** `[capacity][3]` sample positions. */
  readonly positions: GPUBuffer;
  /** `[capacity][2]` (t + dt, dt). */
  readonly ts: GPUBuffer;
  /** `[capacity]` ray of each sample (u32). */
  readonly rayIndex: GPUBuffer;
  /** `[R][2]` first sample and count per ray (u32). */
  readonly rayRanges: GPUBuffer;
  /** u32 ×4: emitted, requested, overflow flag, 0. */
  readonly count: GPUBuffer;
  /** Rays per call. */
  readonly rays: number;
  /** Sample capacity. */
  readonly capacity: number;
  readonly #gpu: Gpu;
  readonly #slices: number;
  readonly #frames: number;
  readonly #params: GPUBuffer;
  readonly #paramData = new ArrayBuffer(64);
  readonly #frameSlices: GPUBuffer;
  readonly #pipes: GPUComputePipeline[];
  readonly #groups: GPUBindGroup[];
  #ready = false;

  private constructor(gpu: Gpu, pipes: GPUComputePipeline[], o: RayMarcherOptions) {
    this.#gpu = gpu;
    this.#pipes = pipes;
    this.rays = o.rays;
    this.capacity = o.capacity;
    this.#slices = o.occupancy.slices;
    this.#frames = Math.ceil(o.rays / o.raysPerFrame);
    this.positions = gpu.createBuffer(12 * o.capacity, { label: "march positions" });
    this.ts = gpu.createBuffer(8 * o.capacity, { label: "march ts" });
    this.rayIndex = gpu.createBuffer(4 * o.capacity, { label: "march ray index" });
    this.rayRanges = gpu.createBuffer(8 * o.rays, { label: "march ray ranges" });
    this.count = gpu.createBuffer(16, {
      label: "march count",
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
    this.#params = gpu.createUniform(64, "march params");
    this.#frameSlices = gpu.createBuffer(4 * this.#frames, { label: "march frame slices" });
    const u = new Uint32Array(this.#paramData);
    const f = new Float32Array(this.#paramData);
    u[0] = o.rays;
    u[1] = o.raysPerFrame;
    u[2] = o.occupancy.res;
    u[3] = wordsPerSlice(o.occupancy.res);
    u[4] = o.maxSteps ?? DEFAULT_MAX_STEPS;
    u[5] = o.capacity;
    u[6] = (o.perturb ?? true) ? 1 : 0;
    u[7] = (o.seed ?? 0) >>> 0;
    f[12] = o.dt ?? DEFAULT_DT;
    f[13] = o.minNear ?? DEFAULT_MIN_NEAR;
    const all = {
      0: this.#params,
      1: o.origins,
      2: o.directions,
      3: this.#frameSlices,
      4: o.occupancy.bits,
      5: this.rayRanges,
    };
    const [reset, count, write, finish] = pipes as [
      GPUComputePipeline,
      GPUComputePipeline,
      GPUComputePipeline,
      GPUComputePipeline,
    ];
    const out = { 7: this.positions, 8: this.ts, 9: this.rayIndex };
    this.#groups = [
      gpu.bindGroup(reset, { 6: this.count }),
      gpu.bindGroup(count, { ...all, 6: this.count, ...out }),
      gpu.bindGroup(write, { ...all, ...out }),
      gpu.bindGroup(finish, { 0: this.#params, 6: this.count }),
    ];
  }

  /**
   * Validates the options, compiles the four entry points and allocates the outputs.
   *
   * @param gpu the device
   * @param options rays, capacity, input buffers, occupancy and march settings
   * @returns the marcher
   */
  static async create(gpu: Gpu, options: RayMarcherOptions): Promise<RayMarcher> {
    requireInt("rays", options.rays, { min: 1 });
    requireInt("raysPerFrame", options.raysPerFrame, { min: 1 });
    requireInt("capacity", options.capacity, { min: 1 });
    requireFinite("dt", options.dt ?? DEFAULT_DT, { min: 1e-7 });
    requireInt("maxSteps", options.maxSteps ?? DEFAULT_MAX_STEPS, { min: 1 });
    requireFinite("minNear", options.minNear ?? DEFAULT_MIN_NEAR, { min: 0 });
    requireInt("seed", options.seed ?? 0, { min: 0, max: 2 ** 32 - 1 });
    requireInt("occupancy.res", options.occupancy.res, { min: 1 });
    requireInt("occupancy.slices", options.occupancy.slices, { min: 1 });
    if (12 * options.capacity > gpu.limits.maxStorageBufferBindingSize) {
      throw new RangeError(
        `Invalid option capacity: ${options.capacity} samples need ${
          12 * options.capacity
        } bytes of positions, over the device's maxStorageBufferBindingSize ${gpu.limits.maxStorageBufferBindingSize}`,
      );
    }
    const pipes = await Promise.all(
      ["reset_main", "count_main", "write_main", "finish_main"].map((entryPoint) =>
        gpu.pipeline("march", { entryPoint })
      ),
    );
    return new RayMarcher(gpu, pipes, options);
  }

  /**
   * Sets the per-frame times (→ slice ⌊t·S⌋ clamped) and the step of the next march.
   *
   * @param frame one time per frame and the global step (keys the perturbation)
   */
  setFrames(frame: { times: ArrayLike<number>; step: number }): void {
    if (frame.times.length !== this.#frames) {
      throw new RangeError(
        `Invalid option times: expected ${this.#frames} frame times, got ${frame.times.length}`,
      );
    }
    const slices = new Uint32Array(this.#frames);
    for (let i = 0; i < this.#frames; i++) {
      slices[i] = sliceOfTime(requireFinite(`times[${i}]`, frame.times[i]), this.#slices);
    }
    const u = new Uint32Array(this.#paramData);
    u[8] = requireInt("step", frame.step, { min: 0 }) >>> 0;
    this.#gpu.upload(this.#params, u);
    this.#gpu.upload(this.#frameSlices, slices);
    this.#ready = true;
  }

  /**
   * Records reset, count, write and finish. Later dispatches in the same pass may read
   * the packed samples and `count`.
   *
   * @param pass an open compute pass
   */
  encode(pass: GPUComputePassEncoder): void {
    if (!this.#ready) throw new Error("Cannot encode ray marching: call setFrames first");
    const [reset, count, write, finish] = this.#pipes;
    const [gReset, gCount, gWrite, gFinish] = this.#groups;
    pass.setPipeline(reset!);
    pass.setBindGroup(0, gReset!);
    pass.dispatchWorkgroups(1);
    this.#gpu.dispatch(pass, count!, gCount!, this.rays, WG);
    this.#gpu.dispatch(pass, write!, gWrite!, this.rays, WG);
    pass.setPipeline(finish!);
    pass.setBindGroup(0, gFinish!);
    pass.dispatchWorkgroups(1);
  }

  /** Frees the buffers the marcher created (not the inputs). */
  destroy(): void {
    const own = [this.positions, this.ts, this.rayIndex, this.rayRanges, this.count];
    for (const b of [...own, this.#params, this.#frameSlices]) b.destroy();
  }
}

/** Options for {@linkcode marchRays}. */
export interface MarchRaysOptions extends MarchSettings {
  /** `[R][3]` ray directions. */
  directions: Float32Array<ArrayBuffer>;
  /** Bitfield `[S][ceil(res³/32)]`. */
  bits: Uint32Array<ArrayBuffer>;
  /** Cells per axis. */
  res: number;
  /** Temporal slices S. */
  slices: number;
  /** H·W. */
  raysPerFrame: number;
  /** One time per frame. */
  times: ArrayLike<number>;
  /** Sample capacity (default R·maxSteps capped at 2²⁰). */
  capacity?: number;
}

/** The packed samples read back, trimmed to the emitted count. */
export interface MarchRaysResult {
  positions: Float32Array;
  ts: Float32Array;
  rayIndex: Uint32Array;
  rays: Uint32Array;
  /** Emitted samples (count[0]). */
  total: number;
  /** Requested samples (count[1]). */
  requested: number;
  /** Whether the capacity overflowed (count[2]). */
  overflow: boolean;
}

/**
 * One-shot helper for tests and benchmarks: uploads rays and occupancy, marches, reads
 * back. Training code uses {@linkcode RayMarcher}.
 *
 * @param gpu the device
 * @param origins `[R][3]` ray origins
 * @param options directions, occupancy, frames and march settings
 * @returns the packed samples
 *
 * @example
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { marchRays } from "./march.ts";
 * const gpu = await acquireGpu({ log: null });
 * const out = await marchRays(gpu, new Float32Array([0, 0, 1.8]), {
 *   directions: new Float32Array([0, 0, -1]),
 *   bits: new Uint32Array([0xff]),
 *   res: 2,
 *   slices: 1,
 *   raysPerFrame: 1,
 *   times: [0],
 *   dt: 0.5,
 *   perturb: false,
 * });
 * console.log(out.total, out.ts[0]); // 4 1.3 (float32)
 * gpu.destroy();
 * ```
 */
export async function marchRays(
  gpu: Gpu,
  origins: Float32Array<ArrayBuffer>,
  options: MarchRaysOptions,
): Promise<MarchRaysResult> {
  const rays = origins.length / 3;
  const maxSteps = options.maxSteps ?? DEFAULT_MAX_STEPS;
  const o = gpu.createBuffer(origins, { label: "march origins" });
  const d = gpu.createBuffer(options.directions, { label: "march directions" });
  const bits = gpu.createBuffer(options.bits, { label: "march bits" });
  const { step, times, capacity, ...settings } = options;
  const marcher = await RayMarcher.create(gpu, {
    ...settings,
    rays,
    raysPerFrame: options.raysPerFrame,
    capacity: capacity ?? Math.min(rays * maxSteps, 2 ** 20),
    origins: o,
    directions: d,
    occupancy: { bits, res: options.res, slices: options.slices },
  });
  marcher.setFrames({ times, step: step ?? 0 });
  gpu.submit((e) => {
    const p = e.beginComputePass();
    marcher.encode(p);
    p.end();
  });
  const count = new Uint32Array(await gpu.read(marcher.count));
  const total = count[0]!;
  const result: MarchRaysResult = {
    positions: new Float32Array(await gpu.read(marcher.positions)).slice(0, 3 * total),
    ts: new Float32Array(await gpu.read(marcher.ts)).slice(0, 2 * total),
    rayIndex: new Uint32Array(await gpu.read(marcher.rayIndex)).slice(0, total),
    rays: new Uint32Array(await gpu.read(marcher.rayRanges)),
    total,
    requested: count[1]!,
    overflow: count[2] === 1,
  };
  marcher.destroy();
  for (const b of [o, d, bits]) b.destroy();
  return result;
}
