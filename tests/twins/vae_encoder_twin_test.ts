/**
 * The composed VAE encoder twin: dL/dpixels against central finite differences of
 * L = Σ dm·moments(x), and the plan's SD v1.5 names and sizes.
 */
import assert from "assert";
import { seededRandom } from "../../kernels/random.ts";
import {
  vaeEncoderBackwardTwin,
  vaeEncoderPlan,
  vaeEncoderTwin,
} from "../../kernels/vae_ops/vae_encoder_twin.ts";
import { assertClose, finiteDifference, randomArray } from "../contracts/_harness.ts";

Deno.test("VAE encoder twin: dL/dpixels matches finite differences", () => {
  const plan = vaeEncoderPlan({ channels: [4, 8], groups: 2 }, { height: 6, width: 6 });
  const weights = Object.fromEntries(
    Object.entries(plan.tensors).map(([name, shape], i) => {
      const n = shape.reduce((a, b) => a * b, 1);
      const bound = shape.length > 1 ? Math.sqrt(shape[0]! / n) : 0.5;
      const lo = /norm\w*\.weight$/.test(name) ? 0.5 : -bound;
      return [name, randomArray(n, 100 + i, lo, lo === 0.5 ? 1.5 : bound)];
    }),
  );
  const input = randomArray(3 * 36, 1);
  const gradOutput = randomArray(8 * 9, 2);
  const loss = (x: Float64Array) =>
    vaeEncoderTwin(plan, weights, x).reduce((s, v, i) => s + v * gradOutput[i]!, 0);
  const analytic = vaeEncoderBackwardTwin(plan, weights, { input, gradOutput });
  const r = seededRandom(3);
  const probe = Array.from({ length: 24 }, () => Math.floor(r() * input.length));
  const fd = finiteDifference(loss, input, probe);
  assertClose(probe.map((i) => fd.get(i)!), probe.map((i) => analytic[i]!), {
    rtol: 1e-5,
    atol: 1e-8,
    label: "dL/dpixels",
  });
});

Deno.test("VAE encoder twin: SD v1.5 plan names and sizes", () => {
  const plan = vaeEncoderPlan({}, { height: 512, width: 512 });
  assert.deepEqual(plan.latent, { channels: 4, height: 64, width: 64 });
  assert.deepEqual(plan.tensors["encoder.conv_in.weight"], [128, 3, 3, 3]);
  assert.deepEqual(plan.tensors["encoder.down_blocks.1.resnets.0.conv_shortcut.weight"], [
    256,
    128,
    1,
    1,
  ]);
  assert.equal(plan.tensors["encoder.down_blocks.0.resnets.0.conv_shortcut.weight"], undefined);
  assert.deepEqual(plan.tensors["encoder.down_blocks.2.downsamplers.0.conv.weight"], [
    512,
    512,
    3,
    3,
  ]);
  assert.equal(plan.tensors["encoder.down_blocks.3.downsamplers.0.conv.weight"], undefined);
  assert.deepEqual(plan.tensors["encoder.mid_block.attentions.0.to_q.weight"], [512, 512]);
  assert.deepEqual(plan.tensors["encoder.conv_out.weight"], [8, 512, 3, 3]);
  assert.deepEqual(plan.tensors["quant_conv.weight"], [8, 8, 1, 1]);
  assert.equal(plan.blocks.length, 18);
});
