/**
 * Float64 twin of {@linkcode ClipRenderer}: the same chain composed from the kernels'
 * twins, forward and backward, frame by frame.
 *
 * @module
 */
import { cameraCentre } from "./camera.ts";
import type { ClipFrame, RenderSettings } from "./clip_renderer.ts";
import { compositeBackwardTwin, compositeTwin } from "./composite_twin.ts";
import type { GridLayout } from "./grid_config.ts";
import { gridEncodeBackwardTwin, gridEncodeTwin } from "./grid_encode_twin.ts";
import { marchRaysTwin, sliceOfTime } from "./march_twin.ts";
import type { MlpConfig } from "./mlp.ts";
import { mlpBackwardTwin, mlpForwardTwin } from "./mlp_twin.ts";
import { normalPointsTwin } from "./normal_points_twin.ts";
import { generateRaysTwin } from "./rays_twin.ts";
import { sampleRegTwin } from "./sample_reg_twin.ts";
import { shadeBackwardTwin, shadeTwin } from "./shade_twin.ts";

/**
 * Field parameters and render options of {@linkcode renderClipTwin}.
 *
 * @example A deterministic render on black
 * ```ts
 * import { renderClipTwin, type RenderTwinOptions } from "./render_twin.ts";
 * import { gridLayout, initGridValues } from "./grid_config.ts";
 * import { initMlpParams } from "./mlp.ts";
 * import { orbitCamera, REFERENCE_POSE } from "./camera.ts";
 * import { seededRandom } from "./random.ts";
 * const layout = gridLayout({ levels: 2, log2TableSize: 8 });
 * const mlp = { input: 4, hidden: 8, output: 4 };
 * const options: RenderTwinOptions = {
 *   layout,
 *   mlp,
 *   grid: initGridValues(layout, seededRandom(1)),
 *   mlpParams: initMlpParams(mlp, seededRandom(2)),
 *   occupancy: { bits: [0xffffffff], res: 2, slices: 1 },
 *   dt: 0.1,
 *   perturb: false,
 *   background: [0, 0, 0],
 * };
 * const camera = orbitCamera(REFERENCE_POSE, { width: 4, height: 4 });
 * const out = renderClipTwin([{ camera, time: 0 }], options);
 * // Over black, no channel can exceed the pixel's alpha (albedo ≤ 1).
 * const bounded = out.image.every((v, i) => v <= out.alpha[Math.floor(i / 3)]! + 1e-12);
 * console.log(out.samples, bounded); // [ 320 ] true
 * ```
 */
export interface RenderTwinOptions extends RenderSettings {
  /** Layout of the hash grid. */
  layout: GridLayout;
  /** Widths of the MLP. */
  mlp: MlpConfig;
  /** Grid values per keyframe. */
  grid: ArrayLike<number>[];
  /** MLP parameters. */
  mlpParams: ArrayLike<number>;
  /** Occupancy bitfield and its shape. */
  occupancy: { bits: ArrayLike<number>; res: number; slices: number };
  /** Marching step (the renderer's default when left out). */
  dt?: number;
  /** Most samples per ray (the renderer's default when left out). */
  maxSteps?: number;
  /** Jitter each ray's first sample (default true), as the GPU marcher does. */
  perturb?: boolean;
  /** Seed of the jitter (default 0). */
  seed?: number;
  /** Levels kept by the coarse-to-fine mask. */
  activeLevels?: number;
  /** dL/d outputs, frame-major like the clip buffers; when given, gradients are returned. */
  grads?: {
    image: ArrayLike<number>;
    alpha: ArrayLike<number>;
    depth: ArrayLike<number>;
    normalImage: ArrayLike<number>;
  };
}

