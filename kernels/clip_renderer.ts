/**
 * Differentiable rendering of a clip of frames (one camera and one time per frame) from
 * the field: rays → occupancy-skipping march → finite-difference point set → field →
 * density, albedo, normals and shading → front-to-back compositing, and back again.
 *
 * Frames are rendered one at a time, so GPU memory holds one frame's samples whatever the
 * clip length. The backward pass recomputes a frame's forward pass (same rays, same
 * perturbation) before walking it back, which lets a prior look at the whole clip between
 * the two passes, as score distillation needs.
 *
 * @module
 */
import type { Camera } from "./camera.ts";
import { cameraCentre } from "./camera.ts";
import { Composite } from "./composite.ts";
import type { Field } from "./field.ts";
import { FieldEval } from "./field_eval.ts";
import type { Gpu } from "./gpu.ts";
import { IndirectArgs } from "./indirect_args.ts";
import { RayMarcher } from "./march.ts";
import { NormalPoints } from "./normal_points.ts";
import type { OccupancyGrid } from "./occupancy.ts";
import { RayGenerator } from "./rays.ts";
import { SampleReg } from "./sample_reg.ts";
import { SampleTimes } from "./sample_times.ts";
import { Shade } from "./shade.ts";
import type { ShadingMode } from "./shade_twin.ts";
import { requireFinite, requireInt } from "./validate.ts";

/**
 * Options of {@linkcode ClipRenderer.create}.
 *
 * @example An albedo-only renderer: no normals, no jitter
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { Field } from "./field.ts";
 * import { OccupancyGrid } from "./occupancy.ts";
 * import { ClipRenderer, type ClipRendererOptions } from "./clip_renderer.ts";
 * import { orbitCamera, REFERENCE_POSE } from "./camera.ts";
 * const gpu = await acquireGpu({ log: null });
 * const field = await Field.create(gpu, {
 *   grid: { levels: 2, log2TableSize: 8 },
 *   mlp: { hidden: 8 },
 * });
 * const occupancy = await OccupancyGrid.create(gpu, { res: 8, slices: 1 });
 * const options: ClipRendererOptions = {
 *   width: 8, height: 8, maxFrames: 2, occupancy,
 *   capacity: 4096, dt: 0.05, perturb: false, normals: false,
 * };
 * const renderer = await ClipRenderer.create(gpu, field, options);
 * console.log(renderer.capacity, renderer.normals); // 4096 false
 * const frames = [{ camera: orbitCamera(REFERENCE_POSE, { width: 8, height: 8 }), time: 0 }];
 * try {
 *   renderer.forward(frames, { shading: "lambertian" });
 * } catch (error) {
 *   // Invalid option shading: expected albedo for a renderer built with normals: false, …
 *   console.log((error as Error).message);
 * }
 * renderer.destroy();
 * occupancy.destroy();
 * field.destroy();
 * gpu.destroy();
 * ```
 */
export interface ClipRendererOptions {
  /** Image width W. */
  width: number;
  /** Image height H. */
  height: number;
  /** Most frames per clip (sizes the clip output and gradient buffers). */
  maxFrames: number;
  /** The occupancy grid whose bits the marcher skips with. */
  occupancy: OccupancyGrid;
  /** Sample capacity per frame; defaults to 128 per ray, capped by the binding limit. */
  capacity?: number;
  /** Marching step (SPEC.md: 2√3/1024). */
  dt?: number;
  /** Most samples per ray (1024). */
  maxSteps?: number;
  /** Jitter each ray's start (training renders). Defaults to true. */
  perturb?: boolean;
  /** Seed of the start jitter. */
  seed?: number;
  /** Points per field chunk (see {@linkcode FieldEval}). */
  chunk?: number;
  /**
   * Evaluate the finite-difference normals (default true). False evaluates the field at
   * the samples only, 7 times less work, and then only `albedo` shading is allowed (the
   * normal image is meaningless); fitting to albedo ground truth uses this.
   */
  normals?: boolean;
}

