import assert from "assert";
import { loadCheckpoint, saveCheckpoint } from "../../stages/checkpoint.ts";
import { CHECKPOINT_FILE, fit, type FitOptions } from "../../stages/fit.ts";
import { parseScene } from "../../scenes/scene_config.ts";
import { GPU_TEST, testGpu } from "../contracts/_harness.ts";

Deno.test("checkpoint: save and load round-trip every field", async () => {
  const path = await Deno.makeTempFile({ suffix: ".safetensors" });
  const state = {
    step: 17,
    grid: [new Float32Array([1, 2, 3, 4]), new Float32Array([5, 6, 7, 8])],
    featuresPerLevel: 2,
    mlp: new Float32Array([0.5, -0.5, 0.25]),
    adam: {
      step: 17,
      groups: [
        { name: "grid", m: [new Float32Array([1, 2])], v: [new Float32Array([3, 4])] },
        { name: "mlp", m: [new Float32Array([5])], v: [new Float32Array([6])] },
      ],
    },
    occupancy: {
      grid: new Float32Array(16).map((_, i) => i),
      bits: new Uint32Array([0xdeadbeef, 7]),
      stats: new Float32Array([1.5, 2.5]),
      res: 2,
      slices: 2,
    },
    rngState: 123456789,
    options: { preset: "tiny", iterations: 99 },
    scene: "examples/demo.yaml",
  };
  await saveCheckpoint(path, state);
  const back = await loadCheckpoint(path);
  await Deno.remove(path);
  assert.deepEqual(back, state);
});

Deno.test("checkpoint: a file that is not a fit checkpoint is refused", async () => {
  const path = await Deno.makeTempFile({ suffix: ".safetensors" });
  const { writeSafetensors } = await import("../../io/safetensors.ts");
  await writeSafetensors(path, { w: { dtype: "F32", shape: [1], data: new Float32Array(1) } });
  await assert.rejects(
    loadCheckpoint(path),
    new RegExp(`Invalid checkpoint ${path}: expected metadata format`),
  );
  await Deno.remove(path);
});

const SCENE = parseScene(
  "name: ball\nmotion_prompt: A ball moves.\nprimitives:\n  - type: sphere\n    radius: 0.3\n    color: [0.9, 0.2, 0.1]\n    motion:\n      translate:\n        - { t: 0, value: [0, 0.1, 0] }\n        - { t: 1, value: [0, -0.1, 0] }\n",
  { source: "test-ball" },
);

// Small enough for a CPU adapter. The occupancy update runs every step, so the resumed
// half starts with an update on a restored grid and random stream.
const SMALL: FitOptions = {
  preset: "tiny",
  resolution: 12,
  levels: 2,
  log2TableSize: 8,
  finestResolution: 32,
  keyframes: 3,
  occupancyRes: 8,
  occupancySlices: 2,
  occupancyInterval: 1,
  timeTvPoints: 64,
  gtSubsamples: 1,
  logEvery: 2,
  checkpointEvery: 0,
  evaluate: false,
};

/** Entries that moved from their 1e-4-scale init (trained), and those where a and b differ. */
function countDifferences(a: { grid: Float32Array[]; mlp: Float32Array }, b: typeof a) {
  let differing = 0;
  let trained = 0;
  const visit = (x: Float32Array, y: Float32Array) => {
    for (let i = 0; i < x.length; i++) {
      if (Math.abs(y[i]!) > 2e-4) trained++;
      if (Math.abs(x[i]! - y[i]!) > 1e-6) differing++;
    }
  };
  a.grid.forEach((g, k) => visit(g, b.grid[k]!));
  visit(a.mlp, b.mlp);
  return Promise.resolve({ differing, trained });
}

Deno.test(
  "fit: a resumed run restores the exact state (params, Adam, occupancy, RNG)",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const dirA = await Deno.makeTempDir();
    const dirB = await Deno.makeTempDir();
    const first = await fit(SCENE, { ...SMALL, gpu, iterations: 3, out: dirA });
    first.destroy();
    // Resume with nothing left to do: the checkpoint written at the end must equal the one
    // it started from, bit for bit.
    const again = await fit(SCENE, {
      gpu,
      iterations: 3,
      resume: `${dirA}/${CHECKPOINT_FILE}`,
      out: dirB,
      evaluate: false,
    });
    assert.equal(again.step, 3);
    again.destroy();
    const a = await loadCheckpoint(`${dirA}/${CHECKPOINT_FILE}`);
    const b = await loadCheckpoint(`${dirB}/${CHECKPOINT_FILE}`);
    assert.deepEqual(b, a);
    await Deno.remove(dirA, { recursive: true });
    await Deno.remove(dirB, { recursive: true });
  },
);

Deno.test("fit: k steps + resume + k steps equals 2k steps", GPU_TEST, async () => {
  // Grid gradients are float atomics (compare-and-swap adds) whose order varies between
  // runs, and Adam with ε = 1e-15 turns a last-bit difference of a near-zero gradient into
  // a full lr-sized step, so even two straight runs can differ in a few entries. A resume
  // that lost the step, the Adam moments or the random stream moves nearly every trained
  // entry instead, so the test bounds the share of entries that differ.
  const gpu = await testGpu();
  const k = 1;
  const straight = await fit(SCENE, { ...SMALL, gpu, iterations: 2 * k });
  const want = await straight.model.field.read();
  straight.destroy();

  const dir = await Deno.makeTempDir();
  const first = await fit(SCENE, { ...SMALL, gpu, iterations: k, out: dir });
  assert.equal(first.checkpoint, `${dir}/${CHECKPOINT_FILE}`);
  first.destroy();
  const saved = await loadCheckpoint(`${dir}/${CHECKPOINT_FILE}`);
  assert.equal(saved.step, k);
  assert.equal(saved.adam.step, k);

  const events: string[] = [];
  const resumed = await fit(SCENE, {
    gpu,
    iterations: 2 * k,
    resume: `${dir}/${CHECKPOINT_FILE}`,
    evaluate: false,
    onEvent: (e) => events.push(e.type === "start" ? `start@${e.iteration}` : e.type),
  });
  assert.equal(resumed.step, 2 * k);
  assert.ok(events.includes(`start@${k}`), events.join(","));
  const got = await resumed.model.field.read();
  resumed.destroy();
  await Deno.remove(dir, { recursive: true });
  const { differing, trained } = await countDifferences(got, want);
  assert.ok(trained > 100, `entries trained: ${trained}`);
  assert.ok(differing <= 0.05 * trained, `${differing} of ${trained} trained entries differ`);
});

Deno.test("fit: resuming with a different grid shape is refused", GPU_TEST, async () => {
  const gpu = await testGpu();
  const dir = await Deno.makeTempDir();
  const first = await fit(SCENE, { ...SMALL, gpu, iterations: 1, out: dir });
  first.destroy();
  await assert.rejects(
    fit(SCENE, { gpu, levels: 3, resume: `${dir}/${CHECKPOINT_FILE}`, evaluate: false }),
    /Invalid option levels: the checkpoint .* was made with 2, got 3/,
  );
  await Deno.remove(dir, { recursive: true });
});
