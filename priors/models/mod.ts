/**
 * Real-model plumbing around the ONNX priors: textual-inversion loading and splicing
 * (SPEC.md §10.3), Zero-1-to-3's pose vector, cc_projection and CLIP image input (§4), and
 * the `--models DIR` layout with its validation (docs/models.md).
 *
 * @example The Zero123 pose vector of a camera 90° round from the reference
 * ```ts
 * import { zero123PoseVector } from "./mod.ts";
 * console.log(zero123PoseVector({ dTheta: 0, dPhi: 90, dRadius: 0 })[1]); // -1
 * ```
 *
 * @module
 */
export type { RelativePose } from "../prior.ts";
export { CLIP_MEAN, CLIP_STD, clipImageInput, resizeBicubicU8 } from "./clip_image_input.ts";
export {
  checkOnnxFile,
  type ExpectedDim,
  type ExpectedFile,
  type ExpectedValue,
  MODEL_FOLDERS,
  type ModelFolderSpec,
  type PriorName,
  validateModelFolder,
} from "./model_folders.ts";
export {
  describeValueInfo,
  encodeVarint,
  ONNX_ELEMENT_TYPES,
  type OnnxSignature,
  type OnnxValue,
  type ProtoField,
  protoFields,
  readOnnxSignature,
  readVarint,
} from "./onnx_signature.ts";
export {
  patchOnnxTokenEmbedding,
  readOnnxTokenEmbedding,
  TOKEN_EMBEDDING_INITIALIZER,
} from "./onnx_token_embedding.ts";
export {
  loadTextualInversion,
  type LoadTextualInversionOptions,
  parseTorchTextualInversion,
  spliceEmbedding,
  type TextualInversion,
} from "./textual_inversion.ts";
export {
  readTorchArchive,
  type TorchFloatType,
  TorchTensor,
  type TorchTensorInput,
  unpickleTorch,
  writeTorchArchive,
} from "./torch_pickle.ts";
export {
  CcProjection,
  ZERO123_POSE_DIM,
  zero123EncoderStates,
  Zero123ImageContext,
  zero123PoseVector,
} from "./zero123_conditioning.ts";
export { crc32, ZipArchive, type ZipEntry } from "./zip_archive.ts";
