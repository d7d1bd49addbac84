/**
 * Validation helpers whose errors name the option, the allowed range and the bad value.
 *
 * @module
 */

function show(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

/**
 * Returns `value` if it is an integer in [min, max], else throws an error naming `field`.
 *
 * @example
 * ```ts
 * import { requireInt } from "./validate.ts";
 * requireInt("levels", 16, { min: 1, max: 32 });
 * ```
 */
export function requireInt(
  field: string,
  value: unknown,
  range: { min: number; max?: number },
): number {
  const max = range.max ?? Number.MAX_SAFE_INTEGER;
  if (typeof value !== "number" || !Number.isInteger(value) || value < range.min || value > max) {
    const allowed = range.max === undefined
      ? `an integer >= ${range.min}`
      : `an integer in [${range.min}, ${max}]`;
    throw new RangeError(`Invalid option ${field}: expected ${allowed}, got ${show(value)}`);
  }
  return value;
}

/**
 * Returns `value` if it is a finite number in [min, max], else throws an error naming `field`.
 *
 * @example
 * ```ts
 * import { requireFinite } from "./validate.ts";
 * requireFinite("lr", 1e-2, { min: 0 });
 * ```
 */
export function requireFinite(
  field: string,
  value: unknown,
  range: { min?: number; max?: number } = {},
): number {
  const min = range.min ?? -Infinity;
  const max = range.max ?? Infinity;
  if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max) {
    const parts = [];
    if (range.min !== undefined) parts.push(`>= ${range.min}`);
    if (range.max !== undefined) parts.push(`<= ${range.max}`);
    const allowed = `a finite number${parts.length ? " " + parts.join(" and ") : ""}`;
    throw new RangeError(`Invalid option ${field}: expected ${allowed}, got ${show(value)}`);
  }
  return value;
}

/**
 * Returns `value` if it is one of `allowed`, else throws an error naming `field`.
 *
 * @example
 * ```ts
 * import { requireOneOf } from "./validate.ts";
 * requireOneOf("indexMode", "tiled", ["tiled", "hash"] as const);
 * ```
 */
export function requireOneOf<T extends string>(
  field: string,
  value: unknown,
  allowed: readonly T[],
): T {
  if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) {
    throw new RangeError(
      `Invalid option ${field}: expected one of ${allowed.join(", ")}, got ${show(value)}`,
    );
  }
  return value as T;
}
