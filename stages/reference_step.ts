/**
 * The reference-view step of every stage (SPEC.md §5.2): render the reference pose at
 * time 0 on white, with one shared N(0, 10⁻³) jitter on all ray origins and another on
 * all directions, and pull it towards the reference image with λ_rgb·MSE + λ_mask·MSE(A, M).
 *
 * Two deliberate simplifications: the colour term is the unmasked MSE (outside the mask
 * the target is the white background the render is composited on, which the mask term
 * asks for too), and there is no MiDaS depth term (λ 0.01), since no depth estimator runs
 * here.
 *
 * @module
 */
import { orbitCamera, REFERENCE_POSE } from "../kernels/camera.ts";
import { type ClipFrame, ClipRenderer, type RenderRegularisers } from "../kernels/clip_renderer.ts";
import type { Gpu } from "../kernels/gpu.ts";
import { ImageLoss } from "../kernels/image_loss.ts";
import { requireInt } from "../kernels/validate.ts";
import type { RngStream } from "./rng_stream.ts";
import type { StageModel } from "./stage_model.ts";

/** The reference image at the size the reference step renders. */
export interface ReferenceTarget {
  /** Side of the square image. */
  size: number;
  /** `[size²][3]` colour composited on white. */
  rgb: Float32Array;
  /** `[size²]` mask M (1 inside, 0 outside). */
  mask: Float32Array;
}

/** Weights of the reference losses. */
export interface ReferenceWeights {
  rgb: number;
  mask: number;
}

/** A standard normal draw from the run's stream (Box–Muller). */
export function normalDraw(rng: RngStream): number {
  const u = Math.max(rng.next(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
}

/**
 * The reference step, built once per stage (its renderer is bound to the stage's field).
 * `loss` holds `[L_rgb, L_mask, L]` after each step.
 */
export class ReferenceStep {
  readonly renderer: ClipRenderer;
  readonly loss: ImageLoss;
  readonly #gpu: Gpu;
  readonly #frame: ClipFrame;
  readonly #owned: GPUBuffer[];

  private constructor(
    gpu: Gpu,
    parts: { renderer: ClipRenderer; loss: ImageLoss; frame: ClipFrame; owned: GPUBuffer[] },
  ) {
    this.#gpu = gpu;
    this.renderer = parts.renderer;
    this.loss = parts.loss;
    this.#frame = parts.frame;
    this.#owned = parts.owned;
  }

  /**
   * Builds the renderer and the loss and uploads the target once.
   *
   * @example
   * ```ts
   * import { acquireGpu } from "../kernels/gpu.ts";
   * import { ANIMATE_PRESET_SETTINGS } from "./animate_settings.ts";
   * import { ReferenceStep } from "./reference_step.ts";
   * import { RngStream } from "./rng_stream.ts";
   * import { createStageModel, destroyStageModel } from "./stage_model.ts";
   * const gpu = await acquireGpu({ log: null });
   * const model = await createStageModel(gpu, ANIMATE_PRESET_SETTINGS.tiny.field, { dynamic: false, seed: 0 });
   * const size = 8;
   * const ref = await ReferenceStep.create(gpu, model, {
   *   target: { size, rgb: new Float32Array(size * size * 3).fill(1), mask: new Float32Array(size * size) },
   *   weights: { rgb: 5, mask: 0.5 },
   * });
   * ref.step(1, new RngStream(1));
   * console.log(new Float32Array(await gpu.read(ref.loss.loss)).length); // 3
   * ref.destroy();
   * destroyStageModel(model);
   * gpu.destroy();
   * ```
   */
  static async create(
    gpu: Gpu,
    model: StageModel,
    options: { target: ReferenceTarget; weights: ReferenceWeights; seed?: number },
  ): Promise<ReferenceStep> {
    const size = requireInt("reference size", options.target.size, { min: 2, max: 4096 });
    const pixels = size * size;
    if (options.target.rgb.length !== 3 * pixels || options.target.mask.length !== pixels) {
      throw new RangeError(
        `Invalid reference target: expected ${
          3 * pixels
        } colour and ${pixels} mask floats, got ${options.target.rgb.length} and ${options.target.mask.length}`,
      );
    }
    const renderer = await ClipRenderer.create(gpu, model.field, {
      width: size,
      height: size,
      maxFrames: 1,
      occupancy: model.occupancy.grid,
      dt: model.dt,
      perturb: true,
      seed: (options.seed ?? 0) ^ 0x7ef,
      normals: false,
    });
    const target = gpu.createBuffer(Float32Array.from(options.target.rgb), {
      label: "reference rgb",
    });
    const mask = gpu.createBuffer(Float32Array.from(options.target.mask), {
      label: "reference mask",
    });
    const loss = await ImageLoss.create(gpu, {
      image: renderer.clip.image,
      alpha: renderer.clip.alpha,
      target,
      targetAlpha: mask,
      gradImage: renderer.grads.image,
      gradAlpha: renderer.grads.alpha,
      maxPixels: pixels,
      rgbWeight: options.weights.rgb,
      alphaWeight: options.weights.mask,
    });
    const frame = { camera: orbitCamera(REFERENCE_POSE, { width: size, height: size }), time: 0 };
    return new ReferenceStep(gpu, { renderer, loss, frame, owned: [target, mask] });
  }

  /** Sets the loss weights (e.g. a stage with other λ). */
  setWeights(weights: ReferenceWeights): void {
    this.loss.setRgbWeight(weights.rgb);
    this.loss.setAlphaWeight(weights.mask);
  }

  /**
   * Renders, scores and back-propagates one reference step into the field's gradients.
   * Submits GPU work only; `rng` supplies the two jitter vectors; `regularisers` adds the
   * entropy term (the renderer has no normals, so no orientation).
   */
  step(step: number, rng: RngStream, regularisers: RenderRegularisers = {}): void {
    const jitter = (): [number, number, number] => [
      1e-3 * normalDraw(rng),
      1e-3 * normalDraw(rng),
      1e-3 * normalDraw(rng),
    ];
    const settings = {
      step,
      background: [1, 1, 1] as const,
      originOffset: jitter(),
      directionOffset: jitter(),
      regularisers,
    };
    this.renderer.forward([this.#frame], settings);
    this.#gpu.submit((encoder) => {
      const pass = encoder.beginComputePass({ label: "reference loss" });
      this.loss.encode(pass);
      pass.end();
    });
    this.renderer.backward([this.#frame], settings);
  }

  /** Frees the renderer, the loss and the targets. */
  destroy(): void {
    this.loss.destroy();
    this.renderer.destroy();
    for (const b of this.#owned) b.destroy();
  }
}
