/**
 * The WebGPU runtime: adapter and device acquisition, a pipeline cache keyed by
 * WGSL source and constants, buffer helpers and error surfacing.
 *
 * @module
 */
import { loadWgsl, type WgslSource } from "./wgsl.ts";

/**
 * Options for {@linkcode acquireGpu}.
 *
 * @example
 * ```ts
 * import { acquireGpu, type AcquireGpuOptions } from "./gpu.ts";
 * // Quiet, and without shader-f16 even where the adapter has it.
 * const options: AcquireGpuOptions = { log: null, f16: false };
 * const gpu = await acquireGpu(options);
 * console.log(gpu.f16); // false
 * gpu.destroy();
 * ```
 */
export interface AcquireGpuOptions {
  /**
   * WebGPU backend: `vulkan`, `gl`, `metal`, `dx12` or `auto`. Defaults to the
   * `ANIMATE124_BACKEND` environment variable, then Deno's own `DENO_WEBGPU_BACKEND`.
   */
  backend?: string;
  /** Where the one-line adapter report goes; defaults to `console.error`. Pass `null` to silence. */
  log?: ((line: string) => void) | null;
  /** Request the `shader-f16` feature when the adapter has it. Defaults to true. */
  f16?: boolean;
}

/**
 * Options for {@linkcode Gpu.pipeline}.
 *
 * @example Pick an entry point and set an override constant
 * ```ts
 * import { acquireGpu, type PipelineOptions } from "./gpu.ts";
 * import { wgslFromString } from "./wgsl.ts";
 * const gpu = await acquireGpu({ log: null });
 * const src = wgslFromString("scale", `
 * override FACTOR: f32 = 1.0;
 * @group(0) @binding(0) var<storage, read_write> data: array<f32>;
 * @compute @workgroup_size(4)
 * fn scale(@builtin(global_invocation_id) id: vec3u) { data[id.x] *= FACTOR; }`);
 * const options: PipelineOptions = { constants: { FACTOR: 3 }, entryPoint: "scale" };
 * const pipeline = await gpu.pipelineFromSource(src, options);
 * const data = gpu.createBuffer(new Float32Array([1, 2, 3, 4]));
 * const group = gpu.bindGroup(pipeline, [data]);
 * gpu.submit((e) => {
 *   const pass = e.beginComputePass();
 *   gpu.dispatch(pass, pipeline, group, 4, 4);
 *   pass.end();
 * });
 * console.log(new Float32Array(await gpu.read(data))); // Float32Array(4) [ 3, 6, 9, 12 ]
 * gpu.destroy();
 * ```
 */
export interface PipelineOptions {
  /** Pipeline-overridable constants (WGSL `override` declarations). */
  constants?: Record<string, number>;
  /** Generated WGSL fragments that `#include "name"` lines may pull in. */
  fragments?: Record<string, string>;
  /** Entry point; defaults to `main`. */
  entryPoint?: string;
}

/**
 * A binding of a buffer range, for {@linkcode Gpu.bindGroup}.
 *
 * @example Bind only the tail of a buffer
 * ```ts
 * import { acquireGpu, type BufferRange } from "./gpu.ts";
 * import { wgslFromString } from "./wgsl.ts";
 * const gpu = await acquireGpu({ log: null });
 * const src = wgslFromString("negate", `
 * @group(0) @binding(0) var<storage, read_write> data: array<f32>;
 * @compute @workgroup_size(2)
 * fn main(@builtin(global_invocation_id) id: vec3u) { data[id.x] = -data[id.x]; }`);
 * const pipeline = await gpu.pipelineFromSource(src);
 * const values = new Float32Array(66).fill(1);
 * const buffer = gpu.createBuffer(values);
 * // Storage offsets must be multiples of 256 bytes: floats 64 and 65.
 * const tail: BufferRange = { buffer, offset: 256, size: 8 };
 * const group = gpu.bindGroup(pipeline, [tail]);
 * gpu.submit((e) => {
 *   const pass = e.beginComputePass();
 *   gpu.dispatch(pass, pipeline, group, 2, 2);
 *   pass.end();
 * });
 * const out = new Float32Array(await gpu.read(buffer));
 * console.log(out[0], out[64], out[65]); // 1 -1 -1
 * gpu.destroy();
 * ```
 */
