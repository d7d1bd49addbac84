import assert from "assert";
import { Adam, type AdamHyper } from "../../kernels/adam.ts";
import { adamStepTwin, type AdamTwinTensor, adamTwinTensor } from "../../kernels/adam_twin.ts";
import type { Gpu } from "../../kernels/gpu.ts";
import { assertClose, GPU_TEST, randomArray, testGpu } from "./_harness.ts";

/** Two groups: "grid" spans two buffers (the second one padded past its floats), "mlp" one. */
function makeGroups(gpu: Gpu, seed: number) {
  const sizes = [
    { group: "grid", floats: 1000, capacity: 1000 },
    { group: "grid", floats: 333, capacity: 400 },
    { group: "mlp", floats: 2372, capacity: 2372 },
  ];
  const lrs: Record<string, number> = { grid: 1e-2, mlp: 1e-3 };
  const tensors = sizes.map((s, i) => {
    const init = Float32Array.from(randomArray(s.capacity, seed + i));
    return {
      ...s,
      init,
      params: gpu.createBuffer(init),
      grads: gpu.createBuffer(s.capacity * 4),
      twin: adamTwinTensor(init.subarray(0, s.floats)),
    };
  });
  const groups = ["grid", "mlp"].map((name) => {
    const mine = tensors.filter((t) => t.group === name);
    return {
      name,
      lr: lrs[name]!,
      params: mine.map((t) => t.params),
      grads: mine.map((t) => t.grads),
      floats: mine.map((t) => t.floats),
    };
  });
  return { tensors, groups, lrs };
}

async function runSteps(
  hyper: Partial<AdamHyper>,
  options: { steps: number; seed: number; zeroGrads?: boolean },
) {
  const gpu = await testGpu();
  const { tensors, groups, lrs } = makeGroups(gpu, options.seed);
  const adam = await Adam.create(gpu, {
    ...hyper,
    groups,
    ...(options.zeroGrads === undefined ? {} : { zeroGrads: options.zeroGrads }),
  });
  for (let step = 1; step <= options.steps; step++) {
    for (const [i, t] of tensors.entries()) {
      // Gradients in [−3, 3] so that clipping at 1 changes many of them.
      const g = Float32Array.from(randomArray(t.capacity, 1000 * step + i, -3, 3));
      gpu.upload(t.grads, g);
      adamStepTwin(t.twin, g.subarray(0, t.floats), { ...hyper, step, lr: lrs[t.group]! });
    }
    gpu.submit((encoder) => {
      const pass = encoder.beginComputePass();
      adam.encodeStep(pass);
      pass.end();
    });
  }
  assert.equal(adam.step, options.steps);
  return { gpu, adam, tensors };
}

async function checkTensors(
  gpu: Gpu,
  adam: Adam,
  tensors: { floats: number; init: Float32Array; params: GPUBuffer; twin: AdamTwinTensor }[],
) {
  const state = await adam.state();
  const moments = state.groups.flatMap((g) => g.m.map((m, i) => ({ m, v: g.v[i]! })));
  for (const [i, t] of tensors.entries()) {
    const p = new Float32Array(await gpu.read(t.params));
    assertClose(p.subarray(0, t.floats), t.twin.params, { label: `params[${i}]` });
    assert.deepEqual(p.subarray(t.floats), t.init.subarray(t.floats), "padding untouched");
    assertClose(moments[i]!.m, t.twin.m, { label: `m[${i}]` });
    assertClose(moments[i]!.v, t.twin.v, { label: `v[${i}]` });
  }
}

Deno.test("adam: 5 steps of two groups match the twin, no clipping", GPU_TEST, async () => {
  const { gpu, adam, tensors } = await runSteps({}, { steps: 5, seed: 1 });
  await checkTensors(gpu, adam, tensors);
  adam.destroy();
});

Deno.test("adam: 5 steps with clip-by-value ±1 match the twin", GPU_TEST, async () => {
  const { gpu, adam, tensors } = await runSteps({ clip: 1 }, { steps: 5, seed: 2 });
  await checkTensors(gpu, adam, tensors);
  adam.destroy();
});

