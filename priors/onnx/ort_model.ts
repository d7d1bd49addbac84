/**
 * One ONNX Runtime session with the toolkit's checks: feeds are matched against the
 * model's declared inputs (names, dtypes, static dims) before ORT sees them, GPU buffers
 * go in through `Tensor.fromGpuBuffer`, and outputs can be copied on the GPU into the
 * caller's own buffers, so an SDS step never reads back.
 *
 * @example Copy a model's output into a buffer the toolkit owns
 * ```ts
 * import { buildOnnxFixture } from "./onnx_fixture.ts";
 * import { OrtRuntime } from "./ort_runtime.ts";
 * const runtime = await OrtRuntime.create();
 * const device = runtime.device!;
 * const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
 * const model = await runtime.createModel(buildOnnxFixture({
 *   inputs: [{ name: "x", dtype: "float32", shape: [4] }],
 *   outputs: [{ name: "y", dtype: "float32", shape: [4] }],
 * }).model);
 * const x = device.createBuffer({ size: 16, usage });
 * const y = device.createBuffer({ size: 16, usage });
 * device.queue.writeBuffer(x, 0, new Float32Array([1, 3, 5, 7]));
 * await model.runInto({ x: { buffer: x, dtype: "float32", dims: [4] } }, { y });
 * const staging = device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
 * const encoder = device.createCommandEncoder();
 * encoder.copyBufferToBuffer(y, 0, staging, 0, 16);
 * device.queue.submit([encoder.finish()]);
 * await staging.mapAsync(GPUMapMode.READ);
 * console.log(new Float32Array(staging.getMappedRange())); // Float32Array(4) [ 3, 5, 7, 9 ]
 * await model.release();
 * ```
 *
 * @module
 */
import type { InferenceSession, Tensor } from "onnxruntime-web/webgpu";
import type { OrtRuntime } from "./ort_runtime.ts";

/**
 * Element types ORT can take from a GPU buffer.
 *
 * @example
 * ```ts
 * import type { OrtGpuDataType, OrtGpuFeed } from "./ort_model.ts";
 * const device = await (await navigator.gpu.requestAdapter())!.requestDevice();
 * const dtype: OrtGpuDataType = "float16";
 * // 8 halves are 16 bytes, already a whole vec4.
 * const buffer = device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE });
 * const feed: OrtGpuFeed = { buffer, dtype, dims: [8] };
 * console.log(feed.dtype, feed.buffer.size); // float16 16
 * buffer.destroy();
 * device.destroy();
 * ```
 */
export type OrtGpuDataType = Tensor.GpuBufferDataTypes;

/**
 * A feed already on ORT's device. The buffer needs `STORAGE` usage and the tensor's bytes
 * rounded up to a multiple of 16 (ORT reads whole `vec4`s); it must belong to
 * {@linkcode OrtRuntime.device}.
 *
 * @example
 * ```ts
 * import type { OrtGpuFeed } from "./ort_model.ts";
 * const device = await (await navigator.gpu.requestAdapter())!.requestDevice();
 * const buffer = device.createBuffer({ size: 1024, usage: GPUBufferUsage.STORAGE });
 * const feed: OrtGpuFeed = { buffer, dtype: "float32", dims: [1, 4, 8, 8] };
 * console.log(feed.dims.reduce((a, b) => a * b)); // 256
 * ```
 */
export interface OrtGpuFeed {
  /** Buffer holding the tensor from byte 0. */
  buffer: GPUBuffer;
  /** Element type. */
  dtype: OrtGpuDataType;
  /** Shape. */
  dims: readonly number[];
}

/**
 * A feed in host memory (small conditioning such as timesteps or token ids).
 *
 * @example
 * ```ts
 * import type { OrtHostFeed } from "./ort_model.ts";
 * const feed: OrtHostFeed = { data: new BigInt64Array([500n]), dtype: "int64", dims: [1] };
 * console.log(feed.dtype); // int64
 * ```
 */
export interface OrtHostFeed {
  /** Values, in the typed array ORT expects for `dtype` (`Uint16Array` or `Float16Array` for float16). */
  data: Tensor.DataType;
  /** Element type. */
  dtype: Tensor.Type;
  /** Shape. */
  dims: readonly number[];
}

/**
 * Anything {@linkcode OrtModel.run} accepts for one input.
 *
 * @example
 * ```ts
 * import type { OrtFeed } from "./ort_model.ts";
 * const feed: OrtFeed = { data: new Float32Array(2), dtype: "float32", dims: [2] };
 * console.log("data" in feed); // true
 * ```
 */