/**
 * Outputs of {@linkcode renderClipTwin}.
 *
 * @example Gradients of the summed alpha
 * ```ts
 * import { renderClipTwin, type RenderTwinResult } from "./render_twin.ts";
 * import { gridLayout, initGridValues } from "./grid_config.ts";
 * import { initMlpParams } from "./mlp.ts";
 * import { orbitCamera, REFERENCE_POSE } from "./camera.ts";
 * import { seededRandom } from "./random.ts";
 * const layout = gridLayout({ levels: 2, log2TableSize: 8 });
 * const mlp = { input: 4, hidden: 8, output: 4 };
 * const camera = orbitCamera(REFERENCE_POSE, { width: 2, height: 2 });
 * const result: RenderTwinResult = renderClipTwin([{ camera, time: 0 }], {
 *   layout,
 *   mlp,
 *   grid: initGridValues(layout, seededRandom(1)),
 *   mlpParams: initMlpParams(mlp, seededRandom(2)),
 *   occupancy: { bits: [0xffffffff], res: 2, slices: 1 },
 *   dt: 0.1,
 *   grads: {
 *     image: new Float64Array(12),
 *     alpha: [1, 1, 1, 1],
 *     depth: new Float64Array(4),
 *     normalImage: new Float64Array(12),
 *   },
 * });
 * console.log(result.alpha.length, result.mlpGrads?.length, result.gridGrads?.length); // 4 76 1
 * console.log(result.mlpGrads!.some((g) => g !== 0)); // true
 * console.log(result.regLoss); // [ 0, 0 ]: no regularisers were asked for
 * ```
 */
export interface RenderTwinResult {
  /** Composited RGB, `[F][H·W][3]`. */
  image: Float64Array;
  /** Accumulated opacity, `[F][H·W]`. */
  alpha: Float64Array;
  /** Expected depth, `[F][H·W]`. */
  depth: Float64Array;
  /** Composited normals, `[F][H·W][3]`. */
  normalImage: Float64Array;
  /** Samples per frame. */
  samples: number[];
  /** dL/dgrid per keyframe and dL/dMLP, when `grads` was given. */
  gridGrads?: Float64Array[];
  /** dL/dMLP parameters, when `grads` was given. */
  mlpGrads?: Float64Array;
  /**
   * Unweighted [entropy, orientation] losses summed over frames, when `grads` was given
   * (what `ClipRenderer.regLoss` holds after the backward).
   */
  regLoss?: [number, number];
}

/**
 * Renders `frames` (and back-propagates `options.grads`) in float64.
 *
 * @example
 * ```ts
 * import { renderClipTwin } from "./render_twin.ts";
 * import { gridLayout, initGridValues } from "./grid_config.ts";
 * import { initMlpParams } from "./mlp.ts";
 * import { orbitCamera, REFERENCE_POSE } from "./camera.ts";
 * import { seededRandom } from "./random.ts";
 * const layout = gridLayout({ levels: 2, log2TableSize: 8 });
 * const mlp = { input: 4, hidden: 8, output: 4 };
 * const out = renderClipTwin([{ camera: orbitCamera(REFERENCE_POSE, { width: 4, height: 4 }), time: 0 }], {
 *   layout, mlp, grid: initGridValues(layout, seededRandom(1)), mlpParams: initMlpParams(mlp, seededRandom(2)),
 *   occupancy: { bits: [0xffffffff], res: 2, slices: 1 }, dt: 0.1,
 * });
 * console.log(out.alpha.length); // 16
 * ```
 */
