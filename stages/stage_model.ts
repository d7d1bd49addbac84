/**
 * The trainable model a stage works on: the keyframed field and its occupancy grid. The
 * static stage has one keyframe and one occupancy slice; the dynamic stage starts from
 * copies of the static field in every keyframe (SPEC.md §5), and the refinement stage
 * keeps a frozen copy of the dynamic model for its control images.
 *
 * @module
 */
import { Field } from "../kernels/field.ts";
import type { Gpu } from "../kernels/gpu.ts";
import { OccupancyUpdater } from "../kernels/occupancy_updater.ts";
import type { FieldSettings } from "./animate_settings.ts";
import type { FittedModel } from "./field_renders.ts";

/**
 * A field with its occupancy grid.
 *
 * @example
 * ```ts
 * import { acquireGpu } from "../kernels/gpu.ts";
 * import { resolveAnimateSettings } from "./animate_settings.ts";
 * import { createStageModel, destroyStageModel, type StageModel } from "./stage_model.ts";
 * const gpu = await acquireGpu({ log: null });
 * const { field } = resolveAnimateSettings("tiny", {
 *   field: { levels: 2, log2TableSize: 8, keyframes: 4, occupancyRes: 8, occupancySlices: 2 },
 * });
 * const model: StageModel = await createStageModel(gpu, field, { dynamic: true, seed: 0 });
 * console.log(model.field.layout.config.keyframes, model.occupancy.grid.slices); // 4 2
 * destroyStageModel(model);
 * gpu.destroy();
 * ```
 */
export interface StageModel {
  /** The keyframed 4D field and its MLP. */
  field: Field;
  /** The occupancy grid that skips empty space, with its EMA updater. */
  occupancy: OccupancyUpdater;
  /** Marching step. */
  dt: number;
}

/** The model as the renderers and scorers of `field_renders.ts` take it. */
export function fittedModel(gpu: Gpu, model: StageModel): FittedModel {
  return { gpu, field: model.field, occupancy: model.occupancy.grid, dt: model.dt };
}

/**
 * Allocates a fresh model: `dynamic` false gives one keyframe and one occupancy slice.
 *
 * @example
 * ```ts
 * import { acquireGpu } from "../kernels/gpu.ts";
 * import { ANIMATE_PRESET_SETTINGS } from "./animate_settings.ts";
 * import { createStageModel, destroyStageModel } from "./stage_model.ts";
 * const gpu = await acquireGpu({ log: null });
 * const m = await createStageModel(gpu, ANIMATE_PRESET_SETTINGS.tiny.field, { dynamic: false, seed: 0 });
 * console.log(m.field.layout.config.keyframes, m.occupancy.grid.slices); // 1 1
 * destroyStageModel(m);
 * gpu.destroy();
 * ```
 */
export async function createStageModel(
  gpu: Gpu,
  f: FieldSettings,
  options: { dynamic: boolean; seed: number },
): Promise<StageModel> {
  const field = await Field.create(gpu, {
    grid: {
      levels: f.levels,
      log2TableSize: f.log2TableSize,
      baseResolution: f.baseResolution,
      finestResolution: f.finestResolution,
      keyframes: options.dynamic ? f.keyframes : 1,
    },
    mlp: { hidden: f.mlpHidden },
    seed: options.seed,
  });
  try {
    const occupancy = await OccupancyUpdater.create(gpu, field, {
      res: f.occupancyRes,
      slices: options.dynamic ? f.occupancySlices : 1,
      seed: options.seed,
    });
    return { field, occupancy, dt: f.dt };
  } catch (error) {
    field.destroy();
    throw error;
  }
}

/** Frees a model's buffers. */
export function destroyStageModel(model: StageModel): void {
  model.occupancy.destroy();
  model.field.destroy();
}

/** Host copy of a model's parameters and occupancy state. */
export interface ModelSnapshot {
  grid: Float32Array<ArrayBuffer>[];
  mlp: Float32Array<ArrayBuffer>;
  occupancy: {
    grid: Float32Array<ArrayBuffer>;
    bits: Uint32Array<ArrayBuffer>;
    stats: Float32Array<ArrayBuffer>;
  };
}

/** Reads a model back (for checkpoints and for copying between models). */
export async function snapshotModel(gpu: Gpu, model: StageModel): Promise<ModelSnapshot> {
  const params = await model.field.read();
  const floats = model.field.layout.entries * model.field.layout.config.featuresPerLevel;
  const occ = model.occupancy.grid;
  return {
    grid: params.grid.map((g) => Float32Array.from(g.subarray(0, floats))),
    mlp: Float32Array.from(params.mlp),
    occupancy: {
      grid: new Float32Array(await gpu.read(occ.grid)),
      bits: new Uint32Array(await gpu.read(occ.bits)),
      stats: new Float32Array(await gpu.read(occ.stats)),
    },
  };
}

/**
 * Writes a snapshot into `model`. A snapshot with one keyframe (one occupancy slice) is
 * repeated into every keyframe (slice): how the dynamic stage starts from the static one.
 */
export function restoreModel(gpu: Gpu, model: StageModel, snap: ModelSnapshot): void {
  const keyframes = model.field.layout.config.keyframes;
  const floats = model.field.layout.entries * model.field.layout.config.featuresPerLevel;
  if (snap.grid.length !== keyframes && snap.grid.length !== 1) {
    throw new RangeError(
      `Invalid snapshot: expected 1 or ${keyframes} keyframe grids, got ${snap.grid.length}`,
    );
  }
  if (snap.grid[0]!.length !== floats || snap.mlp.length !== model.field.mlpLayout.size) {
    throw new RangeError(
      `Invalid snapshot: expected grids of ${floats} floats and ${model.field.mlpLayout.size} MLP floats, got ${
        snap.grid[0]!.length
      } and ${snap.mlp.length}`,
    );
  }
  const grid = snap.grid.length === keyframes
    ? snap.grid
    : Array.from({ length: keyframes }, () => snap.grid[0]!);
  model.field.write({ grid, mlp: snap.mlp });
  const occ = model.occupancy.grid;
  const cells = occ.res ** 3;
  const srcSlices = snap.occupancy.grid.length / cells;
  if (srcSlices !== occ.slices && srcSlices !== 1) {
    throw new RangeError(
      `Invalid snapshot: occupancy of ${srcSlices} slices for a grid of ${occ.slices}`,
    );
  }
  const repeat = <T extends Float32Array<ArrayBuffer> | Uint32Array<ArrayBuffer>>(a: T): T => {
    if (srcSlices === occ.slices) return a;
    const out = new (a.constructor as { new (n: number): T })(a.length * occ.slices);
    for (let s = 0; s < occ.slices; s++) out.set(a, s * a.length);
    return out;
  };
  gpu.upload(occ.grid, repeat(snap.occupancy.grid));
  gpu.upload(occ.bits, repeat(snap.occupancy.bits));
  gpu.upload(occ.stats, snap.occupancy.stats);
}
