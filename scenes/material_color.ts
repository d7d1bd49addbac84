/**
 * Albedo of a primitive at a point of its rest local frame: a flat colour, a 3-D checker
 * or stripes. Textures are evaluated in the rest frame so that they travel and deform
 * with the primitive, which is what makes motion visible to image metrics.
 *
 * @module
 */
import type { Material, Vec3 } from "./scene_config.ts";

// A tiny offset keeps surfaces that sit exactly on a cell boundary (a primitive centred
// at the origin has faces on x = 0 planes) from flickering between two colours.
const BOUNDARY_OFFSET = 1e-7;

function pick(colors: readonly Vec3[], cell: number): Vec3 {
  const n = colors.length;
  return colors[((cell % n) + n) % n]!;
}

/**
 * Returns the albedo of `material` at rest-frame point `p`.
 *
 * @example
 * ```ts
 * import { materialColor } from "./material_color.ts";
 * const checker = { type: "checker", colors: [[0, 0, 0], [1, 1, 1]], scale: 1 } as const;
 * console.log(materialColor(checker, [0.5, 0.5, 0.5])); // [0, 0, 0]
 * console.log(materialColor(checker, [1.5, 0.5, 0.5])); // [1, 1, 1]
 * ```
 */
export function materialColor(material: Material, p: ArrayLike<number>): Vec3 {
  const x = (p[0] ?? 0) + BOUNDARY_OFFSET;
  const y = (p[1] ?? 0) + BOUNDARY_OFFSET;
  const z = (p[2] ?? 0) + BOUNDARY_OFFSET;
  switch (material.type) {
    case "color":
      return material.color;
    case "checker": {
      const s = material.scale;
      return pick(material.colors, Math.floor(x * s) + Math.floor(y * s) + Math.floor(z * s));
    }
    case "stripes": {
      const a = material.axis;
      return pick(material.colors, Math.floor((a[0] * x + a[1] * y + a[2] * z) * material.scale));
    }
  }
}
