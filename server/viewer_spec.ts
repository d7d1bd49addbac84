/**
 * What the in-browser 4D viewer needs to render a run's latest checkpoint: the grid and
 * MLP shapes, where each parameter tensor sits in the checkpoint file (fetched with HTTP
 * range requests, so Adam's moments never travel), and the WGSL it runs. The grid
 * encoder and the MLP are the toolkit's own `kernels/grid_encode.wgsl` and
 * `kernels/mlp.wgsl`, assembled here with the same `#include` expansion the trainer
 * uses; only ray sampling, compositing and presentation are viewer-specific
 * (`server/viewer.wgsl`, `server/viewer_present.wgsl`).
 *
 * @module
 */
import { readSafetensorsHeader } from "../io/safetensors.ts";
import { type GridLayout, gridLayout } from "../kernels/grid_config.ts";
import { gridAccessFragment, levelTableWords } from "../kernels/grid_encode.ts";
import { mlpDimsFragment, type MlpLayout, mlpLayout } from "../kernels/mlp.ts";
import { loadWgsl } from "../kernels/wgsl.ts";
import { STAGE_NAMES } from "../stages/animate_settings.ts";
import { STAGE_CHECKPOINT } from "../stages/stage_runner.ts";
import { runFolder } from "./run_folder.ts";

/**
 * The storage binding size every WebGPU implementation guarantees: grid chunks are laid
 * out for it, so the viewer never depends on a larger adapter limit.
 */
export const VIEWER_BINDING_BYTES = 2 ** 27;

/** Where one tensor's bytes are in the checkpoint file: `[begin, end)`, absolute. */
export type ByteRange = [number, number];

/** The viewer's description of one checkpoint. */
export interface ViewerSpec {
  /** The stage whose checkpoint it is. */
  stage: string;
  /** Run-relative path of the checkpoint (fetch it through the run's files route). */
  checkpoint: string;
  /** Cumulative step the checkpoint was saved at. */
  step: number;
  /** Checkpoint modification time (ms), so the page can tell a newer one. */
  modified: number;
  grid: {
    levels: number;
    featuresPerLevel: number;
    keyframes: number;
    keyframesPerChunk: number;
    keyframeStride: number;
    chunks: number;
    entries: number;
    /** The grid encoder's uniform block (header, then per level s_l bits, R_l, T_l, offset). */
    uniformWords: number[];
    /** One byte range per keyframe grid. */
    tensors: ByteRange[];
  };
  mlp: { input: number; hidden: number; output: number; size: number; tensor: ByteRange };
  /** Camera of the turntable and the reference view. */
  camera: { radius: number; fovyDeg: number };
  /** Assembled WGSL by name: `grid_encode`, `mlp`, `viewer`, `present`. */
  wgsl: Record<string, string>;
  /** Bytes the browser downloads (grid and MLP tensors). */
  bytes: number;
}

const LOOP_BODY = "fn forward_sample(i: u32, n: u32) { if (i < n) { forward_loop(i); } }";

/**
 * The shared kernels as the browser compiles them: grid encoding for `layout` and the
 * MLP for `mlp`, every `#include` resolved.
 *
 * @param layout the grid layout (chunked for {@linkcode VIEWER_BINDING_BYTES})
 * @param mlp the MLP layout
 * @returns WGSL by name
 *
 * @example
 * ```ts
 * import { gridLayout } from "../kernels/grid_config.ts";
 * import { mlpLayout } from "../kernels/mlp.ts";
 * import { viewerKernels } from "./viewer_spec.ts";
 * const wgsl = await viewerKernels(gridLayout({ levels: 2, log2TableSize: 8 }), mlpLayout({ input: 4 }));
 * console.log(Object.keys(wgsl).join(","), wgsl.grid_encode!.includes("#include")); // grid_encode,mlp,viewer,present false
 * ```
 */
export async function viewerKernels(
  layout: GridLayout,
  mlp: MlpLayout,
): Promise<Record<string, string>> {
  const grid = await loadWgsl("grid_encode", {
    grid_access: gridAccessFragment(layout, { firstBinding: 5 }),
  });
  const net = await loadWgsl("mlp", {
    mlp_dims: mlpDimsFragment(mlp, { cacheWeights: false, tile: 1 }),
    mlp_forward_body: LOOP_BODY,
  });
  const own = (name: string) => Deno.readTextFile(new URL(`./${name}.wgsl`, import.meta.url));
  return {
    grid_encode: grid.code,
    mlp: net.code,
    viewer: await own("viewer"),
    present: await own("viewer_present"),
  };
}

