import assert from "assert";
import { writePng } from "../../io/png.ts";
import { BOB_SCENE } from "../_bob_scene.ts";
import { referenceRgba } from "../../scenes/write_reference.ts";
import { animate, prepareRun, releaseRun } from "../../stages/animate.ts";
import { staticStage } from "../../stages/static_stage.ts";
import { resolveAnimateSettings, SettingsError } from "../../stages/animate_settings.ts";
import { GPU_TEST, testGpu } from "../contracts/_harness.ts";

const SCENE = BOB_SCENE;

function small(iterations: number) {
  const stage = { iterations, referenceWarmup: 10, checkpointEvery: 0, levelMaskSteps: 0 };
  return {
    resolution: 12,
    frames: 2,
    clipPrecision: 16,
    timeTvPoints: 32,
    field: { levels: 4, log2TableSize: 10, keyframes: 2, occupancyRes: 16, occupancySlices: 2 },
    static: { ...stage, iterations: 3 * iterations },
    dynamic: stage,
    refine: { ...stage, iterations: Math.ceil(iterations / 2) },
    eval: { views: 2, times: 2, resolution: 12 },
  };
}

Deno.test(
  "animate: the three stages run end to end and beat the untrained field",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const image = await Deno.makeTempFile({ suffix: ".png" });
    // The reference is the scene's ground truth at the reference pose, as the examples ship.
    await writePng(image, { width: 64, height: 64, rgba: referenceRgba(SCENE, { size: 64 }) });
    const base = await animate({
      scene: SCENE,
      image,
      gpu,
      preset: "tiny",
      config: small(0),
      export: false,
    });
    const out = await Deno.makeTempDir();
    const events: string[] = [];
    const trained = await animate({
      scene: SCENE,
      image,
      gpu,
      preset: "tiny",
      config: small(24),
      out,
      export: false,
      onEvent: (e) => events.push(e.type),
    });
    assert.deepEqual(trained.completed, ["static", "dynamic", "refine"]);
    const before = base.metrics.final!.psnr, after = trained.metrics.final!.psnr;
    assert.ok(after > before + 2, `PSNR ${before.toFixed(2)} → ${after.toFixed(2)} dB`);
    const metrics = JSON.parse(await Deno.readTextFile(`${out}/metrics.json`));
    assert.deepEqual(Object.keys(metrics.stages), ["static", "dynamic", "refine"]);
    assert.equal(metrics.psnr, after);
    const lines = (await Deno.readTextFile(`${out}/events.jsonl`)).trim().split("\n");
    assert.equal(lines.length, events.length);
    assert.ok(events.includes("progress") && events.includes("checkpoint"));
    for (const stage of ["static", "dynamic", "refine"]) {
      await Deno.stat(`${out}/${stage}/checkpoint.safetensors`);
    }
    // A later start resumes from the previous stage's complete checkpoint.
    const resumed = await animate({
      scene: SCENE,
      image,
      gpu,
      preset: "tiny",
      config: small(24),
      out,
      stages: ["refine"],
      export: false,
    });
    assert.deepEqual(resumed.completed, ["static", "dynamic", "refine"]);
    await Deno.remove(out, { recursive: true });
    await Deno.remove(image);
  },
);

