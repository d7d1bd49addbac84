/**
 * ONNX Runtime Web in Deno: loads `onnxruntime-web` once, creates sessions from model
 * files (external data included) on the WebGPU execution provider, and exposes the
 * GPUDevice ORT runs on, so the toolkit's own kernels can share it (SPEC.md §10.1).
 *
 * onnxruntime-web 1.30 creates its device itself and ignores one set through
 * `env.webgpu.device`, and `await ort.env.webgpu.device` stays undefined until a WebGPU
 * session exists, and ORT destroys the device when its last session is released.
 * {@linkcode OrtRuntime.create} therefore opens a one-node session that lives as long as
 * the process and hands out that session's device.
 *
 * @example Run a tiny model on ORT's WebGPU device
 * ```ts
 * import { buildOnnxFixture } from "./onnx_fixture.ts";
 * import { OrtRuntime } from "./ort_runtime.ts";
 * const runtime = await OrtRuntime.create();
 * const fixture = buildOnnxFixture({
 *   inputs: [{ name: "x", dtype: "float32", shape: [4] }],
 *   outputs: [{ name: "y", dtype: "float32", shape: [4] }],
 * });
 * const model = await runtime.createModel(fixture.model, { name: "demo" });
 * const x = runtime.device!.createBuffer({
 *   size: 16, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
 * });
 * runtime.device!.queue.writeBuffer(x, 0, new Float32Array([1, 2, 3, 4]));
 * const { y } = await model.run({ x: { buffer: x, dtype: "float32", dims: [4] } });
 * console.log(y!.location, await y!.getData()); // gpu-buffer Float32Array(4) [ 2.25, 3.25, 4.25, 5.25 ]
 * y!.dispose();
 * await model.release();
 * ```
 *
 * @module
 */
import type * as OrtModule from "onnxruntime-web/webgpu";
import { buildOnnxFixture } from "./onnx_fixture.ts";
import { externalDataLocations } from "./onnx_external_data.ts";
import { OrtModel } from "./ort_model.ts";

/**
 * The `onnxruntime-web/webgpu` module.
 *
 * @example
 * ```ts
 * import { loadOrt, type Ort } from "./ort_runtime.ts";
 * const ort: Ort = await loadOrt();
 * const t = new ort.Tensor("float32", new Float32Array([1, 2, 3, 4]), [2, 2]);
 * console.log(t.dims, t.size); // [ 2, 2 ] 4
 * ```
 */
export type Ort = typeof OrtModule;

/**
 * Execution providers the toolkit uses: WebGPU, or WASM on the CPU as the fallback.
 *
 * @example
 * ```ts
 * import { type OrtExecutionProvider, OrtRuntime } from "./ort_runtime.ts";
 * const provider: OrtExecutionProvider = "wasm";
 * const runtime = await OrtRuntime.create({ executionProvider: provider });
 * console.log(runtime.executionProvider, runtime.device); // wasm null
 * ```
 */
export type OrtExecutionProvider = "webgpu" | "wasm";

const PROVIDERS: readonly OrtExecutionProvider[] = ["webgpu", "wasm"];
const LOG_LEVELS = ["verbose", "info", "warning", "error", "fatal"] as const;

/**
 * ORT's log levels, most verbose first.
 *
 * @example
 * ```ts
 * import type { OrtLogLevel } from "./ort_runtime.ts";
 * const level: OrtLogLevel = "warning";
 * console.log(level); // warning
 * ```
 */
export type OrtLogLevel = "verbose" | "info" | "warning" | "error" | "fatal";

/**
 * Options of {@linkcode OrtRuntime.create}.
 *
 * @example Stay on the CPU
 * ```ts
 * import { OrtRuntime, type OrtRuntimeOptions } from "./ort_runtime.ts";
 * const options: OrtRuntimeOptions = { executionProvider: "wasm", logLevel: "error" };
 * const runtime = await OrtRuntime.create(options);
 * console.log(runtime.executionProvider, runtime.device); // wasm null
 * ```
 */