export interface BufferRange {
  /** The buffer bound. */
  buffer: GPUBuffer;
  /** Byte offset of the range (default 0). */
  offset?: number;
  /** Byte size of the range (default: the rest of the buffer). */
  size?: number;
}

/**
 * The device limits the toolkit's kernels need, checked by {@linkcode Gpu.wrap}: the
 * WebGPU defaults for sizes, and the most storage buffers one kernel declares
 * (`composite.wgsl`). Larger renders need more than these (see `docs/kernels.md` "Memory").
 *
 * @example
 * ```ts
 * import { GPU_REQUIREMENTS } from "./gpu.ts";
 * console.log(GPU_REQUIREMENTS.maxStorageBuffersPerShaderStage); // 18
 * ```
 */
export const GPU_REQUIREMENTS: Readonly<Record<string, number>> = Object.freeze({
  maxStorageBufferBindingSize: 128 * 2 ** 20,
  maxBufferSize: 256 * 2 ** 20,
  maxStorageBuffersPerShaderStage: 18,
  maxComputeWorkgroupStorageSize: 16384,
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
});

/**
 * Options of {@linkcode Gpu.wrap}.
 *
 * @example Check a borrowed device against a stricter storage-binding requirement
 * ```ts
 * import { Gpu, type WrapGpuOptions } from "./gpu.ts";
 * const device = await (await navigator.gpu.requestAdapter())!.requestDevice();
 * const options: WrapGpuOptions = { log: null, requirements: { maxStorageBufferBindingSize: 2 ** 40 } };
 * try {
 *   Gpu.wrap(device, options);
 * } catch (error) {
 *   console.log((error as Error).message.includes("maxStorageBufferBindingSize")); // true
 * }
 * device.destroy();
 * ```
 */
export interface WrapGpuOptions {
  /** Where the one-line adapter report goes; defaults to `console.error`. `null` silences it. */
  log?: ((line: string) => void) | null;
  /** Whether {@linkcode Gpu.destroy} destroys the device too; defaults to false. */
  owned?: boolean;
  /** Backend name for reports; defaults to `auto`. */
  backend?: string;
  /** Limits to check instead of (merged over) {@linkcode GPU_REQUIREMENTS}. */
  requirements?: Record<string, number>;
}

const BACKENDS = ["auto", "vulkan", "gl", "metal", "dx12"] as const;

/** Largest workgroup count WebGPU guarantees per dispatch dimension. */
export const MAX_WORKGROUPS_PER_DIM = 65535;

/**
 * A WebGPU device with the toolkit's helpers. Create it with {@linkcode acquireGpu}.
 *
 * @example Run a kernel on four numbers
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * const gpu = await acquireGpu({ log: null });
 * const buf = gpu.createBuffer(new Float32Array([1, 2, 3, 4]), { label: "demo" });
 * const back = new Float32Array(await gpu.read(buf));
 * if (back[3] !== 4) throw new Error("round trip failed");
 * gpu.destroy();
 * ```
 */
export class Gpu {
  /** The device every kernel runs on. */
  readonly device: GPUDevice;
  /** Adapter description, e.g. `llvmpipe (LLVM 15.0.6, 256 bits)`. */
  readonly adapterName: string;
  /** Backend that was asked for (`auto` when none was). */
  readonly backend: string;
  /** Whether `shader-f16` was enabled on the device. */
  readonly f16: boolean;
  /** Whether the adapter runs on the CPU (llvmpipe, lavapipe, SwiftShader, fallback adapters). */
  readonly software: boolean;
  #pipelines = new Map<string, Promise<GPUComputePipeline>>();
  #staging: GPUBuffer[] = [];
  #lost: string | null = null;
  #uncaptured: string[] = [];
  #liveBytes = 0;
  #peakBytes = 0;
  // A borrowed device (ONNX Runtime's) outlives this object: destroy() leaves it running.
  #ownsDevice = true;