Deno.test("adam: zeroGrads and encodeZeroGrads clear the gradients", GPU_TEST, async () => {
  const { gpu, adam, tensors } = await runSteps({}, { steps: 1, seed: 3, zeroGrads: true });
  const padded = tensors[1]!;
  const g = new Float32Array(await gpu.read(padded.grads));
  assert.ok(g.subarray(0, padded.floats).every((v) => v === 0), "zeroed by the step");
  assert.ok(g.subarray(padded.floats).some((v) => v !== 0), "padding left alone");
  await checkTensors(gpu, adam, tensors);
  for (const t of tensors) gpu.upload(t.grads, new Float32Array(t.capacity).fill(1));
  gpu.submit((encoder) => adam.encodeZeroGrads(encoder));
  const first = new Float32Array(await gpu.read(tensors[0]!.grads));
  assert.ok(first.every((v) => v === 0));
  adam.destroy();
});

Deno.test("adam: state round-trips into a fresh optimiser", GPU_TEST, async () => {
  const { gpu, adam, tensors } = await runSteps({ clip: 1 }, { steps: 2, seed: 4 });
  const saved = await adam.state();
  const again = await Adam.create(gpu, {
    clip: 1,
    groups: [
      {
        name: "grid",
        lr: 1e-2,
        params: [tensors[0]!.params, tensors[1]!.params],
        grads: [tensors[0]!.grads, tensors[1]!.grads],
        floats: [1000, 333],
      },
      {
        name: "mlp",
        lr: 1e-3,
        params: [tensors[2]!.params],
        grads: [tensors[2]!.grads],
        floats: [2372],
      },
    ],
  });
  again.loadState(saved);
  assert.equal(again.step, 2);
  // One more step through the restored optimiser continues the twin's trajectory.
  for (const [i, t] of tensors.entries()) {
    const g = Float32Array.from(randomArray(t.floats, 77 + i, -3, 3));
    gpu.upload(t.grads, g);
    adamStepTwin(t.twin, g, { clip: 1, step: 3, lr: t.group === "grid" ? 1e-2 : 1e-3 });
  }
  gpu.submit((encoder) => {
    const pass = encoder.beginComputePass();
    again.encodeStep(pass);
    pass.end();
  });
  await checkTensors(gpu, again, tensors);
  assert.throws(() => again.loadState({ step: 1, groups: saved.groups.slice(0, 1) }), /2 groups/);
  adam.destroy();
  again.destroy();
});

Deno.test("adam: options are validated with the field name", GPU_TEST, async () => {
  const gpu = await testGpu();
  const buf = gpu.createBuffer(16);
  const group = { name: "g", params: [buf], grads: [buf], floats: [4], lr: 1e-3 };
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ beta1: 1 }, /Invalid option adam.beta1: expected a number in \[0, 1\), got 1/],
    [{ beta2: -0.1 }, /Invalid option adam.beta2/],
    [{ eps: 0 }, /Invalid option adam.eps: expected a finite number > 0, got 0/],
    [{ clip: -1 }, /Invalid option adam.clip/],
  ];
  for (const [hyper, message] of bad) {
    await assert.rejects(Adam.create(gpu, { ...hyper, groups: [group] }), message);
  }
  await assert.rejects(
    Adam.create(gpu, { groups: [{ ...group, lr: NaN }] }),
    /Invalid option adam.groups.g.lr/,
  );
  await assert.rejects(
    Adam.create(gpu, { groups: [{ ...group, floats: [5] }] }),
    /adam.groups.g.floats\[0\]: expected at most 4/,
  );
  await assert.rejects(Adam.create(gpu, { groups: [] }), /at least one group/);
  const adam = await Adam.create(gpu, { groups: [group] });
  assert.throws(() => adam.setLr("g", -1), /Invalid option adam.groups.g.lr/);
  assert.throws(() => adam.setLr("nope", 1), /Unknown adam group nope/);
  adam.setLr("g", 0.5);
  assert.equal(adam.lr("g"), 0.5);
  adam.destroy();
  buf.destroy();
});
