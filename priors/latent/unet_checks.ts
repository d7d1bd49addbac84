/**
 * Checks of a diffusion network's declared values that the UNet, Zero123 and ControlNet
 * denoisers share: a shape's tail against the expected sizes (symbolic sizes pass), the
 * float element type of `sample` and the values that must match it, and whether a fixed
 * batch means cond and uncond run together (2B) or apart (B).
 *
 * @example
 * ```ts
 * import { fitsShape } from "./unet_checks.ts";
 * console.log(fitsShape(["batch", 4, 64, 64], [4, 64, 64]), fitsShape([2, 4, 32, 32], [4, 64, 64])); // true false
 * ```
 *
 * @module
 */
import type { OrtModel, OrtValueInfo } from "../onnx/ort_model.ts";
import type { FloatDtype } from "./text_embeddings.ts";
import type { UnetBatching } from "./unet_denoiser.ts";

/**
 * Whether a declared shape is `[batch, ...tail]`, a symbolic (string) size matching any.
 *
 * @param shape the declared shape, batch first
 * @param tail the expected sizes after the batch
 * @returns true when every fixed size matches
 *
 * @example
 * ```ts
 * import { fitsShape } from "./unet_checks.ts";
 * console.log(fitsShape([2, 77, "hidden"], [77, 768]), fitsShape([2, 77], [77, 768])); // true false
 * ```
 */
export function fitsShape(shape: readonly (number | string)[], tail: readonly number[]): boolean {
  return shape.length === tail.length + 1 &&
    tail.every((d, k) => typeof shape[k + 1] === "string" || shape[k + 1] === d);
}

/**
 * The float element type of a network: the first value's (float32 or float16), which every
 * other value must share.
 *
 * @param model the network, named in errors
 * @param values `sample` first, then the values that must have its type
 * @returns the element type
 * @throws {Error} naming the network, the value, its type and the expected one
 *
 * @example
 * ```ts
 * import { floatDtypeOf } from "./unet_checks.ts";
 * const model = { name: "unet" } as Parameters<typeof floatDtypeOf>[0];
 * const v = (name: string, dtype: "float16" | "float32") => ({ name, dtype, shape: [1] });
 * console.log(floatDtypeOf(model, [v("sample", "float16"), v("out_sample", "float16")])); // float16
 * try {
 *   floatDtypeOf(model, [v("sample", "float16"), v("out_sample", "float32")]);
 * } catch (error) {
 *   console.log((error as Error).message); // Invalid UNet unet: expected out_sample of dtype float16 like sample, got float32
 * }
 * ```
 */
export function floatDtypeOf(
  model: Pick<OrtModel, "name">,
  values: readonly Pick<OrtValueInfo, "name" | "dtype">[],
): FloatDtype {
  const [first, ...rest] = values;
  if (first === undefined) throw new Error("floatDtypeOf: expected at least one value");
  const dtype = first.dtype;
  if (dtype !== "float32" && dtype !== "float16") {
    throw new Error(
      `Invalid UNet ${model.name}: expected input ${first.name} of dtype float32 or float16, got ${dtype}`,
    );
  }
  for (const v of rest) {
    if (v.dtype !== dtype) {
      throw new Error(
        `Invalid UNet ${model.name}: expected ${v.name} of dtype ${dtype} like ${first.name}, got ${v.dtype}`,
      );
    }
  }
  return dtype;
}

/**
 * How a network takes cond and uncond, from the batch its `sample` declares: symbolic or
 * 2B runs both in one batch, B runs them apart.
 *
 * @param model the network, named in errors
 * @param sample its declared `sample`
 * @param options `maxItems` B; `role` names the network in errors (default `"UNet"`)
 * @returns `joint` or `separate`
 * @throws {Error} when the batch is fixed to anything else
 *
 * @example
 * ```ts
 * import { unetBatching } from "./unet_checks.ts";
 * const model = { name: "unet" } as Parameters<typeof unetBatching>[0];
 * const sample = (batch: number | string) => ({ shape: [batch, 4, 8, 8] });
 * console.log(unetBatching(model, sample("B"), { maxItems: 2 }), unetBatching(model, sample(2), { maxItems: 2 })); // joint separate
 * ```
 */
export function unetBatching(
  model: Pick<OrtModel, "name">,
  sample: Pick<OrtValueInfo, "shape">,
  options: { maxItems: number; role?: string },
): UnetBatching {
  const batch = sample.shape[0];
  const B = options.maxItems;
  if (typeof batch !== "number" || batch === 2 * B) return "joint";
  if (batch === B) return "separate";
  throw new Error(
    `Invalid ${
      options.role ?? "UNet"
    } ${model.name}: its batch is fixed to ${batch}, expected ${B} or ${
      2 * B
    } for maxItems ${B} (export with a dynamic batch to score other counts)`,
  );
}
