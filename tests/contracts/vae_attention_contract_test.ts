/**
 * Contract: the WGSL VAE attention core against its float64 twin, output and dL/dq,
 * dL/dk, dL/dv, with token counts and channels that are not multiples of the 64 tile
 * and rows longer than one 256-thread workgroup.
 */
import assert from "assert";
import {
  Attention,
  attentionBackwardOnce,
  attentionOnce,
} from "../../kernels/vae_ops/attention.ts";
import {
  attentionBackwardTwin,
  type AttentionShape,
  attentionTwin,
} from "../../kernels/vae_ops/attention_twin.ts";
import { assertClose, GPU_TEST, randomArray, testGpu } from "./_harness.ts";

async function check(shape: AttentionShape, seed: number, spread = 2): Promise<void> {
  const gpu = await testGpu();
  const size = shape.batch * shape.channels * shape.tokens;
  const data = {
    query: Float32Array.from(randomArray(size, seed, -spread, spread)),
    key: Float32Array.from(randomArray(size, seed + 1, -spread, spread)),
    value: Float32Array.from(randomArray(size, seed + 2)),
    gradOutput: Float32Array.from(randomArray(size, seed + 3)),
  };
  assertClose(await attentionOnce(gpu, shape, data), attentionTwin(shape, data), { label: "o" });
  const got = await attentionBackwardOnce(gpu, shape, data);
  const want = attentionBackwardTwin(shape, data);
  assertClose(got.gradValue, want.gradValue, { label: "dL/dv" });
  assertClose(got.gradQuery, want.gradQuery, { label: "dL/dq" });
  assertClose(got.gradKey, want.gradKey, { label: "dL/dk" });
}

Deno.test("VAE attention: batch 2, 12 channels over 5x7 tokens", GPU_TEST, async () => {
  await check({ batch: 2, channels: 12, tokens: 35 }, 1);
});

Deno.test(
  "VAE attention: 300 tokens (rows past one workgroup), 70 channels",
  GPU_TEST,
  async () => {
    await check({ batch: 1, channels: 70, tokens: 300 }, 2, 1);
  },
);

Deno.test("VAE attention: peaked softmax stays finite", GPU_TEST, async () => {
  // Scores near ±200: exp would overflow without subtracting the row maximum.
  await check({ batch: 1, channels: 4, tokens: 20 }, 3, 20);
});

Deno.test("VAE attention: backward without gradient buffers is refused", GPU_TEST, async () => {
  const gpu = await testGpu();
  const b = () => gpu.createBuffer(16);
  const attn = await Attention.create(gpu, {
    shape: { batch: 1, channels: 2, tokens: 2 },
    query: b(),
    key: b(),
    value: b(),
    output: b(),
  });
  assert.throws(() =>
    gpu.submit((e) => {
      const p = e.beginComputePass();
      try {
        attn.encodeBackward(p);
      } finally {
        p.end();
      }
    }), /created without gradient buffers/);
  await assert.rejects(
    () =>
      Attention.create(gpu, {
        shape: { batch: 1, channels: 2, tokens: 2 },
        query: b(),
        key: b(),
        value: b(),
        output: b(),
        gradOutput: b(),
      }),
    /bind gradOutput, gradQuery, gradKey and gradValue together/,
  );
  attn.destroy();
});
