/**
 * The oracle priors of a synthetic scene, sized and weighted from a run's settings: the
 * SPEC.md §4 constants of each prior's role, with λ, the CFG scale and the timestep range
 * taken from `settings.priors` (so a config file can change them).
 *
 * @module
 */
import type { Gpu } from "../kernels/gpu.ts";
import {
  createFrameOracle,
  createImageOracle,
  createVideoOracle,
  createViewOracle,
  SceneTargets,
} from "../priors/scene_oracles.ts";
import {
  CONTROLNET_SDS,
  MODELSCOPE_SDS,
  SD_SDS,
  type SdsOptions,
  ZERO123_SDS,
} from "../priors/sds_options.ts";
import type { Scene } from "../scenes/scene_config.ts";
import type { AnimateSettings, PriorSettings } from "./animate_settings.ts";
import type { PriorSet } from "./run_state.ts";

/** A prior's SPEC.md constants with the run's λ, guidance and t range. */
export function sdsFromSettings(base: SdsOptions, p: PriorSettings): SdsOptions {
  return { ...base, lambda: p.weight, guidanceScale: p.guidance, timeRange: [...p.tRange] };
}

/**
 * Builds the four oracle priors for `scene` at the run's training resolution.
 *
 * @example
 * ```ts
 * import { acquireGpu } from "../kernels/gpu.ts";
 * import { parseScene } from "../scenes/scene_config.ts";
 * import { resolveAnimateSettings } from "./animate_settings.ts";
 * import { createScenePriors } from "./scene_priors.ts";
 * const gpu = await acquireGpu({ log: null });
 * const scene = parseScene(
 *   "name: a\nmotion_prompt: A ball.\nprimitives: [{ type: sphere, radius: 0.5, color: [1, 0, 0] }]",
 * );
 * const priors = await createScenePriors(gpu, scene, resolveAnimateSettings("tiny", { resolution: 8 }));
 * console.log(priors.video?.name); // oracle-video
 * for (const p of Object.values(priors)) p.destroy();
 * gpu.destroy();
 * ```
 */
export async function createScenePriors(
  gpu: Gpu,
  scene: Scene,
  settings: AnimateSettings,
): Promise<PriorSet> {
  const size = { width: settings.resolution, height: settings.resolution };
  // One set of targets: the image and view oracles share the fixed views' renders.
  const targets = new SceneTargets(scene, { ...size, subsamples: settings.gtSubsamples });
  const common = { ...size, targets };
  const p = settings.priors;
  const image = await createImageOracle(gpu, scene, {
    ...common,
    sds: sdsFromSettings(SD_SDS, p.image),
  });
  const view = await createViewOracle(gpu, scene, {
    ...common,
    sds: sdsFromSettings(ZERO123_SDS, p.view),
  });
  const video = await createVideoOracle(gpu, scene, {
    ...common,
    frames: settings.frames,
    sds: sdsFromSettings(MODELSCOPE_SDS, p.video),
  });
  const frame = await createFrameOracle(gpu, scene, {
    ...common,
    sds: sdsFromSettings(CONTROLNET_SDS, p.frame),
  });
  return { image, view, video, frame };
}
