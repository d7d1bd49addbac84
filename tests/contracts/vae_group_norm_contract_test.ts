/**
 * Contract: the WGSL GroupNorm (with and without the fused SiLU) against its float64
 * twin, output and gradients dL/dx, dL/dγ, dL/dβ.
 */
import assert from "assert";
import {
  GroupNorm,
  groupNormBackwardOnce,
  groupNormOnce,
} from "../../kernels/vae_ops/group_norm.ts";
import {
  groupNormBackwardTwin,
  type GroupNormShape,
  groupNormTwin,
} from "../../kernels/vae_ops/group_norm_twin.ts";
import { assertClose, GPU_TEST, randomArray, testGpu } from "./_harness.ts";

function inputs(shape: GroupNormShape, seed: number, offset = 0) {
  const total = shape.batch * shape.channels * shape.height * shape.width;
  return {
    // An offset far from 0 checks that the variance does not cancel catastrophically.
    input: Float32Array.from(randomArray(total, seed, offset - 2, offset + 2)),
    gamma: Float32Array.from(randomArray(shape.channels, seed + 1, 0.5, 1.5)),
    beta: Float32Array.from(randomArray(shape.channels, seed + 2)),
    gradOutput: Float32Array.from(randomArray(total, seed + 3)),
  };
}

async function check(shape: GroupNormShape, seed: number, offset = 0): Promise<void> {
  const gpu = await testGpu();
  const data = inputs(shape, seed, offset);
  assertClose(await groupNormOnce(gpu, shape, data), groupNormTwin(shape, data), { label: "y" });
  const got = await groupNormBackwardOnce(gpu, shape, data);
  const want = groupNormBackwardTwin(shape, data);
  assertClose(got.gradInput, want.gradInput, { label: "dL/dx" });
  // dγ and dβ sum N·H·W O(1) terms in f32.
  assertClose(got.gradGamma, want.gradGamma, { atol: 1e-4, label: "dL/dγ" });
  assertClose(got.gradBeta, want.gradBeta, { atol: 1e-4, label: "dL/dβ" });
}

Deno.test("VAE GroupNorm: 4 groups of 3 channels, batch 2", GPU_TEST, async () => {
  await check({ batch: 2, channels: 12, height: 5, width: 7, groups: 4 }, 1);
});

Deno.test("VAE GroupNorm + SiLU: groups larger than a workgroup", GPU_TEST, async () => {
  // 2 channels · 400 pixels = 800 elements per group, more than the 256 threads.
  await check({ batch: 1, channels: 8, height: 20, width: 20, groups: 4, silu: true }, 2);
});

Deno.test("VAE GroupNorm + SiLU: inputs centred far from zero, eps 1e-6", GPU_TEST, async () => {
  await check(
    { batch: 2, channels: 6, height: 4, width: 4, groups: 3, silu: true, eps: 1e-6 },
    3,
    50,
  );
});

Deno.test("VAE GroupNorm: class accumulates dL/dx and parameter gradients", GPU_TEST, async () => {
  const gpu = await testGpu();
  const shape: GroupNormShape = {
    batch: 1,
    channels: 4,
    height: 3,
    width: 3,
    groups: 2,
    silu: true,
  };
  const data = inputs(shape, 4);
  const prior = Float32Array.from(randomArray(data.input.length, 5));
  const b = (v: Float32Array<ArrayBuffer>) => gpu.createBuffer(v);
  const gradInput = b(prior);
  const gradGamma = b(new Float32Array(4));
  const gradBeta = b(new Float32Array(4));
  const norm = await GroupNorm.create(gpu, {
    shape,
    input: b(data.input),
    gamma: b(data.gamma),
    beta: b(data.beta),
    output: gpu.createBuffer(data.input.length * 4),
    gradOutput: b(data.gradOutput),
    gradInput,
    gradGamma,
    gradBeta,
    accumulateGradInput: true,
  });
  gpu.submit((e) => {
    const p = e.beginComputePass();
    norm.encodeForward(p);
    norm.encodeBackward(p);
    norm.encodeBackward(p);
    p.end();
  });
  const want = groupNormBackwardTwin(shape, data);
  const read = async (x: GPUBuffer) => new Float32Array(await gpu.read(x));
  assertClose(await read(gradInput), prior.map((v, i) => v + 2 * want.gradInput[i]!), {
    label: "dL/dx accumulated twice",
  });
  assertClose(await read(gradGamma), want.gradGamma.map((v) => 2 * v), { label: "dL/dγ ×2" });
  assertClose(await read(gradBeta), want.gradBeta.map((v) => 2 * v), { label: "dL/dβ ×2" });
  norm.destroy();
});

Deno.test("VAE GroupNorm: bad groups are refused by name", () => {
  assert.throws(
    () =>
      groupNormTwin({ batch: 1, channels: 6, height: 1, width: 1, groups: 4 }, {
        input: [],
        gamma: [],
        beta: [],
      }),
    /Invalid option groups: expected a divisor of channels 6, got 4/,
  );
});
