import assert from "assert";
import { parseScene } from "../../scenes/scene_config.ts";
import { animate } from "../../stages/animate.ts";
import { loadCheckpoint } from "../../stages/checkpoint.ts";
import type { StageEvent } from "../../stages/stage_runner.ts";
import { GPU_TEST, testGpu } from "../contracts/_harness.ts";

const SCENE = parseScene(
  "name: a\nmotion_prompt: A ball bobs.\nprimitives: [{ type: sphere, radius: 0.4, color: [0.2, 0.4, 0.9] }]",
);
const CONFIG = {
  resolution: 8,
  frames: 2,
  clipPrecision: 8,
  timeTvPoints: 16,
  field: { levels: 2, log2TableSize: 8, keyframes: 2, occupancyRes: 8, occupancySlices: 2 },
  static: { iterations: 12, referenceWarmup: 2, checkpointEvery: 4, levelMaskSteps: 0 },
  dynamic: { iterations: 4, checkpointEvery: 0 },
  refine: { iterations: 2, checkpointEvery: 0 },
  eval: { views: 1, times: 1, resolution: 12 },
  previewEvery: 0,
};

Deno.test(
  "animate: an aborted stage keeps its last checkpoint, and the same call continues from it",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const out = await Deno.makeTempDir();
    const controller = new AbortController();
    const first = await animate({
      scene: SCENE,
      image: "examples/bouncing_ball.png",
      gpu,
      preset: "tiny",
      config: CONFIG,
      out,
      export: false,
      signal: controller.signal,
      onEvent: (e) => {
        // Ask to stop while the checkpoint at iteration 8 is written.
        if (e.type === "checkpoint" && e.iteration === 8) controller.abort();
      },
    });
    assert.equal(first.interrupted, true);
    assert.deepEqual(first.completed, []);
    const saved = await loadCheckpoint(`${out}/static/checkpoint.safetensors`);
    assert.equal(saved.step, 8, "the abort lands at the next step boundary and saves there");
    assert.equal((saved.options as { complete: boolean }).complete, false);
    const events: StageEvent[] = [];
    const second = await animate({
      scene: SCENE,
      image: "examples/bouncing_ball.png",
      gpu,
      preset: "tiny",
      config: CONFIG,
      out,
      export: false,
      onEvent: (e) => events.push(e),
    });
    assert.deepEqual(second.completed, ["static", "dynamic", "refine"]);
    const start = events.find((e) => e.type === "stage-start" && e.stage === "static");
    assert.ok(start !== undefined && start.type === "stage-start");
    assert.equal(start.iteration, 8, "the static stage resumes where it stopped");
    assert.equal(second.step, 18);
    // A third call finds every stage complete and trains nothing.
    const third: StageEvent[] = [];
    await animate({
      scene: SCENE,
      image: "examples/bouncing_ball.png",
      gpu,
      preset: "tiny",
      config: CONFIG,
      out,
      export: false,
      onEvent: (e) => third.push(e),
    });
    assert.equal(third.filter((e) => e.type === "progress").length, 0);
    // Other settings in the same folder are refused rather than overwritten.
    await assert.rejects(
      animate({
        scene: SCENE,
        image: "examples/bouncing_ball.png",
        gpu,
        preset: "tiny",
        config: { ...CONFIG, seed: 3 },
        out,
        export: false,
      }),
      /holds a static stage made with other settings/,
    );
    await Deno.remove(out, { recursive: true });
  },
);