/** The newest stage checkpoint of a run folder, in stage order (refine beats dynamic). */
async function latestCheckpoint(folder: string): Promise<{ stage: string; path: string } | null> {
  for (const stage of [...STAGE_NAMES].reverse()) {
    const path = `${stage}/${STAGE_CHECKPOINT}`;
    try {
      if ((await Deno.stat(`${folder}/${path}`)).isFile) return { stage, path };
    } catch {
      // No checkpoint for this stage yet.
    }
  }
  return null;
}

/**
 * Describes run `id`'s latest checkpoint for the browser viewer, or null when the run
 * has none yet.
 *
 * @param root the folder holding the runs
 * @param id the run id
 * @returns the spec, or null
 * @throws {RunPathError} for a malformed or unknown run id
 * @throws {Error} naming the file when the checkpoint is not one the viewer can read
 */
export async function viewerSpec(root: string, id: string): Promise<ViewerSpec | null> {
  const folder = await runFolder(root, id);
  const latest = await latestCheckpoint(folder);
  if (latest === null) return null;
  const file = `${folder}/${latest.path}`;
  const header = await readSafetensorsHeader(file);
  const modified = (await Deno.stat(file)).mtime?.getTime() ?? 0;
  const options = JSON.parse(header.metadata.options ?? "{}");
  const field = options?.settings?.field ?? {};
  const grids: ByteRange[] = [];
  let featuresPerLevel = 0;
  for (let k = 0; header.tensors[`grid.keyframe.${k}`] !== undefined; k++) {
    const t = header.tensors[`grid.keyframe.${k}`]!;
    if (t.dtype !== "F32" || t.shape.length !== 2) {
      throw new Error(`Invalid checkpoint ${file}: grid.keyframe.${k} is not an F32 matrix`);
    }
    featuresPerLevel = t.shape[1]!;
    grids.push([header.dataStart + t.dataOffsets[0], header.dataStart + t.dataOffsets[1]]);
  }
  const mlpTensor = header.tensors.mlp;
  if (grids.length === 0 || mlpTensor === undefined) {
    throw new Error(`Invalid checkpoint ${file}: expected grid.keyframe.0 and mlp tensors`);
  }
  const layout = gridLayout({
    levels: field.levels,
    log2TableSize: field.log2TableSize,
    baseResolution: field.baseResolution,
    finestResolution: field.finestResolution,
    featuresPerLevel,
    keyframes: grids.length,
  }, { maxBindingBytes: VIEWER_BINDING_BYTES });
  const net = mlpLayout({ input: layout.outputDim, hidden: field.mlpHidden });
  const mlpRange: ByteRange = [
    header.dataStart + mlpTensor.dataOffsets[0],
    header.dataStart + mlpTensor.dataOffsets[1],
  ];
  if (mlpRange[1] - mlpRange[0] !== net.size * 4) {
    throw new Error(
      `Invalid checkpoint ${file}: mlp holds ${(mlpRange[1] - mlpRange[0]) / 4} floats, ` +
        `expected ${net.size} for hidden width ${net.config.hidden}`,
    );
  }
  const c = layout.config;
  return {
    stage: latest.stage,
    checkpoint: latest.path,
    step: Number(header.metadata.step ?? 0),
    modified,
    grid: {
      levels: c.levels,
      featuresPerLevel: c.featuresPerLevel,
      keyframes: c.keyframes,
      keyframesPerChunk: layout.keyframesPerChunk,
      keyframeStride: layout.keyframeStride,
      chunks: layout.chunks,
      entries: layout.entries,
      uniformWords: [...levelTableWords(layout, { header: [c.levels] })],
      tensors: grids,
    },
    mlp: { ...net.config, size: net.size, tensor: mlpRange },
    camera: { radius: 1.8, fovyDeg: 40 },
    wgsl: await viewerKernels(layout, net),
    bytes: grids.reduce((s, r) => s + r[1] - r[0], 0) + mlpRange[1] - mlpRange[0],
  };
}
