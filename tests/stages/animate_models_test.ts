import assert from "assert";
import { writePng } from "../../io/png.ts";
import { referenceRgba } from "../../scenes/write_reference.ts";
import { animate } from "../../stages/animate.ts";
import type { StageEvent } from "../../stages/stage_runner.ts";
import { BOB_SCENE } from "../_bob_scene.ts";
import { GPU_TEST } from "../contracts/_harness.ts";
import { buildControlNetFolder } from "../priors/latent/_controlnet_folder.ts";
import { buildModelScopeFolder } from "../priors/latent/_modelscope_folder.ts";
import { buildSdFolder } from "../priors/latent/_sd_folder.ts";
import { buildZero123Folder } from "../priors/latent/_zero123_folder.ts";

const FRAMES = 2;

/** A `--models` folder of tiny ONNX stand-ins with the real names, one per role. */
async function modelsFolder(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "tiny-models-" });
  const parts = {
    sd: (await buildSdFolder({ dtype: "float32", timestep: "int64", batch: 2 })).dir,
    zero123: (await buildZero123Folder()).dir,
    modelscope: (await buildModelScopeFolder({ frames: FRAMES })).dir,
    controlnet: (await buildControlNetFolder()).dir,
  };
  for (const [name, from] of Object.entries(parts)) await Deno.rename(from, `${dir}/${name}`);
  return dir;
}

Deno.test(
  "animate --models: the three stages run a few steps on ONNX priors of every role",
  GPU_TEST,
  async () => {
    const models = await modelsFolder();
    const image = await Deno.makeTempFile({ suffix: ".png" });
    await writePng(image, { width: 64, height: 64, rgba: referenceRgba(BOB_SCENE, { size: 64 }) });
    const out = await Deno.makeTempDir();
    const stage = { iterations: 6, referenceWarmup: 1, checkpointEvery: 0, levelMaskSteps: 0 };
    const events: StageEvent[] = [];
    const result = await animate({
      scene: BOB_SCENE,
      image,
      preset: "tiny",
      config: {
        models: { dir: models },
        // The fixtures' own VAE input is 16²; naming it exercises the override.
        priors: { image: { inputSize: 16 } },
        resolution: 12,
        frames: FRAMES,
        clipPrecision: 16,
        timeTvPoints: 32,
        logEvery: 1,
        // Every dynamic clip starts at t = 0, so the view prior runs in the later stages too.
        zeroRate: 1,
        field: { levels: 4, log2TableSize: 10, keyframes: 2, occupancyRes: 16, occupancySlices: 2 },
        static: stage,
        dynamic: stage,
        refine: stage,
        eval: { views: 2, times: 2, resolution: 12 },
      },
      out,
      export: false,
      onEvent: (e) => events.push(e),
    });
    assert.deepEqual(result.completed, ["static", "dynamic", "refine"]);
    // SPEC.md's prior weights replace the tiny preset's oracle calibration.
    assert.equal(result.settings.priors.image.guidance, 100);
    // Every role's loss was logged, finite and non-zero, by the stage that calls it.
    const seen = new Map<string, number[]>();
    for (const e of events) {
      if (e.type !== "progress") continue;
      for (const [term, value] of Object.entries(e.loss)) {
        seen.set(`${e.stage}.${term}`, [...(seen.get(`${e.stage}.${term}`) ?? []), value]);
      }
    }
    for (
      const key of [
        "static.sd",
        "static.zero123",
        "dynamic.video",
        "dynamic.zero123",
        "refine.video",
        "refine.controlnet",
      ]
    ) {
      const values = seen.get(key) ?? [];
      assert.ok(values.length > 0, `no ${key} loss logged`);
      assert.ok(values.every(Number.isFinite), `${key}: ${values}`);
      assert.ok(values.some((v) => v > 0), `${key} stayed 0: ${values}`);
    }
    // The run is still scored against the scene, and the scores are real numbers.
    const metrics = JSON.parse(await Deno.readTextFile(`${out}/metrics.json`));
    assert.ok(Number.isFinite(metrics.psnr) && metrics.psnr > 0, `psnr ${metrics.psnr}`);
    const config = JSON.parse(await Deno.readTextFile(`${out}/config.json`));
    assert.equal(config.settings.models.dir, models);
    await Deno.remove(out, { recursive: true });
    await Deno.remove(models, { recursive: true });
    await Deno.remove(image);
  },
);

Deno.test(
  "animate --models: a missing model folder names the file and the export command",
  GPU_TEST,
  async () => {
    const models = await Deno.makeTempDir();
    await assert.rejects(
      animate({
        scene: BOB_SCENE,
        image: "examples/bouncing_ball.png",
        preset: "tiny",
        config: { models: { dir: models }, resolution: 8 },
        stages: ["static"],
        export: false,
      }),
      /sd\/text_encoder\/model\.onnx is missing: create the folder with optimum-cli export onnx/,
    );
    await Deno.remove(models, { recursive: true });
  },
);
