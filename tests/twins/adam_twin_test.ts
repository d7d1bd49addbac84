import assert from "assert";
import { adamStepScalars, resolveAdamHyper } from "../../kernels/adam.ts";
import { adamStepTwin, adamTwinTensor } from "../../kernels/adam_twin.ts";
import { assertClose } from "../contracts/_harness.ts";

Deno.test("adam twin: the first step moves each parameter by lr·sign(g)", () => {
  const t = adamTwinTensor([1, 1, 1, 1]);
  adamStepTwin(t, [3, -0.2, 1e-6, 0], { step: 1, lr: 0.01 });
  // m̂ = g and v̂ = g², so the step is lr·g/(|g| + ε); a zero gradient does not move,
  // and ε = 1e-15 only shows on a tiny gradient.
  const tiny = 1 - 0.01 * 1e-6 / (1e-6 + 1e-15);
  assertClose(t.params, [0.99, 1.01, tiny, 1], { rtol: 0, atol: 1e-14 });
  assert.ok(tiny > 0.99);
  assertClose(t.m, [0.3, -0.02, 1e-7, 0], { rtol: 1e-12, atol: 0 });
  assertClose(t.v, [0.09, 0.0004, 1e-14, 0], { rtol: 1e-12, atol: 0 });
});

Deno.test("adam twin: bias correction keeps a constant gradient's step at lr", () => {
  const t = adamTwinTensor([0]);
  for (let step = 1; step <= 50; step++) {
    adamStepTwin(t, [0.5], { step, lr: 0.1 });
    assertClose(t.params, [-0.1 * step], { rtol: 1e-9, atol: 0 });
  }
  // Without bias correction the first step would be lr·0.1/√0.01 = lr as well, but
  // the second would differ; check the moments follow the EMA exactly.
  assertClose(t.m, [0.5 * (1 - 0.9 ** 50)], { rtol: 1e-12, atol: 0 });
  assertClose(t.v, [0.25 * (1 - 0.99 ** 50)], { rtol: 1e-12, atol: 0 });
});

Deno.test("adam twin: second step by hand", () => {
  const t = adamTwinTensor([2]);
  adamStepTwin(t, [1], { step: 1, lr: 0.1 });
  adamStepTwin(t, [-1], { step: 2, lr: 0.1 });
  // m = 0.9·0.1 − 0.1 = −0.01, v = 0.99·0.01 + 0.01 = 0.0199
  const mHat = -0.01 / (1 - 0.81);
  const vHat = 0.0199 / (1 - 0.9801);
  assertClose(t.params, [2 - 0.1 - 0.1 * mHat / (Math.sqrt(vHat) + 1e-15)], {
    rtol: 1e-12,
    atol: 0,
  });
});

Deno.test("adam twin: clip-by-value applies before the moments", () => {
  const t = adamTwinTensor([0, 0, 0]);
  adamStepTwin(t, [5, -5, 0.5], { step: 1, lr: 1, clip: 1 });
  assertClose(t.m, [0.1, -0.1, 0.05], { rtol: 1e-12, atol: 0 });
  assertClose(t.v, [0.01, 0.01, 0.0025], { rtol: 1e-12, atol: 0 });
});

Deno.test("adam twin: host step scalars", () => {
  const { stepSize, bc2Sqrt } = adamStepScalars(2, { lr: 1, beta1: 0.9, beta2: 0.99 });
  assertClose([stepSize, bc2Sqrt], [1 / 0.19, Math.sqrt(0.0199)], { rtol: 1e-12, atol: 0 });
});

Deno.test("adam twin: hyperparameters are validated with the field name", () => {
  assert.deepEqual(resolveAdamHyper(), { beta1: 0.9, beta2: 0.99, eps: 1e-15, clip: 0 });
  assert.throws(() => resolveAdamHyper({ beta1: 1 }), /Invalid option adam.beta1/);
  assert.throws(() => resolveAdamHyper({ eps: -1 }), /Invalid option adam.eps/);
  assert.throws(() => resolveAdamHyper({ clip: Infinity }), /Invalid option adam.clip/);
  const t = adamTwinTensor([0]);
  assert.throws(() => adamStepTwin(t, [1], { step: 0, lr: 1 }), /Invalid step/);
});
