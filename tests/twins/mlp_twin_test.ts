import assert from "assert";
import { initMlpParams, type MlpConfig, mlpLayout } from "../../kernels/mlp.ts";
import { mlpBackwardTwin, mlpForwardTwin } from "../../kernels/mlp_twin.ts";
import { seededRandom } from "../../kernels/random.ts";
import { assertClose, finiteDifference, randomArray } from "../contracts/_harness.ts";

/** L = Σ raw ⊙ w for fixed random weights w, so dL/draw = w. */
function setup(config: Partial<MlpConfig>, n: number, seed: number) {
  const layout = mlpLayout(config);
  const { input, output } = layout.config;
  const params = Float64Array.from(initMlpParams(config, seededRandom(seed)));
  const features = randomArray(n * input, seed + 1);
  const w = randomArray(n * output, seed + 2);
  const loss = (p: Float64Array, x: Float64Array) => {
    const raw = mlpForwardTwin(config, { params: p, features: x });
    let s = 0;
    for (let i = 0; i < raw.length; i++) s += raw[i]! * w[i]!;
    return s;
  };
  return { layout, params, features, w, loss };
}

for (const config of [{}, { input: 5, hidden: 7, output: 3 }] as Partial<MlpConfig>[]) {
  Deno.test(`mlp twin: gradients match finite differences ${JSON.stringify(config)}`, () => {
    const { layout, params, features, w, loss } = setup(config, 6, 40);
    const g = mlpBackwardTwin(config, { params, features, dRaw: w });
    // Every parameter of the small net; a spread of them (all four tensors) for the default.
    const step = layout.size > 200 ? 37 : 1;
    const pick = [...Array(Math.ceil(layout.size / step)).keys()].map((i) => i * step);
    pick.push(layout.b1, layout.w2, layout.b2, layout.size - 1);
    const fdP = finiteDifference((p) => loss(p, features), params, pick);
    assertClose(
      pick.map((i) => g.dParams[i]!),
      pick.map((i) => fdP.get(i)!),
      { rtol: 1e-5, atol: 1e-7, label: "dParams" },
    );
    const all = [...features.keys()];
    const fdX = finiteDifference((x) => loss(params, x), features, all);
    assertClose(g.dFeatures, all.map((i) => fdX.get(i)!), {
      rtol: 1e-5,
      atol: 1e-7,
      label: "dFeatures",
    });
  });
}

Deno.test("mlp twin: hand-checked 1→1→1 values, ReLU off below zero", () => {
  const config = { input: 1, hidden: 1, output: 1 };
  const params = [2, 1, 4, 5]; // W1, b1, W2, b2
  assert.deepEqual(Array.from(mlpForwardTwin(config, { params, features: [3, -1] })), [33, 5]);
  const g = mlpBackwardTwin(config, { params, features: [3, -1], dRaw: [1, 1] });
  // Sample 2 has z = −1: only b2 sees its gradient.
  assert.deepEqual(Array.from(g.dFeatures), [8, 0]);
  assert.deepEqual(Array.from(g.dParams), [12, 4, 7, 2]);
});

Deno.test("mlp init: PyTorch bounds, seeded and in layout order", () => {
  const a = initMlpParams({}, seededRandom(9));
  const b = initMlpParams({}, seededRandom(9));
  assert.deepEqual(a, b);
  const L = mlpLayout({});
  const within = (from: number, to: number, bound: number) =>
    a.subarray(from, to).every((v) => Math.abs(v) <= bound);
  assert.ok(within(L.w1, L.w2, 1 / Math.sqrt(32)), "W1 and b1 within 1/√In");
  assert.ok(within(L.w2, L.size, 1 / Math.sqrt(64)), "W2 and b2 within 1/√H");
  // W2 uses the tighter bound, so some W1 values must exceed it.
  assert.ok(a.subarray(L.w1, L.b1).some((v) => Math.abs(v) > 1 / Math.sqrt(64)));
  assert.equal(L.size, 32 * 64 + 64 + 64 * 4 + 4);
});
