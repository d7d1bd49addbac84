/**
 * Fit checkpoints in safetensors: every keyframe grid, the MLP, Adam's moments and step,
 * the occupancy grid, the random stream's state and the resolved options (JSON in
 * `__metadata__`), so a resumed run continues exactly where it stopped.
 *
 * Tensors (all little-endian):
 * - `grid.keyframe.{k}` F32 `[entries, F]`, one per keyframe k = 0..K−1
 * - `mlp` F32 `[params]` (W1, b1, W2, b2 concatenated)
 * - `adam.{group}.{i}.m`, `adam.{group}.{i}.v` F32: the moments of buffer i of each group
 * - `occupancy.grid` F32 `[S, res, res, res]`, `occupancy.bits` U32, `occupancy.stats` F32 `[2]`
 * - `step` I32 `[1]` (steps completed), `rng.state` U32 `[1]`
 *
 * Metadata: `format` (`animate124-fit`), `version`, `step`, `adam_step`, `options`
 * (the resolved settings as JSON), `scene` (the scene's source), `adam_groups` (JSON
 * list of `[name, buffers]`).
 *
 * @module
 */
import type { AdamState } from "../kernels/adam.ts";
import { readSafetensors, type Tensor, writeSafetensors } from "../io/safetensors.ts";

/** Value of the `format` metadata key. */
export const CHECKPOINT_FORMAT = "animate124-fit";
/** Value of the `version` metadata key. */
export const CHECKPOINT_VERSION = "1";

/** Everything a checkpoint holds. */
export interface CheckpointState {
  /** Steps completed. */
  step: number;
  /** One `[entries·F]` array per keyframe. */
  grid: Float32Array<ArrayBuffer>[];
  /** Features per grid entry F (the second dimension of each grid tensor). */
  featuresPerLevel: number;
  /** MLP parameters. */
  mlp: Float32Array<ArrayBuffer>;
  /** Adam step and moments. */
  adam: AdamState;
  /** Occupancy grid state. */
  occupancy: {
    grid: Float32Array<ArrayBuffer>;
    bits: Uint32Array<ArrayBuffer>;
    stats: Float32Array<ArrayBuffer>;
    res: number;
    slices: number;
  };
  /** State of the run's random stream. */
  rngState: number;
  /** Resolved options, stored as JSON. */
  options: Record<string, unknown>;
  /** Scene source (file path or label). */
  scene: string;
}

/**
 * Writes a checkpoint atomically (a crash mid-write keeps the previous file).
 *
 * @param path target `.safetensors` file
 * @param state what to store
 *
 * @example
 * ```ts
 * import { loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
 * const path = await Deno.makeTempFile({ suffix: ".safetensors" });
 * await saveCheckpoint(path, {
 *   step: 3, grid: [new Float32Array(4)], featuresPerLevel: 2, mlp: new Float32Array(2),
 *   adam: { step: 3, groups: [{ name: "mlp", m: [new Float32Array(2)], v: [new Float32Array(2)] }] },
 *   occupancy: { grid: new Float32Array(8), bits: new Uint32Array(1), stats: new Float32Array(2), res: 2, slices: 1 },
 *   rngState: 42, options: { iterations: 3 }, scene: "demo",
 * });
 * console.log((await loadCheckpoint(path)).rngState); // 42
 * await Deno.remove(path);
 * ```
 */
export async function saveCheckpoint(path: string, state: CheckpointState): Promise<void> {
  const tensors: Record<string, Tensor> = {};
  const f = state.featuresPerLevel;
  state.grid.forEach((g, k) => {
    tensors[`grid.keyframe.${k}`] = { dtype: "F32", shape: [g.length / f, f], data: g };
  });
  tensors.mlp = { dtype: "F32", shape: [state.mlp.length], data: state.mlp };
  for (const g of state.adam.groups) {
    g.m.forEach((m, i) => {
      tensors[`adam.${g.name}.${i}.m`] = { dtype: "F32", shape: [m.length], data: m };
      const v = g.v[i]!;
      tensors[`adam.${g.name}.${i}.v`] = { dtype: "F32", shape: [v.length], data: v };
    });
  }
  const o = state.occupancy;
  tensors["occupancy.grid"] = {
    dtype: "F32",
    shape: [o.slices, o.res, o.res, o.res],
    data: o.grid.subarray(0, o.slices * o.res ** 3),
  };
  tensors["occupancy.bits"] = { dtype: "U32", shape: [o.bits.length], data: o.bits };
  tensors["occupancy.stats"] = { dtype: "F32", shape: [2], data: o.stats.subarray(0, 2) };
  tensors.step = { dtype: "I32", shape: [1], data: new Int32Array([state.step]) };
  tensors["rng.state"] = { dtype: "U32", shape: [1], data: new Uint32Array([state.rngState]) };
  await writeSafetensors(path, tensors, {
    metadata: {
      format: CHECKPOINT_FORMAT,
      version: CHECKPOINT_VERSION,
      step: String(state.step),
      adam_step: String(state.adam.step),
      adam_groups: JSON.stringify(state.adam.groups.map((g) => [g.name, g.m.length])),
      options: JSON.stringify(state.options),
      scene: state.scene,
    },
  });
}

