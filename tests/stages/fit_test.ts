import assert from "assert";
import { fit, resolveFitSettings } from "../../stages/fit.ts";
import { presetForAdapter } from "../../stages/fit_presets.ts";
import { parseScene } from "../../scenes/scene_config.ts";
import { GPU_TEST, testGpu } from "../contracts/_harness.ts";

// A ball near the centre moving down, big enough to cover many pixels at 16².
const SCENE = parseScene(
  "name: ball\nmotion_prompt: A ball sinks.\nprimitives:\n  - type: sphere\n    radius: 0.3\n    color: [0.1, 0.3, 0.9]\n    motion:\n      translate:\n        - { t: 0, value: [0, 0.1, 0] }\n        - { t: 1, value: [0, -0.1, 0] }\n",
  { source: "test-ball" },
);

const SMALL = {
  preset: "tiny",
  resolution: 16,
  levels: 4,
  log2TableSize: 10,
  finestResolution: 64,
  keyframes: 2,
  occupancyRes: 16,
  occupancySlices: 2,
  timeTvPoints: 64,
  gtSubsamples: 1,
  evalViews: 3,
  evalTimes: 2,
  logEvery: 5,
} as const;

Deno.test("fit: held-out PSNR rises above the untrained field's", GPU_TEST, async () => {
  const gpu = await testGpu();
  const untrained = await fit(SCENE, { ...SMALL, gpu, iterations: 0 });
  const before = untrained.metrics!;
  untrained.destroy();
  const events: string[] = [];
  const dir = await Deno.makeTempDir();
  const trained = await fit(SCENE, {
    ...SMALL,
    gpu,
    iterations: 40,
    out: dir,
    onEvent: (e) => events.push(e.type),
  });
  const after = trained.metrics!;
  trained.destroy();
  assert.ok(after.psnr > before.psnr + 1, `PSNR ${before.psnr} → ${after.psnr}`);
  assert.ok(events.includes("progress") && events.at(-1) === "eval", events.join(","));
  const metrics = JSON.parse(await Deno.readTextFile(`${dir}/metrics.json`));
  assert.equal(typeof metrics.psnr, "number");
  assert.equal(typeof metrics.ssim, "number");
  assert.equal(metrics.perTime.length, 2);
  await Deno.remove(dir, { recursive: true });
});

Deno.test(
  "fit: an aborted run stops at a step boundary and saves a checkpoint",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const dir = await Deno.makeTempDir();
    const controller = new AbortController();
    const result = await fit(SCENE, {
      ...SMALL,
      gpu,
      iterations: 50,
      logEvery: 2,
      out: dir,
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === "progress") controller.abort();
      },
    });
    result.destroy();
    assert.equal(result.interrupted, true);
    assert.equal(result.step, 2);
    assert.equal(result.metrics, null);
    assert.equal(result.checkpoint, `${dir}/checkpoint.safetensors`);
    await Deno.remove(dir, { recursive: true });
  },
);

Deno.test("fit: options are validated", () => {
  assert.throws(() => resolveFitSettings("tiny", { iterations: -1 }), /Invalid option iterations/);
  assert.throws(
    () => resolveFitSettings("tiny", { bogus: 1 } as never),
    /Unknown fit option bogus: expected one of/,
  );
  assert.throws(
    () => resolveFitSettings("huge" as never),
    /Invalid option preset: expected one of tiny, default/,
  );
  assert.equal(presetForAdapter({ adapterName: "lavapipe" }), "tiny");
  assert.equal(presetForAdapter({ adapterName: "NVIDIA H100" }), "default");
  assert.equal(presetForAdapter({ adapterName: "x" }, { isFallbackAdapter: true }), "tiny");
});
