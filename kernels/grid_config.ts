/**
 * Configuration and memory layout of the keyframed multi-resolution grid
 * (SPEC.md §2.1–2.2), shared by the WGSL kernels and their float64 twins.
 *
 * @module
 */
import { requireFinite, requireInt, requireOneOf } from "./validate.ts";

/**
 * How a level maps grid corners to table entries.
 *
 * @example
 * ```ts
 * import { gridLayout, type IndexMode } from "./grid_config.ts";
 * const indexMode: IndexMode = "hash";
 * const layout = gridLayout({ indexMode, levels: 4 });
 * console.log(layout.config.indexMode, layout.outputDim); // hash 8
 * ```
 */
export type IndexMode = "tiled" | "hash";

/**
 * User-facing grid options; every field has the SPEC.md default.
 *
 * @example
 * ```ts
 * import { DEFAULT_GRID, type GridConfig, gridLayout } from "./grid_config.ts";
 * const config: GridConfig = { ...DEFAULT_GRID, levels: 2, finestResolution: 32, keyframes: 4 };
 * const layout = gridLayout(config);
 * console.log(layout.levels.map((l) => l.resolution), layout.config.keyframes); // [ 16, 32 ] 4
 * ```
 */
export interface GridConfig {
  /** `tiled` reproduces the original's dense index with wrap and z-drop; `hash` is instant-NGP. */
  indexMode: IndexMode;
  /** Number of levels L (16). */
  levels: number;
  /** Features per level F (2). */
  featuresPerLevel: number;
  /** Coarsest resolution (16). */
  baseResolution: number;
  /** Finest resolution (2048). */
  finestResolution: number;
  /** log2 of the largest table per level (16). */
  log2TableSize: number;
  /** Keyframe grids K: 1 for the static stage, 64 for the dynamic ones. */
  keyframes: number;
}

/**
 * The SPEC.md defaults for one static grid.
 *
 * @example
 * ```ts
 * import { DEFAULT_GRID, resolveGridConfig } from "./grid_config.ts";
 * // L·F is the MLP's input width.
 * console.log(DEFAULT_GRID.levels * DEFAULT_GRID.featuresPerLevel); // 32
 * console.log(resolveGridConfig({}).finestResolution === DEFAULT_GRID.finestResolution); // true
 * ```
 */
export const DEFAULT_GRID: Readonly<GridConfig> = Object.freeze({
  indexMode: "tiled",
  levels: 16,
  featuresPerLevel: 2,
  baseResolution: 16,
  finestResolution: 2048,
  log2TableSize: 16,
  keyframes: 1,
});

/**
 * One level of the resolved layout.
 *
 * @example
 * ```ts
 * import { gridLayout, type GridLevel } from "./grid_config.ts";
 * // The coarsest level is dense: (R + 1)³ corners, rounded up to a multiple of 8.
 * const coarsest: GridLevel = gridLayout({}).levels[0]!;
 * console.log(coarsest.scale, coarsest.resolution, coarsest.size); // 15 16 4920
 * ```
 */
export interface GridLevel {
  /** s_l = 2^(l·log2 b)·base − 1, rounded to float32 as the CUDA kernel computes it. */
  scale: number;
  /** R_l = ceil(s_l) + 1; the index stride per axis is R_l + 1. */
  resolution: number;
  /** Table entries T_l (a multiple of 8). */
  size: number;
  /** First entry of this level inside one keyframe grid. */
  offset: number;
}

/**
 * A grid config with everything derived from it.
 *
 * @example 64 keyframes split across storage bindings
 * ```ts
 * import { type GridLayout, gridLayout } from "./grid_config.ts";
 * const layout: GridLayout = gridLayout({ keyframes: 64 }, { maxBindingBytes: 2 ** 27 });
 * console.log(layout.keyframeStride, layout.keyframesPerChunk, layout.chunks); // 1806976 18 4
 * ```
 */
export interface GridLayout {
  /** The resolved config. */
  config: Readonly<GridConfig>;
  /** Resolution, table size and offset of each level, coarse to fine. */
  levels: GridLevel[];
  /** Entries of one keyframe grid, summed over levels. */
  entries: number;
  /** Floats between consecutive keyframes (entries·F padded to 64 floats = 256 bytes). */
  keyframeStride: number;
  /** Keyframes stored in one GPU buffer, so that each buffer fits one storage binding. */
  keyframesPerChunk: number;
  /** Number of chunk buffers (at most {@linkcode MAX_GRID_CHUNKS}). */
  chunks: number;
  /** Output width L·F. */
  outputDim: number;
}

/** The grid kernels bind at most this many parameter buffers. */
export const MAX_GRID_CHUNKS = 4;

/**
 * Validates a partial grid config and fills in the defaults.
 *
 * @example
 * ```ts
 * import { resolveGridConfig } from "./grid_config.ts";
 * const cfg = resolveGridConfig({ keyframes: 64 });
 * console.log(cfg.levels); // 16
 * ```
 */