  /**
   * Wraps a device; {@linkcode acquireGpu} is the usual way to get one.
   *
   * @param device the WebGPU device
   * @param adapterName the adapter's description
   * @param backend the backend asked for
   * @param software whether the adapter runs on the CPU (also detected from its name)
   */
  constructor(device: GPUDevice, adapterName: string, backend: string, software = false) {
    this.device = device;
    this.adapterName = adapterName;
    this.backend = backend;
    this.software = software || /llvmpipe|lavapipe|swiftshader/i.test(adapterName);
    this.f16 = device.features.has("shader-f16");
    device.lost.then((info) => {
      if (info.reason === "destroyed") return;
      this.#lost = `${info.reason}: ${info.message}`;
      console.error(`WebGPU device lost (${this.#lost}); restart the run to continue`);
    });
    device.addEventListener("uncapturederror", (event) => {
      const message = (event as GPUUncapturedErrorEvent).error.message;
      this.#uncaptured.push(message);
    });
  }

  /**
   * Wraps a device someone else created, e.g. ONNX Runtime's (`OrtRuntime.device`), so the
   * toolkit's kernels share it with the ORT sessions. The device's limits are checked
   * against {@linkcode GPU_REQUIREMENTS} (or `options.requirements`) and the adapter line is
   * logged. Unless `owned` is true, {@linkcode Gpu.destroy} frees only the toolkit's staging
   * buffers and pipeline cache and never calls `device.destroy()`.
   *
   * @param device the borrowed WebGPU device
   * @param options logging, ownership and the limits to check
   * @returns the wrapped device
   * @throws {Error} naming every limit below the requirement
   *
   * @example Borrow a device and give it back alive
   * ```ts
   * import { Gpu } from "./gpu.ts";
   * const adapter = await navigator.gpu.requestAdapter();
   * const device = await adapter!.requestDevice({
   *   requiredLimits: { maxStorageBuffersPerShaderStage: adapter!.limits.maxStorageBuffersPerShaderStage },
   * });
   * const gpu = Gpu.wrap(device, { log: null });
   * gpu.destroy();
   * const still = device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE });
   * console.log(gpu.owned, still.size); // false 16
   * ```
   */
  static wrap(device: GPUDevice, options: WrapGpuOptions = {}): Gpu {
    const needs = { ...GPU_REQUIREMENTS, ...options.requirements };
    const limits = device.limits as unknown as Record<string, number>;
    const short = Object.entries(needs)
      .filter(([name, need]) => !(limits[name]! >= need))
      .map(([name, need]) => `${name} ${limits[name]} < ${need}`);
    const info = device.adapterInfo;
    const name = info?.description || info?.device || info?.vendor || "unknown";
    if (short.length > 0) {
      throw new Error(
        `Cannot run the toolkit on the device of ${name}: its limits fall short: ${
          short.join(", ")
        }: request a device with the adapter's limits (acquireGpu does)`,
      );
    }
    const gpu = new Gpu(device, name, options.backend ?? "auto");
    gpu.#ownsDevice = options.owned ?? false;
    const log = options.log === undefined ? (l: string) => console.error(l) : options.log;
    log?.(
      `WebGPU adapter: ${name} (shared device, max storage binding ${
        (device.limits.maxStorageBufferBindingSize / 2 ** 20).toFixed(0)
      } MiB)`,
    );
    return gpu;
  }

  /** Whether {@linkcode Gpu.destroy} destroys the device (false for a borrowed one). */
  get owned(): boolean {
    return this.#ownsDevice;
  }

  /**
   * Bytes held by buffers created through this object and not yet destroyed, and the
   * most ever held at once (staging buffers included).
   */
  get memory(): { liveBytes: number; peakBytes: number } {
    return { liveBytes: this.#liveBytes, peakBytes: this.#peakBytes };
  }

  /** Forgets the peak, e.g. before measuring one preset. */
  resetPeakMemory(): void {
    this.#peakBytes = this.#liveBytes;
  }

  #track(buffer: GPUBuffer): GPUBuffer {
    const size = buffer.size;
    this.#liveBytes += size;
    this.#peakBytes = Math.max(this.#peakBytes, this.#liveBytes);
    const destroy = buffer.destroy.bind(buffer);
    let alive = true;
    // Counting at destroy time keeps the figure exact without a registry of buffers.
    buffer.destroy = () => {
      if (alive) {
        alive = false;
        this.#liveBytes -= size;
      }
      destroy();
    };
    return buffer;
  }

  /** Limits granted to the device. */
  get limits(): GPUSupportedLimits {
    return this.device.limits;
  }

