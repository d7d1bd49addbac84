/**
 * The Zero-1-to-3-XL prior of stages 1–3 (SPEC.md §4): a {@linkcode LatentSdsPrior} whose
 * denoiser is the 8-channel Zero123 UNet ({@linkcode Zero123Denoiser}), assembled from a
 * folder as `export_zero123.py` (docs/models.md) writes it: `image_encoder/model.onnx`,
 * `cc_projection/diffusion_pytorch_model.safetensors`, `unet/model.onnx`, the diffusers VAE
 * (`vae/`) and `scheduler/scheduler_config.json`.
 *
 * Once, at creation, the reference image (the run's {@linkcode ReferenceImage}, area-resized
 * to 256² when it has another size) gives:
 * - its CLIP image embedding (the ONNX image encoder on `clipImageInput`, read back once),
 *   projected by cc_projection without the pose columns (`CcProjection.forImage`);
 * - its c_concat: the VAE posterior MEAN of the reference at the VAE's input size, NOT
 *   multiplied by the 0.18215 scaling factor, as the original Zero123 (`ddpm.py`,
 *   `encode_first_stage(x).mode()`) and Animate124's pipeline (`prepare_img_latents`, whose
 *   scaling line is commented out) leave it. Computed by the prior's own WGSL VAE, on the GPU.
 *
 * The renders are encoded like SD's (bilinear resize, posterior sample × 0.18215); CFG is
 * Zero123's (ε_u + s(ε_c − ε_u), s = 5), λ·angle/180° and t in 200–600 ({@linkcode ZERO123_SDS}).
 *
 * @module
 */
import type { ReferenceImage } from "../../io/reference_image.ts";
import { resizeReference } from "../../io/reference_image.ts";
import type { Gpu } from "../../kernels/gpu.ts";
import { requireInt } from "../../kernels/validate.ts";
import { clipImageInput } from "../models/clip_image_input.ts";
import { MODEL_FOLDERS } from "../models/model_folders.ts";
import { CcProjection, ZERO123_POSE_DIM } from "../models/zero123_conditioning.ts";
import type { OrtRuntime } from "../onnx/ort_runtime.ts";
import type { OrtModel } from "../onnx/ort_model.ts";
import { ZERO123_SDS } from "../sds_options.ts";
import type { SdsOptions } from "../sds_options.ts";
import { LatentSdsPrior } from "./latent_sds_prior.ts";
import { DIFFUSERS_FILES, loadLatentEncoder, openModelFolder, vaeSizes } from "./model_folder.ts";
import { declaredValue } from "./unet_inputs.ts";
import { Zero123Denoiser } from "./zero123_denoiser.ts";

/**
 * The side the original resizes the reference to before CLIP and the VAE see it.
 *
 * @example
 * ```ts
 * import { ZERO123_REFERENCE_SIZE } from "./zero123_prior.ts";
 * console.log(ZERO123_REFERENCE_SIZE / 8); // 32
 * ```
 */
export const ZERO123_REFERENCE_SIZE = 256;

/**
 * Options of {@linkcode createZero123Prior}.
 *
 * @example
 * ```ts
 * import type { Zero123PriorOptions } from "./zero123_prior.ts";
 * const reference = { size: 1, rgb: new Float32Array(3).fill(1), alpha: new Float32Array(1), mask: new Uint8Array(1) };
 * const options: Zero123PriorOptions = { model: "models/zero123", width: 64, height: 64, reference };
 * console.log(options.maxItems ?? 1); // 1
 * ```
 */
export interface Zero123PriorOptions {
  /** The model folder. */
  model: string;
  /** Render width W. */
  width: number;
  /** Render height H. */
  height: number;
  /** The reference image as the run holds it (composited on white; 256² in the original). */
  reference: Readonly<ReferenceImage>;
  /** Images per call; defaults to 1. */
  maxItems?: number;
  /** The toolkit's view of the runtime's device; defaults to `Gpu.wrap(runtime.device)`. */
  gpu?: Gpu;
  /** SDS constants; defaults to {@linkcode ZERO123_SDS}. */
  sds?: SdsOptions;
  /**
   * VAE input size (square); defaults to the UNet's declared latent size times the VAE's
   * downsampling, or 256 when the UNet leaves it dynamic.
   */
  inputSize?: number;
}

