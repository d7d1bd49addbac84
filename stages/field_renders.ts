/**
 * Deterministic renders of a fitted field (no start jitter, albedo on white) at given
 * poses and times, read back to the CPU: what scoring and video export look at.
 *
 * @module
 */
import { orbitCamera, type OrbitPose } from "../kernels/camera.ts";
import { ClipRenderer } from "../kernels/clip_renderer.ts";
import type { Field } from "../kernels/field.ts";
import type { Gpu } from "../kernels/gpu.ts";
import type { OccupancyGrid } from "../kernels/occupancy.ts";
import { requireInt } from "../kernels/validate.ts";

/**
 * A field ready to render: the device, the parameters, the occupancy grid, the step.
 *
 * @example
 * ```ts
 * import { acquireGpu } from "../kernels/gpu.ts";
 * import { Field } from "../kernels/field.ts";
 * import { OccupancyGrid } from "../kernels/occupancy.ts";
 * import { REFERENCE_POSE } from "../kernels/camera.ts";
 * import { type FittedModel, renderFieldViews } from "./field_renders.ts";
 * const gpu = await acquireGpu({ log: null });
 * const model: FittedModel = {
 *   gpu,
 *   field: await Field.create(gpu, { grid: { levels: 2, log2TableSize: 8 } }),
 *   occupancy: await OccupancyGrid.create(gpu, { res: 8, slices: 1 }),
 *   dt: 0.05,
 * };
 * const views = [{ pose: REFERENCE_POSE, time: 0 }, { pose: REFERENCE_POSE, time: 1 }];
 * let n = 0;
 * for await (const r of renderFieldViews(model, views, { size: 8 })) n += r.alpha.length;
 * console.log(n); // 128
 * gpu.destroy();
 * ```
 */
export interface FittedModel {
  /** The device the field lives on. */
  gpu: Gpu;
  /** The fitted field. */
  field: Field;
  /** The occupancy grid the marcher skips empty space with. */
  occupancy: OccupancyGrid;
  /** Marching step the field was fitted with. */
  dt: number;
}

/** One rendered view. */
export interface ViewRender {
  /** `[H·W][3]` colour over white. */
  rgb: Float32Array;
  /** `[H·W]` alpha. */
  alpha: Float32Array;
  /** `[H·W]` depth (Σ wᵢ·tᵢ, 0 where empty). */
  depth: Float32Array;
}

/**
 * Renders `views` one by one at `size`² with the {@linkcode ClipRenderer} (perturb off,
 * albedo, white background) and yields each read back.
 *
 * @param model the fitted field
 * @param views poses and times
 * @param options `size`: side of the square renders
 * @returns an async iterator of renders, in the order of `views`
 *
 * @example
 * ```ts
 * import { acquireGpu } from "../kernels/gpu.ts";
 * import { Field } from "../kernels/field.ts";
 * import { OccupancyGrid } from "../kernels/occupancy.ts";
 * import { REFERENCE_POSE } from "../kernels/camera.ts";
 * import { renderFieldViews } from "./field_renders.ts";
 * const gpu = await acquireGpu({ log: null });
 * const field = await Field.create(gpu, { grid: { levels: 2, log2TableSize: 8 } });
 * const occupancy = await OccupancyGrid.create(gpu, { res: 8, slices: 1 });
 * const model = { gpu, field, occupancy, dt: 0.05 };
 * for await (const r of renderFieldViews(model, [{ pose: REFERENCE_POSE, time: 0 }], { size: 16 })) {
 *   console.log(r.rgb.length); // 768
 * }
 * gpu.destroy();
 * ```
 */
export async function* renderFieldViews(
  model: FittedModel,
  views: readonly { pose: OrbitPose; time: number }[],
  options: { size: number },
): AsyncGenerator<ViewRender> {
  const size = requireInt("size", options.size, { min: 1, max: 4096 });
  const renderer = await ClipRenderer.create(model.gpu, model.field, {
    width: size,
    height: size,
    maxFrames: 1,
    occupancy: model.occupancy,
    dt: model.dt,
    perturb: false,
    normals: false,
  });
  const n = size * size;
  try {
    for (const view of views) {
      const camera = orbitCamera(view.pose, { width: size, height: size });
      renderer.forward([{ camera, time: view.time }], { background: [1, 1, 1] });
      const rgb = new Float32Array(await model.gpu.read(renderer.clip.image)).slice(0, 3 * n);
      const alpha = new Float32Array(await model.gpu.read(renderer.clip.alpha)).slice(0, n);
      const depth = new Float32Array(await model.gpu.read(renderer.clip.depth)).slice(0, n);
      yield { rgb, alpha, depth };
    }
  } finally {
    renderer.destroy();
  }
}
