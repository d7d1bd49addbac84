/**
 * The finite-difference point set of the normals on the GPU (`normal_points.wgsl`).
 *
 * @module
 */
import type { Gpu } from "./gpu.ts";
import { FD_BLOCKS } from "./normal_points_twin.ts";
import { requireInt } from "./validate.ts";

/** Workgroup size of `normal_points.wgsl`. */
export const NORMAL_POINTS_WORKGROUP = 64;

/** Buffers bound once by {@linkcode NormalPoints.create}. */
export interface NormalPointsBuffers {
  /** `u32` sample count S in element 0 (the marcher's output count). */
  count: GPUBuffer;
  /** `[S][3]` sample positions. */
  positions: GPUBuffer;
  /** Output `[7][S][3]` point set, sized for the largest S. */
  points: GPUBuffer;
  /** Output `u32` count 7·S in element 0, ready to bind as the encoder's `count`. */
  outCount: GPUBuffer;
  /** Optional `[S]` per-sample times. */
  times?: GPUBuffer;
  /** Output `[7][S]` times; required when `times` is given. */
  pointTimes?: GPUBuffer;
  /**
   * Blocks to emit and count: 7 (default), or 1 for renders without normals (albedo
   * shading), so the field is evaluated at the samples only.
   */
  blocks?: 1 | 7;
}

/**
 * Prepared `normal_points` kernel: pipeline and bind group built once, `encode…`
 * only records a dispatch.
 *
 * @example
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { NormalPoints } from "./normal_points.ts";
 * const gpu = await acquireGpu({ log: null });
 * const positions = gpu.createBuffer(new Float32Array([0, 0, 0]));
 * const count = gpu.createBuffer(new Uint32Array([1]));
 * const points = gpu.createBuffer(7 * 3 * 4);
 * const outCount = gpu.createBuffer(4);
 * const op = await NormalPoints.create(gpu, { count, positions, points, outCount });
 * gpu.submit((e) => { const p = e.beginComputePass(); op.encode(p, 1); p.end(); });
 * console.log(new Uint32Array(await gpu.read(outCount))[0]); // 7
 * gpu.destroy();
 * ```
 */
export class NormalPoints {
  readonly #gpu: Gpu;
  readonly #pipeline: GPUComputePipeline;
  readonly #group: GPUBindGroup;
  readonly #owned: GPUBuffer[];

  private constructor(
    gpu: Gpu,
    parts: { pipeline: GPUComputePipeline; group: GPUBindGroup; owned: GPUBuffer[] },
  ) {
    this.#gpu = gpu;
    this.#pipeline = parts.pipeline;
    this.#group = parts.group;
    this.#owned = parts.owned;
  }

  /** Compiles the kernel (cached) and binds `buffers`; call once, outside any loop. */
  static async create(gpu: Gpu, buffers: NormalPointsBuffers): Promise<NormalPoints> {
    const hasTimes = buffers.times !== undefined;
    if (hasTimes !== (buffers.pointTimes !== undefined)) {
      throw new Error("Invalid option pointTimes: give both times and pointTimes, or neither");
    }
    const blocks = buffers.blocks ?? FD_BLOCKS;
    if (blocks !== 1 && blocks !== FD_BLOCKS) {
      throw new RangeError(`Invalid option blocks: expected 1 or ${FD_BLOCKS}, got ${blocks}`);
    }
    const pipeline = await gpu.pipeline("normal_points", {
      constants: { HAS_TIMES: hasTimes ? 1 : 0, EVAL_BLOCKS: blocks },
    });
    // Without times the kernel never touches these bindings, but the layout still has them.
    const owned: GPUBuffer[] = [];
    const dummy = (label: string) => {
      const b = gpu.createBuffer(4, { label });
      owned.push(b);
      return b;
    };
    const timesIn = buffers.times ?? dummy("normal_points dummy times");
    const timesOut = buffers.pointTimes ?? dummy("normal_points dummy point times");
    const group = gpu.bindGroup(pipeline, [
      buffers.count,
      buffers.positions,
      timesIn,
      buffers.points,
      timesOut,
      buffers.outCount,
    ]);
    return new NormalPoints(gpu, { pipeline, group, owned });
  }

