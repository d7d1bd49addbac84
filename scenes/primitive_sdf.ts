/**
 * Signed distances of the scene primitives in their local frame (centred at the origin),
 * and their local bounding boxes. Exact Euclidean SDFs, so the only approximation in
 * sphere tracing comes from the motion warps (see `motion_warp.ts`).
 *
 * @module
 */
import type { Shape } from "./scene_config.ts";

/**
 * Signed distance from local point (x, y, z) to `shape`: negative inside.
 * Takes any array-like point so the renderer can pass a reused scratch buffer.
 *
 * @example
 * ```ts
 * import { shapeDistance } from "./primitive_sdf.ts";
 * console.log(shapeDistance({ type: "sphere", radius: 0.5 }, [1, 0, 0])); // 0.5
 * ```
 */
export function shapeDistance(shape: Shape, p: ArrayLike<number>): number {
  const x = p[0] ?? 0, y = p[1] ?? 0, z = p[2] ?? 0;
  switch (shape.type) {
    case "sphere":
      return Math.sqrt(x * x + y * y + z * z) - shape.radius;
    case "box": {
      // Inigo Quilez's rounded box: shrink the box by the rounding, then inflate.
      const r = shape.rounding;
      const qx = Math.abs(x) - (shape.size[0] / 2 - r);
      const qy = Math.abs(y) - (shape.size[1] / 2 - r);
      const qz = Math.abs(z) - (shape.size[2] / 2 - r);
      const ox = Math.max(qx, 0), oy = Math.max(qy, 0), oz = Math.max(qz, 0);
      return Math.sqrt(ox * ox + oy * oy + oz * oz) + Math.min(Math.max(qx, qy, qz), 0) - r;
    }
    case "cylinder": {
      const dx = Math.sqrt(x * x + z * z) - shape.radius;
      const dy = Math.abs(y) - shape.height / 2;
      const ox = Math.max(dx, 0), oy = Math.max(dy, 0);
      return Math.min(Math.max(dx, dy), 0) + Math.sqrt(ox * ox + oy * oy);
    }
    case "torus": {
      const qx = Math.sqrt(x * x + z * z) - shape.majorRadius;
      return Math.sqrt(qx * qx + y * y) - shape.minorRadius;
    }
  }
}

/**
 * Half extents of the local axis-aligned box that holds `shape`.
 *
 * @example
 * ```ts
 * import { shapeHalfExtents } from "./primitive_sdf.ts";
 * console.log(shapeHalfExtents({ type: "cylinder", radius: 0.1, height: 0.6 })); // [0.1, 0.3, 0.1]
 * ```
 */
export function shapeHalfExtents(shape: Shape): [number, number, number] {
  switch (shape.type) {
    case "sphere":
      return [shape.radius, shape.radius, shape.radius];
    case "box":
      return [shape.size[0] / 2, shape.size[1] / 2, shape.size[2] / 2];
    case "cylinder":
      return [shape.radius, shape.height / 2, shape.radius];
    case "torus": {
      const outer = shape.majorRadius + shape.minorRadius;
      return [outer, shape.minorRadius, outer];
    }
  }
}

/** Points on a regular grid over a shape's local box, with their signed distances. */
export interface ShapeSamples {
  /** Sample points `[N][3]`, all with distance ≤ `reach`. */
  readonly points: Float64Array;
  /** Signed distance of each point `[N]`. */
  readonly distances: Float64Array;
  /**
   * Every surface point lies within this distance of some sample (half the grid cell
   * diagonal), so bounds built from the samples are grown by it.
   */
  readonly reach: number;
}

const SAMPLE_CACHE = new WeakMap<Shape, ShapeSamples>();

/**
 * Samples `shape` on a `perAxis`³ grid over its local box, keeping the points whose
 * distance is ≤ half a cell diagonal: the set every surface point lies near. Used to
 * bound the moving primitive in world space. Cached per shape object.
 *
 * @example
 * ```ts
 * import { shapeSamples } from "./primitive_sdf.ts";
 * const s = shapeSamples({ type: "sphere", radius: 0.5 }, { perAxis: 8 });
 * console.log(s.points.length / 3 > 0, s.reach > 0); // true true
 * ```
 */
export function shapeSamples(shape: Shape, options: { perAxis?: number } = {}): ShapeSamples {
  const n = options.perAxis ?? 16;
  const cached = options.perAxis === undefined ? SAMPLE_CACHE.get(shape) : undefined;
  if (cached) return cached;
  const half = shapeHalfExtents(shape);
  const h = half.map((e) => (2 * e) / (n - 1));
  const reach = 0.5 * Math.hypot(h[0]!, h[1]!, h[2]!);
  const pts: number[] = [];
  const dist: number[] = [];
  const p = new Float64Array(3);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      for (let k = 0; k < n; k++) {
        p[0] = -half[0] + i * h[0]!;
        p[1] = -half[1] + j * h[1]!;
        p[2] = -half[2] + k * h[2]!;
        const d = shapeDistance(shape, p);
        if (d <= reach) {
          pts.push(p[0], p[1], p[2]);
          dist.push(d);
        }
      }
    }
  }
  const out = { points: new Float64Array(pts), distances: new Float64Array(dist), reach };
  if (options.perAxis === undefined) SAMPLE_CACHE.set(shape, out);
  return out;
}
