/**
 * The per-step regularisers of SPEC.md §5.5 as a stage applies them to one render:
 * entropy on the compositing weights (1e-3, ramped by min(1, 2·step/iters) over the
 * cumulative step), orientation on the sample normals, and TV plus blur on the
 * composited normal image. The last two need normals, and (as in the original, where
 * albedo renders compute none) are skipped on albedo renders.
 *
 * @module
 */
import type { ClipRenderer, RenderRegularisers } from "../kernels/clip_renderer.ts";
import type { Gpu } from "../kernels/gpu.ts";
import { NormalImageReg } from "../kernels/normal_image_reg.ts";
import type { ShadingMode } from "../kernels/shade_twin.ts";
import type { StageSettings } from "./animate_settings.ts";
import type { LossSource } from "./stage_runner.ts";

/**
 * Weights of the per-sample terms for one render.
 *
 * @example
 * ```ts
 * import { ANIMATE_PRESET_SETTINGS } from "./animate_settings.ts";
 * import { sampleRegularisers } from "./render_regularisers.ts";
 * const w = sampleRegularisers(ANIMATE_PRESET_SETTINGS.default.static, {
 *   step: 1250, stageEnd: 5000, shading: "albedo",
 * });
 * console.log(w.entropy, w.orientation); // 0.0005 0
 * ```
 */
export function sampleRegularisers(
  t: StageSettings,
  options: { step: number; stageEnd: number; shading: ShadingMode },
): Required<RenderRegularisers> {
  const ramp = Math.min(1, (2 * options.step) / Math.max(1, options.stageEnd));
  return {
    entropy: t.entropyWeight * ramp,
    orientation: options.shading === "albedo" ? 0 : t.orientationWeight,
  };
}

/** The normal-image TV and blur terms of one clip renderer (only built with normals). */
export class NormalImageTerms {
  readonly #reg: NormalImageReg;
  readonly #renderer: ClipRenderer;
  readonly #gpu: Gpu;

  private constructor(gpu: Gpu, renderer: ClipRenderer, reg: NormalImageReg) {
    this.#gpu = gpu;
    this.#renderer = renderer;
    this.#reg = reg;
  }

  /** Binds the terms to `renderer`'s normal image and its gradient. */
  static async create(
    gpu: Gpu,
    renderer: ClipRenderer,
    t: StageSettings,
  ): Promise<NormalImageTerms> {
    const reg = await NormalImageReg.create(gpu, {
      normalImage: renderer.clip.normalImage,
      grad: renderer.grads.normalImage,
      width: renderer.width,
      height: renderer.height,
      maxFrames: renderer.maxFrames,
      tvWeight: t.normalTvWeight,
      blurWeight: t.normalBlurWeight,
    });
    return new NormalImageTerms(gpu, renderer, reg);
  }

  /**
   * Writes the terms' gradient for the frames just rendered (or clears it on albedo
   * renders) before the renderer's backward; returns the loss sources to log.
   */
  apply(frames: number, shading: ShadingMode): LossSource[] {
    if (shading === "albedo") {
      this.#gpu.submit((e) => e.clearBuffer(this.#renderer.grads.normalImage));
      return [];
    }
    this.#reg.setFrames(frames);
    this.#gpu.submit((encoder) => {
      const pass = encoder.beginComputePass({ label: "normal image regularisers" });
      this.#reg.encode(pass);
      pass.end();
    });
    return [["normal_tv", this.#reg.loss, 0], ["normal_blur", this.#reg.loss, 4]];
  }

  destroy(): void {
    this.#reg.destroy();
  }
}