/**
 * One frame of a clip.
 *
 * @example A turntable pair, rendered by the float64 twin
 * ```ts
 * import type { ClipFrame } from "./clip_renderer.ts";
 * import { renderClipTwin } from "./render_twin.ts";
 * import { gridLayout, initGridValues } from "./grid_config.ts";
 * import { initMlpParams } from "./mlp.ts";
 * import { orbitCamera, REFERENCE_POSE } from "./camera.ts";
 * import { seededRandom } from "./random.ts";
 * const size = { width: 2, height: 2 };
 * const frames: ClipFrame[] = [
 *   { camera: orbitCamera(REFERENCE_POSE, size), time: 0 },
 *   { camera: orbitCamera({ ...REFERENCE_POSE, phiDeg: 90 }, size), time: 0.5, light: [0, 1, 0] },
 * ];
 * const layout = gridLayout({ levels: 2, log2TableSize: 8 });
 * const mlp = { input: 4, hidden: 8, output: 4 };
 * const out = renderClipTwin(frames, {
 *   layout,
 *   mlp,
 *   grid: initGridValues(layout, seededRandom(1)),
 *   mlpParams: initMlpParams(mlp, seededRandom(2)),
 *   occupancy: { bits: [0xffffffff], res: 2, slices: 1 },
 *   dt: 0.1,
 * });
 * console.log(out.alpha.length, out.samples.length); // 8 2
 * ```
 */
export interface ClipFrame {
  /** The camera the frame is rendered from. */
  camera: Camera;
  /** Time in [0, 1]. */
  time: number;
  /** Unit light direction; defaults to the direction of the camera centre. */
  light?: readonly [number, number, number];
}

/**
 * Weights of the per-sample regularisers of SPEC.md §5.5 (see `sample_reg_twin.ts`);
 * 0 or absent turns a term off, and then it costs nothing.
 *
 * @example The regularisers alone produce gradients
 * ```ts
 * import type { RenderRegularisers } from "./clip_renderer.ts";
 * import { renderClipTwin } from "./render_twin.ts";
 * import { gridLayout, initGridValues } from "./grid_config.ts";
 * import { initMlpParams } from "./mlp.ts";
 * import { orbitCamera, REFERENCE_POSE } from "./camera.ts";
 * import { seededRandom } from "./random.ts";
 * const layout = gridLayout({ levels: 2, log2TableSize: 8 });
 * const mlp = { input: 4, hidden: 8, output: 4 };
 * const regularisers: RenderRegularisers = { entropy: 1e-3, orientation: 1e-2 };
 * const zeros = (n: number) => new Float64Array(n);
 * const camera = orbitCamera(REFERENCE_POSE, { width: 2, height: 2 });
 * const out = renderClipTwin([{ camera, time: 0 }], {
 *   layout,
 *   mlp,
 *   grid: initGridValues(layout, seededRandom(1)),
 *   mlpParams: initMlpParams(mlp, seededRandom(2)),
 *   occupancy: { bits: [0xffffffff], res: 2, slices: 1 },
 *   dt: 0.1,
 *   shading: "lambertian",
 *   regularisers,
 *   // No image loss at all: every gradient below comes from the two terms.
 *   grads: { image: zeros(12), alpha: zeros(4), depth: zeros(4), normalImage: zeros(12) },
 * });
 * const moved = out.mlpGrads!.some((g) => g !== 0);
 * console.log(out.regLoss!.map((l) => l > 0), moved); // [ true, true ] true
 * ```
 */
export interface RenderRegularisers {
  /** λ_e of the weight entropy (SPEC.md: 1e-3·min(1, 2·step/iters)). */
  entropy?: number;
  /**
   * λ_o of the normal orientation (SPEC.md: 1e-2). Ignored by a renderer built with
   * `normals: false`. The original has no normals, hence no orientation term, in
   * albedo-shaded steps; pass 0 there to match it.
   */
  orientation?: number;
}