  /** Releases internal buffers (the bound buffers belong to the caller). */
  destroy(): void {
    for (const b of this.#owned) b.destroy();
  }

  /**
   * Records the kernel for at most `maxSamples` samples (the live count comes from
   * `count[0]`). At least one workgroup runs, so `outCount` is written even for S = 0.
   */
  encode(pass: GPUComputePassEncoder, maxSamples: number): void {
    requireInt("maxSamples", maxSamples, { min: 0 });
    this.#gpu.dispatch(
      pass,
      this.#pipeline,
      this.#group,
      Math.max(1, FD_BLOCKS * maxSamples),
      NORMAL_POINTS_WORKGROUP,
    );
  }

  /**
   * Records the kernel with indirect arguments, e.g. `IndirectArgs` built on the sample
   * count with `{ workgroupSize: 64, multiplier: 7 }`. For S = 0 that dispatches nothing
   * and `outCount` keeps its old value; use the `IndirectArgs.scaled` buffer then.
   */
  encodeIndirect(pass: GPUComputePassEncoder, args: GPUBuffer): void {
    pass.setPipeline(this.#pipeline);
    pass.setBindGroup(0, this.#group);
    pass.dispatchWorkgroupsIndirect(args, 0);
  }
}

/** Result of {@linkcode normalPoints}. */
export interface NormalPointsOutput {
  /** `[7][S][3]` points. */
  points: Float32Array;
  /** `[7][S]` times, or null when none were given. */
  times: Float32Array | null;
  /** The count the kernel wrote (7·S). */
  count: number;
}

/**
 * One-shot helper for tests and benchmarks: uploads, runs and reads back.
 *
 * @param gpu the device
 * @param positions `[S][3]` sample positions
 * @param options per-sample times `[S]`
 * @returns the point set, its times and the written count
 *
 * @example
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { normalPoints } from "./normal_points.ts";
 * const gpu = await acquireGpu({ log: null });
 * const out = await normalPoints(gpu, new Float32Array([0.5, 0, 0]), {
 *   times: new Float32Array([0.25]),
 * });
 * console.log(out.count, out.points[3], out.times?.[6]); // 7 0.51.. 0.25
 * gpu.destroy();
 * ```
 */
export async function normalPoints(
  gpu: Gpu,
  positions: Float32Array<ArrayBuffer>,
  options: { times?: Float32Array<ArrayBuffer> } = {},
): Promise<NormalPointsOutput> {
  const s = Math.floor(positions.length / 3);
  const buffers: NormalPointsBuffers = {
    count: gpu.createBuffer(new Uint32Array([s]), { label: "normal_points count" }),
    positions: gpu.createBuffer(positions, { label: "normal_points positions" }),
    points: gpu.createBuffer(FD_BLOCKS * s * 12, { label: "normal_points points" }),
    outCount: gpu.createBuffer(4, { label: "normal_points out count" }),
  };
  if (options.times !== undefined) {
    buffers.times = gpu.createBuffer(options.times, { label: "normal_points times" });
    buffers.pointTimes = gpu.createBuffer(FD_BLOCKS * s * 4, { label: "normal_points out times" });
  }
  const op = await NormalPoints.create(gpu, buffers);
  gpu.submit((encoder) => {
    const pass = encoder.beginComputePass();
    op.encode(pass, s);
    pass.end();
  });
  const points = new Float32Array(await gpu.read(buffers.points)).slice(0, FD_BLOCKS * s * 3);
  const times = buffers.pointTimes === undefined
    ? null
    : new Float32Array(await gpu.read(buffers.pointTimes)).slice(0, FD_BLOCKS * s);
  const count = new Uint32Array(await gpu.read(buffers.outCount))[0]!;
  op.destroy();
  for (const b of Object.values(buffers)) (b as GPUBuffer).destroy();
  return { points, times, count };
}
