/**
 * The time-TV twin: gradients against central finite differences, and hand values.
 */
import assert from "assert";
import { type GridConfig, type GridLayout, gridLayout } from "../../kernels/grid_config.ts";
import { seededRandom } from "../../kernels/random.ts";
import {
  TIME_TV_LITERAL_DIVISOR,
  timeTvBackwardTwin,
  timeTvNorm,
  timeTvTwin,
} from "../../kernels/time_tv_twin.ts";
import { assertClose, finiteDifference, randomArray } from "../contracts/_harness.ts";

const SMALL: Partial<GridConfig> = {
  levels: 4,
  log2TableSize: 10,
  baseResolution: 4,
  finestResolution: 64,
};

function checkFiniteDifference(layout: GridLayout, options: { n: number; seed: number }): void {
  const K = layout.config.keyframes;
  const S = layout.keyframeStride;
  const lambda = 0.7;
  const flat = randomArray(K * S, options.seed);
  const points = randomArray(3 * options.n, options.seed + 1, -1.05, 1.05);
  const split = (x: Float64Array) =>
    Array.from({ length: K }, (_, k) => x.subarray(k * S, (k + 1) * S));
  const loss = (x: Float64Array) => lambda * timeTvTwin(layout, { params: split(x), points });
  const analytic = new Float64Array(K * S);
  timeTvBackwardTwin(layout, { params: split(flat), points, lambda }).forEach((g, k) =>
    analytic.set(g, k * S)
  );
  const touched = [...analytic.keys()].filter((i) => analytic[i] !== 0);
  assert.ok(touched.length > 0);
  const r = seededRandom(options.seed);
  const probe = [
    ...touched.filter((_, j) => j % Math.ceil(touched.length / 60) === 0),
    ...Array.from({ length: 20 }, () => Math.floor(r() * K * S)),
  ];
  const fd = finiteDifference(loss, flat, probe);
  assertClose(probe.map((i) => fd.get(i)!), probe.map((i) => analytic[i]!), {
    rtol: 1e-6,
    atol: 1e-9,
    label: "d (λ L_tv) / d params",
  });
}

Deno.test("time TV twin: gradients match finite differences (tiled, 4 keyframes)", () => {
  checkFiniteDifference(gridLayout({ ...SMALL, keyframes: 4 }), { n: 8, seed: 1 });
});

Deno.test("time TV twin: gradients match finite differences (hash, 2 keyframes)", () => {
  checkFiniteDifference(gridLayout({ ...SMALL, keyframes: 2, indexMode: "hash" }), {
    n: 8,
    seed: 2,
  });
});

Deno.test("time TV twin: hand value for constant grids", () => {
  // Grids filled with k: every pair differs by 1 in each of the L·F dims, so
  // L_tv = (K−1)·L·F / ((K−1)·16) = L·F/16 whatever the points.
  const layout = gridLayout({ ...SMALL, keyframes: 3 });
  const params = [0, 1, 2].map((k) => new Float64Array(layout.keyframeStride).fill(k));
  const points = randomArray(30, 3, -1, 1);
  const tv = timeTvTwin(layout, { params, points });
  assert.ok(Math.abs(tv - layout.outputDim / TIME_TV_LITERAL_DIVISOR) < 1e-12);
  assert.equal(TIME_TV_LITERAL_DIVISOR, 16);
  assert.equal(timeTvNorm(layout, { batch: 10 }), 1 / (10 * 2 * 16));
  assert.equal(timeTvNorm(gridLayout(SMALL), { batch: 10 }), 0);
});