/**
 * Per-render settings.
 *
 * @example Lambertian shading is never brighter than albedo
 * ```ts
 * import type { RenderSettings } from "./clip_renderer.ts";
 * import { renderClipTwin } from "./render_twin.ts";
 * import { gridLayout, initGridValues } from "./grid_config.ts";
 * import { initMlpParams } from "./mlp.ts";
 * import { orbitCamera, REFERENCE_POSE } from "./camera.ts";
 * import { seededRandom } from "./random.ts";
 * const layout = gridLayout({ levels: 2, log2TableSize: 8 });
 * const mlp = { input: 4, hidden: 8, output: 4 };
 * const field = {
 *   layout,
 *   mlp,
 *   grid: initGridValues(layout, seededRandom(1)),
 *   mlpParams: initMlpParams(mlp, seededRandom(2)),
 *   occupancy: { bits: [0xffffffff], res: 2, slices: 1 },
 *   dt: 0.1,
 *   perturb: false,
 * };
 * const frames = [{ camera: orbitCamera(REFERENCE_POSE, { width: 2, height: 2 }), time: 0 }];
 * const sum = (settings: RenderSettings) =>
 *   renderClipTwin(frames, { ...field, ...settings }).image.reduce((a, b) => a + b, 0);
 * const flat: RenderSettings = { shading: "albedo", background: [0, 0, 0] };
 * const lit: RenderSettings = { shading: "lambertian", ambient: 0.2, background: [0, 0, 0] };
 * console.log(sum(lit) < sum(flat)); // true
 * ```
 */
export interface RenderSettings {
  /** Global step: keys the start jitter, so forward and backward march identically. */
  step?: number;
  /** Shading mode (default `albedo`). */
  shading?: ShadingMode;
  /** Ambient ratio (default 1). */
  ambient?: number;
  /** Background colour (default white). */
  background?: readonly [number, number, number];
  /** Shared offset added to every ray origin (the reference step's jitter). */
  originOffset?: readonly [number, number, number];
  /** Shared offset added to every ray direction. */
  directionOffset?: readonly [number, number, number];
  /**
   * Per-sample regularisers, applied by {@linkcode ClipRenderer.backward} only (the
   * forward ignores them). Each frame's terms are divided by F·S_f (F frames, S_f samples
   * in frame f): the per-frame mean averaged over frames, where the original takes one
   * mean over all samples of the clip.
   */
  regularisers?: RenderRegularisers;
}

/**
 * Clip-sized buffers, frame-major: frame f's pixels start at f·H·W.
 *
 * @example Two frames side by side in the clip buffers
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { Field } from "./field.ts";
 * import { OccupancyGrid } from "./occupancy.ts";
 * import { type ClipBuffers, ClipRenderer } from "./clip_renderer.ts";
 * import { orbitCamera, REFERENCE_POSE } from "./camera.ts";
 * const gpu = await acquireGpu({ log: null });
 * const field = await Field.create(gpu, {
 *   grid: { levels: 2, log2TableSize: 8 },
 *   mlp: { hidden: 8 },
 * });
 * const occupancy = await OccupancyGrid.create(gpu, { res: 8, slices: 1 });
 * const size = { width: 8, height: 8 };
 * const renderer = await ClipRenderer.create(gpu, field, {
 *   ...size,
 *   maxFrames: 2,
 *   occupancy,
 *   dt: 0.05,
 * });
 * renderer.forward([
 *   { camera: orbitCamera(REFERENCE_POSE, size), time: 0 },
 *   { camera: orbitCamera({ ...REFERENCE_POSE, phiDeg: 90 }, size), time: 0 },
 * ]);
 * const clip: ClipBuffers = renderer.clip;
 * const alpha = new Float32Array(await gpu.read(clip.alpha));
 * const stats = new Uint32Array(await gpu.read(clip.stats));
 * // Frame 1's pixels start at 1·H·W; its marcher counters at 1·4.
 * console.log(alpha.length, stats[0]! > 0, stats[4]! > 0); // 128 true true
 * renderer.destroy();
 * occupancy.destroy();
 * field.destroy();
 * gpu.destroy();
 * ```
 */
