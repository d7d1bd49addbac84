/**
 * Preview frames for people watching a run: the reference view at t = 0 and a moving
 * view whose azimuth and time advance with the stage's progress, rendered (albedo on
 * white, no jitter) into PNGs beside the stage's checkpoint. Built once per stage; each
 * call reads two small frames back, outside the training step.
 *
 * @module
 */
import { writePng } from "../io/png.ts";
import { orbitCamera, REFERENCE_POSE } from "../kernels/camera.ts";
import { ClipRenderer } from "../kernels/clip_renderer.ts";
import type { Gpu } from "../kernels/gpu.ts";
import type { StageModel } from "./stage_model.ts";

/** Renders and writes preview PNGs of one stage's model. */
export class PreviewRenderer {
  readonly #gpu: Gpu;
  readonly #renderer: ClipRenderer;
  readonly #size: number;
  readonly #folder: string;

  private constructor(gpu: Gpu, renderer: ClipRenderer, size: number, folder: string) {
    this.#gpu = gpu;
    this.#renderer = renderer;
    this.#size = size;
    this.#folder = folder;
  }

  /**
   * Builds the renderer; previews go to `<folder>/previews/`.
   *
   * @example
   * ```ts
   * import { acquireGpu } from "../kernels/gpu.ts";
   * import { ANIMATE_PRESET_SETTINGS } from "./animate_settings.ts";
   * import { PreviewRenderer } from "./preview_renderer.ts";
   * import { createStageModel, destroyStageModel } from "./stage_model.ts";
   * const gpu = await acquireGpu({ log: null });
   * const model = await createStageModel(gpu, ANIMATE_PRESET_SETTINGS.tiny.field, { dynamic: false, seed: 0 });
   * const folder = await Deno.makeTempDir();
   * const preview = await PreviewRenderer.create(gpu, model, { size: 16, folder: `${folder}/static` });
   * console.log(await preview.write(3, { progress: 0.5 })); // [ "static/previews/000003_reference.png", "static/previews/000003_moving.png" ]
   * preview.destroy();
   * destroyStageModel(model);
   * gpu.destroy();
   * ```
   */
  static async create(
    gpu: Gpu,
    model: StageModel,
    options: { size: number; folder: string },
  ): Promise<PreviewRenderer> {
    const folder = options.folder.replace(/\/+$/, "");
    await Deno.mkdir(`${folder}/previews`, { recursive: true });
    const renderer = await ClipRenderer.create(gpu, model.field, {
      width: options.size,
      height: options.size,
      maxFrames: 2,
      occupancy: model.occupancy.grid,
      dt: model.dt,
      perturb: false,
      normals: false,
    });
    return new PreviewRenderer(gpu, renderer, options.size, folder);
  }

  /**
   * Renders both views and writes them.
   *
   * @param iteration the stage iteration, used in the file names
   * @param options `progress` in [0, 1]: the moving view sits at azimuth 360°·progress
   *   and time `progress`
   * @returns the PNG paths relative to the run folder (the stage folder's parent)
   */
  async write(iteration: number, options: { progress: number }): Promise<string[]> {
    const size = this.#size;
    const p = Math.min(1, Math.max(0, options.progress));
    const cam = (phiDeg: number) =>
      orbitCamera({ ...REFERENCE_POSE, phiDeg }, { width: size, height: size });
    this.#renderer.forward([{ camera: cam(0), time: 0 }, { camera: cam(360 * p), time: p }], {
      background: [1, 1, 1],
    });
    const rgb = new Float32Array(await this.#gpu.read(this.#renderer.clip.image));
    const n = size * size * 3;
    const stage = this.#folder.replace(/^.*\//, "");
    const name = String(iteration).padStart(6, "0");
    const files: string[] = [];
    for (const [i, view] of ["reference", "moving"].entries()) {
      const file = `previews/${name}_${view}.png`;
      await writePng(`${this.#folder}/${file}`, {
        width: size,
        height: size,
        rgb: rgb.subarray(i * n, (i + 1) * n),
      });
      files.push(`${stage}/${file}`);
    }
    return files;
  }

  /** Frees the renderer. */
  destroy(): void {
    this.#renderer.destroy();
  }
}
