/**
 * Finds the external-data files an ONNX model refers to, so that they can be handed to
 * ONNX Runtime Web, which cannot open files next to the model by itself.
 *
 * @example
 * ```ts
 * import { buildOnnxFixture } from "./onnx_fixture.ts";
 * import { externalDataLocations } from "./onnx_external_data.ts";
 * const { model } = buildOnnxFixture({
 *   inputs: [{ name: "x", dtype: "float32", shape: [2] }],
 *   outputs: [{ name: "y", dtype: "float32", shape: [2] }],
 *   externalData: "model.onnx_data",
 * });
 * console.log(externalDataLocations(model)); // [ "model.onnx_data" ]
 * ```
 *
 * @module
 */
import onnxProto from "onnx-proto";
import type { onnx as Onnx } from "onnx-proto";

/**
 * Largest model file {@linkcode externalDataLocations} decodes. Models that keep their
 * weights outside are graph-only and small; a larger file holds its weights inline, and
 * decoding gigabytes of protobuf only to find nothing would double the load time.
 *
 * @example
 * ```ts
 * import { EXTERNAL_DATA_SCAN_LIMIT, externalDataLocations } from "./onnx_external_data.ts";
 * // A file past the limit is not decoded: it is taken to hold its weights inline.
 * const large = new Uint8Array(EXTERNAL_DATA_SCAN_LIMIT + 1);
 * console.log(EXTERNAL_DATA_SCAN_LIMIT / 2 ** 20, externalDataLocations(large)); // 64 []
 * ```
 */
export const EXTERNAL_DATA_SCAN_LIMIT = 64 * 2 ** 20;

function collectGraph(graph: Onnx.IGraphProto | null | undefined, into: Set<string>): void {
  if (!graph) return;
  for (const tensor of graph.initializer ?? []) {
    for (const entry of tensor.externalData ?? []) {
      if (entry.key === "location" && entry.value) into.add(entry.value);
    }
  }
  // Control-flow ops (If, Loop, Scan) carry their own initializers in subgraphs.
  for (const node of graph.node ?? []) {
    for (const attribute of node.attribute ?? []) {
      collectGraph(attribute.g, into);
      for (const g of attribute.graphs ?? []) collectGraph(g, into);
    }
  }
}

/**
 * Lists the distinct `location` entries of the model's external-data tensors, in order of
 * first use. Models larger than {@linkcode EXTERNAL_DATA_SCAN_LIMIT} are not decoded and
 * give `[]`.
 *
 * @param model serialized `ModelProto`
 * @returns file names relative to the model's folder
 *
 * @example A model with inline weights refers to no file
 * ```ts
 * import { buildOnnxFixture } from "./onnx_fixture.ts";
 * import { externalDataLocations } from "./onnx_external_data.ts";
 * const { model } = buildOnnxFixture({
 *   inputs: [{ name: "x", dtype: "float32", shape: [2] }],
 *   outputs: [{ name: "y", dtype: "float32", shape: [2] }],
 * });
 * console.log(externalDataLocations(model).length); // 0
 * ```
 */
export function externalDataLocations(model: Uint8Array): string[] {
  if (model.byteLength > EXTERNAL_DATA_SCAN_LIMIT) return [];
  let decoded: Onnx.ModelProto;
  try {
    decoded = onnxProto.onnx.ModelProto.decode(model);
  } catch (error) {
    throw new Error(
      `Cannot read ONNX model: not a valid ModelProto (${(error as Error).message})`,
    );
  }
  const found = new Set<string>();
  collectGraph(decoded.graph, found);
  return [...found];
}