export interface ClipBuffers {
  /** `[F][H·W][3]` colour over the background. */
  image: GPUBuffer;
  /** `[F][H·W]` alpha. */
  alpha: GPUBuffer;
  /** `[F][H·W]` depth. */
  depth: GPUBuffer;
  /** `[F][H·W][3]` normal image. */
  normalImage: GPUBuffer;
  /** `[F][4]` u32 marcher counters per frame: emitted, requested, overflow flag, 0. */
  stats: GPUBuffer;
}

/**
 * Gradient inputs of the backward pass, same layout as {@linkcode ClipBuffers}.
 *
 * @example Push every pixel's alpha up
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { Field } from "./field.ts";
 * import { OccupancyGrid } from "./occupancy.ts";
 * import { type ClipGrads, ClipRenderer } from "./clip_renderer.ts";
 * import { orbitCamera, REFERENCE_POSE } from "./camera.ts";
 * const gpu = await acquireGpu({ log: null });
 * const field = await Field.create(gpu, {
 *   grid: { levels: 2, log2TableSize: 8 },
 *   mlp: { hidden: 8 },
 * });
 * const occupancy = await OccupancyGrid.create(gpu, { res: 8, slices: 1 });
 * const size = { width: 8, height: 8 };
 * const renderer = await ClipRenderer.create(gpu, field, {
 *   ...size,
 *   maxFrames: 1,
 *   occupancy,
 *   dt: 0.05,
 * });
 * const frames = [{ camera: orbitCamera(REFERENCE_POSE, size), time: 0 }];
 * renderer.forward(frames);
 * // The caller writes dL/d outputs into these; here dL/dalpha = −1 (a loss of −Σ alpha).
 * const grads: ClipGrads = renderer.grads;
 * gpu.upload(grads.alpha, new Float32Array(64).fill(-1));
 * renderer.backward(frames);
 * const { mlp } = await field.readGrads();
 * console.log(mlp.some((g) => g !== 0)); // true
 * renderer.destroy();
 * occupancy.destroy();
 * field.destroy();
 * gpu.destroy();
 * ```
 */
export interface ClipGrads {
  /** dL/d of the composited RGB image, `[F][H·W][3]`. */
  image: GPUBuffer;
  /** dL/d of the alpha image, `[F][H·W]`. */
  alpha: GPUBuffer;
  /** dL/d of the depth image, `[F][H·W]`. */
  depth: GPUBuffer;
  /** dL/d of the normal image, `[F][H·W][3]`. */
  normalImage: GPUBuffer;
}

interface FrameParts {
  rays: RayGenerator;
  march: RayMarcher;
  sampleTimes: SampleTimes;
  normalPoints: NormalPoints;
  fieldEval: FieldEval;
  /** Dispatch sizes from the marcher's sample count S: per sample, and per FD point (7·S). */
  sampleArgs: IndirectArgs;
  pointArgs: IndirectArgs;
  shade: Shade;
  composite: Composite;
  sampleReg: SampleReg;
  frameTime: GPUBuffer;
  light: GPUBuffer;
  /** One frame's outputs and gradient inputs. */
  frame: ClipBuffers & { grads: ClipGrads; weights: GPUBuffer };
  owned: GPUBuffer[];
}

/**
 * A renderer bound to one field, image size and occupancy grid. Built once; `forward`
 * and `backward` only write small uniforms and submit, never allocate or read back.
 *
 * @example Render one 16×16 frame of a fresh field
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { Field } from "./field.ts";
 * import { OccupancyGrid } from "./occupancy.ts";
 * import { ClipRenderer } from "./clip_renderer.ts";
 * import { orbitCamera, REFERENCE_POSE } from "./camera.ts";
 * const gpu = await acquireGpu({ log: null });
 * const field = await Field.create(gpu, { grid: { levels: 4, log2TableSize: 12 } });
 * const occupancy = await OccupancyGrid.create(gpu, { res: 16, slices: 1 });
 * const renderer = await ClipRenderer.create(gpu, field, {
 *   width: 16, height: 16, maxFrames: 1, occupancy, dt: 0.05,
 * });
 * renderer.forward([{ camera: orbitCamera(REFERENCE_POSE, { width: 16, height: 16 }), time: 0 }]);
 * const alpha = new Float32Array(await gpu.read(renderer.clip.alpha));
 * console.log(alpha.length); // 256
 * gpu.destroy();
 * ```
 */