export type OrtFeed = OrtGpuFeed | OrtHostFeed | Tensor;

/**
 * A declared input or output of a model. Symbolic dimensions are strings.
 *
 * @example
 * ```ts
 * import type { OrtValueInfo } from "./ort_model.ts";
 * const info: OrtValueInfo = { name: "sample", dtype: "float16", shape: ["batch", 4, 64, 64] };
 * console.log(info.shape[0]); // batch
 * ```
 */
export interface OrtValueInfo {
  /** Value name. */
  name: string;
  /** Element type, or `unknown` for non-tensor values. */
  dtype: Tensor.Type | "unknown";
  /** Shape, `[]` when the model leaves it undeclared. */
  shape: (number | string)[];
}

/**
 * Where an output goes in {@linkcode OrtModel.runInto}: a buffer, or a range of one.
 *
 * @example
 * ```ts
 * import type { OrtOutputTarget } from "./ort_model.ts";
 * const device = await (await navigator.gpu.requestAdapter())!.requestDevice();
 * const buffer = device.createBuffer({ size: 512, usage: GPUBufferUsage.COPY_DST });
 * const target: OrtOutputTarget = { buffer, offset: 256 };
 * console.log(target.offset); // 256
 * ```
 */
export type OrtOutputTarget = GPUBuffer | { buffer: GPUBuffer; offset?: number };

const BYTES: Record<string, number> = {
  float32: 4,
  float16: 2,
  int32: 4,
  uint32: 4,
  int64: 8,
  uint64: 8,
  int16: 2,
  uint16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
  float64: 8,
};

function describeShape(shape: readonly (number | string)[]): string {
  return `[${shape.join(", ")}]`;
}

function isGpuFeed(feed: OrtFeed): feed is OrtGpuFeed {
  return "buffer" in feed && (feed as OrtGpuFeed).buffer instanceof GPUBuffer;
}

function isHostFeed(feed: OrtFeed): feed is OrtHostFeed {
  return "data" in feed && "dtype" in feed && !("location" in feed);
}

/**
 * A loaded model. Create it with `OrtRuntime.loadModel` or `OrtRuntime.createModel`.
 *
 * @example Inspect a model's declared inputs
 * ```ts
 * import { buildOnnxFixture } from "./onnx_fixture.ts";
 * import { OrtRuntime } from "./ort_runtime.ts";
 * const runtime = await OrtRuntime.create({ executionProvider: "wasm" });
 * const model = await runtime.createModel(buildOnnxFixture({
 *   inputs: [
 *     { name: "sample", dtype: "float16", shape: [1, 4, 8, 8] },
 *     { name: "timestep", dtype: "int64", shape: [1] },
 *   ],
 *   outputs: [{ name: "out_sample", dtype: "float16", shape: [1, 4, 8, 8] }],
 * }).model, { name: "unet" });
 * console.log(model.inputs.map((i) => `${i.name}:${i.dtype}`)); // [ "sample:float16", "timestep:int64" ]
 * await model.release();
 * ```
 */
export class OrtModel {
  /** The runtime that created it. */
  readonly runtime: OrtRuntime;
  /** The ORT session. */
  readonly session: InferenceSession;
  /** Name used in error messages (usually the file path). */
  readonly name: string;
  /** Whether outputs stay on the GPU. */
  readonly outputsOnGpu: boolean;
  /** External-data files the session was given. */
  readonly externalData: string[];
  /** Declared inputs. */
  readonly inputs: OrtValueInfo[];
  /** Declared outputs. */
  readonly outputs: OrtValueInfo[];

  /**
   * Wraps a session; `OrtRuntime` calls this.
   *
   * @param runtime the runtime whose device the session runs on
   * @param session the ORT session
   * @param info name, output location and external-data files, for messages and reports
   */
  constructor(
    runtime: OrtRuntime,
    session: InferenceSession,
    info: { name: string; outputsOnGpu: boolean; externalData: string[] },
  ) {
    this.runtime = runtime;
    this.session = session;
    this.name = info.name;
    this.outputsOnGpu = info.outputsOnGpu;
    this.externalData = info.externalData;
    const describe = (m: InferenceSession.ValueMetadata): OrtValueInfo =>
      m.isTensor
        ? { name: m.name, dtype: m.type, shape: [...m.shape] }
        : { name: m.name, dtype: "unknown", shape: [] };
    this.inputs = session.inputMetadata.map(describe);
    this.outputs = session.outputMetadata.map(describe);
  }