Deno.test("animate settings: unknown keys and bad values name their key path", () => {
  assert.throws(
    () => resolveAnimateSettings("tiny", { dynamic: { iters: 3 } }, { where: "run.yaml" }),
    (e: Error) =>
      e instanceof SettingsError && /^run\.yaml: dynamic\.iters: expected one of/.test(e.message),
  );
  assert.throws(
    () => resolveAnimateSettings("tiny", { static: { iterations: -1 } }, { where: "run.yaml" }),
    /run\.yaml: static\.iterations: expected an integer ≥ 0, got -1/,
  );
  assert.throws(
    () => resolveAnimateSettings("tiny", { priors: { video: { tRange: [0.9, 0.1] } } }),
    /option: priors\.video\.tRange: expected \[a, b\] with 0 ≤ a ≤ b ≤ 1, got \[0\.9, 0\.1\]/,
  );
  assert.throws(
    () => resolveAnimateSettings("tiny", { field: "big" }),
    /option: field: expected a mapping, got "big"/,
  );
  assert.throws(
    () =>
      resolveAnimateSettings("tiny", { static: { priors: ["image", "video"] } }, {
        where: "run.yaml",
      }),
    /run\.yaml: static\.priors\[1\]: expected one of image, view, each at most once, got "video"/,
  );
  assert.throws(
    () => resolveAnimateSettings("tiny", { priors: { view: { model: "../zero123" } } }),
    /option: priors\.view\.model: expected a folder name under models\.dir, got "\.\.\/zero123"/,
  );
  assert.throws(
    () => resolveAnimateSettings("tiny", { priors: { frame: { inputSize: 100.5 } } }),
    /option: priors\.frame\.inputSize: expected an integer in \[0, 4096\], got 100\.5/,
  );
  assert.throws(
    () => resolveAnimateSettings("tiny", { models: { dir: 3 } }),
    /option: models\.dir: expected a non-empty string or null, got 3/,
  );
  const s = resolveAnimateSettings("default", { refine: { iterations: 7 } });
  assert.equal(s.refine.iterations, 7);
  assert.equal(s.static.iterations, 5000);
  assert.equal(s.dynamic.gradClip, 1);
});

Deno.test("animate settings: stages name their priors; real models take SPEC.md's prior weights", () => {
  const tiny = resolveAnimateSettings("tiny");
  assert.deepEqual(tiny.static.priors, ["image", "view"]);
  assert.deepEqual(tiny.refine.priors, ["video", "view", "frame"]);
  // The tiny preset's oracle calibration (λ 0.01, CFG 3) gives way to SPEC.md's with models.
  assert.equal(tiny.priors.image.weight, 0.01);
  const real = resolveAnimateSettings("tiny", {
    models: { dir: "models" },
    priors: { video: { guidance: 50 } },
    static: { priors: ["view"] },
  });
  assert.deepEqual(
    [real.priors.image.weight, real.priors.image.guidance, real.priors.view.weight],
    [1, 100, 40],
  );
  assert.equal(real.priors.video.guidance, 50);
  assert.deepEqual(real.static.priors, ["view"]);
  assert.equal(real.priors.frame.model, "controlnet");
  assert.equal(real.resolution, tiny.resolution);
});

Deno.test(
  "animate: a stage whose prior is missing from the run is refused by name",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const state = await prepareRun({
      scene: SCENE,
      image: "examples/bouncing_ball.png",
      gpu,
      preset: "tiny",
      config: small(1),
    });
    const { image: _dropped, ...rest } = state.priors;
    _dropped!.destroy();
    await assert.rejects(
      staticStage({ ...state, priors: rest }),
      /Invalid option static\.priors: the static stage calls the image prior, but the run loaded none/,
    );
    // Naming only the view prior runs the stage without it.
    const viewOnly = await staticStage({
      ...state,
      priors: rest,
      settings: { ...state.settings, static: { ...state.settings.static, priors: ["view"] } },
    });
    assert.deepEqual(viewOnly.completed, ["static"]);
    releaseRun(viewOnly, { gpu: false });
  },
);

Deno.test(
  "animate: starting at a later stage without its predecessor's checkpoint is refused",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const out = await Deno.makeTempDir();
    await assert.rejects(
      animate({
        scene: SCENE,
        image: "examples/bouncing_ball.png",
        gpu,
        preset: "tiny",
        config: small(1),
        out,
        stages: ["dynamic", "refine"],
        export: false,
      }),
      /static\/checkpoint\.safetensors could not be read.*run the static stage first/,
    );
    await assert.rejects(
      animate({
        scene: SCENE,
        gpu,
        image: "examples/bouncing_ball.png",
        stages: ["refine", "static"],
      }),
      /Invalid option stages: expected consecutive stages in the order static,dynamic,refine/,
    );
    await Deno.remove(out, { recursive: true });
  },
);