export interface OrtRuntimeOptions {
  /** Execution provider of every session; defaults to `webgpu`. */
  executionProvider?: OrtExecutionProvider;
  /** ORT's process-wide log level; defaults to `error`. */
  logLevel?: OrtLogLevel;
}

/**
 * Options of {@linkcode OrtRuntime.loadModel} and {@linkcode OrtRuntime.createModel}.
 *
 * @example Name the weights file explicitly
 * ```ts
 * import type { OrtModelOptions } from "./ort_runtime.ts";
 * const options: OrtModelOptions = { externalData: ["weights.pb"], outputsOnGpu: true };
 * console.log(options.externalData); // [ "weights.pb" ]
 * ```
 */
export interface OrtModelOptions {
  /**
   * External-data files, relative to the model's folder (`loadModel`), or given with their
   * bytes (`createModel`). `loadModel` defaults to the locations the model itself names
   * (see `externalDataLocations`).
   */
  externalData?: (string | { path: string; data: Uint8Array })[];
  /**
   * Keep outputs on the GPU (`preferredOutputLocation: "gpu-buffer"`); defaults to true on
   * WebGPU and is always false on WASM.
   */
  outputsOnGpu?: boolean;
  /** Name used in error messages; defaults to the file path, or `model`. */
  name?: string;
}

let ortPromise: Promise<Ort> | null = null;
let devicePromise: Promise<GPUDevice> | null = null;
const keepAlive: OrtModule.InferenceSession[] = [];

/**
 * Loads `onnxruntime-web/webgpu` once per process. The WASM binaries come from the npm
 * package next to the module, so nothing is downloaded at run time.
 *
 * @returns the ORT module
 *
 * @example
 * ```ts
 * import { loadOrt } from "./ort_runtime.ts";
 * const ort = await loadOrt();
 * console.log(typeof ort.InferenceSession.create); // function
 * ```
 */
export function loadOrt(): Promise<Ort> {
  ortPromise ??= import("onnxruntime-web/webgpu").catch((error: Error) => {
    ortPromise = null;
    throw new Error(
      `Cannot load onnxruntime-web: ${error.message}: check that deno.json maps "onnxruntime-web/webgpu" to npm:onnxruntime-web`,
    );
  });
  return ortPromise;
}

function webGpuHint(): string {
  return 'WebGPU needs a GPU driver or Mesa\'s lavapipe (apt-get install mesa-vulkan-drivers) and XDG_RUNTIME_DIR set; pass executionProvider "wasm" to run on the CPU instead';
}

/** Opens a one-node session so that ORT creates its WebGPU device, and returns it. */
function ortDevice(ort: Ort): Promise<GPUDevice> {
  devicePromise ??= (async () => {
    if (!("gpu" in navigator) || navigator.gpu === undefined) {
      throw new Error(
        `Cannot start ONNX Runtime on WebGPU: navigator.gpu is missing: ${webGpuHint()}`,
      );
    }
    const probe = buildOnnxFixture({
      inputs: [{ name: "x", dtype: "float32", shape: [1] }],
      outputs: [{ name: "y", dtype: "float32", shape: [1] }],
    });
    try {
      // Never released: ORT destroys its device when its last session goes, and every
      // buffer the toolkit made on it would go with it.
      keepAlive.push(
        await ort.InferenceSession.create(probe.model, {
          executionProviders: ["webgpu"],
          logSeverityLevel: 3,
        }),
      );
    } catch (error) {
      throw new Error(
        `Cannot start ONNX Runtime on WebGPU: ${(error as Error).message}: ${webGpuHint()}`,
      );
    }
    const device = (await ort.env.webgpu.device) as GPUDevice | undefined;
    if (!device) {
      throw new Error(
        `Cannot start ONNX Runtime on WebGPU: ort.env.webgpu.device is undefined after a WebGPU session: ${webGpuHint()}`,
      );
    }
    return device;
  })().catch((error) => {
    devicePromise = null;
    throw error;
  });
  return devicePromise;
}