  #check(name: string, dtype: string, dims: readonly number[]): void {
    const info = this.inputs.find((i) => i.name === name);
    if (info === undefined) {
      throw new Error(
        `Invalid input ${name} for ${this.name}: the model has no such input, expected one of ${
          this.inputs.map((i) => i.name).join(", ")
        }`,
      );
    }
    if (info.dtype !== "unknown" && info.dtype !== dtype) {
      throw new Error(
        `Invalid input ${name} for ${this.name}: expected dtype ${info.dtype}, got ${dtype}`,
      );
    }
    const mismatch = info.shape.length > 0 &&
      (info.shape.length !== dims.length ||
        info.shape.some((d, k) => typeof d === "number" && d !== dims[k]));
    if (mismatch || dims.some((d) => !Number.isInteger(d) || d < 0)) {
      throw new Error(
        `Invalid input ${name} for ${this.name}: expected shape ${describeShape(info.shape)}, got ${
          describeShape(dims)
        }`,
      );
    }
  }

  #tensor(name: string, feed: OrtFeed): Tensor {
    const { Tensor } = this.runtime.ort;
    if (isGpuFeed(feed)) {
      this.#check(name, feed.dtype, feed.dims);
      if (this.runtime.device === null) {
        throw new Error(
          `Invalid input ${name} for ${this.name}: a GPU buffer needs the webgpu execution provider, this runtime uses ${this.runtime.executionProvider}`,
        );
      }
      // ORT's WebGPU kernels bind inputs in whole 16-byte vectors, so a buffer sized to the
      // exact byte count fails validation inside ORT with a far less helpful message.
      const bytes = Math.ceil(feed.dims.reduce((p, d) => p * d, 1) * BYTES[feed.dtype]! / 16) * 16;
      if ((feed.buffer.usage & GPUBufferUsage.STORAGE) === 0 || feed.buffer.size < bytes) {
        throw new Error(
          `Invalid input ${name} for ${this.name}: expected a STORAGE buffer of at least ${bytes} bytes, got usage ${feed.buffer.usage} and ${feed.buffer.size} bytes`,
        );
      }
      return Tensor.fromGpuBuffer(feed.buffer, { dataType: feed.dtype, dims: feed.dims });
    }
    if (isHostFeed(feed)) {
      this.#check(name, feed.dtype, feed.dims);
      const count = feed.dims.reduce((p, d) => p * d, 1);
      if (feed.data.length !== count) {
        throw new Error(
          `Invalid input ${name} for ${this.name}: shape ${
            describeShape(feed.dims)
          } needs ${count} values, got ${feed.data.length}`,
        );
      }
      return new Tensor(feed.dtype as "float32", feed.data as Float32Array, feed.dims);
    }
    this.#check(name, feed.type, feed.dims);
    return feed;
  }

  #feeds(feeds: Record<string, OrtFeed>): Record<string, Tensor> {
    const missing = this.inputs.filter((i) => !(i.name in feeds)).map((i) => i.name);
    if (missing.length > 0) {
      throw new Error(
        `Missing input ${missing.join(", ")} for ${this.name}: expected ${
          this.inputs.map((i) => i.name).join(", ")
        }`,
      );
    }
    const tensors: Record<string, Tensor> = {};
    for (const [name, feed] of Object.entries(feeds)) tensors[name] = this.#tensor(name, feed);
    return tensors;
  }

  /**
   * Runs the model. On WebGPU the outputs are GPU tensors (`location === "gpu-buffer"`):
   * the caller owns them and must `dispose()` each, which hands its buffer back to ORT.
   *
   * @param feeds one feed per declared input
   * @param options `outputs` limits the run to these outputs
   * @returns the outputs by name
   *
   * @example
   * ```ts
   * import { buildOnnxFixture } from "./onnx_fixture.ts";
   * import { OrtRuntime } from "./ort_runtime.ts";
   * const runtime = await OrtRuntime.create({ executionProvider: "wasm" });
   * const model = await runtime.createModel(buildOnnxFixture({
   *   inputs: [{ name: "input_ids", dtype: "int64", shape: [1, 3] }],
   *   outputs: [{ name: "text_embeds", dtype: "float32", shape: [1, 2] }],
   * }).model);
   * const ids = new BigInt64Array([1n, 2n, 3n]);
   * const out = await model.run({ input_ids: { data: ids, dtype: "int64", dims: [1, 3] } });
   * console.log(await out.text_embeds!.getData()); // Float32Array(2) [ 1, 1 ]
   * await model.release();
   * ```
   */
  async run(
    feeds: Record<string, OrtFeed>,
    options: { outputs?: string[] } = {},
  ): Promise<Record<string, Tensor>> {
    const tensors = this.#feeds(feeds);
    const names = options.outputs ?? this.outputs.map((o) => o.name);
    for (const name of names) {
      if (!this.outputs.some((o) => o.name === name)) {
        throw new Error(
          `Invalid option outputs for ${this.name}: no output ${name}, expected one of ${
            this.outputs.map((o) => o.name).join(", ")
          }`,
        );
      }
    }
    try {
      return await this.session.run(tensors, names);
    } catch (error) {
      throw new Error(`Cannot run ${this.name}: ${(error as Error).message ?? String(error)}`);
    }
  }

  /**
   * Runs the model and copies the named outputs, on the GPU, into the caller's buffers
   * (which need `COPY_DST`), then hands ORT's output buffers back. Only the named outputs
   * are computed. Nothing is read back.
   *
   * @param feeds one feed per declared input
   * @param targets destination per output name
   *
   * @example
   * ```ts
   * import { buildOnnxFixture } from "./onnx_fixture.ts";
   * import { OrtRuntime } from "./ort_runtime.ts";
   * const runtime = await OrtRuntime.create();
   * const model = await runtime.createModel(buildOnnxFixture({
   *   inputs: [{ name: "x", dtype: "float32", shape: [2] }],
   *   outputs: [{ name: "y", dtype: "float32", shape: [2] }, { name: "z", dtype: "float32", shape: [1] }],
   * }).model);
   * const z = runtime.device!.createBuffer({ size: 4, usage: GPUBufferUsage.COPY_DST });
   * await model.runInto({ x: { data: new Float32Array([1, 2]), dtype: "float32", dims: [2] } }, { z });
   * console.log(z.size); // 4
   * await model.release();
   * ```
   */
  async runInto(
    feeds: Record<string, OrtFeed>,
    targets: Record<string, OrtOutputTarget>,
  ): Promise<void> {
    const device = this.runtime.device;
    if (device === null || !this.outputsOnGpu) {
      throw new Error(
        `Cannot run ${this.name} into GPU buffers: its outputs are on the CPU (execution provider ${this.runtime.executionProvider})`,
      );
    }
    const outputs = await this.run(feeds, { outputs: Object.keys(targets) });
    try {
      const encoder = device.createCommandEncoder({ label: `${this.name} outputs` });
      for (const [name, target] of Object.entries(targets)) {
        const tensor = outputs[name]!;
        const { buffer, offset = 0 } = target instanceof GPUBuffer ? { buffer: target } : target;
        const bytes = tensor.dims.reduce((p, d) => p * d, 1) * BYTES[tensor.type]!;
        // Copies move whole 4-byte words; ORT pads its buffers, the target must have room too.
        const size = Math.ceil(bytes / 4) * 4;
        if (offset % 4 !== 0 || buffer.size < offset + size) {
          throw new Error(
            `Invalid target for output ${name} of ${this.name}: expected ${size} bytes at a 4-byte aligned offset, got offset ${offset} in a ${buffer.size}-byte buffer`,
          );
        }
        if (size > 0) {
          encoder.copyBufferToBuffer(tensor.gpuBuffer as GPUBuffer, 0, buffer, offset, size);
        }
      }
      device.queue.submit([encoder.finish()]);
    } finally {
      // The copy is on the queue before ORT can reuse these buffers for its next run.
      for (const tensor of Object.values(outputs)) tensor.dispose();
    }
  }

  /**
   * Releases the session. The runtime's device stays alive.
   *
   * @example
   * ```ts
   * import { buildOnnxFixture } from "./onnx_fixture.ts";
   * import { OrtRuntime } from "./ort_runtime.ts";
   * const runtime = await OrtRuntime.create();
   * const model = await runtime.createModel(buildOnnxFixture({
   *   inputs: [{ name: "x", dtype: "float32", shape: [1] }],
   *   outputs: [{ name: "y", dtype: "float32", shape: [1] }],
   * }).model);
   * await model.release();
   * console.log(runtime.device!.createBuffer({ size: 4, usage: GPUBufferUsage.STORAGE }).size); // 4
   * ```
   */
  async release(): Promise<void> {
    await this.session.release();
  }
}
