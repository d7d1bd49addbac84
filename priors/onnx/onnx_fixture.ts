/**
 * Tiny ONNX models that stand in for the real priors (UNet, text encoder, image encoder)
 * in tests: the same input and output names, ranks and dtypes, a few cheap ops, and a
 * plain float64 TypeScript evaluation of the same maths to check ONNX Runtime against.
 *
 * Every output `y_j` is `a_j·x_j + Σ_i w_ij·mean(in_i)`, where `x_j` is the first input
 * with exactly the output's shape (absent: 0), so each output depends on every input and
 * the pass-through keeps per-element values checkable.
 *
 * @example A UNet-shaped stand-in
 * ```ts
 * import { buildOnnxFixture } from "./onnx_fixture.ts";
 * const fixture = buildOnnxFixture({
 *   inputs: [
 *     { name: "sample", dtype: "float32", shape: [1, 4, 8, 8] },
 *     { name: "timestep", dtype: "int64", shape: [1] },
 *   ],
 *   outputs: [{ name: "out_sample", dtype: "float32", shape: [1, 4, 8, 8] }],
 * });
 * const y = fixture.evaluate({ sample: new Float32Array(256).fill(1), timestep: [10n] });
 * console.log(fixture.model.length > 0, y.out_sample![0]); // true 4
 * ```
 *
 * @module
 */
import onnxProto from "onnx-proto";
import type { onnx as Onnx } from "onnx-proto";

// onnx-proto is CommonJS whose namespace Deno cannot name statically: it sits on the default.
const onnx = onnxProto.onnx;

/**
 * Element types the fixtures accept for inputs and outputs.
 *
 * @example
 * ```ts
 * import { buildOnnxFixture, type OnnxDataType } from "./onnx_fixture.ts";
 * const dtype: OnnxDataType = "int64";
 * const fixture = buildOnnxFixture({
 *   inputs: [{ name: "timestep", dtype, shape: [1] }],
 *   outputs: [{ name: "y", dtype: "float32", shape: [1] }],
 * });
 * console.log(fixture.spec.inputs[0]!.dtype, fixture.evaluate({ timestep: [10n] }).y); // int64 Float64Array(1) [ 15 ]
 * ```
 */
export type OnnxDataType = "float32" | "float16" | "int32" | "int64";

/**
 * One named graph input or output.
 *
 * @example
 * ```ts
 * import type { OnnxValueSpec } from "./onnx_fixture.ts";
 * const ids: OnnxValueSpec = { name: "input_ids", dtype: "int32", shape: [1, 77] };
 * console.log(ids.shape.length); // 2
 * ```
 */
export interface OnnxValueSpec {
  /** Name as the real model spells it, e.g. `encoder_hidden_states`. */
  name: string;
  /** Element type. */
  dtype: OnnxDataType;
  /** Static shape; `[]` is a scalar. */
  shape: number[];
}

/**
 * What {@linkcode buildOnnxFixture} builds.
 *
 * @example
 * ```ts
 * import type { OnnxFixtureSpec } from "./onnx_fixture.ts";
 * const spec: OnnxFixtureSpec = {
 *   inputs: [{ name: "x", dtype: "float16", shape: [2] }],
 *   outputs: [{ name: "y", dtype: "float16", shape: [2] }],
 *   externalData: "model.onnx_data",
 * };
 * console.log(spec.externalData); // model.onnx_data
 * ```
 */
export interface OnnxFixtureSpec {
  /** Graph inputs, in order. */
  inputs: OnnxValueSpec[];
  /** Graph outputs, in order. */
  outputs: OnnxValueSpec[];
  /**
   * File name for the weights as ONNX external data (like diffusers' `model.onnx_data` or
   * `weights.pb`); omitted, the weights stay inside the model.
   */
  externalData?: string;
}

/**
 * A built fixture: model bytes, external data if asked for, and its float64 evaluation.
 *
 * @example
 * ```ts
 * import { buildOnnxFixture, type OnnxFixture } from "./onnx_fixture.ts";
 * const fixture: OnnxFixture = buildOnnxFixture({
 *   inputs: [{ name: "x", dtype: "float32", shape: [2] }],
 *   outputs: [{ name: "y", dtype: "float32", shape: [3] }],
 *   externalData: "weights.pb",
 * });
 * console.log(fixture.externalData[0]!.path, fixture.evaluate({ x: [1, 3] }).y); // weights.pb Float64Array(3) [ 1, 1, 1 ]
 * ```
 */
