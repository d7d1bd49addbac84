/**
 * The shape of a 4D radiance field and its occupancy grid: the settings the fit
 * (`FitSettings`) and the animate run (`AnimateSettings.field`) share.
 *
 * @module
 */

/**
 * Shape of the field (SPEC.md §2), shared by the fit and the three stages. The keyframes and
 * the occupancy slices only apply to a dynamic field.
 *
 * @example
 * ```ts
 * import { resolveAnimateSettings } from "./animate_settings.ts";
 * import type { FieldSettings } from "./field_settings.ts";
 * const field: FieldSettings = resolveAnimateSettings("tiny", { field: { keyframes: 8 } }).field;
 * console.log(field.keyframes, field.finestResolution >= field.baseResolution); // 8 true
 * ```
 */
export interface FieldSettings {
  /** Hash-grid levels L. */
  levels: number;
  /** log₂ of the hash table size T of each level. */
  log2TableSize: number;
  /** Resolution of the coarsest level. */
  baseResolution: number;
  /** Resolution of the finest level. */
  finestResolution: number;
  /** Keyframe grids K of the dynamic field (the static field has one). */
  keyframes: number;
  /** Hidden width of the MLP that maps grid features to density and albedo. */
  mlpHidden: number;
  /** Side of the occupancy grid, in cells. */
  occupancyRes: number;
  /** Occupancy time slices of the dynamic stages (the static stage has one). */
  occupancySlices: number;
  /** Occupancy update interval (SPEC.md §3.2: 16). */
  occupancyInterval: number;
  /** Marching step (SPEC.md: 2√3/1024). */
  dt: number;
}