export class ClipRenderer {
  /** Image width. */
  readonly width: number;
  /** Image height. */
  readonly height: number;
  /** Most frames per clip. */
  readonly maxFrames: number;
  /** Sample capacity per frame. */
  readonly capacity: number;
  /** Clip outputs. */
  readonly clip: ClipBuffers;
  /** Clip gradient inputs for {@linkcode ClipRenderer.backward}; the caller fills them. */
  readonly grads: ClipGrads;
  /** Whether normals are evaluated (see {@linkcode ClipRendererOptions.normals}). */
  readonly normals: boolean;
  readonly #gpu: Gpu;
  readonly #p: FrameParts;
  /** Key of the frame whose forward samples sit in the per-frame buffers, if any. */
  #resident: string | null = null;

  private constructor(
    gpu: Gpu,
    init: {
      width: number;
      height: number;
      maxFrames: number;
      capacity: number;
      clip: ClipBuffers;
      grads: ClipGrads;
      parts: FrameParts;
      normals: boolean;
    },
  ) {
    this.normals = init.normals;
    this.#gpu = gpu;
    this.width = init.width;
    this.height = init.height;
    this.maxFrames = init.maxFrames;
    this.capacity = init.capacity;
    this.clip = init.clip;
    this.grads = init.grads;
    this.#p = init.parts;
  }

