/**
 * Plain float64 twin of the grid encoding (SPEC.md §2.1–2.2), written to be obviously
 * correct rather than fast. It uses the host-side float32 s_l and R_l of the layout,
 * exactly like the WGSL kernel.
 *
 * @module
 */
import type { GridLayout } from "./grid_config.ts";

const f32 = Math.fround;

/**
 * Table index of integer corner `corner` at `level`, before adding the level offset.
 * Tiled mode: the stride loop runs only while stride ≤ T_l, so the z-drop (levels 9–15)
 * and the mod-T_l aliasing (levels 3–8) of the original appear (Animate124 main:
 * gridencoder/src/gridencoder.cu:66-84). Hash mode: instant-NGP's fast_hash when the
 * dense grid does not fit. Products wrap in u32 as on the GPU.
 *
 * @example
 * ```ts
 * import { gridLayout } from "./grid_config.ts";
 * import { gridIndexTwin } from "./grid_encode_twin.ts";
 * const layout = gridLayout({});
 * console.log(gridIndexTwin(layout, { level: 3, corner: [20, 37, 33] })); // 0 (aliases 65536)
 * ```
 */
export function gridIndexTwin(
  layout: GridLayout,
  options: { level: number; corner: readonly [number, number, number] },
): number {
  const lv = layout.levels[options.level];
  if (lv === undefined) {
    throw new RangeError(
      `Invalid option level: expected an integer in [0, ${
        layout.levels.length - 1
      }], got ${options.level}`,
    );
  }
  const c = options.corner;
  let idx = 0;
  let stride = 1;
  for (let d = 0; d < 3 && stride <= lv.size; d++) {
    idx = (idx + Math.imul(c[d]!, stride)) >>> 0;
    stride = Math.imul(stride, lv.resolution + 1) >>> 0;
  }
  if (layout.config.indexMode === "hash" && stride > lv.size) {
    idx = (c[0]! ^ Math.imul(c[1]!, 2654435761) ^ Math.imul(c[2]!, 805459861)) >>> 0;
  }
  return idx % lv.size;
}

/** Corner entries (level offset included) and trilinear weights of one point at one level. */
export interface CornersTwin {
  /** Entry index of each corner inside one keyframe grid (level offset included). */
  entries: number[];
  /** Trilinear weight of each corner; they sum to 1. */
  weights: number[];
}

/**
 * The 8 corners of `point` at `level`, or null when u = (x+1)/2 leaves [0,1]³ (then
 * the original returns zero features and zero gradient). The cell is chosen from
 * float32 u and p like the kernel, so both pick the same corners; the weights are
 * float64.
 *
 * @example
 * ```ts
 * import { gridLayout } from "./grid_config.ts";
 * import { gridCornersTwin } from "./grid_encode_twin.ts";
 * const cs = gridCornersTwin(gridLayout({}), { level: 0, point: [0, 0, 0] });
 * console.log(cs!.weights.reduce((a, b) => a + b)); // 1
 * ```
 */
export function gridCornersTwin(
  layout: GridLayout,
  options: { level: number; point: ArrayLike<number> },
): CornersTwin | null {
  const lv = layout.levels[options.level]!;
  const u = [0, 1, 2].map((d) => f32(f32(f32(options.point[d]!) + 1) * 0.5));
  if (u.some((v) => !(v >= 0 && v <= 1))) return null;
  // align_corners off: p = u·s_l + 0.5 (gridencoder.cu:151-156).
  const p = u.map((v) => f32(f32(v * lv.scale) + 0.5));
  const c = p.map(Math.floor);
  const f = p.map((v, d) => v - c[d]!);
  const entries: number[] = [];
  const weights: number[] = [];
  for (let i = 0; i < 8; i++) {
    const bit = [i & 1, (i >> 1) & 1, (i >> 2) & 1];
    let w = 1;
    for (let d = 0; d < 3; d++) w *= bit[d] ? f[d]! : 1 - f[d]!;
    const corner = [c[0]! + bit[0]!, c[1]! + bit[1]!, c[2]! + bit[2]!] as const;
    entries.push(lv.offset + gridIndexTwin(layout, { level: options.level, corner }));
    weights.push(w);
  }
  return { entries, weights };
}

/**
 * The keyframe blend of time t: g = (K−1)·t, h = φ·enc_⌈g⌉ + (1−φ)·enc_⌊g⌋ (Animate124
 * main: dnerf/network_4dgrid.py:168-191); t is clamped to [0, 1].
 *
 * @example
 * ```ts
 * import { gridLayout } from "./grid_config.ts";
 * import { keyframeBlendTwin } from "./grid_encode_twin.ts";
 * console.log(keyframeBlendTwin(gridLayout({ keyframes: 5 }), { time: 0.5 })); // { k0: 2, k1: 2, phi: 0 }
 * ```
 */
export function keyframeBlendTwin(
  layout: GridLayout,
  options: { time: number },
): { k0: number; k1: number; phi: number } {
  const K = layout.config.keyframes;
  const t = Math.min(1, Math.max(0, f32(options.time)));
  const g = f32((K - 1) * t);
  const gf = Math.floor(g);
  return { k0: Math.min(gf, K - 1), k1: Math.min(Math.ceil(g), K - 1), phi: g - gf };
}

