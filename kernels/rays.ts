/**
 * WebGPU wrapper of `rays.wgsl`: rays for F frames of H×W pixels, each frame with its
 * own camera (SPEC.md §3.1). Twin: `rays_twin.ts`.
 *
 * @module
 */
import type { Camera } from "./camera.ts";
import type { Gpu } from "./gpu.ts";
import type { RayOffsetOptions } from "./rays_twin.ts";
import { requireFinite, requireInt } from "./validate.ts";

const WG = 64;
const CAMERA_FLOATS = 16;

/** Options for {@linkcode RayGenerator.create}. */
export interface RayGeneratorOptions {
  /** Image width W. */
  width: number;
  /** Image height H. */
  height: number;
  /** Most frames one call renders (16 for clips, 1 for single views). */
  maxFrames: number;
}

/** Packs cameras as the kernel reads them: per frame 3 rows of c2w, then (focal, cx, cy, 0). */
function packCameras(cameras: readonly Camera[], out: Float32Array): void {
  cameras.forEach((cam, f) => {
    out.set(cam.c2w.subarray(0, 12), f * CAMERA_FLOATS);
    out[f * CAMERA_FLOATS + 12] = cam.focal;
    out[f * CAMERA_FLOATS + 13] = cam.cx;
    out[f * CAMERA_FLOATS + 14] = cam.cy;
    out[f * CAMERA_FLOATS + 15] = 0;
  });
}

function offset(field: string, v: readonly number[] | undefined): [number, number, number] {
  const o = v ?? [0, 0, 0];
  if (o.length !== 3) throw new RangeError(`Invalid option ${field}: expected 3 numbers`);
  return [0, 1, 2].map((a) => requireFinite(`${field}[${a}]`, o[a])) as [number, number, number];
}

/**
 * Ray generation built once: pipeline, buffers and bind group. `setCameras` uploads the
 * frame cameras for the next submission; `encode` only records the dispatch.
 *
 * Outputs `origins` and `directions` hold `[maxFrames·H·W][3]` floats; ray r of frame f is
 * r = f·H·W + j·W + i.
 *
 * @example Rays of the reference view at 8×8
 * ```ts
 * import { orbitCamera, REFERENCE_POSE } from "./camera.ts";
 * import { acquireGpu } from "./gpu.ts";
 * import { RayGenerator } from "./rays.ts";
 * const gpu = await acquireGpu({ log: null });
 * const gen = await RayGenerator.create(gpu, { width: 8, height: 8, maxFrames: 1 });
 * gen.setCameras([orbitCamera(REFERENCE_POSE, { width: 8, height: 8 })]);
 * gpu.submit((e) => { const p = e.beginComputePass(); gen.encode(p); p.end(); });
 * console.log(new Float32Array(await gpu.read(gen.origins))[2]); // 1.8 (float32)
 * gpu.destroy();
 * ```
 */
export class RayGenerator {
  /** Ray origins `[maxFrames·H·W][3]`. */
  readonly origins: GPUBuffer;
  /** Unnormalised ray directions `[maxFrames·H·W][3]`. */
  readonly directions: GPUBuffer;
  /** Image width W. */
  readonly width: number;
  /** Image height H. */
  readonly height: number;
  /** Capacity in frames. */
  readonly maxFrames: number;
  readonly #gpu: Gpu;
  readonly #pipeline: GPUComputePipeline;
  readonly #group: GPUBindGroup;
  readonly #params: GPUBuffer;
  readonly #cameras: GPUBuffer;
  readonly #paramData = new ArrayBuffer(48);
  readonly #cameraData: Float32Array<ArrayBuffer>;
  #frames = 0;

