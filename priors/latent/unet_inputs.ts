/**
 * What every ONNX diffusion network of the priors shares at its inputs: looking up a
 * declared input or output by name with an error that lists the model's names, and the
 * `timestep` feed in whichever element type and rank the export chose. The SD, ModelScope,
 * Zero123 and ControlNet denoisers all feed their networks through these.
 *
 * @example A timestep feed for an int64 `[2B]` input (cond and uncond halves)
 * ```ts
 * import { timestepFeed } from "./unet_inputs.ts";
 * const feed = timestepFeed([250, 700], { type: "int64", scalar: false, repeat: 2, model: "unet" });
 * console.log(feed.dims, [...(feed.data as BigInt64Array)]); // [ 4 ] [ 250n, 700n, 250n, 700n ]
 * ```
 *
 * @module
 */
import type { OrtHostFeed, OrtModel, OrtValueInfo } from "../onnx/ort_model.ts";

/**
 * Element types a UNet's `timestep` may declare: optimum writes int64, older diffusers
 * exports float32.
 *
 * @example
 * ```ts
 * import type { UnetTimestepType } from "./unet_inputs.ts";
 * const t: UnetTimestepType = "int64";
 * console.log(t); // int64
 * ```
 */
export type UnetTimestepType = "float32" | "float16" | "int64" | "int32";

/**
 * The accepted `timestep` element types.
 *
 * @example
 * ```ts
 * import { TIMESTEP_TYPES } from "./unet_inputs.ts";
 * console.log(TIMESTEP_TYPES.includes("int64")); // true
 * ```
 */
export const TIMESTEP_TYPES: readonly UnetTimestepType[] = [
  "float32",
  "float16",
  "int64",
  "int32",
];

/**
 * The declared input or output `name` of `model`.
 *
 * @param model the session
 * @param name the value's name
 * @param options `list`: search the inputs or the outputs; `role`: how errors call the model
 * @returns its declared dtype and shape
 * @throws {Error} naming the model, the missing value and the names it does have
 *
 * @example A missing input lists what the model has
 * ```ts
 * import { OrtRuntime } from "../onnx/ort_runtime.ts";
 * import { buildOnnxFixture } from "../onnx/onnx_fixture.ts";
 * import { declaredValue } from "./unet_inputs.ts";
 * const runtime = await OrtRuntime.create({ executionProvider: "wasm" });
 * const { model: bytes } = buildOnnxFixture({
 *   inputs: [{ name: "sample", dtype: "float32", shape: [1, 4] }],
 *   outputs: [{ name: "out_sample", dtype: "float32", shape: [1, 4] }],
 * });
 * const model = await runtime.createModel(bytes, { name: "tiny" });
 * console.log(declaredValue(model, "sample", { list: "inputs" }).shape); // [ 1, 4 ]
 * try {
 *   declaredValue(model, "timestep", { list: "inputs" });
 * } catch (error) {
 *   console.log((error as Error).message); // Invalid UNet tiny: expected an input named timestep, got sample
 * }
 * await model.release();
 * ```
 */
export function declaredValue(
  model: OrtModel,
  name: string,
  options: { list: "inputs" | "outputs"; role?: string },
): OrtValueInfo {
  const list = options.list;
  const info = model[list].find((v) => v.name === name);
  if (info === undefined) {
    throw new Error(
      `Invalid ${options.role ?? "UNet"} ${model.name}: expected an ${
        list === "inputs" ? "input" : "output"
      } named ${name}, got ${model[list].map((v) => v.name).join(", ")}`,
    );
  }
  return info;
}

/**
 * Checks a declared `timestep` input and returns its element type and whether it is a
 * scalar (rank 0) rather than `[B]`.
 *
 * @param model the session
 * @param role how errors call the model; defaults to `UNet`
 * @returns `type` and `scalar`
 * @throws {Error} naming the model, the dtype or shape and what is accepted
 *
 * @example
 * ```ts
 * import { OrtRuntime } from "../onnx/ort_runtime.ts";
 * import { buildOnnxFixture } from "../onnx/onnx_fixture.ts";
 * import { timestepInput } from "./unet_inputs.ts";
 * const runtime = await OrtRuntime.create({ executionProvider: "wasm" });
 * const { model: bytes } = buildOnnxFixture({
 *   inputs: [{ name: "timestep", dtype: "int64", shape: [2] }],
 *   outputs: [{ name: "out_sample", dtype: "float32", shape: [2] }],
 * });
 * const model = await runtime.createModel(bytes, { name: "tiny" });
 * console.log(timestepInput(model)); // { type: "int64", scalar: false }
 * await model.release();
 * ```
 */
export function timestepInput(
  model: OrtModel,
  role = "UNet",
): { type: UnetTimestepType; scalar: boolean } {
  const timestep = declaredValue(model, "timestep", { list: "inputs", role });
  if (!(TIMESTEP_TYPES as readonly string[]).includes(timestep.dtype)) {
    throw new Error(
      `Invalid ${role} ${model.name}: expected timestep of dtype ${
        TIMESTEP_TYPES.join(", ")
      }, got ${timestep.dtype}`,
    );
  }
  if (timestep.shape.length > 1) {
    throw new Error(
      `Invalid ${role} ${model.name}: expected timestep of shape [B] or [], got [${timestep.shape}]`,
    );
  }
  return { type: timestep.dtype as UnetTimestepType, scalar: timestep.shape.length === 0 };
}

/**
 * The host feed of a `timestep` input: the items' timesteps repeated `repeat` times (once
 * per CFG branch in the batch), or one scalar when the export declares rank 0.
 *
 * @param timesteps one integer timestep per item
 * @param options the input's `type` and `scalar` ({@linkcode timestepInput}), `repeat`,
 *   and the `model` name for errors
 * @returns the feed
 * @throws {Error} when a scalar timestep must carry items that drew different timesteps
 *
 * @example A scalar export needs one shared timestep
 * ```ts
 * import { timestepFeed } from "./unet_inputs.ts";
 * const feed = timestepFeed([500], { type: "float32", scalar: true, repeat: 2, model: "unet" });
 * console.log(feed.dims, feed.data); // [] Float32Array(1) [ 500 ]
 * ```
 */
export function timestepFeed(
  timesteps: readonly number[],
  options: { type: UnetTimestepType; scalar: boolean; repeat: number; model: string },
): OrtHostFeed {
  if (options.scalar && timesteps.some((t) => t !== timesteps[0])) {
    throw new Error(
      `Cannot run ${options.model}: its timestep is a scalar, but the items drew different timesteps ${timesteps}`,
    );
  }
  const values = options.scalar
    ? [timesteps[0]!]
    : Array.from({ length: options.repeat }, () => timesteps).flat();
  const dims = options.scalar ? [] : [values.length];
  switch (options.type) {
    case "int64":
      return { data: BigInt64Array.from(values, (t) => BigInt(t)), dtype: "int64", dims };
    case "int32":
      return { data: Int32Array.from(values), dtype: "int32", dims };
    case "float16":
      return { data: new Uint16Array(new Float16Array(values).buffer), dtype: "float16", dims };
    default:
      return { data: Float32Array.from(values), dtype: "float32", dims };
  }
}
