/**
 * Contract: the WGSL grid encoding against its float64 twin, values and gradients, in
 * both index modes, with one and several keyframes, several chunks, the level mask
 * and points outside the box.
 */
import assert from "assert";
import { type GridConfig, type GridLayout, gridLayout } from "../../kernels/grid_config.ts";
import {
  createGridBuffers,
  GRID_WORKGROUP,
  gridEncodeBackwardOnce,
  gridEncodeOnce,
  GridEncoder,
} from "../../kernels/grid_encode.ts";
import { gridEncodeBackwardTwin, gridEncodeTwin } from "../../kernels/grid_encode_twin.ts";
import { IndirectArgs } from "../../kernels/indirect_args.ts";
import { assertClose, GPU_TEST, randomArray, testGpu } from "./_harness.ts";

const SMALL: Partial<GridConfig> = {
  levels: 4,
  log2TableSize: 10,
  baseResolution: 4,
  finestResolution: 64,
};

function randomParams(layout: GridLayout, seed: number): Float32Array[] {
  return Array.from(
    { length: layout.config.keyframes },
    (_, k) => Float32Array.from(randomArray(layout.keyframeStride, seed + k)),
  );
}

/** Points in [−1.1, 1.1]³, so about a quarter leave the box. */
function randomPoints(n: number, seed: number): Float32Array<ArrayBuffer> {
  return Float32Array.from(randomArray(3 * n, seed, -1.1, 1.1));
}

function randomTimes(n: number, seed: number): Float32Array<ArrayBuffer> {
  const t = Float32Array.from(randomArray(n, seed, 0, 1));
  // Exact keyframe times, the ends and out-of-range times (clamped).
  t.set([0, 1, 0.5, -0.25, 1.5], 0);
  return t;
}

async function checkBoth(
  layout: GridLayout,
  options: { n: number; seed: number; activeLevels?: number },
): Promise<void> {
  const gpu = await testGpu();
  const params = randomParams(layout, options.seed);
  const points = randomPoints(options.n, options.seed + 100);
  const times = randomTimes(options.n, options.seed + 200);
  const mask = options.activeLevels === undefined ? {} : { activeLevels: options.activeLevels };
  const got = await gridEncodeOnce(gpu, layout, { params, points, times, ...mask });
  const want = gridEncodeTwin(layout, { params, points, times, ...mask });
  assertClose(got, want, { label: "features" });
  const featureGrads = Float32Array.from(randomArray(options.n * layout.outputDim, options.seed));
  const gotG = await gridEncodeBackwardOnce(gpu, layout, { points, times, featureGrads, ...mask });
  const wantG = gridEncodeBackwardTwin(layout, { points, times, featureGrads, ...mask });
  assert.equal(gotG.length, wantG.length);
  // Atomic accumulation order is arbitrary; float32 sums of up to a few hundred terms.
  gotG.forEach((g, k) => assertClose(g, wantG[k]!, { label: `grad keyframe ${k}`, atol: 1e-4 }));
}

Deno.test("grid encode: tiled, one keyframe", GPU_TEST, async () => {
  await checkBoth(gridLayout(SMALL), { n: 400, seed: 1 });
});

Deno.test("grid encode: hash, one keyframe", GPU_TEST, async () => {
  await checkBoth(gridLayout({ ...SMALL, indexMode: "hash" }), { n: 400, seed: 2 });
});

Deno.test("grid encode: tiled, 5 keyframes in 3 chunks, level mask", GPU_TEST, async () => {
  const probe = gridLayout({ ...SMALL, keyframes: 5 });
  const layout = gridLayout({ ...SMALL, keyframes: 5 }, {
    maxBindingBytes: probe.keyframeStride * 4 * 2,
  });
  assert.equal(layout.chunks, 3);
  await checkBoth(layout, { n: 300, seed: 3 });
  await checkBoth(layout, { n: 300, seed: 4, activeLevels: 2 });
  await checkBoth(layout, { n: 50, seed: 5, activeLevels: 0 });
});

Deno.test("grid encode: hash, 4 keyframes in 4 chunks", GPU_TEST, async () => {
  const probe = gridLayout({ ...SMALL, keyframes: 4, indexMode: "hash" });
  const layout = gridLayout({ ...SMALL, keyframes: 4, indexMode: "hash" }, {
    maxBindingBytes: probe.keyframeStride * 4,
  });
  assert.equal(layout.chunks, 4);
  await checkBoth(layout, { n: 300, seed: 6, activeLevels: 3 });
});