export interface OnnxFixture {
  /** The spec it was built from. */
  spec: OnnxFixtureSpec;
  /** Serialized `ModelProto`. */
  model: Uint8Array;
  /** External-data files the model refers to (empty unless `spec.externalData` is set). */
  externalData: { path: string; data: Uint8Array }[];
  /** Evaluates the graph in float64 on the given input values. */
  evaluate(feeds: Record<string, ArrayLike<number | bigint>>): Record<string, Float64Array>;
}

const DT = onnx.TensorProto.DataType;
const ELEM: Record<OnnxDataType, number> = {
  float32: DT.FLOAT,
  float16: DT.FLOAT16,
  int32: DT.INT32,
  int64: DT.INT64,
};
const INT = onnx.AttributeProto.AttributeType.INT;

/** Weight of input i's mean in output j: distinct per pair, so a swapped input shows. */
function meanWeight(i: number, j: number): number {
  return 0.5 ** (i + 1) * (1 + j);
}

/** Scale of output j's pass-through input. */
function passScale(j: number): number {
  return 1 + 0.25 * j;
}

function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((d, k) => d === b[k]);
}

function count(shape: number[]): number {
  return shape.reduce((p, d) => p * d, 1);
}

function validateValue(value: OnnxValueSpec, where: string): void {
  if (!/^[A-Za-z_][\w.:/-]*$/.test(value.name)) {
    throw new Error(`Invalid option ${where}.name: expected an ONNX value name, got ${value.name}`);
  }
  if (!(value.dtype in ELEM)) {
    throw new Error(
      `Invalid option ${where}.dtype: expected one of ${Object.keys(ELEM).join(", ")}, got ${
        JSON.stringify(value.dtype)
      }`,
    );
  }
  for (const d of value.shape) {
    if (!Number.isInteger(d) || d < 1) {
      throw new Error(
        `Invalid option ${where}.shape: expected positive integers, got [${
          value.shape.join(", ")
        }]`,
      );
    }
  }
}

function valueInfo(value: OnnxValueSpec): Onnx.IValueInfoProto {
  return {
    name: value.name,
    type: {
      tensorType: {
        elemType: ELEM[value.dtype],
        shape: { dim: value.shape.map((d) => ({ dimValue: d })) },
      },
    },
  };
}

function floatBytes(values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}

/**
 * Builds a tiny ONNX model (opset 15, IR 8) with the given inputs and outputs.
 *
 * @param spec names, dtypes and shapes of the graph's inputs and outputs
 * @returns the model bytes, its external data and its float64 evaluation
 *
 * @example A CLIP-text-encoder-shaped stand-in
 * ```ts
 * import { buildOnnxFixture } from "./onnx_fixture.ts";
 * const encoder = buildOnnxFixture({
 *   inputs: [{ name: "input_ids", dtype: "int32", shape: [1, 77] }],
 *   outputs: [{ name: "last_hidden_state", dtype: "float32", shape: [1, 77, 8] }],
 * });
 * const ids = new Array(77).fill(49407);
 * console.log(encoder.evaluate({ input_ids: ids }).last_hidden_state![0]); // 24703.5
 * ```
 */
