import assert from "assert";
import {
  alphaBar,
  alphasCumprod,
  sampleTimestep,
  sdsWeight,
  timestepRange,
} from "../../priors/noise_schedule.ts";
import { seededRandom } from "../../kernels/random.ts";

Deno.test("noise schedule: known ᾱ values of the scaled-linear schedule", () => {
  assert.equal(alphaBar(0), 1 - 0.00085);
  // The float32 table diffusers builds (numpy: linspace(√β₀, √β₁, 1000, float32)², cumprod).
  const float32Table: [number, number][] = [
    [200, 0.75369185],
    [500, 0.27633256],
    [600, 0.16078247],
    [800, 0.036869563],
    [999, 0.0046600895],
  ];
  for (const [t, want] of float32Table) {
    assert.ok(Math.abs(alphaBar(t) / want - 1) < 1e-5, `ᾱ(${t}) = ${alphaBar(t)}, want ${want}`);
  }
  // β₁ = ((√β₀·998 + √β₁)/999)²: the second factor follows from the linspace in √β.
  const s0 = Math.sqrt(0.00085), s1 = Math.sqrt(0.012);
  const b1 = (s0 + (s1 - s0) / 999) ** 2;
  assert.ok(Math.abs(alphaBar(1) - (1 - 0.00085) * (1 - b1)) < 1e-15);
  const all = alphasCumprod();
  for (let t = 1; t < 1000; t++) assert.ok(all[t]! < all[t - 1]!, `ᾱ decreases at ${t}`);
  assert.equal(sdsWeight(999), 1 - alphaBar(999));
  assert.throws(() => alphaBar(1000), /Invalid option t/);
  assert.throws(() => alphaBar(0.5), /Invalid option t/);
});

Deno.test("noise schedule: timesteps are uniform over the inclusive integer range", () => {
  assert.deepEqual(timestepRange([0.2, 0.6]), [200, 600]);
  assert.deepEqual(timestepRange([0.02, 0.98]), [20, 980]);
  assert.equal(sampleTimestep(() => 0, [0.2, 0.6]), 200);
  assert.equal(sampleTimestep(() => 0.9999999, [0.2, 0.6]), 600);
  const rand = seededRandom(4);
  const counts = new Map<number, number>();
  const n = 40_000;
  for (let i = 0; i < n; i++) {
    const t = sampleTimestep(rand, [0.2, 0.21]);
    counts.set(t, (counts.get(t) ?? 0) + 1);
  }
  assert.deepEqual([...counts.keys()].sort((a, b) => a - b), [
    200,
    201,
    202,
    203,
    204,
    205,
    206,
    207,
    208,
    209,
    210,
  ]);
  for (const [t, c] of counts) {
    assert.ok(Math.abs(c / n - 1 / 11) < 0.01, `P(t = ${t}) = ${c / n}`);
  }
  assert.throws(() => timestepRange([0.6, 0.2]), /Invalid option timeRange\[1\]/);
});