export function resolveGridConfig(partial: Partial<GridConfig> = {}): GridConfig {
  const c = { ...DEFAULT_GRID, ...partial };
  const known = new Set(Object.keys(DEFAULT_GRID));
  for (const key of Object.keys(partial)) {
    if (!known.has(key)) {
      throw new RangeError(
        `Unknown grid option ${key}: expected one of ${[...known].join(", ")}`,
      );
    }
  }
  requireOneOf("grid.indexMode", c.indexMode, ["tiled", "hash"] as const);
  requireInt("grid.levels", c.levels, { min: 1, max: 32 });
  requireInt("grid.featuresPerLevel", c.featuresPerLevel, { min: 1, max: 8 });
  requireInt("grid.baseResolution", c.baseResolution, { min: 2, max: 1 << 16 });
  requireFinite("grid.finestResolution", c.finestResolution, { min: 2 });
  requireInt("grid.finestResolution", c.finestResolution, {
    min: c.baseResolution,
    max: 1 << 20,
  });
  requireInt("grid.log2TableSize", c.log2TableSize, { min: 4, max: 24 });
  requireInt("grid.keyframes", c.keyframes, { min: 1, max: 1024 });
  return c;
}

/**
 * Derives level sizes, offsets and the chunking of keyframes into storage buffers.
 * R_l is computed once here in float32 and shared by sizing and lookup (SPEC.md §9).
 *
 * @param config grid options (validated, defaults filled in)
 * @param options `maxBindingBytes`: the device's maxStorageBufferBindingSize
 * @returns the layout
 *
 * @example Level table of the original
 * ```ts
 * import { gridLayout } from "./grid_config.ts";
 * const layout = gridLayout({}, { maxBindingBytes: 2 ** 27 });
 * console.log(layout.entries); // 903480
 * ```
 */
export function gridLayout(
  config: Partial<GridConfig>,
  options: { maxBindingBytes?: number } = {},
): GridLayout {
  const c = resolveGridConfig(config);
  const f32 = Math.fround;
  // Per-level growth in double, then passed to the kernel as float (gridencoder/grid.py).
  const b = f32(
    2 ** (Math.log2(c.finestResolution / c.baseResolution) / Math.max(1, c.levels - 1)),
  );
  const s = f32(Math.log2(b));
  const maxParams = 2 ** c.log2TableSize;
  const levels: GridLevel[] = [];
  let offset = 0;
  for (let l = 0; l < c.levels; l++) {
    const scale = f32(f32(f32(2 ** f32(l * s)) * c.baseResolution) - 1);
    const resolution = Math.ceil(scale) + 1;
    const dense = (resolution + 1) ** 3;
    const size = Math.ceil(Math.min(maxParams, dense) / 8) * 8;
    levels.push({ scale, resolution, size, offset });
    offset += size;
  }
  const keyframeStride = Math.ceil((offset * c.featuresPerLevel) / 64) * 64;
  const maxBinding = options.maxBindingBytes ?? 2 ** 27;
  const keyframesPerChunk = Math.min(c.keyframes, Math.floor(maxBinding / (keyframeStride * 4)));
  if (keyframesPerChunk < 1) {
    throw new RangeError(
      `Invalid grid: one keyframe needs ${
        keyframeStride * 4
      } bytes, over the device's storage binding limit of ${maxBinding} bytes; lower grid.log2TableSize or grid.levels`,
    );
  }
  const chunks = Math.ceil(c.keyframes / keyframesPerChunk);
  if (chunks > MAX_GRID_CHUNKS) {
    throw new RangeError(
      `Invalid grid: ${c.keyframes} keyframes of ${
        keyframeStride * 4
      } bytes need ${chunks} storage bindings on this device (limit ${maxBinding} bytes each), at most ${MAX_GRID_CHUNKS} are supported; lower grid.keyframes or grid.log2TableSize`,
    );
  }
  return {
    config: Object.freeze(c),
    levels,
    entries: offset,
    keyframeStride,
    keyframesPerChunk,
    chunks,
    outputDim: c.levels * c.featuresPerLevel,
  };
}

/** Number of floats in chunk `chunk` of the layout. */
export function chunkFloats(layout: GridLayout, chunk: number): number {
  const first = chunk * layout.keyframesPerChunk;
  const count = Math.min(layout.keyframesPerChunk, layout.config.keyframes - first);
  return count * layout.keyframeStride;
}

/**
 * Initial grid values, U(−1e-4, 1e-4) per entry as in the original, from a seeded
 * generator; padding stays zero. Returns one array per keyframe.
 */
export function initGridValues(
  layout: GridLayout,
  random: () => number,
  options: { copyFirst?: boolean } = {},
): Float32Array[] {
  const n = layout.entries * layout.config.featuresPerLevel;
  const first = new Float32Array(layout.keyframeStride);
  for (let i = 0; i < n; i++) first[i] = (random() * 2 - 1) * 1e-4;
  const out = [first];
  for (let k = 1; k < layout.config.keyframes; k++) {
    if (options.copyFirst ?? true) out.push(first.slice());
    else {
      const g = new Float32Array(layout.keyframeStride);
      for (let i = 0; i < n; i++) g[i] = (random() * 2 - 1) * 1e-4;
      out.push(g);
    }
  }
  return out;
}