Deno.test("grid encode: the default 16-level tiled layout", GPU_TEST, async () => {
  const layout = gridLayout({}, { maxBindingBytes: 2 ** 27 });
  await checkBoth(layout, { n: 300, seed: 7 });
});

Deno.test(
  "grid encode: default layout quirks on the GPU (z-drop, aliasing)",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const layout = gridLayout({}, { maxBindingBytes: 2 ** 27 });
    const params = randomParams(layout, 12);
    // Same (x, y), different z: levels 9-15 ignore z (SPEC.md §2.1 quirk 1).
    const points = new Float32Array([0.3, -0.2, -0.7, 0.3, -0.2, 0.55]);
    const h = await gridEncodeOnce(gpu, layout, { params, points });
    const D = layout.outputDim;
    for (let l = 0; l < 16; l++) {
      const diff = Math.abs(h[2 * l]! - h[D + 2 * l]!) +
        Math.abs(h[2 * l + 1]! - h[D + 2 * l + 1]!);
      // The two z corners share an entry: (1−f)·v + f·v rounds to v within a few ulps.
      if (l >= 9) assert.ok(diff < 1e-6, `level ${l} should be constant along z (diff ${diff})`);
      else assert.ok(diff > 1e-3, `level ${l} should depend on z (diff ${diff})`);
    }
    // Level 3 (R = 43): the cell shifted by (20, 37, 33), index 65536, aliases (quirk 2).
    const s = layout.levels[3]!.scale;
    const toX = (c: number[]) => c.map((v, d) => 2 * ((v + [0.3, 0.6, 0.45][d]! - 0.5) / s) - 1);
    const q = await gridEncodeOnce(gpu, layout, {
      params,
      points: [...toX([1, 1, 1]), ...toX([21, 38, 34])],
    });
    assertClose(q.subarray(D + 6, D + 8), q.subarray(6, 8), {
      atol: 1e-4,
      label: "aliased level 3",
    });
  },
);

Deno.test("grid encode: out-of-box points give zero features", GPU_TEST, async () => {
  const gpu = await testGpu();
  const layout = gridLayout(SMALL);
  const params = randomParams(layout, 8);
  const points = new Float32Array([1.001, 0, 0, 0, -1.01, 0, 0, 0, 2, 1, 1, 1, -1, -1, -1]);
  const got = await gridEncodeOnce(gpu, layout, { params, points });
  const D = layout.outputDim;
  assert.ok(got.subarray(0, 3 * D).every((v) => v === 0));
  // The box is closed: the corners ±1 are inside.
  assert.ok(got.subarray(3 * D).some((v) => v !== 0));
});

Deno.test("grid encode: class with indirect dispatch and mask updates", GPU_TEST, async () => {
  const gpu = await testGpu();
  const layout = gridLayout({ ...SMALL, keyframes: 3 });
  const L = layout.config.levels;
  const params = randomParams(layout, 9);
  const maxPoints = 100;
  const used = 37;
  const points = randomPoints(maxPoints, 10);
  const times = randomTimes(maxPoints, 11);
  const count = gpu.createBuffer(new Uint32Array([used]));
  const features = gpu.createBuffer(new Float32Array(maxPoints * layout.outputDim).fill(7));
  const enc = await GridEncoder.create(gpu, layout, {
    params: createGridBuffers(gpu, layout, { values: params }),
    points: gpu.createBuffer(points),
    times: gpu.createBuffer(times),
    count,
    features,
    maxPoints,
  });
  const ind = await IndirectArgs.create(gpu, count, {
    workgroupSize: GRID_WORKGROUP,
    multiplier: L,
  });
  for (const active of [L, 1]) {
    enc.setActiveLevels(active);
    gpu.submit((e) => {
      const pass = e.beginComputePass();
      ind.encode(pass);
      enc.encodeForward(pass, { indirect: ind.args });
      pass.end();
    });
    const got = new Float32Array(await gpu.read(features));
    const want = gridEncodeTwin(layout, {
      params,
      points: points.subarray(0, 3 * used),
      times: times.subarray(0, used),
      activeLevels: active,
    });
    assertClose(got.subarray(0, used * layout.outputDim), want, { label: `active ${active}` });
    // Points past count[0] are untouched.
    assert.ok(got.subarray(used * layout.outputDim).every((v) => v === 7));
  }
  enc.destroy();
});