function refuse(message: string): Error {
  return new Error(`${message}: create the folder with ${MODEL_FOLDERS.zero123.exportCommand}`);
}

/** Runs the image encoder once on the reference; the one read-back of the prior. */
async function imageEmbedding(
  encoder: OrtModel,
  reference: Readonly<ReferenceImage>,
  path: string,
): Promise<Float32Array> {
  const pixels = declaredValue(encoder, "pixel_values", { list: "inputs", role: "image encoder" });
  const embeds = declaredValue(encoder, "image_embeds", { list: "outputs", role: "image encoder" });
  const side = pixels.shape[3];
  if (
    pixels.shape.length !== 4 || pixels.shape[1] !== 3 || typeof side !== "number" ||
    pixels.shape[2] !== side || embeds.shape.length !== 2 || typeof embeds.shape[1] !== "number"
  ) {
    throw refuse(
      `Invalid image encoder ${path}: expected pixel_values [B, 3, 224, 224] and image_embeds [B, 768], got [${pixels.shape}] and [${embeds.shape}]`,
    );
  }
  const ref = reference.size === ZERO123_REFERENCE_SIZE
    ? reference
    : resizeReference(reference, ZERO123_REFERENCE_SIZE);
  const input = clipImageInput(ref.rgb, { width: ref.size, height: ref.size, size: side });
  const feed = pixels.dtype === "float16"
    ? { data: new Uint16Array(new Float16Array(input).buffer), dtype: "float16" as const }
    : { data: input, dtype: "float32" as const };
  const out = await encoder.run({ pixel_values: { ...feed, dims: [1, 3, side, side] } }, {
    outputs: ["image_embeds"],
  });
  const tensor = out.image_embeds!;
  try {
    const data = await tensor.getData();
    return data instanceof Float32Array
      ? Float32Array.from(data)
      : Float32Array.from(new Float16Array((data as Uint16Array).buffer));
  } finally {
    tensor.dispose();
  }
}

/** The reference at the VAE's input size, as `[3][size][size]` in [−1, 1]. */
function vaeInput(reference: Readonly<ReferenceImage>, size: number): Float32Array<ArrayBuffer> {
  const ref = reference.size === size ? reference : resizeReference(reference, size);
  const out = new Float32Array(3 * size * size);
  for (let p = 0; p < size * size; p++) {
    for (let c = 0; c < 3; c++) out[c * size * size + p] = 2 * ref.rgb[3 * p + c]! - 1;
  }
  return out;
}

/**
 * Builds the Zero123 prior from a model folder and the run's reference image.
 *
 * @param runtime ONNX Runtime on WebGPU (`OrtRuntime.create()`)
 * @param options model folder, render size, reference image, batch and constants
 * @returns the prior; `destroy()` frees its buffers and releases the UNet session
 * @throws {Error} naming a missing file or a wrong shape, with the export command
 *
 * @example A missing folder names the file and the export command
 * ```ts
 * import { OrtRuntime } from "../onnx/ort_runtime.ts";
 * import { createZero123Prior } from "./zero123_prior.ts";
 * const runtime = await OrtRuntime.create({ executionProvider: "wasm" });
 * const reference = { size: 1, rgb: new Float32Array(3).fill(1), alpha: new Float32Array(1), mask: new Uint8Array(1) };
 * try {
 *   await createZero123Prior(runtime, { model: "/nonexistent", width: 64, height: 64, reference });
 * } catch (error) {
 *   console.log((error as Error).message.includes("export_zero123.py")); // true
 * }
 * ```
 */