  /** Compiles every kernel and allocates every buffer the renderer will use. */
  static async create(
    gpu: Gpu,
    field: Field,
    options: ClipRendererOptions,
  ): Promise<ClipRenderer> {
    const width = requireInt("width", options.width, { min: 1, max: 8192 });
    const height = requireInt("height", options.height, { min: 1, max: 8192 });
    const maxFrames = requireInt("maxFrames", options.maxFrames, { min: 1, max: 4096 });
    const rays = width * height;
    // The largest per-sample buffer is the [7][S][4] raw output: 112 bytes a sample.
    const byBinding = Math.floor(gpu.limits.maxStorageBufferBindingSize / 112);
    const capacity = options.capacity === undefined
      ? Math.min(rays * 128, byBinding)
      : requireInt("capacity", options.capacity, { min: 1, max: byBinding });
    const occ = options.occupancy;
    const owned: GPUBuffer[] = [];
    const buf = (bytes: number, label: string) => {
      const b = gpu.createBuffer(bytes, { label });
      owned.push(b);
      return b;
    };
    const rayGen = await RayGenerator.create(gpu, { width, height, maxFrames: 1 });
    const march = await RayMarcher.create(gpu, {
      rays,
      raysPerFrame: rays,
      capacity,
      origins: rayGen.origins,
      directions: rayGen.directions,
      occupancy: { bits: occ.bits, res: occ.res, slices: occ.slices },
      ...(options.dt === undefined ? {} : { dt: options.dt }),
      ...(options.maxSteps === undefined ? {} : { maxSteps: options.maxSteps }),
      perturb: options.perturb ?? true,
      seed: options.seed ?? 0,
    });
    const frameTime = buf(4, "frame time");
    const light = buf(12, "frame light");
    const sampleTimeBuf = buf(capacity * 4, "sample times");
    const sampleTimes = await SampleTimes.create(gpu, {
      count: march.count,
      rayIndex: march.rayIndex,
      frameTimes: frameTime,
      times: sampleTimeBuf,
      raysPerFrame: rays,
      frames: 1,
      maxSamples: capacity,
    });
    const fdPoints = buf(capacity * 7 * 12, "fd points");
    const fdTimes = buf(capacity * 7 * 4, "fd times");
    const fdCount = buf(4, "fd count");
    // Per-sample work is dispatched for the samples the marcher emitted, not the capacity.
    const sampleArgs = await IndirectArgs.create(gpu, march.count, { workgroupSize: 64 });
    const pointArgs = await IndirectArgs.create(gpu, march.count, {
      workgroupSize: 64,
      multiplier: 7,
    });
    const normalPoints = await NormalPoints.create(gpu, {
      count: march.count,
      positions: march.positions,
      points: fdPoints,
      outCount: fdCount,
      times: sampleTimeBuf,
      pointTimes: fdTimes,
      blocks: (options.normals ?? true) ? 7 : 1,
    });
    const raw = buf(capacity * 7 * 16, "raw");
    const dRaw = buf(capacity * 7 * 16, "raw grads");
    const fieldEval = await FieldEval.create(gpu, field, {
      points: fdPoints,
      times: fdTimes,
      count: pointArgs.scaled,
      raw,
      dRaw,
      maxPoints: capacity * 7,
      ...(options.chunk === undefined ? {} : { chunk: options.chunk }),
    });
    const sigma = buf(capacity * 4, "sigma");
    const colour = buf(capacity * 12, "colour");
    const normal = buf(capacity * 12, "normal");
    const gSigma = buf(capacity * 4, "sigma grads");
    const gColour = buf(capacity * 12, "colour grads");
    const gNormal = buf(capacity * 12, "normal grads");
    const shade = await Shade.create(gpu, {
      count: march.count,
      raw,
      positions: march.positions,
      rayIndex: march.rayIndex,
      lights: light,
      sigma,
      colour,
      normal,
      gradSigma: gSigma,
      gradColour: gColour,
      gradNormal: gNormal,
      gradRaw: dRaw,
    }, { raysPerFrame: rays, frames: 1 });
    const frame = {
      image: buf(rays * 12, "frame image"),
      alpha: buf(rays * 4, "frame alpha"),
      depth: buf(rays * 4, "frame depth"),
      normalImage: buf(rays * 12, "frame normal image"),
      stats: march.count,
      weights: buf(capacity * 4, "weights"),
      grads: {
        image: buf(rays * 12, "frame image grads"),
        alpha: buf(rays * 4, "frame alpha grads"),
        depth: buf(rays * 4, "frame depth grads"),
        normalImage: buf(rays * 12, "frame normal image grads"),
      },
    };
    const gWeights = buf(capacity * 4, "weight grads");
    const composite = await Composite.create(gpu, {
      rayInfo: march.rayRanges,
      ts: march.ts,
      sigma,
      colour,
      normal,
      image: frame.image,
      alpha: frame.alpha,
      depth: frame.depth,
      normalImage: frame.normalImage,
      weights: frame.weights,
      gradImage: frame.grads.image,
      gradAlpha: frame.grads.alpha,
      gradDepth: frame.grads.depth,
      gradNormalImage: frame.grads.normalImage,
      gradWeights: gWeights,
      gradSigma: gSigma,
      gradColour: gColour,
      gradNormal: gNormal,
    }, { rays });
    composite.useGradWeights(false);
    const sampleReg = await SampleReg.create(gpu, {
      count: march.count,
      weights: frame.weights,
      normals: normal,
      rayIndex: march.rayIndex,
      directions: rayGen.directions,
      gradWeights: gWeights,
      gradNormal: gNormal,
    }, { maxSamples: capacity });
    const clip: ClipBuffers = {
      image: buf(maxFrames * rays * 12, "clip image"),
      alpha: buf(maxFrames * rays * 4, "clip alpha"),
      depth: buf(maxFrames * rays * 4, "clip depth"),
      normalImage: buf(maxFrames * rays * 12, "clip normal image"),
      stats: buf(maxFrames * 16, "clip march stats"),
    };
    const grads: ClipGrads = {
      image: buf(maxFrames * rays * 12, "clip image grads"),
      alpha: buf(maxFrames * rays * 4, "clip alpha grads"),
      depth: buf(maxFrames * rays * 4, "clip depth grads"),
      normalImage: buf(maxFrames * rays * 12, "clip normal image grads"),
    };
    return new ClipRenderer(gpu, {
      width,
      height,
      maxFrames,
      capacity,
      clip,
      grads,
      normals: options.normals ?? true,
      parts: {
        rays: rayGen,
        march,
        sampleTimes,
        normalPoints,
        fieldEval,
        sampleArgs,
        pointArgs,
        shade,
        composite,
        sampleReg,
        frameTime,
        light,
        frame,
        owned,
      },
    });
  }

