/**
 * The diffusion priors' runtime: ONNX Runtime Web on the toolkit's WebGPU device
 * (SPEC.md §10.1), the CLIP tokenizer, and tiny ONNX stand-ins for tests.
 *
 * @example Tokenize a prompt and run a text-encoder stand-in on the CPU
 * ```ts
 * import { buildOnnxFixture, ClipTokenizer, OrtRuntime } from "./mod.ts";
 * const vocab = { "a</w>": 0, "<|startoftext|>": 1, "<|endoftext|>": 2 };
 * const ids = ClipTokenizer.fromVocab(vocab, []).encode("a");
 * const runtime = await OrtRuntime.create({ executionProvider: "wasm" });
 * const encoder = await runtime.createModel(buildOnnxFixture({
 *   inputs: [{ name: "input_ids", dtype: "int32", shape: [1, 77] }],
 *   outputs: [{ name: "pooler_output", dtype: "float32", shape: [1, 2] }],
 * }).model);
 * const out = await encoder.run({ input_ids: { data: ids, dtype: "int32", dims: [1, 77] } });
 * console.log(ids.slice(0, 4), (out.pooler_output!.data as Float32Array)[0]!.toFixed(3)); // Int32Array(4) [ 1, 0, 2, 2 ] 0.981
 * await encoder.release();
 * ```
 *
 * @module
 */
export { CLIP_MAX_LENGTH, ClipTokenizer, type ClipTokenizerOptions } from "./clip_tokenizer.ts";
export {
  buildOnnxFixture,
  type OnnxDataType,
  type OnnxFixture,
  type OnnxFixtureSpec,
  type OnnxValueSpec,
} from "./onnx_fixture.ts";
export { EXTERNAL_DATA_SCAN_LIMIT, externalDataLocations } from "./onnx_external_data.ts";
export {
  type OrtFeed,
  type OrtGpuDataType,
  type OrtGpuFeed,
  type OrtHostFeed,
  OrtModel,
  type OrtOutputTarget,
  type OrtValueInfo,
} from "./ort_model.ts";
export {
  loadOrt,
  type Ort,
  type OrtExecutionProvider,
  type OrtLogLevel,
  type OrtModelOptions,
  OrtRuntime,
  type OrtRuntimeOptions,
} from "./ort_runtime.ts";