export async function createZero123Prior(
  runtime: OrtRuntime,
  options: Zero123PriorOptions,
): Promise<LatentSdsPrior> {
  const maxItems = requireInt("maxItems", options.maxItems ?? 1, { min: 1 });
  const folder = await openModelFolder(runtime, {
    model: options.model,
    name: "Zero123",
    exportCommand: MODEL_FOLDERS.zero123.exportCommand,
    files: {
      imageEncoder: "image_encoder/model.onnx",
      ccProjection: "cc_projection/diffusion_pytorch_model.safetensors",
      unet: DIFFUSERS_FILES.unet,
      scheduler: DIFFUSERS_FILES.scheduler,
      vae: DIFFUSERS_FILES.vae,
    },
    sds: options.sds ?? ZERO123_SDS,
    gpu: options.gpu,
  });
  const { files, gpu, sds } = folder;
  const unet = await runtime.loadModel(files.unet);
  const owned: { destroy(): void }[] = [{ destroy: () => void unet.release() }];
  try {
    const sample = unet.inputs.find((i) => i.name === "sample");
    const context = unet.inputs.find((i) => i.name === "encoder_hidden_states");
    const hidden = context?.shape[2];
    if (
      sample === undefined || sample.shape.length !== 4 || sample.shape[1] !== 8 ||
      context === undefined || context.shape.length !== 3 || typeof hidden !== "number"
    ) {
      throw refuse(
        `Invalid UNet ${files.unet}: expected inputs sample [B, 8, 32, 32] (z_t and c_concat) and encoder_hidden_states [B, 1, 768], got ${
          unet.inputs.map((i) => `${i.name} [${i.shape}]`).join(", ")
        }`,
      );
    }
    const projection = await CcProjection.load(files.ccProjection, { width: hidden }).catch(
      (error: Error) => {
        throw refuse(error.message);
      },
    );
    const encoder = await runtime.loadModel(files.imageEncoder);
    let embedding: Float32Array;
    try {
      embedding = await imageEmbedding(encoder, options.reference, files.imageEncoder);
    } finally {
      await encoder.release();
    }
    if (embedding.length !== projection.inputs - ZERO123_POSE_DIM) {
      throw refuse(
        `Invalid image encoder ${files.imageEncoder}: its image_embeds has ${embedding.length} values, cc_projection in ${files.ccProjection} expects ${
          projection.inputs - ZERO123_POSE_DIM
        }`,
      );
    }
    const image = projection.forImage(embedding);

    const { inputSize, latentSize } = vaeSizes(folder.vae, {
      declared: sample.shape[2],
      fallback: ZERO123_REFERENCE_SIZE,
      inputSize: options.inputSize,
    });
    const latentEncoder = await loadLatentEncoder(folder, {
      width: options.width,
      height: options.height,
      maxFrames: maxItems,
      inputSize,
    });
    owned.push(latentEncoder);
    // c_concat: the reference through the same VAE, keeping μ (the first c channels of the
    // moments), unscaled; the noise and the scaled sample of this pass are not used.
    const vae = latentEncoder.vae;
    const perItem = latentEncoder.latentSize;
    const cConcat = gpu.createBuffer(4 * perItem, { label: "zero123 c_concat", align: 16 });
    gpu.upload(vae.input, vaeInput(options.reference, inputSize));
    gpu.submit((e) => {
      vae.encodeForward(e);
      e.copyBufferToBuffer(vae.moments, 0, cConcat, 0, 4 * perItem);
    });
    const denoiser = await Zero123Denoiser.create(gpu, {
      unet,
      image,
      cConcat,
      maxItems,
      latent: {
        channels: latentEncoder.latentShape.channels,
        height: latentSize,
        width: latentSize,
      },
    }).catch((error: Error) => {
      cConcat.destroy();
      throw refuse(error.message);
    });
    owned.push(denoiser);
    return await LatentSdsPrior.create(gpu, {
      name: "zero123",
      encoder: latentEncoder,
      denoiser,
      sds,
      maxItems,
      owned: [owned[0]!],
    });
  } catch (error) {
    for (const o of owned) o.destroy();
    throw error;
  }
}