  /**
   * Two f32 on the GPU: the unweighted entropy and orientation losses of the last
   * {@linkcode ClipRenderer.backward} (zero for a term that was off), summed over its
   * frames. Copy or read it after the backward; the renderer never reads it back.
   */
  get regLoss(): GPUBuffer {
    return this.#p.sampleReg.loss;
  }

  /** The field evaluator, e.g. to set the coarse-to-fine level mask. */
  get fieldEval(): FieldEval {
    return this.#p.fieldEval;
  }

  /**
   * Renders `frames` into {@linkcode ClipRenderer.clip}. Returns once the work is
   * submitted; read the outputs (or chain more GPU work) afterwards.
   */
  forward(frames: readonly ClipFrame[], settings: RenderSettings = {}): void {
    this.#apply(frames, settings);
    frames.forEach((frame, f) => {
      this.#setFrame(frame, settings);
      this.#gpu.submit((encoder) => {
        const pass = encoder.beginComputePass({ label: "render forward" });
        this.#encodeForward(pass);
        pass.end();
        this.#copyOut(encoder, f);
      });
    });
    this.#resident = frameKey(frames[frames.length - 1]!, settings);
  }

  /**
   * Adds dL/dθ into the field's gradient buffers, from the gradients the caller wrote into
   * {@linkcode ClipRenderer.grads}. Each frame's forward pass is recomputed first, except
   * the last frame of the matching forward, whose samples are still in place; so `frames`
   * and `settings` must be those of the matching {@linkcode ClipRenderer.forward}, and the
   * field, its occupancy and its level mask must not change in between.
   * `settings.regularisers` adds the entropy and orientation terms (see
   * {@linkcode RenderSettings.regularisers}) and their losses to
   * {@linkcode ClipRenderer.regLoss}.
   */
  backward(frames: readonly ClipFrame[], settings: RenderSettings = {}): void {
    this.#apply(frames, settings);
    const p = this.#p;
    const rays = this.width * this.height;
    const reg = p.sampleReg;
    reg.set({
      entropy: settings.regularisers?.entropy ?? 0,
      orientation: this.normals ? (settings.regularisers?.orientation ?? 0) : 0,
      frames: frames.length,
    });
    p.composite.useGradWeights(reg.entropyOn);
    const anyReg = reg.entropyOn || reg.orientationOn;
    // The last frame of the matching forward still has its samples in the per-frame
    // buffers, so it goes first and skips the recompute: a one-frame step (the fit, the
    // reference view) then runs the forward once instead of twice.
    let resident = this.#resident === frameKey(frames[frames.length - 1]!, settings);
    this.#resident = null;
    for (let f = frames.length - 1; f >= 0; f--) {
      const frame = frames[f]!;
      const first = f === frames.length - 1;
      const recompute = !resident;
      resident = false;
      this.#setFrame(frame, settings);
      this.#gpu.submit((encoder) => {
        if (first) reg.clearLoss(encoder);
        const g = this.grads;
        const fg = p.frame.grads;
        encoder.copyBufferToBuffer(g.image, f * rays * 12, fg.image, 0, rays * 12);
        encoder.copyBufferToBuffer(g.alpha, f * rays * 4, fg.alpha, 0, rays * 4);
        encoder.copyBufferToBuffer(g.depth, f * rays * 4, fg.depth, 0, rays * 4);
        encoder.copyBufferToBuffer(g.normalImage, f * rays * 12, fg.normalImage, 0, rays * 12);
        const pass = encoder.beginComputePass({ label: "render backward" });
        if (recompute) this.#encodeForward(pass);
        if (anyReg) {
          reg.encodeMainIndirect(pass, p.sampleArgs.args);
          reg.encodeReduce(pass);
        }
        p.composite.encodeBackward(pass);
        // Composite writes dL/dnormal; orientation adds to it before shade consumes it.
        if (reg.orientationOn) reg.encodeNormalsIndirect(pass, p.sampleArgs.args);
        p.shade.encodeBackwardIndirect(pass, p.sampleArgs.args);
        p.fieldEval.encodeBackward(pass);
        pass.end();
      });
    }
  }

  #apply(frames: readonly ClipFrame[], settings: RenderSettings): void {
    requireInt("frames.length", frames.length, { min: 1, max: this.maxFrames });
    const p = this.#p;
    const mode = settings.shading ?? "albedo";
    if (!this.normals && mode !== "albedo") {
      throw new RangeError(
        `Invalid option shading: expected albedo for a renderer built with normals: false, got ${mode}`,
      );
    }
    p.shade.setShading({
      mode,
      ambient: requireFinite("ambient", settings.ambient ?? 1, { min: 0, max: 1 }),
    });
    p.composite.setBackground(settings.background ?? [1, 1, 1]);
  }

  #setFrame(frame: ClipFrame, settings: RenderSettings): void {
    const p = this.#p;
    const time = requireFinite("time", frame.time, { min: 0, max: 1 });
    p.rays.setCameras([frame.camera], {
      ...(settings.originOffset === undefined ? {} : { originOffset: settings.originOffset }),
      ...(settings.directionOffset === undefined
        ? {}
        : { directionOffset: settings.directionOffset }),
    });
    p.march.setFrames({ times: [time], step: settings.step ?? 0 });
    this.#gpu.upload(p.frameTime, new Float32Array([time]));
    const l = frame.light ?? normalize(cameraCentre(frame.camera));
    this.#gpu.upload(p.light, new Float32Array([l[0], l[1], l[2]]));
  }

  #encodeForward(pass: GPUComputePassEncoder): void {
    const p = this.#p;
    p.rays.encode(pass);
    p.march.encode(pass);
    p.sampleArgs.encode(pass);
    p.pointArgs.encode(pass);
    p.sampleTimes.encode(pass);
    p.normalPoints.encodeIndirect(pass, p.pointArgs.args);
    p.fieldEval.encodeForward(pass);
    p.shade.encodeForwardIndirect(pass, p.sampleArgs.args);
    p.composite.encodeForward(pass);
  }

  #copyOut(encoder: GPUCommandEncoder, f: number): void {
    const rays = this.width * this.height;
    const fr = this.#p.frame;
    const c = this.clip;
    encoder.copyBufferToBuffer(fr.image, 0, c.image, f * rays * 12, rays * 12);
    encoder.copyBufferToBuffer(fr.alpha, 0, c.alpha, f * rays * 4, rays * 4);
    encoder.copyBufferToBuffer(fr.depth, 0, c.depth, f * rays * 4, rays * 4);
    encoder.copyBufferToBuffer(fr.normalImage, 0, c.normalImage, f * rays * 12, rays * 12);
    encoder.copyBufferToBuffer(fr.stats, 0, c.stats, f * 16, 16);
  }

  /** Frees everything the renderer allocated (not the field or the occupancy grid). */
  destroy(): void {
    const p = this.#p;
    p.rays.destroy();
    p.march.destroy();
    p.normalPoints.destroy();
    p.fieldEval.destroy();
    p.sampleArgs.destroy();
    p.pointArgs.destroy();
    p.shade.destroy();
    p.composite.destroy();
    p.sampleReg.destroy();
    for (const b of p.owned) b.destroy();
  }
}

function normalize(v: ArrayLike<number>): [number, number, number] {
  const n = Math.hypot(v[0]!, v[1]!, v[2]!) || 1;
  return [v[0]! / n, v[1]! / n, v[2]! / n];
}

/** Everything a frame's forward depends on besides the field, as a comparable string. */
function frameKey(frame: ClipFrame, settings: RenderSettings): string {
  const { regularisers: _, ...forward } = settings;
  return JSON.stringify([frame, forward]);
}
