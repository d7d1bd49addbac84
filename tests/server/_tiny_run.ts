/** A tiny real run shared by the server tests: a one-sphere scene, a few steps per stage. */
import { writePng } from "../../io/png.ts";
import { BOB_SCENE } from "../_bob_scene.ts";
import { referenceRgba } from "../../scenes/write_reference.ts";
import { animate, type AnimateResult } from "../../stages/animate.ts";
import type { Gpu } from "../../kernels/gpu.ts";

const SCENE = BOB_SCENE;

/** Runs the three stages into `out` with previews every `previewEvery` steps. */
export async function tinyRun(
  gpu: Gpu,
  out: string,
  options: { iterations: number; previewEvery: number; exportVideos?: boolean },
): Promise<AnimateResult> {
  const image = await Deno.makeTempFile({ suffix: ".png" });
  await writePng(image, { width: 64, height: 64, rgba: referenceRgba(SCENE, { size: 64 }) });
  const stage = {
    iterations: options.iterations,
    referenceWarmup: 4,
    checkpointEvery: 0,
    levelMaskSteps: 0,
  };
  try {
    return await animate({
      scene: SCENE,
      image,
      gpu,
      preset: "tiny",
      config: {
        resolution: 12,
        frames: 2,
        clipPrecision: 16,
        timeTvPoints: 32,
        logEvery: 2,
        previewEvery: options.previewEvery,
        previewSize: 16,
        field: {
          levels: 4,
          log2TableSize: 10,
          keyframes: 2,
          occupancyRes: 16,
          occupancySlices: 2,
        },
        static: stage,
        dynamic: stage,
        refine: { ...stage, iterations: Math.ceil(options.iterations / 2) },
        eval: { views: 1, times: 1, resolution: 12 },
        export: { size: 16, views: 2, times: 2 },
      },
      out,
      export: options.exportVideos ?? false,
    });
  } finally {
    await Deno.remove(image);
  }
}