/**
 * ONNX Runtime Web with one execution provider. On WebGPU, {@linkcode OrtRuntime.device}
 * is the device every session runs on; build the toolkit's buffers and pipelines on it.
 *
 * @example Share ORT's device with the toolkit's kernels
 * ```ts
 * import { Gpu } from "../../kernels/gpu.ts";
 * import { OrtRuntime } from "./ort_runtime.ts";
 * const runtime = await OrtRuntime.create();
 * const gpu = new Gpu(runtime.device!, runtime.adapterName, "auto");
 * const buffer = gpu.createBuffer(new Float32Array([1, 2]));
 * console.log(gpu.device === runtime.device, new Float32Array(await gpu.read(buffer))); // true Float32Array(2) [ 1, 2 ]
 * ```
 */
export class OrtRuntime {
  /** The `onnxruntime-web/webgpu` module, for `Tensor` and `env`. */
  readonly ort: Ort;
  /** Execution provider of every session this runtime creates. */
  readonly executionProvider: OrtExecutionProvider;
  /** ORT's WebGPU device (`null` on WASM). */
  readonly device: GPUDevice | null;
  /** Adapter description of {@linkcode OrtRuntime.device}, or `wasm`. */
  readonly adapterName: string;

  #logSeverity: 0 | 1 | 2 | 3 | 4;

  private constructor(
    ort: Ort,
    executionProvider: OrtExecutionProvider,
    device: GPUDevice | null,
    logLevel: OrtLogLevel,
  ) {
    this.ort = ort;
    // Sessions log on their own threshold, not env.logLevel's.
    this.#logSeverity = LOG_LEVELS.indexOf(logLevel) as 0 | 1 | 2 | 3 | 4;
    this.executionProvider = executionProvider;
    this.device = device;
    const info = device?.adapterInfo;
    this.adapterName = device === null
      ? "wasm"
      : info?.description || info?.device || info?.vendor || "unknown";
  }

  /**
   * Loads ORT and, on WebGPU, starts its device.
   *
   * @param options execution provider and log level
   * @returns the runtime
   *
   * @example
   * ```ts
   * import { OrtRuntime } from "./ort_runtime.ts";
   * const runtime = await OrtRuntime.create({ executionProvider: "webgpu" });
   * console.log(runtime.device!.features.has("shader-f16")); // true
   * ```
   */
  static async create(options: OrtRuntimeOptions = {}): Promise<OrtRuntime> {
    const provider = options.executionProvider ?? "webgpu";
    if (!PROVIDERS.includes(provider)) {
      throw new Error(
        `Invalid option executionProvider: expected one of ${PROVIDERS.join(", ")}, got ${
          JSON.stringify(provider)
        }`,
      );
    }
    const logLevel = options.logLevel ?? "error";
    if (!LOG_LEVELS.includes(logLevel)) {
      throw new Error(
        `Invalid option logLevel: expected one of ${LOG_LEVELS.join(", ")}, got ${
          JSON.stringify(logLevel)
        }`,
      );
    }
    const ort = await loadOrt();
    ort.env.logLevel = logLevel;
    const device = provider === "webgpu" ? await ortDevice(ort) : null;
    return new OrtRuntime(ort, provider, device, logLevel);
  }