/**
 * Encoding of one point by one keyframe grid, without blend or level mask:
 * `[L·F]` features, zero outside the box.
 *
 * @example
 * ```ts
 * import { gridLayout } from "./grid_config.ts";
 * import { encodeKeyframeTwin } from "./grid_encode_twin.ts";
 * const layout = gridLayout({ levels: 2, log2TableSize: 8 });
 * const params = new Float64Array(layout.keyframeStride).fill(1);
 * console.log(encodeKeyframeTwin(layout, { params, point: [0, 0, 0] })[0]); // 1
 * ```
 */
export function encodeKeyframeTwin(
  layout: GridLayout,
  options: { params: ArrayLike<number>; point: ArrayLike<number>; activeLevels?: number },
): Float64Array {
  const { levels: L, featuresPerLevel: F } = layout.config;
  const active = options.activeLevels ?? L;
  const out = new Float64Array(L * F);
  for (let l = 0; l < Math.min(L, active); l++) {
    const cs = gridCornersTwin(layout, { level: l, point: options.point });
    if (cs === null) return out;
    for (let i = 0; i < 8; i++) {
      for (let f = 0; f < F; f++) {
        out[l * F + f]! += cs.weights[i]! * options.params[cs.entries[i]! * F + f]!;
      }
    }
  }
  return out;
}

/** Inputs of the grid-encoding twins. */
export interface GridEncodeTwinInputs {
  /** Points `[N][3]`. */
  points: ArrayLike<number>;
  /** Times `[N]`; defaults to all zero. */
  times?: ArrayLike<number>;
  /** Levels ≥ activeLevels give zero features and no gradient; defaults to all. */
  activeLevels?: number;
}

function pointAt(points: ArrayLike<number>, n: number): number[] {
  return [points[3 * n]!, points[3 * n + 1]!, points[3 * n + 2]!];
}

/**
 * Float64 forward encode with keyframe blend and level mask.
 *
 * @returns features `[N][L·F]`
 *
 * @example
 * ```ts
 * import { gridLayout } from "./grid_config.ts";
 * import { gridEncodeTwin } from "./grid_encode_twin.ts";
 * const layout = gridLayout({ levels: 2, log2TableSize: 8, keyframes: 2 });
 * const params = [0, 1].map((k) => new Float64Array(layout.keyframeStride).fill(k));
 * console.log(gridEncodeTwin(layout, { params, points: [0, 0, 0], times: [0.25] })[0]); // 0.25
 * ```
 */
export function gridEncodeTwin(
  layout: GridLayout,
  options: GridEncodeTwinInputs & { params: ArrayLike<number>[] },
): Float64Array {
  const D = layout.outputDim;
  const n = options.points.length / 3;
  const out = new Float64Array(n * D);
  for (let i = 0; i < n; i++) {
    const { k0, k1, phi } = keyframeBlendTwin(layout, { time: options.times?.[i] ?? 0 });
    const enc = (k: number) =>
      encodeKeyframeTwin(layout, {
        params: options.params[k]!,
        point: pointAt(options.points, i),
        activeLevels: options.activeLevels ?? layout.config.levels,
      });
    const e0 = enc(k0);
    const e1 = k1 === k0 ? e0 : enc(k1);
    for (let j = 0; j < D; j++) out[i * D + j] = phi * e1[j]! + (1 - phi) * e0[j]!;
  }
  return out;
}

/**
 * Float64 backward: the gradient of Σ featureGrads·features with respect to every
 * keyframe's parameters, accumulated over colliding corners.
 *
 * @returns one gradient array per keyframe (length keyframeStride)
 *
 * @example
 * ```ts
 * import { gridLayout } from "./grid_config.ts";
 * import { gridEncodeBackwardTwin } from "./grid_encode_twin.ts";
 * const layout = gridLayout({ levels: 2, log2TableSize: 8 });
 * const g = gridEncodeBackwardTwin(layout, { points: [0, 0, 0], featureGrads: [1, 0, 0, 0] });
 * console.log(g[0]!.reduce((a, b) => a + b)); // 1
 * ```
 */
export function gridEncodeBackwardTwin(
  layout: GridLayout,
  options: GridEncodeTwinInputs & { featureGrads: ArrayLike<number> },
): Float64Array[] {
  const { levels: L, featuresPerLevel: F, keyframes: K } = layout.config;
  const grads = Array.from({ length: K }, () => new Float64Array(layout.keyframeStride));
  const n = options.points.length / 3;
  const active = Math.min(L, options.activeLevels ?? L);
  for (let i = 0; i < n; i++) {
    const { k0, k1, phi } = keyframeBlendTwin(layout, { time: options.times?.[i] ?? 0 });
    for (let l = 0; l < active; l++) {
      const cs = gridCornersTwin(layout, { level: l, point: pointAt(options.points, i) });
      if (cs === null) break;
      for (let c = 0; c < 8; c++) {
        for (let f = 0; f < F; f++) {
          const g = cs.weights[c]! * options.featureGrads[(i * L + l) * F + f]!;
          const at = cs.entries[c]! * F + f;
          grads[k0]![at]! += (1 - phi) * g;
          grads[k1]![at]! += phi * g;
        }
      }
    }
  }
  return grads;
}
