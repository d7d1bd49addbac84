/**
 * Renders to SD latents and back (SPEC.md §4 "Encode", §10.2): each rendered frame (HWC
 * RGB in [0, 1], as the renderer writes it) is resized bilinearly to the VAE's input size
 * (`align_corners=False`, like the original's `F.interpolate`), mapped to 2x − 1, laid out
 * NCHW, encoded by the WGSL {@linkcode VaeEncoder} and sampled from its posterior with
 * noise drawn on the GPU. The backward pass takes dL/dz through the VAE, the ×2 and the
 * resize's adjoint and ADDS the result into the caller's image gradient.
 *
 * The VAE runs one frame at a time (batch 1), so its activations hold only the last
 * encoded frame: {@linkcode ImageLatentEncoder.backward} walks the frames last to first
 * and re-encodes every frame but the last before its backward pass (same seed, same
 * noise), as the renderer replays frames.
 *
 * @module
 */
import type { Gpu } from "../../kernels/gpu.ts";
import { requireInt } from "../../kernels/validate.ts";
import { VaeEncoder } from "../../kernels/vae_ops/vae_encoder.ts";
import type { VaeEncoderConfig, VaeWeights } from "../../kernels/vae_ops/vae_encoder_twin.ts";
import { ImageResize } from "./image_resize.ts";
import { LatentNoise } from "./latent_noise.ts";

/**
 * Options of {@linkcode ImageLatentEncoder.create}.
 *
 * @example SD's sizes for 64² renders (weights from `loadVaeEncoderWeights`)
 * ```ts
 * import type { ImageLatentEncoderOptions } from "./image_latent_encoder.ts";
 * const options: ImageLatentEncoderOptions = {
 *   width: 64, height: 64, maxFrames: 1, inputWidth: 512, inputHeight: 512, vae: { weights: {} },
 * };
 * console.log(options.inputWidth! / 8); // 64
 * ```
 */
export interface ImageLatentEncoderOptions {
  /** Render width W. */
  width: number;
  /** Render height H. */
  height: number;
  /** Most frames per call. */
  maxFrames: number;
  /** VAE input width; defaults to 512 (SD; 256 for Zero123 and ModelScope). */
  inputWidth?: number;
  /** VAE input height; defaults to 512. */
  inputHeight?: number;
  /** VAE weights, architecture (SD v1.5's by default) and scaling factor (0.18215). */
  vae: { weights: VaeWeights; config?: VaeEncoderConfig; scale?: number };
}

/**
 * The encoder for one render size, with every kernel and buffer built once.
 *
 * @example A tiny random VAE: 8×8 renders to 4×4×4 latents and a gradient back
 * ```ts
 * import { acquireGpu } from "../../kernels/gpu.ts";
 * import { vaeEncoderPlan } from "../../kernels/vae_ops/vae_encoder_twin.ts";
 * import { ImageLatentEncoder } from "./image_latent_encoder.ts";
 * const gpu = await acquireGpu({ log: null });
 * const config = { channels: [4, 8], groups: 2, layersPerBlock: 1 };
 * const plan = vaeEncoderPlan(config, { height: 8, width: 8 });
 * const weights = Object.fromEntries(Object.entries(plan.tensors).map(([k, s]) =>
 *   [k, new Float32Array(s.reduce((a, b) => a * b)).map((_, i) => 0.05 * Math.sin(i))]));
 * const enc = await ImageLatentEncoder.create(gpu, {
 *   width: 8, height: 8, maxFrames: 1, inputWidth: 8, inputHeight: 8, vae: { weights, config },
 * });
 * const images = gpu.createBuffer(new Float32Array(192).fill(0.5));
 * const grad = gpu.createBuffer(4 * 192);
 * enc.encode(images, 1, 7);
 * gpu.upload(enc.gradLatents, new Float32Array(64).fill(1));
 * enc.backward(grad, 1);
 * const g = new Float32Array(await gpu.read(grad));
 * console.log(enc.latentShape, g.some((v) => v !== 0)); // { channels: 4, height: 4, width: 4 } true
 * enc.destroy();
 * gpu.destroy();
 * ```
 */
export class ImageLatentEncoder {
  /** Render width. */
  readonly width: number;
  /** Render height. */
  readonly height: number;
  /** Most frames per call. */
  readonly maxFrames: number;
  /** The VAE encoder (batch 1). */
  readonly vae: VaeEncoder;
  /** Latent sizes of one frame. */
  readonly latentShape: { channels: number; height: number; width: number };
  /** z of every frame of the latest {@linkcode ImageLatentEncoder.encode}, `[frames][c][h][w]`. */
  readonly latents: GPUBuffer;
  /** dL/dz, `[frames][c][h][w]`, written by the caller before {@linkcode ImageLatentEncoder.backward}. */
  readonly gradLatents: GPUBuffer;
  readonly #gpu: Gpu;
  readonly #resize: ImageResize;
  readonly #noise: LatentNoise;
  #images: GPUBuffer | null = null;
  #frames = 0;

  private constructor(
    gpu: Gpu,
    parts: {
      options: ImageLatentEncoderOptions;
      vae: VaeEncoder;
      resize: ImageResize;
      noise: LatentNoise;
      latents: GPUBuffer;
      gradLatents: GPUBuffer;
    },
  ) {
    this.#gpu = gpu;
    this.width = parts.options.width;
    this.height = parts.options.height;
    this.maxFrames = parts.options.maxFrames;
    this.vae = parts.vae;
    this.latentShape = parts.vae.plan.latent;
    this.#resize = parts.resize;
    this.#noise = parts.noise;
    this.latents = parts.latents;
    this.gradLatents = parts.gradLatents;
  }