  /**
   * Creates a session from a `.onnx` file. External data (`model.onnx_data`,
   * `weights.pb`, …) is read from the model's folder.
   *
   * @param path the `.onnx` file
   * @param options external-data files, output location
   * @returns the session wrapper
   *
   * @example Load a model whose weights sit in `weights.pb` beside it
   * ```ts
   * import { buildOnnxFixture } from "./onnx_fixture.ts";
   * import { OrtRuntime } from "./ort_runtime.ts";
   * const dir = await Deno.makeTempDir();
   * const fixture = buildOnnxFixture({
   *   inputs: [{ name: "x", dtype: "float32", shape: [2] }],
   *   outputs: [{ name: "y", dtype: "float32", shape: [2] }],
   *   externalData: "weights.pb",
   * });
   * await Deno.writeFile(`${dir}/model.onnx`, fixture.model);
   * await Deno.writeFile(`${dir}/weights.pb`, fixture.externalData[0]!.data);
   * const runtime = await OrtRuntime.create({ executionProvider: "wasm" });
   * const model = await runtime.loadModel(`${dir}/model.onnx`);
   * const x = new Float32Array([1, 3]);
   * const { y } = await model.run({ x: { data: x, dtype: "float32", dims: [2] } });
   * console.log(model.externalData, await y!.getData()); // [ "weights.pb" ] Float32Array(2) [ 2, 4 ]
   * await model.release();
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  async loadModel(path: string, options: OrtModelOptions = {}): Promise<OrtModel> {
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(path);
    } catch (error) {
      throw new Error(`Cannot read ONNX model ${path}: ${(error as Error).message}`);
    }
    const folder = path.includes("/") ? path.slice(0, path.lastIndexOf("/") + 1) : "";
    const wanted = options.externalData ?? externalDataLocations(bytes);
    const externalData = await Promise.all(wanted.map(async (entry) => {
      if (typeof entry !== "string") return entry;
      try {
        return { path: entry, data: await Deno.readFile(folder + entry) };
      } catch (error) {
        throw new Error(
          `Cannot read external data ${entry} of ONNX model ${path}: ${
            (error as Error).message
          }: expected it next to the model`,
        );
      }
    }));
    return await this.createModel(bytes, { ...options, externalData, name: options.name ?? path });
  }

  /**
   * Creates a session from model bytes already in memory (fixtures, downloads).
   *
   * @param model serialized `ModelProto`
   * @param options external data with its bytes, output location, name
   * @returns the session wrapper
   *
   * @example
   * ```ts
   * import { buildOnnxFixture } from "./onnx_fixture.ts";
   * import { OrtRuntime } from "./ort_runtime.ts";
   * const runtime = await OrtRuntime.create({ executionProvider: "wasm" });
   * const { model: bytes } = buildOnnxFixture({
   *   inputs: [{ name: "sample", dtype: "float32", shape: [1, 4, 2, 2] }],
   *   outputs: [{ name: "out_sample", dtype: "float32", shape: [1, 4, 2, 2] }],
   * });
   * const model = await runtime.createModel(bytes, { name: "unet" });
   * console.log(model.inputs[0]); // { name: "sample", dtype: "float32", shape: [ 1, 4, 2, 2 ] }
   * await model.release();
   * ```
   */
  async createModel(model: Uint8Array, options: OrtModelOptions = {}): Promise<OrtModel> {
    const name = options.name ?? "model";
    const onGpu = this.executionProvider === "webgpu" && (options.outputsOnGpu ?? true);
    const externalData = (options.externalData ?? []).map((entry) => {
      if (typeof entry === "string") {
        throw new Error(
          `Invalid option externalData of ${name}: createModel needs { path, data } entries, got the bare path ${entry}`,
        );
      }
      return entry;
    });
    let session: OrtModule.InferenceSession;
    try {
      session = await this.ort.InferenceSession.create(model, {
        executionProviders: [this.executionProvider],
        preferredOutputLocation: onGpu ? "gpu-buffer" : "cpu",
        externalData,
        logSeverityLevel: this.#logSeverity,
      });
    } catch (error) {
      const message = (error as Error).message ?? String(error);
      const hint = this.executionProvider === "webgpu" ? `: ${webGpuHint()}` : "";
      throw new Error(
        `Cannot create ONNX Runtime session for ${name} on ${this.executionProvider}: ${message}${hint}`,
      );
    }
    return new OrtModel(this, session, {
      name,
      outputsOnGpu: onGpu,
      externalData: externalData.map((e) => e.path),
    });
  }
}