export function buildOnnxFixture(spec: OnnxFixtureSpec): OnnxFixture {
  if (spec.inputs.length === 0 || spec.outputs.length === 0) {
    throw new Error(
      `Invalid option inputs/outputs: expected at least one of each, got ${spec.inputs.length} and ${spec.outputs.length}`,
    );
  }
  spec.inputs.forEach((v, i) => validateValue(v, `inputs[${i}]`));
  spec.outputs.forEach((v, j) => validateValue(v, `outputs[${j}]`));
  const names = [...spec.inputs, ...spec.outputs].map((v) => v.name);
  const duplicate = names.find((n, k) => names.indexOf(n) !== k);
  if (duplicate !== undefined) {
    throw new Error(`Invalid option inputs/outputs: value name ${duplicate} appears twice`);
  }

  const nodes: Onnx.INodeProto[] = [];
  const inline: Onnx.ITensorProto[] = [
    { name: "fx_one", dims: [1], dataType: DT.INT64, int64Data: [1] },
  ];
  const weights: { name: string; dims: number[]; values: number[] }[] = [];
  const asFloat = spec.inputs.map((input, i) => {
    if (input.dtype === "float32") return input.name;
    const name = `fx_f${i}`;
    nodes.push({
      opType: "Cast",
      input: [input.name],
      output: [name],
      attribute: [{ name: "to", type: INT, i: DT.FLOAT }],
    });
    return name;
  });
  asFloat.forEach((name, i) => {
    nodes.push({
      opType: "ReduceMean",
      input: [name],
      output: [`fx_m${i}`],
      attribute: [{ name: "keepdims", type: INT, i: 1 }],
    });
    nodes.push({ opType: "Reshape", input: [`fx_m${i}`, "fx_one"], output: [`fx_r${i}`] });
  });
  nodes.push({
    opType: "Concat",
    input: spec.inputs.map((_, i) => `fx_r${i}`),
    output: ["fx_means"],
    attribute: [{ name: "axis", type: INT, i: 0 }],
  });
  const passIndex = spec.outputs.map((out) =>
    spec.inputs.findIndex((input) => sameShape(input.shape, out.shape))
  );
  spec.outputs.forEach((out, j) => {
    weights.push({
      name: `fx_w${j}`,
      dims: [spec.inputs.length],
      values: spec.inputs.map((_, i) => meanWeight(i, j)),
    });
    nodes.push({ opType: "Mul", input: ["fx_means", `fx_w${j}`], output: [`fx_p${j}`] });
    nodes.push({
      opType: "ReduceSum",
      input: [`fx_p${j}`],
      output: [`fx_s${j}`],
      attribute: [{ name: "keepdims", type: INT, i: 0 }],
    });
    const floatOut = out.dtype === "float32" ? out.name : `fx_y${j}`;
    const k = passIndex[j]!;
    if (k >= 0) {
      weights.push({ name: `fx_a${j}`, dims: [], values: [passScale(j)] });
      nodes.push({ opType: "Mul", input: [asFloat[k]!, `fx_a${j}`], output: [`fx_x${j}`] });
      nodes.push({ opType: "Add", input: [`fx_x${j}`, `fx_s${j}`], output: [floatOut] });
    } else {
      inline.push({
        name: `fx_shape${j}`,
        dims: [out.shape.length],
        dataType: DT.INT64,
        int64Data: out.shape,
      });
      nodes.push({ opType: "Expand", input: [`fx_s${j}`, `fx_shape${j}`], output: [floatOut] });
    }
    if (floatOut !== out.name) {
      nodes.push({
        opType: "Cast",
        input: [floatOut],
        output: [out.name],
        attribute: [{ name: "to", type: INT, i: ELEM[out.dtype] }],
      });
    }
  });

  const externalData: { path: string; data: Uint8Array }[] = [];
  const initializers: Onnx.ITensorProto[] = [...inline];
  if (spec.externalData === undefined) {
    for (const w of weights) {
      initializers.push({
        name: w.name,
        dims: w.dims,
        dataType: DT.FLOAT,
        rawData: floatBytes(w.values),
      });
    }
  } else {
    const blob = floatBytes(weights.flatMap((w) => w.values));
    let offset = 0;
    for (const w of weights) {
      const length = 4 * w.values.length;
      initializers.push({
        name: w.name,
        dims: w.dims,
        dataType: DT.FLOAT,
        dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
        externalData: [
          { key: "location", value: spec.externalData },
          { key: "offset", value: String(offset) },
          { key: "length", value: String(length) },
        ],
      });
      offset += length;
    }
    externalData.push({ path: spec.externalData, data: blob });
  }

  const model = onnx.ModelProto.encode(onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: "", version: 15 }],
    producerName: "animate124-onnx-fixture",
    graph: {
      name: "fixture",
      input: spec.inputs.map(valueInfo),
      output: spec.outputs.map(valueInfo),
      initializer: initializers,
      node: nodes,
    },
  })).finish();

  const evaluate = (feeds: Record<string, ArrayLike<number | bigint>>) => {
    const values = spec.inputs.map((input) => {
      const data = feeds[input.name];
      if (data === undefined) {
        throw new Error(
          `Missing fixture input ${input.name}: expected ${count(input.shape)} values`,
        );
      }
      if (data.length !== count(input.shape)) {
        throw new Error(
          `Invalid fixture input ${input.name}: expected ${
            count(input.shape)
          } values, got ${data.length}`,
        );
      }
      return Float64Array.from({ length: data.length }, (_, e) => Number(data[e]!));
    });
    const means = values.map((v) => v.reduce((s, x) => s + x, 0) / v.length);
    const result: Record<string, Float64Array> = {};
    spec.outputs.forEach((out, j) => {
      const s = means.reduce((acc, m, i) => acc + meanWeight(i, j) * m, 0);
      const k = passIndex[j]!;
      const y = new Float64Array(count(out.shape));
      for (let e = 0; e < y.length; e++) y[e] = (k >= 0 ? passScale(j) * values[k]![e]! : 0) + s;
      result[out.name] = y;
    });
    return result;
  };
  return { spec, model, externalData, evaluate };
}