  /**
   * Uploads the VAE weights and builds every kernel and buffer; call once.
   *
   * @param gpu the device (ORT's, wrapped, when a UNet runs on it)
   * @param options render size, frames, VAE input size and weights
   * @returns the encoder
   */
  static async create(gpu: Gpu, options: ImageLatentEncoderOptions): Promise<ImageLatentEncoder> {
    const width = requireInt("width", options.width, { min: 1 });
    const height = requireInt("height", options.height, { min: 1 });
    const maxFrames = requireInt("maxFrames", options.maxFrames, { min: 1 });
    const inputWidth = requireInt("inputWidth", options.inputWidth ?? 512, { min: 1 });
    const inputHeight = requireInt("inputHeight", options.inputHeight ?? 512, { min: 1 });
    const vae = await VaeEncoder.create(gpu, {
      height: inputHeight,
      width: inputWidth,
      weights: options.vae.weights,
      ...(options.vae.config === undefined ? {} : { config: options.vae.config }),
      ...(options.vae.scale === undefined ? {} : { scale: options.vae.scale }),
    });
    const l = vae.plan.latent;
    const perFrame = l.channels * l.height * l.width;
    // 16-byte sizes: the latents go to ONNX Runtime as they are.
    const latents = gpu.createBuffer(4 * perFrame * maxFrames, { label: "latents", align: 16 });
    const gradLatents = gpu.createBuffer(4 * perFrame * maxFrames, { label: "dL/dlatents" });
    const [resize, noise] = await Promise.all([
      ImageResize.create(gpu, {
        shape: { inWidth: width, inHeight: height, outWidth: inputWidth, outHeight: inputHeight },
        maxFrames,
        resized: vae.input,
        gradResized: vae.gradInput!,
      }),
      LatentNoise.create(gpu, { output: vae.noise, count: perFrame, maxFrames }),
    ]);
    return new ImageLatentEncoder(gpu, {
      options: { ...options, width, height, maxFrames },
      vae,
      resize,
      noise,
      latents,
      gradLatents,
    });
  }

  /** Floats of one frame's latent. */
  get latentSize(): number {
    const l = this.latentShape;
    return l.channels * l.height * l.width;
  }

  #encodeFrame(e: GPUCommandEncoder, images: GPUBuffer, frame: number): void {
    const pass = e.beginComputePass({ label: "image_latent_encoder input" });
    this.#resize.encodeForward(pass, images, frame);
    this.#noise.encode(pass, frame);
    pass.end();
    this.vae.encodeForward(e);
  }

  /**
   * Encodes `frames` frames of `images` (`[frames][H·W][3]`) into
   * {@linkcode ImageLatentEncoder.latents} and submits the work.
   *
   * @param images the rendered frames
   * @param frames how many
   * @param seed 32-bit seed of the posterior noise
   */
  encode(images: GPUBuffer, frames: number, seed: number): void {
    const n = requireInt("frames", frames, { min: 1, max: this.maxFrames });
    const need = 4 * 3 * this.width * this.height * n;
    if (images.size < need) {
      throw new RangeError(
        `Invalid option images: expected a buffer of at least ${need} bytes for ${n} frames of ${this.width}×${this.height}, got ${images.size}`,
      );
    }
    this.#noise.set(seed);
    const bytes = 4 * this.latentSize;
    this.#gpu.submit((e) => {
      for (let f = 0; f < n; f++) {
        this.#encodeFrame(e, images, f);
        e.copyBufferToBuffer(this.vae.latent, 0, this.latents, f * bytes, bytes);
      }
    });
    this.#images = images;
    this.#frames = n;
  }

  /**
   * Adds dL/dimages of the latest {@linkcode ImageLatentEncoder.encode} into `grad`, from
   * dL/dz in {@linkcode ImageLatentEncoder.gradLatents}, and submits the work.
   *
   * @param grad the image gradient `[frames][H·W][3]` to add into
   * @param frames the frame count of the latest encode
   */
  backward(grad: GPUBuffer, frames: number): void {
    if (this.#images === null || frames !== this.#frames) {
      throw new Error(
        `Cannot run ImageLatentEncoder.backward for ${frames} frames: the latest encode had ${this.#frames}`,
      );
    }
    const images = this.#images;
    const bytes = 4 * this.latentSize;
    this.#gpu.submit((e) => {
      for (let f = frames - 1; f >= 0; f--) {
        // The VAE's activations are the last frame's: earlier frames are encoded again.
        if (f !== frames - 1) this.#encodeFrame(e, images, f);
        e.copyBufferToBuffer(this.gradLatents, f * bytes, this.vae.gradLatent!, 0, bytes);
        this.vae.encodeBackward(e);
        const pass = e.beginComputePass({ label: "image_latent_encoder resize backward" });
        this.#resize.encodeBackward(pass, grad, f);
        pass.end();
      }
    });
  }

  /** Frees the VAE, the kernels and the latent buffers. */
  destroy(): void {
    this.vae.destroy();
    this.#resize.destroy();
    this.#noise.destroy();
    this.latents.destroy();
    this.gradLatents.destroy();
  }
}
