/**
 * The real diffusion priors of a run (SPEC.md §4, §10.1): one ONNX Runtime, one device, and
 * one prior per role that the run's stages call, each loaded from its folder under
 * `models.dir` (docs/models.md) with the run's λ, guidance and timestep range.
 *
 * @module
 */
import type { ReferenceImage } from "../io/reference_image.ts";
import type { Gpu } from "../kernels/gpu.ts";
import { createControlNetTilePrior } from "../priors/latent/controlnet_prior.ts";
import { createModelScopePrior } from "../priors/latent/modelscope_prior.ts";
import { createStableDiffusionPrior } from "../priors/latent/stable_diffusion_prior.ts";
import { createZero123Prior } from "../priors/latent/zero123_prior.ts";
import type { OrtRuntime } from "../priors/onnx/ort_runtime.ts";
import type { Prior } from "../priors/prior.ts";
import { CONTROLNET_SDS, MODELSCOPE_SDS, SD_SDS, ZERO123_SDS } from "../priors/sds_options.ts";
import {
  type AnimateSettings,
  PRIOR_ROLES,
  type PriorRole,
  STAGE_NAMES,
  type StageName,
} from "./animate_settings.ts";
import type { PriorSet } from "./run_state.ts";
import { sdsFromSettings } from "./scene_priors.ts";

/**
 * Options of {@linkcode createModelPriors}.
 *
 * @example
 * ```ts
 * import type { ModelPriorsOptions } from "./model_priors.ts";
 * const stages: ModelPriorsOptions["stages"] = ["static"];
 * console.log(stages); // [ "static" ]
 * ```
 */
export interface ModelPriorsOptions {
  /** The toolkit's view of the runtime's device (`Gpu.wrap(runtime.device)`). */
  gpu: Gpu;
  /** The reference image (Zero-1-to-3's conditioning). */
  reference: ReferenceImage;
  /** The stages that will run: only their priors are loaded. Defaults to all three. */
  stages?: readonly StageName[];
}

/**
 * The roles the given stages call, in {@linkcode PRIOR_ROLES} order.
 *
 * @param settings the run's settings (each stage's `priors`)
 * @param stages the stages that will run
 * @returns the roles to load
 *
 * @example Resuming at the refinement stage needs no text-to-image model
 * ```ts
 * import { resolveAnimateSettings } from "./animate_settings.ts";
 * import { priorRolesOf } from "./model_priors.ts";
 * console.log(priorRolesOf(resolveAnimateSettings("tiny"), ["refine"])); // [ "view", "video", "frame" ]
 * ```
 */
export function priorRolesOf(
  settings: AnimateSettings,
  stages: readonly StageName[] = STAGE_NAMES,
): PriorRole[] {
  const used = new Set(stages.flatMap((stage) => settings[stage].priors));
  return PRIOR_ROLES.filter((role) => used.has(role));
}

/**
 * Loads the priors of `settings.models.dir` that the run's stages call, on the runtime's
 * device. A prior that fails to load frees the ones already loaded.
 *
 * @param runtime ONNX Runtime on WebGPU; `options.gpu` must wrap its device
 * @param settings the run's settings (`models`, `priors`, `resolution`, `frames`)
 * @param options device, reference image and the stages that will run
 * @returns one prior per role the stages call
 * @throws {Error} naming a missing model file, its expected shape and the export command
 *
 * @example A models folder without the Stable Diffusion export names what is missing
 * ```ts
 * import { Gpu } from "../kernels/gpu.ts";
 * import { loadReferenceImage } from "../io/reference_image.ts";
 * import { OrtRuntime } from "../priors/onnx/ort_runtime.ts";
 * import { resolveAnimateSettings } from "./animate_settings.ts";
 * import { createModelPriors } from "./model_priors.ts";
 * const runtime = await OrtRuntime.create();
 * const gpu = Gpu.wrap(runtime.device!, { log: null });
 * const settings = resolveAnimateSettings("tiny", { models: { dir: await Deno.makeTempDir() } });
 * const reference = await loadReferenceImage("examples/bouncing_ball.png", { size: 32 });
 * try {
 *   await createModelPriors(runtime, settings, { gpu, reference, stages: ["static"] });
 * } catch (error) {
 *   console.log((error as Error).message.includes("sd/text_encoder/model.onnx is missing")); // true
 * }
 * ```
 */
export async function createModelPriors(
  runtime: OrtRuntime,
  settings: AnimateSettings,
  options: ModelPriorsOptions,
): Promise<PriorSet> {
  const dir = settings.models.dir;
  if (dir === null) {
    throw new Error(
      "Invalid option models.dir: expected the folder of the model folders (--models DIR)",
    );
  }
  const root = dir.replace(/\/+$/, "");
  const size = { width: settings.resolution, height: settings.resolution };
  const { gpu, reference } = options;
  const p = settings.priors;
  const input = (role: PriorRole) => p[role].inputSize > 0 ? { inputSize: p[role].inputSize } : {};
  const load: Record<PriorRole, () => Promise<Prior>> = {
    image: () =>
      createStableDiffusionPrior(runtime, {
        model: `${root}/${p.image.model}`,
        ...size,
        ...input("image"),
        gpu,
        sds: sdsFromSettings(SD_SDS, p.image),
      }),
    view: () =>
      createZero123Prior(runtime, {
        model: `${root}/${p.view.model}`,
        ...size,
        ...input("view"),
        gpu,
        sds: sdsFromSettings(ZERO123_SDS, p.view),
        reference,
      }),
    video: () =>
      createModelScopePrior(runtime, {
        model: `${root}/${p.video.model}`,
        ...size,
        ...input("video"),
        frames: settings.frames,
        gpu,
        sds: sdsFromSettings(MODELSCOPE_SDS, p.video),
      }),
    frame: () =>
      createControlNetTilePrior(runtime, {
        model: `${root}/${p.frame.model}`,
        ...size,
        ...input("frame"),
        gpu,
        sds: sdsFromSettings(CONTROLNET_SDS, p.frame),
        ...(settings.models.textualInversion === null
          ? {}
          : { textualInversion: settings.models.textualInversion }),
      }),
  };
  const priors: PriorSet = {};
  try {
    for (const role of priorRolesOf(settings, options.stages)) priors[role] = await load[role]();
  } catch (error) {
    for (const prior of Object.values(priors)) prior.destroy();
    throw error;
  }
  return priors;
}
