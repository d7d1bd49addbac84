/**
 * The grid-encoding twin: gradients against central finite differences, and the
 * tiled-index quirks of the original at the default layout (SPEC.md §2.1, §9).
 */
import assert from "assert";
import { type GridConfig, type GridLayout, gridLayout } from "../../kernels/grid_config.ts";
import {
  gridCornersTwin,
  gridEncodeBackwardTwin,
  gridEncodeTwin,
  gridIndexTwin,
  keyframeBlendTwin,
} from "../../kernels/grid_encode_twin.ts";
import { seededRandom } from "../../kernels/random.ts";
import { assertClose, finiteDifference, randomArray } from "../contracts/_harness.ts";

const SMALL: Partial<GridConfig> = {
  levels: 4,
  log2TableSize: 10,
  baseResolution: 4,
  finestResolution: 64,
};

function checkFiniteDifference(
  layout: GridLayout,
  options: { n: number; seed: number; activeLevels?: number },
): void {
  const K = layout.config.keyframes;
  const S = layout.keyframeStride;
  const flat = randomArray(K * S, options.seed);
  const points = randomArray(3 * options.n, options.seed + 1, -1.05, 1.05);
  const times = randomArray(options.n, options.seed + 2, 0, 1);
  const featureGrads = randomArray(options.n * layout.outputDim, options.seed + 3);
  const mask = options.activeLevels === undefined ? {} : { activeLevels: options.activeLevels };
  const split = (x: Float64Array) =>
    Array.from({ length: K }, (_, k) => x.subarray(k * S, (k + 1) * S));
  const loss = (x: Float64Array) => {
    const h = gridEncodeTwin(layout, { params: split(x), points, times, ...mask });
    return h.reduce((acc, v, i) => acc + v * featureGrads[i]!, 0);
  };
  const grads = gridEncodeBackwardTwin(layout, { points, times, featureGrads, ...mask });
  const analytic = new Float64Array(K * S);
  grads.forEach((g, k) => analytic.set(g, k * S));
  // Every touched entry plus a few untouched ones.
  const touched = [...analytic.keys()].filter((i) => analytic[i] !== 0);
  assert.ok(touched.length > 0);
  const r = seededRandom(options.seed);
  const probe = [
    ...touched.slice(0, 60),
    ...Array.from({ length: 20 }, () => Math.floor(r() * K * S)),
  ];
  const fd = finiteDifference(loss, flat, probe);
  assertClose(
    probe.map((i) => fd.get(i)!),
    probe.map((i) => analytic[i]!),
    { rtol: 1e-6, atol: 1e-8, label: "d loss / d params" },
  );
}

Deno.test("grid twin: gradients match finite differences (tiled, 3 keyframes)", () => {
  checkFiniteDifference(gridLayout({ ...SMALL, keyframes: 3 }), { n: 12, seed: 1 });
});

Deno.test("grid twin: gradients match finite differences (hash, level mask)", () => {
  const layout = gridLayout({ ...SMALL, keyframes: 2, indexMode: "hash" });
  checkFiniteDifference(layout, { n: 12, seed: 2, activeLevels: 3 });
});

Deno.test("grid twin: the default layout has the SPEC level table", () => {
  const layout = gridLayout({});
  assert.deepEqual(
    layout.levels.map((l) => l.resolution),
    [16, 23, 31, 43, 59, 81, 112, 154, 213, 295, 407, 562, 777, 1073, 1483, 2048],
  );
  assert.deepEqual(
    layout.levels.map((l) => l.size),
    [4920, 13824, 32768, ...Array(13).fill(65536)],
  );
  assert.equal(layout.entries, 903480);
});

Deno.test("grid twin: levels 9-15 are constant along z at the default layout (z-drop)", () => {
  const layout = gridLayout({});
  const params = [randomArray(layout.keyframeStride, 3)];
  const r = seededRandom(4);
  for (let trial = 0; trial < 5; trial++) {
    const x = 2 * r() - 1;
    const y = 2 * r() - 1;
    const zs = [2 * r() - 1, 2 * r() - 1];
    const [a, b] = zs.map((z) => gridEncodeTwin(layout, { params, points: [x, y, z] }));
    for (let l = 0; l < 16; l++) {
      // The two z corners share an entry, so (1−f_z)·v + f_z·v = v up to rounding.
      const same = [0, 1].every((f) => Math.abs(a![2 * l + f]! - b![2 * l + f]!) < 1e-12);
      assert.equal(same, l >= 9, `level ${l}: constant along z should be ${l >= 9}`);
    }
  }
});

