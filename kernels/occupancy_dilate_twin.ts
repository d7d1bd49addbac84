/**
 * Float-free twin of `occupancy_dilate.wgsl`: one-cell dilation of an occupancy bitfield
 * over the 3×3×3 neighbourhood, slice by slice.
 *
 * @module
 */

/**
 * Dilates `bits` (`[slices][ceil(res³/32)]` words, cell c = (x·res + y)·res + z).
 *
 * @param bits the bitfield
 * @param options grid resolution and slice count
 * @returns a new, dilated bitfield
 *
 * @example One occupied cell in a 3³ grid fills the whole grid
 * ```ts
 * import { dilateBitsTwin } from "./occupancy_dilate_twin.ts";
 * const bits = new Uint32Array(1);
 * bits[0] = 1 << 13; // the centre cell (1, 1, 1)
 * console.log(dilateBitsTwin(bits, { res: 3, slices: 1 })[0] === 2 ** 27 - 1); // true
 * ```
 */
export function dilateBitsTwin(
  bits: Uint32Array,
  options: { res: number; slices: number },
): Uint32Array {
  const { res, slices } = options;
  const cells = res ** 3;
  const words = Math.ceil(cells / 32);
  if (bits.length !== slices * words) {
    throw new RangeError(
      `Invalid bits: expected ${slices * words} words for ${slices}×${res}³, got ${bits.length}`,
    );
  }
  const get = (s: number, c: number) => ((bits[s * words + (c >> 5)]! >>> (c & 31)) & 1) === 1;
  const out = new Uint32Array(bits.length);
  for (let s = 0; s < slices; s++) {
    for (let c = 0; c < cells; c++) {
      const x = Math.floor(c / (res * res)), y = Math.floor(c / res) % res, z = c % res;
      let hit = false;
      for (let dx = -1; dx <= 1 && !hit; dx++) {
        for (let dy = -1; dy <= 1 && !hit; dy++) {
          for (let dz = -1; dz <= 1 && !hit; dz++) {
            const u = x + dx, v = y + dy, w = z + dz;
            if (u < 0 || v < 0 || w < 0 || u >= res || v >= res || w >= res) continue;
            hit = get(s, (u * res + v) * res + w);
          }
        }
      }
      if (hit) out[s * words + (c >> 5)]! |= 1 << (c & 31);
    }
  }
  return out;
}