export function renderClipTwin(
  frames: readonly ClipFrame[],
  options: RenderTwinOptions,
): RenderTwinResult {
  const cam0 = frames[0]!.camera;
  const rays = cam0.width * cam0.height;
  const F = frames.length;
  const image = new Float64Array(F * rays * 3);
  const alpha = new Float64Array(F * rays);
  const depth = new Float64Array(F * rays);
  const normalImage = new Float64Array(F * rays * 3);
  const samples: number[] = [];
  const layout = options.layout;
  const K = layout.config.keyframes;
  const gridGrads = options.grads === undefined
    ? undefined
    : Array.from({ length: K }, () => new Float64Array(layout.keyframeStride));
  const mlpGrads = options.grads === undefined
    ? undefined
    : new Float64Array(options.mlpParams.length);
  const background = options.background ?? [1, 1, 1];
  const entropy = options.regularisers?.entropy ?? 0;
  const orientation = options.regularisers?.orientation ?? 0;
  const regLoss: [number, number] = [0, 0];
  frames.forEach((frame, f) => {
    const r = generateRaysTwin([frame.camera], {
      ...(options.originOffset === undefined ? {} : { originOffset: options.originOffset }),
      ...(options.directionOffset === undefined
        ? {}
        : { directionOffset: options.directionOffset }),
    });
    const packed = marchRaysTwin(r.origins, {
      directions: r.directions,
      bits: options.occupancy.bits,
      res: options.occupancy.res,
      slices: options.occupancy.slices,
      raysPerFrame: rays,
      frameSlices: [sliceOfTime(frame.time, options.occupancy.slices)],
      ...(options.dt === undefined ? {} : { dt: options.dt }),
      ...(options.maxSteps === undefined ? {} : { maxSteps: options.maxSteps }),
      perturb: options.perturb ?? true,
      seed: options.seed ?? 0,
      step: options.step ?? 0,
    });
    samples.push(packed.total);
    const times = new Float64Array(packed.total).fill(frame.time);
    const fd = normalPointsTwin(packed.positions, { times });
    const encodeOptions = {
      points: fd.points,
      times: fd.times!,
      ...(options.activeLevels === undefined ? {} : { activeLevels: options.activeLevels }),
    };
    const features = gridEncodeTwin(layout, { params: options.grid, ...encodeOptions });
    const raw = mlpForwardTwin(options.mlp, { params: options.mlpParams, features });
    const c = cameraCentre(frame.camera);
    const n = Math.hypot(c[0]!, c[1]!, c[2]!) || 1;
    const light = frame.light ?? [c[0]! / n, c[1]! / n, c[2]! / n];
    const shadeInputs = {
      raw,
      positions: packed.positions,
      rayIndex: packed.rayIndex,
      lights: light,
      raysPerFrame: rays,
      mode: options.shading ?? "albedo",
      ambient: options.ambient ?? 1,
    };
    const shaded = shadeTwin(shadeInputs);
    const compInputs = {
      rayInfo: packed.rays,
      ts: packed.ts,
      sigma: shaded.sigma,
      colour: shaded.colour,
      normal: shaded.normal,
      background,
    };
    const out = compositeTwin(compInputs);
    image.set(out.image, f * rays * 3);
    alpha.set(out.alpha, f * rays);
    depth.set(out.depth, f * rays);
    normalImage.set(out.normalImage, f * rays * 3);
    if (options.grads === undefined) return;
    const g = options.grads;
    const slice = (a: ArrayLike<number>, w: number) =>
      Array.prototype.slice.call(a, f * rays * w, (f + 1) * rays * w) as number[];
    const reg = sampleRegTwin({
      weights: out.weights,
      normals: shaded.normal,
      rayIndex: packed.rayIndex,
      directions: r.directions,
    }, { entropy, orientation, frames: F });
    regLoss[0] += reg.entropy;
    regLoss[1] += reg.orientation;
    const cg = compositeBackwardTwin(compInputs, {
      image: slice(g.image, 3),
      alpha: slice(g.alpha, 1),
      depth: slice(g.depth, 1),
      normalImage: slice(g.normalImage, 3),
      ...(entropy === 0 ? {} : { weights: reg.gradWeights }),
    });
    for (let i = 0; i < cg.normal.length; i++) cg.normal[i]! += reg.gradNormals[i]!;
    const dRaw = shadeBackwardTwin(shadeInputs, cg);
    const mb = mlpBackwardTwin(options.mlp, { params: options.mlpParams, features, dRaw });
    for (let i = 0; i < mb.dParams.length; i++) mlpGrads![i]! += mb.dParams[i]!;
    const gg = gridEncodeBackwardTwin(layout, { featureGrads: mb.dFeatures, ...encodeOptions });
    gg.forEach((k, ki) => {
      const acc = gridGrads![ki]!;
      for (let i = 0; i < k.length; i++) acc[i]! += k[i]!;
    });
  });
  return {
    image,
    alpha,
    depth,
    normalImage,
    samples,
    ...(gridGrads === undefined ? {} : { gridGrads }),
    ...(mlpGrads === undefined ? {} : { mlpGrads }),
    ...(options.grads === undefined ? {} : { regLoss }),
  };
}
