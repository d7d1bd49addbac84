/**
 * Contract: the composed GPU VAE encoder (weights from a diffusers-named safetensors file)
 * against the composed float64 twins, moments, z and dL/dpixels, for a tiny config.
 */
import assert from "assert";
import { writeSafetensors } from "../../io/safetensors.ts";
import { seededNormal } from "../../kernels/random.ts";
import { loadVaeEncoderWeights, VaeEncoder } from "../../kernels/vae_ops/vae_encoder.ts";
import { posteriorBackwardTwin, posteriorTwin } from "../../kernels/vae_ops/posterior_twin.ts";
import {
  vaeEncoderBackwardTwin,
  type VaeEncoderConfig,
  vaeEncoderPlan,
  vaeEncoderTwin,
  type VaeWeights,
} from "../../kernels/vae_ops/vae_encoder_twin.ts";
import { assertClose, GPU_TEST, randomArray, testGpu } from "./_harness.ts";

const CONFIG: VaeEncoderConfig = { channels: [8, 16], groups: 4 };
const SIZE = { height: 16, width: 16 };

function randomWeights(config: VaeEncoderConfig, seed: number): Record<string, Float32Array> {
  const plan = vaeEncoderPlan(config, SIZE);
  const out: Record<string, Float32Array> = {};
  Object.entries(plan.tensors).forEach(([name, shape], i) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const fanIn = shape.length > 1 ? n / shape[0]! : 1;
    const isNormWeight = /norm\w*\.weight$/.test(name);
    // PyTorch-like scales keep activations O(1) through the whole stack.
    const [lo, hi] = isNormWeight
      ? [0.5, 1.5]
      : shape.length > 1
      ? [-1 / Math.sqrt(fanIn), 1 / Math.sqrt(fanIn)]
      : [-0.1, 0.1];
    out[name] = Float32Array.from(randomArray(n, seed + i, lo, hi));
  });
  return out;
}

Deno.test("VAE encoder: GPU forward and backward match the composed twins", GPU_TEST, async () => {
  const gpu = await testGpu();
  const plan = vaeEncoderPlan(CONFIG, SIZE);
  const raw = randomWeights(CONFIG, 10);
  const path = await Deno.makeTempFile({ suffix: ".safetensors" });
  await writeSafetensors(
    path,
    Object.fromEntries(
      Object.entries(raw).map((
        [k, data],
      ) => [k, { dtype: "F32" as const, shape: plan.tensors[k]!, data }]),
    ),
  );
  const weights: VaeWeights = await loadVaeEncoderWeights(path, { config: CONFIG });
  await Deno.remove(path);
  const vae = await VaeEncoder.create(gpu, { config: CONFIG, ...SIZE, weights });
  const input = Float32Array.from(randomArray(3 * 256, 1));
  const normal = seededNormal(2);
  const noise = Float32Array.from({ length: 4 * 64 }, () => normal());
  const gradLatent = Float32Array.from(randomArray(4 * 64, 3));
  gpu.upload(vae.input, input);
  gpu.upload(vae.noise, noise);
  gpu.upload(vae.gradLatent!, gradLatent);
  gpu.submit((e) => {
    vae.encodeForward(e);
    vae.encodeBackward(e);
  });
  const read = async (b: GPUBuffer) => new Float32Array(await gpu.read(b));
  const moments = vaeEncoderTwin(plan, weights, input);
  const shape = { batch: 1, ...plan.latent };
  // Eighteen f32 blocks deep, four GroupNorms of which divide by small group variances:
  // rounding compounds to ~1e-5 relative, so the bound is 1e-4 relative and absolute.
  const tol = { rtol: 1e-4, atol: 1e-4 };
  assertClose(await read(vae.moments), moments, { ...tol, label: "moments" });
  assertClose(await read(vae.latent), posteriorTwin(shape, { moments, noise }), {
    ...tol,
    label: "z",
  });
  const gradMoments = posteriorBackwardTwin(shape, { moments, noise, gradOutput: gradLatent });
  const want = vaeEncoderBackwardTwin(plan, weights, { input, gradOutput: gradMoments });
  const got = await read(vae.gradInput!);
  assert.ok(want.some((v) => Math.abs(v) > 1e-3), "the gradient reaches the pixels");
  assertClose(got, want, { ...tol, label: "dL/dpixels" });
  // Running twice gives the same gradient: nothing accumulates across steps.
  gpu.submit((e) => {
    vae.encodeForward(e);
    vae.encodeBackward(e);
  });
  assertClose(await read(vae.gradInput!), want, { ...tol, label: "dL/dpixels, second step" });
  vae.destroy();
});

Deno.test("VAE encoder: missing or misshapen tensors are named", async () => {
  const path = await Deno.makeTempFile({ suffix: ".safetensors" });
  await writeSafetensors(path, {
    "encoder.conv_in.weight": { dtype: "F32", shape: [1], data: new Float32Array(1) },
  });
  await assert.rejects(
    () => loadVaeEncoderWeights(path, { config: CONFIG }),
    /tensor encoder\.conv_in\.weight in .* has shape \[1\], expected \[8,3,3,3\]/,
  );
  await writeSafetensors(path, {
    x: { dtype: "F32", shape: [1], data: new Float32Array(1) },
  });
  await assert.rejects(
    () => loadVaeEncoderWeights(path, { config: CONFIG }),
    /tensor encoder\.conv_in\.weight missing from/,
  );
  await Deno.remove(path);
});
