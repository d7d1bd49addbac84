/**
 * float32 ↔ float16 copies on the GPU (`f16_cast.wgsl`) for fp16 ONNX exports: each
 * {@linkcode F16Cast.bind} fixes a source, destination, count and offsets once and gives a
 * call whose `encode` records one dispatch.
 *
 * @module
 */
import type { Gpu } from "../../kernels/gpu.ts";
import { requireInt, requireOneOf } from "../../kernels/validate.ts";
import { loadPriorWgsl } from "../_wgsl.ts";

/** Workgroup size of both `f16_cast.wgsl` entry points. */
export const F16_CAST_WORKGROUP = 256;

/**
 * Direction of a cast: `toF16` reads float32 and writes halves, `toF32` the reverse.
 *
 * @example
 * ```ts
 * import type { CastDirection } from "./f16_cast.ts";
 * const d: CastDirection = "toF16";
 * console.log(d); // toF16
 * ```
 */
export type CastDirection = "toF16" | "toF32";

/**
 * One bound cast, built by {@linkcode F16Cast.bind}.
 *
 * @example
 * ```ts
 * import { acquireGpu } from "../../kernels/gpu.ts";
 * import { F16Cast, type F16CastCall } from "./f16_cast.ts";
 * const gpu = await acquireGpu({ log: null });
 * const cast = await F16Cast.create(gpu);
 * const call: F16CastCall = cast.bind("toF16", gpu.createBuffer(16), gpu.createBuffer(16), { count: 4 });
 * console.log(call.count); // 4
 * gpu.destroy();
 * ```
 */
export interface F16CastCall {
  /** Elements converted. */
  readonly count: number;
  /** Records the dispatch. */
  encode(pass: GPUComputePassEncoder): void;
  /** Frees the call's uniform. */
  destroy(): void;
}

/**
 * The two cast pipelines, compiled once.
 *
 * @example Halves round trip: 0.1 comes back as the nearest float16
 * ```ts
 * import { acquireGpu } from "../../kernels/gpu.ts";
 * import { F16Cast } from "./f16_cast.ts";
 * const gpu = await acquireGpu({ log: null });
 * const cast = await F16Cast.create(gpu);
 * const src = gpu.createBuffer(new Float32Array([1, 0.1, -2]));
 * const half = gpu.createBuffer(8);
 * const back = gpu.createBuffer(12);
 * const calls = [cast.bind("toF16", src, half, { count: 3 }), cast.bind("toF32", half, back, { count: 3 })];
 * gpu.submit((e) => { const p = e.beginComputePass(); for (const c of calls) c.encode(p); p.end(); });
 * console.log(new Float32Array(await gpu.read(back))); // Float32Array(3) [ 1, 0.0999755859375, -2 ]
 * gpu.destroy();
 * ```
 */
export class F16Cast {
  readonly #gpu: Gpu;
  readonly #pipes: Record<CastDirection, GPUComputePipeline>;

  private constructor(gpu: Gpu, pipes: Record<CastDirection, GPUComputePipeline>) {
    this.#gpu = gpu;
    this.#pipes = pipes;
  }

  /**
   * Compiles both entry points (cached by the device).
   *
   * @param gpu the device
   * @returns the cast kernels
   */
  static async create(gpu: Gpu): Promise<F16Cast> {
    const source = loadPriorWgsl("latent/f16_cast");
    const [toF16, toF32] = await Promise.all([
      gpu.pipelineFromSource(source, { entryPoint: "to_f16" }),
      gpu.pipelineFromSource(source, { entryPoint: "to_f32" }),
    ]);
    return new F16Cast(gpu, { toF16, toF32 });
  }

  /**
   * Binds one cast of `count` elements from `src` to `dst`. Offsets count elements of each
   * buffer's own type; offsets on the float16 side must be even.
   *
   * @param direction `toF16` or `toF32`
   * @param src source buffer
   * @param dst destination buffer
   * @param options count and offsets
   * @returns the call
   */
  bind(
    direction: CastDirection,
    src: GPUBuffer,
    dst: GPUBuffer,
    options: { count: number; srcOffset?: number; dstOffset?: number },
  ): F16CastCall {
    requireOneOf("direction", direction, ["toF16", "toF32"] as const);
    const count = requireInt("count", options.count, { min: 1 });
    const srcOffset = requireInt("srcOffset", options.srcOffset ?? 0, { min: 0 });
    const dstOffset = requireInt("dstOffset", options.dstOffset ?? 0, { min: 0 });
    const halfOffset = direction === "toF16" ? dstOffset : srcOffset;
    if (halfOffset % 2 !== 0) {
      throw new RangeError(
        `Invalid option ${
          direction === "toF16" ? "dstOffset" : "srcOffset"
        }: expected an even float16 offset, got ${halfOffset}`,
      );
    }
    const need = (name: string, b: GPUBuffer, bytes: number) => {
      if (b.size < bytes) {
        throw new RangeError(
          `Invalid option ${name}: expected a buffer of at least ${bytes} bytes, got ${b.size}`,
        );
      }
    };
    // Whole words on the float16 side.
    need(
      "src",
      src,
      direction === "toF16" ? 4 * (srcOffset + count) : 4 * Math.ceil((srcOffset + count) / 2),
    );
    need(
      "dst",
      dst,
      direction === "toF16" ? 4 * Math.ceil((dstOffset + count) / 2) : 4 * (dstOffset + count),
    );
    const gpu = this.#gpu;
    const pipeline = this.#pipes[direction];
    const uniform = gpu.createUniform(16, `f16_cast ${direction}`);
    gpu.upload(uniform, new Uint32Array([count, srcOffset, dstOffset, 0]));
    const group = direction === "toF16"
      ? gpu.bindGroup(pipeline, { 0: src, 1: dst, 4: uniform })
      : gpu.bindGroup(pipeline, { 2: src, 3: dst, 4: uniform });
    const words = Math.ceil(count / 2);
    return {
      count,
      encode: (pass) => gpu.dispatch(pass, pipeline, group, words, F16_CAST_WORKGROUP),
      destroy: () => uniform.destroy(),
    };
  }
}

/**
 * Records bound casts in one compute pass of `encoder`: the denoisers' per-call casts into
 * and out of an f16 network.
 *
 * @param encoder the command encoder
 * @param calls casts, in order
 * @param options `label` of the pass
 *
 * @example
 * ```ts
 * import { acquireGpu } from "../../kernels/gpu.ts";
 * import { encodeCasts, F16Cast } from "./f16_cast.ts";
 * const gpu = await acquireGpu({ log: null });
 * const cast = await F16Cast.create(gpu);
 * const src = gpu.createBuffer(new Float32Array([0.5, 3]));
 * const half = gpu.createBuffer(4);
 * const back = gpu.createBuffer(8);
 * const calls = [cast.bind("toF16", src, half, { count: 2 }), cast.bind("toF32", half, back, { count: 2 })];
 * gpu.submit((e) => encodeCasts(e, calls, { label: "round trip" }));
 * console.log(new Float32Array(await gpu.read(back))); // Float32Array(2) [ 0.5, 3 ]
 * gpu.destroy();
 * ```
 */
export function encodeCasts(
  encoder: GPUCommandEncoder,
  calls: readonly F16CastCall[],
  options: { label: string },
): void {
  const pass = encoder.beginComputePass({ label: options.label });
  for (const call of calls) call.encode(pass);
  pass.end();
}