  private constructor(gpu: Gpu, pipeline: GPUComputePipeline, options: RayGeneratorOptions) {
    this.#gpu = gpu;
    this.#pipeline = pipeline;
    this.width = options.width;
    this.height = options.height;
    this.maxFrames = options.maxFrames;
    const rays = options.maxFrames * options.width * options.height;
    this.origins = gpu.createBuffer(12 * rays, { label: "ray origins" });
    this.directions = gpu.createBuffer(12 * rays, { label: "ray directions" });
    this.#params = gpu.createUniform(48, "rays params");
    this.#cameraData = new Float32Array(CAMERA_FLOATS * options.maxFrames);
    this.#cameras = gpu.createBuffer(this.#cameraData.byteLength, { label: "ray cameras" });
    this.#group = gpu.bindGroup(pipeline, [
      this.#params,
      this.#cameras,
      this.origins,
      this.directions,
    ]);
  }

  /**
   * Compiles the kernel and allocates the outputs for `maxFrames` frames of W×H.
   *
   * @param gpu the device
   * @param options image size and frame capacity
   * @returns the generator
   */
  static async create(gpu: Gpu, options: RayGeneratorOptions): Promise<RayGenerator> {
    requireInt("width", options.width, { min: 1 });
    requireInt("height", options.height, { min: 1 });
    requireInt("maxFrames", options.maxFrames, { min: 1 });
    const pipeline = await gpu.pipeline("rays");
    return new RayGenerator(gpu, pipeline, options);
  }

  /** Rays the next `encode` writes: frames·H·W. */
  get rayCount(): number {
    return this.#frames * this.width * this.height;
  }

  /**
   * Uploads the cameras (one per frame) and shared offsets used by the next submission.
   *
   * @param cameras 1..maxFrames cameras of size W×H
   * @param options shared origin and direction offsets (default zero)
   */
  setCameras(cameras: readonly Camera[], options: RayOffsetOptions = {}): void {
    requireInt("cameras.length", cameras.length, { min: 1, max: this.maxFrames });
    for (const cam of cameras) {
      if (cam.width !== this.width || cam.height !== this.height) {
        throw new RangeError(
          `Invalid option cameras: expected ${this.width}x${this.height}, got ${cam.width}x${cam.height}`,
        );
      }
    }
    const oo = offset("originOffset", options.originOffset);
    const od = offset("directionOffset", options.directionOffset);
    packCameras(cameras, this.#cameraData);
    this.#frames = cameras.length;
    const u = new Uint32Array(this.#paramData);
    const f = new Float32Array(this.#paramData);
    u[0] = this.width;
    u[1] = this.height;
    u[2] = cameras.length;
    f.set(oo, 4);
    f.set(od, 8);
    this.#gpu.upload(this.#params, f);
    this.#gpu.upload(
      this.#cameras,
      this.#cameraData.subarray(0, CAMERA_FLOATS * cameras.length),
    );
  }

  /**
   * Records the ray-generation dispatch into `pass`.
   *
   * @param pass an open compute pass
   */
  encode(pass: GPUComputePassEncoder): void {
    if (this.#frames === 0) throw new Error("Cannot encode rays: call setCameras first");
    this.#gpu.dispatch(pass, this.#pipeline, this.#group, this.rayCount, WG);
  }

  /** Frees the buffers. */
  destroy(): void {
    for (const b of [this.origins, this.directions, this.#params, this.#cameras]) b.destroy();
  }
}

/**
 * One-shot helper for tests and benchmarks: generates the rays and reads them back.
 * Training code uses {@linkcode RayGenerator} instead.
 *
 * @param gpu the device
 * @param cameras one camera per frame, all of the same size
 * @param options shared offsets
 * @returns origins and directions as float32 `[F·H·W][3]`
 *
 * @example
 * ```ts
 * import { orbitCamera, REFERENCE_POSE } from "./camera.ts";
 * import { acquireGpu } from "./gpu.ts";
 * import { generateRays } from "./rays.ts";
 * const gpu = await acquireGpu({ log: null });
 * const cam = orbitCamera(REFERENCE_POSE, { width: 4, height: 4 });
 * const { directions } = await generateRays(gpu, [cam]);
 * console.log(directions.length); // 48
 * gpu.destroy();
 * ```
 */
export async function generateRays(
  gpu: Gpu,
  cameras: readonly Camera[],
  options: RayOffsetOptions = {},
): Promise<{ origins: Float32Array; directions: Float32Array }> {
  const first = cameras[0];
  if (first === undefined) throw new RangeError("Invalid option cameras: expected at least one");
  const gen = await RayGenerator.create(gpu, {
    width: first.width,
    height: first.height,
    maxFrames: cameras.length,
  });
  gen.setCameras(cameras, options);
  gpu.submit((e) => {
    const p = e.beginComputePass();
    gen.encode(p);
    p.end();
  });
  const origins = new Float32Array(await gpu.read(gen.origins));
  const directions = new Float32Array(await gpu.read(gen.directions));
  gen.destroy();
  return { origins, directions };
}