Deno.test("grid twin: levels 3-8 alias mod 65536 at the default layout", () => {
  const layout = gridLayout({});
  const params = [randomArray(layout.keyframeStride, 5)];
  for (let l = 3; l <= 8; l++) {
    const lv = layout.levels[l]!;
    const S = lv.resolution + 1;
    // The dense corner whose index is exactly 65536 = cx + cy·S + cz·S².
    const cz = Math.floor(65536 / (S * S));
    const cy = Math.floor((65536 - cz * S * S) / S);
    const cx = 65536 - cz * S * S - cy * S;
    assert.equal(gridIndexTwin(layout, { level: l, corner: [cx, cy, cz] }), 0);
    // Two points in cells (1,1,1) and (1,1,1)+(cx,cy,cz) with the same fractions: every
    // corner of one aliases the matching corner of the other.
    const frac = [0.3, 0.6, 0.45];
    const toX = (cell: number[]) => cell.map((c, d) => 2 * ((c + frac[d]! - 0.5) / lv.scale) - 1);
    const pa = toX([1, 1, 1]);
    const pb = toX([1 + cx, 1 + cy, 1 + cz]);
    assert.ok(1 + cx + 1 <= lv.resolution && 1 + cy + 1 <= lv.resolution);
    const ca = gridCornersTwin(layout, { level: l, point: pa })!;
    const cb = gridCornersTwin(layout, { level: l, point: pb })!;
    assert.deepEqual(ca.entries, cb.entries, `level ${l}`);
    const [fa, fb] = [pa, pb].map((p) => gridEncodeTwin(layout, { params, points: p }));
    // Float32 p = u·s + 0.5 rounds differently far from the origin: equal to ~1e-5.
    assertClose(fb!.subarray(2 * l, 2 * l + 2), fa!.subarray(2 * l, 2 * l + 2), {
      label: `level ${l}`,
      atol: 1e-4,
    });
  }
});

Deno.test("grid twin: hash index matches a hand-computed value", () => {
  const layout = gridLayout({ indexMode: "hash" });
  // Level 3: (43+1)^3 = 85184 > 65536, so it hashes. For corner (3, 5, 7):
  // 5·2654435761 mod 2^32 = 387276917, 7·805459861 mod 2^32 = 1343251731,
  // 3 ^ 387276917 ^ 1343251731 = 1191511397, mod 65536 = 1381.
  assert.equal(gridIndexTwin(layout, { level: 3, corner: [3, 5, 7] }), 1381);
  // Level 2 is dense ((31+1)^3 = 32768 ≤ 32768): x + 32y + 1024z.
  assert.equal(gridIndexTwin(layout, { level: 2, corner: [3, 5, 7] }), 3 + 5 * 32 + 7 * 1024);
  // Tiled at level 9 drops z: x + 296·y.
  const tiled = gridLayout({});
  assert.equal(gridIndexTwin(tiled, { level: 9, corner: [3, 5, 7] }), 3 + 5 * 296);
});

Deno.test("grid twin: keyframe blend weights", () => {
  const layout = gridLayout({ keyframes: 64 });
  assert.deepEqual(keyframeBlendTwin(layout, { time: 0 }), { k0: 0, k1: 0, phi: 0 });
  assert.deepEqual(keyframeBlendTwin(layout, { time: 1 }), { k0: 63, k1: 63, phi: 0 });
  assert.deepEqual(keyframeBlendTwin(layout, { time: 2 }), { k0: 63, k1: 63, phi: 0 });
  const b = keyframeBlendTwin(layout, { time: 0.5 });
  assert.equal(b.k0, 31);
  assert.equal(b.k1, 32);
  assert.ok(Math.abs(b.phi - 0.5) < 1e-6);
  const one = gridLayout({ keyframes: 1 });
  assert.deepEqual(keyframeBlendTwin(one, { time: 0.7 }), { k0: 0, k1: 0, phi: 0 });
});

Deno.test("grid twin: points outside the box give zero features", () => {
  const layout = gridLayout(SMALL);
  const params = [randomArray(layout.keyframeStride, 6)];
  const h = gridEncodeTwin(layout, { params, points: [0, 1.0001, 0] });
  assert.ok(h.every((v) => v === 0));
});