  /** Throws if the device was lost or an uncaptured WebGPU error happened since the last check. */
  check(): void {
    if (this.#lost !== null) throw new Error(`WebGPU device lost: ${this.#lost}`);
    const errors = this.#uncaptured.splice(0);
    if (errors.length > 0) throw new Error(`WebGPU error: ${errors.join("\n")}`);
  }

  /**
   * Compiles (once) the kernel `kernels/<name>.wgsl` and returns its pipeline.
   * Compile errors throw with the kernel name and the file and line they point at.
   */
  pipeline(name: string, options: PipelineOptions = {}): Promise<GPUComputePipeline> {
    const source = loadWgsl(name, options.fragments ?? {});
    return this.pipelineFromSource(source, options);
  }

  /** Like {@linkcode Gpu.pipeline} for an already assembled source. */
  async pipelineFromSource(
    source: WgslSource | Promise<WgslSource>,
    options: PipelineOptions = {},
  ): Promise<GPUComputePipeline> {
    const src = await source;
    const entryPoint = options.entryPoint ?? "main";
    const constants = options.constants ?? {};
    const key = JSON.stringify([src.code, entryPoint, Object.entries(constants).sort()]);
    let pipeline = this.#pipelines.get(key);
    if (pipeline === undefined) {
      pipeline = this.#compile(src, entryPoint, constants);
      this.#pipelines.set(key, pipeline);
      pipeline.catch(() => this.#pipelines.delete(key));
    }
    return pipeline;
  }

  async #compile(
    src: WgslSource,
    entryPoint: string,
    constants: Record<string, number>,
  ): Promise<GPUComputePipeline> {
    this.check();
    this.device.pushErrorScope("validation");
    const module = this.device.createShaderModule({ code: src.code, label: src.name });
    const info = await module.getCompilationInfo();
    const scopeError = await this.device.popErrorScope();
    const errors = info.messages.filter((m) => m.type === "error");
    if (errors.length > 0 || scopeError !== null) {
      const lines = errors.map((m) => {
        const where = src.locate(m.lineNum);
        return `${where}:${m.linePos}: ${m.message.trim()}`;
      });
      if (lines.length === 0 && scopeError) lines.push(scopeError.message.trim());
      throw new Error(`WGSL compile error in kernel ${src.name}: ${lines.join("\n")}`);
    }
    this.device.pushErrorScope("validation");
    let pipeline: GPUComputePipeline;
    try {
      pipeline = await this.device.createComputePipelineAsync({
        label: src.name,
        layout: "auto",
        compute: { module, entryPoint, constants },
      });
    } catch (error) {
      await this.device.popErrorScope();
      throw new Error(
        `Cannot create pipeline for kernel ${src.name} (entry ${entryPoint}): ${
          (error as Error).message
        }`,
      );
    }
    const pipeError = await this.device.popErrorScope();
    if (pipeError !== null) {
      throw new Error(
        `Cannot create pipeline for kernel ${src.name} (entry ${entryPoint}): ${pipeError.message}`,
      );
    }
    return pipeline;
  }

  /**
   * Creates a storage buffer, either zeroed with `size` bytes or holding `data`.
   * Sizes are rounded up to 4 bytes, or to `align` bytes (16 for buffers fed to ONNX
   * Runtime, which reads whole `vec4`s); every buffer can be copied from and to.
   */
  createBuffer(
    sizeOrData: number | ArrayBufferView<ArrayBuffer>,
    options: { label?: string; usage?: GPUBufferUsageFlags; align?: number } = {},
  ): GPUBuffer {
    const align = options.align ?? 4;
    if (!Number.isInteger(align) || align < 4 || align % 4 !== 0) {
      throw new Error(
        `Invalid option align for ${
          options.label ?? "buffer"
        }: expected a multiple of 4, got ${align}`,
      );
    }
    const usage = options.usage ??
      (GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST);
    const bytes = typeof sizeOrData === "number" ? sizeOrData : sizeOrData.byteLength;
    if (!Number.isFinite(bytes) || bytes < 0) {
      throw new Error(`Invalid buffer size for ${options.label ?? "buffer"}: got ${bytes}`);
    }
    if (bytes > this.device.limits.maxBufferSize) {
      throw new Error(
        `Cannot create buffer ${
          options.label ?? ""
        }: ${bytes} bytes exceeds the device's maxBufferSize ${this.device.limits.maxBufferSize}`,
      );
    }
    const size = Math.max(align, Math.ceil(bytes / align) * align);
    const buffer = this.#track(this.device.createBuffer({
      size,
      usage,
      label: options.label ?? "buffer",
      mappedAtCreation: typeof sizeOrData !== "number",
    }));
    if (typeof sizeOrData !== "number") {
      const view = sizeOrData;
      new Uint8Array(buffer.getMappedRange()).set(
        new Uint8Array(view.buffer, view.byteOffset, view.byteLength),
      );
      buffer.unmap();
    }
    return buffer;
  }

  /** Creates a uniform buffer of `bytes` (rounded up to 16). */
  createUniform(bytes: number, label = "uniform"): GPUBuffer {
    return this.#track(this.device.createBuffer({
      size: Math.max(16, Math.ceil(bytes / 16) * 16),
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      label,
    }));
  }

  /** Writes `data` into `buffer` at `byteOffset` through the queue. */
  upload(buffer: GPUBuffer, data: ArrayBufferView<ArrayBuffer>, byteOffset = 0): void {
    this.device.queue.writeBuffer(
      buffer,
      byteOffset,
      data.buffer,
      data.byteOffset,
      data.byteLength,
    );
  }

  /**
   * Copies `buffer` (or a range of it) back to the CPU. Staging buffers are reused,
   * so repeated read-backs of similar sizes allocate nothing.
   */
  async read(
    buffer: GPUBuffer,
    range: { byteOffset?: number; byteLength?: number } = {},
  ): Promise<ArrayBuffer> {
    const offset = range.byteOffset ?? 0;
    const length = range.byteLength ?? buffer.size - offset;
    const size = Math.max(4, Math.ceil(length / 4) * 4);
    const index = this.#staging.findIndex((b) => b.size >= size && b.size <= size * 4);
    const staging = index >= 0 ? this.#staging.splice(index, 1)[0]! : this.#track(
      this.device.createBuffer({
        size,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
        label: "staging",
      }),
    );
    const encoder = this.device.createCommandEncoder();
    encoder.copyBufferToBuffer(buffer, offset, staging, 0, size);
    this.device.queue.submit([encoder.finish()]);
    await staging.mapAsync(GPUMapMode.READ, 0, size);
    const copy = staging.getMappedRange(0, size).slice(0, length);
    staging.unmap();
    this.#staging.push(staging);
    if (this.#staging.length > 8) this.#staging.shift()!.destroy();
    this.check();
    return copy;
  }

  /**
   * Creates a bind group for group 0 of `pipeline`. An array binds entry i to binding i;
   * a record binds by binding number, for entry points that use only some bindings of
   * a shared file (layout "auto" drops the unused ones).
   */
  bindGroup(
    pipeline: GPUComputePipeline,
    resources: (GPUBuffer | BufferRange)[] | Record<number, GPUBuffer | BufferRange>,
    label = pipeline.label,
  ): GPUBindGroup {
    const pairs: [number, GPUBuffer | BufferRange][] = Array.isArray(resources)
      ? resources.map((r, i) => [i, r])
      : Object.entries(resources).map(([b, r]) => [Number(b), r]);
    return this.device.createBindGroup({
      label,
      layout: pipeline.getBindGroupLayout(0),
      entries: pairs.map(([binding, r]) => {
        if (r instanceof GPUBuffer) return { binding, resource: { buffer: r } };
        const resource: GPUBufferBinding = { buffer: r.buffer };
        if (r.offset !== undefined) resource.offset = r.offset;
        if (r.size !== undefined) resource.size = r.size;
        return { binding, resource };
      }),
    });
  }

  /**
   * Records one dispatch of `threads` invocations of a 1-D kernel with workgroup size
   * `workgroupSize`. Counts above 65535 workgroups spill into y; kernels rebuild the
   * linear index with {@linkcode linearIndexWgsl}.
   */
  dispatch(
    pass: GPUComputePassEncoder,
    pipeline: GPUComputePipeline,
    bindGroup: GPUBindGroup,
    threads: number,
    workgroupSize: number,
  ): void {
    const [x, y] = workgroupGrid(threads, workgroupSize);
    if (x === 0) return;
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y);
  }

  /** Records work in a fresh command encoder and submits it. */
  submit(record: (encoder: GPUCommandEncoder) => void): void {
    const encoder = this.device.createCommandEncoder();
    record(encoder);
    this.device.queue.submit([encoder.finish()]);
  }

  /** Waits until the queue has finished everything submitted so far. */
  async flush(): Promise<void> {
    await this.device.queue.onSubmittedWorkDone();
    this.check();
  }

  /** Releases every cached staging buffer and pipeline, and the device unless it is borrowed. */
  destroy(): void {
    for (const b of this.#staging) b.destroy();
    this.#staging = [];
    this.#pipelines.clear();
    if (this.#ownsDevice) this.device.destroy();
  }
}

/**
 * Splits `threads` invocations into a workgroup grid `[x, y]` that respects the
 * per-dimension limit.
 */
export function workgroupGrid(threads: number, workgroupSize: number): [number, number] {
  const groups = Math.ceil(threads / workgroupSize);
  if (groups <= MAX_WORKGROUPS_PER_DIM) return [groups, 1];
  const y = Math.ceil(groups / MAX_WORKGROUPS_PER_DIM);
  return [Math.ceil(groups / y), y];
}

/** WGSL expression that rebuilds the linear invocation index from `gid` and `nwg` builtins. */
export function linearIndexWgsl(workgroupSize: number): string {
  return `(gid.x + gid.y * nwg.x * ${workgroupSize}u)`;
}

function pickBackend(requested: string | undefined): string {
  const backend = requested ?? Deno.env.get("ANIMATE124_BACKEND") ??
    Deno.env.get("DENO_WEBGPU_BACKEND") ?? "auto";
  if (!(BACKENDS as readonly string[]).includes(backend)) {
    throw new Error(
      `Invalid option backend: expected one of ${BACKENDS.join(", ")}, got ${
        JSON.stringify(backend)
      }`,
    );
  }
  return backend;
}

let reported = false;

/**
 * Acquires a WebGPU adapter and device with the limits the 4D field needs: the
 * largest storage binding and buffer the adapter offers (the 64-keyframe field is
 * about 2 GB with its Adam state) and as many storage buffers per stage as it has.
 *
 * @param options backend choice, logging and features
 * @returns the device wrapped with the toolkit's helpers
 *
 * @example Pick lavapipe's Vulkan backend on a machine without a GPU
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * const gpu = await acquireGpu({ backend: "auto", log: null });
 * console.log(gpu.adapterName);
 * gpu.destroy();
 * ```
 */
export async function acquireGpu(options: AcquireGpuOptions = {}): Promise<Gpu> {
  const backend = pickBackend(options.backend);
  // Deno reads this variable when it creates the WebGPU instance, so it must be set
  // before the first requestAdapter call of the process.
  if (backend !== "auto") Deno.env.set("DENO_WEBGPU_BACKEND", backend);
  if (!("gpu" in navigator) || navigator.gpu === undefined) {
    throw new Error("WebGPU is not available in this runtime: use Deno 2 or later");
  }
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  if (adapter === null) {
    throw new Error(
      `No WebGPU adapter found for backend ${backend}: install Mesa (llvmpipe or mesa-vulkan-drivers) or pick another backend with ANIMATE124_BACKEND`,
    );
  }
  const limits = adapter.limits;
  const requiredLimits: Record<string, number> = {
    maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
    maxBufferSize: limits.maxBufferSize,
    maxStorageBuffersPerShaderStage: limits.maxStorageBuffersPerShaderStage,
    maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
  };
  const requiredFeatures: GPUFeatureName[] = [];
  if ((options.f16 ?? true) && adapter.features.has("shader-f16")) {
    requiredFeatures.push("shader-f16");
  }
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  const name = adapter.info.description || adapter.info.device || adapter.info.vendor || "unknown";
  const log = options.log === undefined ? (l: string) => console.error(l) : options.log;
  if (log !== null && !reported) {
    reported = true;
    log(
      `WebGPU adapter: ${name} (backend ${backend}, max storage binding ${
        (limits.maxStorageBufferBindingSize / 2 ** 20).toFixed(0)
      } MiB)`,
    );
  }
  return new Gpu(device, name, backend, adapter.info.isFallbackAdapter === true);
}