function tensorOf(path: string, tensors: Record<string, Tensor>, name: string): Tensor {
  const t = tensors[name];
  if (t === undefined) {
    throw new Error(`Invalid checkpoint ${path}: tensor ${name} is missing`);
  }
  return t;
}

function f32(path: string, tensors: Record<string, Tensor>, name: string) {
  const t = tensorOf(path, tensors, name);
  if (!(t.data instanceof Float32Array)) {
    throw new Error(`Invalid checkpoint ${path}: tensor ${name} is ${t.dtype}, expected F32`);
  }
  return t.data as Float32Array<ArrayBuffer>;
}

/**
 * Reads a checkpoint written by {@linkcode saveCheckpoint}.
 *
 * @param path the `.safetensors` file
 * @returns the stored state
 * @throws {Error} naming the file when it is not a fit checkpoint or a tensor is missing
 *
 * @example See {@linkcode saveCheckpoint}.
 * ```ts
 * import { loadCheckpoint } from "./checkpoint.ts";
 * await loadCheckpoint("missing.safetensors").catch((e) => console.log(e.message));
 * ```
 */
export async function loadCheckpoint(path: string): Promise<CheckpointState> {
  const { tensors, metadata } = await readSafetensors(path);
  if (metadata.format !== CHECKPOINT_FORMAT) {
    throw new Error(
      `Invalid checkpoint ${path}: expected metadata format ${CHECKPOINT_FORMAT}, got ${
        JSON.stringify(metadata.format ?? null)
      }`,
    );
  }
  const grid: Float32Array<ArrayBuffer>[] = [];
  let featuresPerLevel = 0;
  for (let k = 0; tensors[`grid.keyframe.${k}`] !== undefined; k++) {
    const t = tensorOf(path, tensors, `grid.keyframe.${k}`);
    featuresPerLevel = t.shape[1] ?? 1;
    grid.push(f32(path, tensors, `grid.keyframe.${k}`));
  }
  if (grid.length === 0) throw new Error(`Invalid checkpoint ${path}: no grid.keyframe tensors`);
  const groupsMeta = JSON.parse(metadata.adam_groups ?? "[]") as [string, number][];
  const adam: AdamState = {
    step: Number(metadata.adam_step),
    groups: groupsMeta.map(([name, count]) => ({
      name,
      m: Array.from({ length: count }, (_, i) => f32(path, tensors, `adam.${name}.${i}.m`)),
      v: Array.from({ length: count }, (_, i) => f32(path, tensors, `adam.${name}.${i}.v`)),
    })),
  };
  const occGrid = tensorOf(path, tensors, "occupancy.grid");
  const bits = tensorOf(path, tensors, "occupancy.bits").data;
  if (!(bits instanceof Uint32Array)) {
    throw new Error(`Invalid checkpoint ${path}: occupancy.bits is not U32`);
  }
  const step = tensorOf(path, tensors, "step").data[0];
  const rng = tensorOf(path, tensors, "rng.state").data[0];
  return {
    step: Number(step),
    grid,
    featuresPerLevel,
    mlp: f32(path, tensors, "mlp"),
    adam,
    occupancy: {
      grid: f32(path, tensors, "occupancy.grid"),
      bits: bits as Uint32Array<ArrayBuffer>,
      stats: f32(path, tensors, "occupancy.stats"),
      slices: occGrid.shape[0]!,
      res: occGrid.shape[1]!,
    },
    rngState: Number(rng),
    options: JSON.parse(metadata.options ?? "{}") as Record<string, unknown>,
    scene: metadata.scene ?? "",
  };
}
