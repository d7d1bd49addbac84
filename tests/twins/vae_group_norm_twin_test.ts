/**
 * The VAE GroupNorm twin (with and without SiLU): gradients against central finite
 * differences, and the normalised statistics by hand.
 */
import assert from "assert";
import {
  groupNormBackwardTwin,
  type GroupNormShape,
  groupNormTwin,
} from "../../kernels/vae_ops/group_norm_twin.ts";
import { siluGradTwin, siluTwin } from "../../kernels/vae_ops/silu_twin.ts";
import { assertClose, finiteDifference, randomArray } from "../contracts/_harness.ts";

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};

function checkFiniteDifference(shape: GroupNormShape, seed: number): void {
  const total = shape.batch * shape.channels * shape.height * shape.width;
  const input = randomArray(total, seed, -2, 2);
  const gamma = randomArray(shape.channels, seed + 1, 0.5, 1.5);
  const beta = randomArray(shape.channels, seed + 2);
  const gradOutput = randomArray(total, seed + 3);
  const analytic = groupNormBackwardTwin(shape, { input, gamma, beta, gradOutput });
  const loss = (x: Float64Array, ga: Float64Array, be: Float64Array) =>
    dot(gradOutput, groupNormTwin(shape, { input: x, gamma: ga, beta: be }));
  const all = (n: number) => Array.from({ length: n }, (_, i) => i);
  const tol = { rtol: 1e-6, atol: 1e-8 };
  const fx = finiteDifference((x) => loss(x, gamma, beta), input, all(total));
  assertClose([...fx.values()], analytic.gradInput, { ...tol, label: "dL/dx" });
  const fg = finiteDifference((ga) => loss(input, ga, beta), gamma, all(shape.channels));
  assertClose([...fg.values()], analytic.gradGamma, { ...tol, label: "dL/dγ" });
  const fb = finiteDifference((be) => loss(input, gamma, be), beta, all(shape.channels));
  assertClose([...fb.values()], analytic.gradBeta, { ...tol, label: "dL/dβ" });
}

Deno.test("VAE GroupNorm twin: gradients match finite differences", () => {
  checkFiniteDifference({ batch: 2, channels: 6, height: 2, width: 3, groups: 3 }, 1);
});

Deno.test("VAE GroupNorm + SiLU twin: gradients match finite differences", () => {
  checkFiniteDifference({ batch: 1, channels: 4, height: 3, width: 3, groups: 2, silu: true }, 2);
});

Deno.test("VAE GroupNorm twin: each group has mean 0 and variance 1/(1 + ε/σ²)", () => {
  const shape = { batch: 2, channels: 4, height: 3, width: 5, groups: 2, eps: 1e-6 };
  const input = randomArray(120, 3, 5, 9);
  const y = groupNormTwin(shape, { input, gamma: [1, 1, 1, 1], beta: [0, 0, 0, 0] });
  for (let ng = 0; ng < 4; ng++) {
    const block = y.subarray(ng * 30, (ng + 1) * 30);
    const mean = block.reduce((a, b) => a + b) / 30;
    const variance = block.reduce((a, b) => a + b * b, 0) / 30;
    assert.ok(Math.abs(mean) < 1e-12, `mean ${mean}`);
    assert.ok(Math.abs(variance - 1) < 1e-5, `variance ${variance}`);
  }
});

Deno.test("VAE SiLU twin: derivative matches finite differences", () => {
  for (const x of [-8, -1.5, -0.1, 0, 0.3, 2, 10]) {
    const h = 1e-6;
    const fd = (siluTwin(x + h) - siluTwin(x - h)) / (2 * h);
    assert.ok(Math.abs(fd - siluGradTwin(x)) < 1e-8, `x = ${x}`);
  }
  assert.equal(siluTwin(0), 0);
});
