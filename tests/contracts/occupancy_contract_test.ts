import assert from "assert";
import { OccupancyGrid, runOccupancyUpdate } from "../../kernels/occupancy.ts";
import {
  occupancyEmaTwin,
  occupancyPointsTwin,
  occupancySliceTimes,
  occupancyThresholdTwin,
  packBitfieldTwin,
} from "../../kernels/occupancy_twin.ts";
import { seededRandom } from "../../kernels/random.ts";
import { assertClose, GPU_TEST, randomArray, testGpu } from "./_harness.ts";

const RES = 8;
const SLICES = 3;
const TOTAL = RES ** 3 * SLICES;

/** σ that is zero in about half the cells, so the bitfield is partially empty. */
function sparseSigma(seed: number, scale: number): Float32Array<ArrayBuffer> {
  const r = seededRandom(seed);
  const out = new Float32Array(TOTAL);
  for (let i = 0; i < TOTAL; i++) out[i] = r() < 0.5 ? 0 : scale * r();
  return out;
}

/** Compares bitfields, skipping cells whose value is within float32 noise of the threshold. */
function assertBits(
  got: Uint32Array,
  want: Uint32Array,
  grid: ArrayLike<number>,
  threshold: number,
): void {
  const cells = RES ** 3;
  const words = Math.ceil(cells / 32);
  let set = 0;
  for (let s = 0; s < SLICES; s++) {
    for (let c = 0; c < cells; c++) {
      const w = s * words + (c >>> 5);
      const a = (got[w]! >>> (c & 31)) & 1;
      const b = (want[w]! >>> (c & 31)) & 1;
      set += b;
      if (Math.abs(grid[s * cells + c]! - threshold) < 1e-5 * (1 + threshold)) continue;
      assert.equal(a, b, `bit of slice ${s} cell ${c}`);
    }
  }
  assert.ok(set > 0.2 * TOTAL && set < 0.8 * TOTAL, `partially empty grid (${set} set)`);
}

Deno.test(
  "occupancy: cell points and times match the twin across uneven chunks",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const sliceTimes = occupancySliceTimes(SLICES, seededRandom(11));
    const sigma = new Float32Array(TOTAL);
    const got = await runOccupancyUpdate(gpu, {
      res: RES,
      slices: SLICES,
      chunkCells: 300, // 1536 cells → 6 chunks, the last one short
      seed: 1234,
      step: 48,
      sliceTimes,
      sigma,
    });
    const want = occupancyPointsTwin({
      res: RES,
      slices: SLICES,
      seed: 1234,
      step: 48,
      sliceTimes,
    });
    assertClose(got.points, want.points, { label: "points" });
    assertClose(got.times, want.times, { label: "times" });
    // Jitter stays inside ±1/res of the cell centre and the points stay inside the box.
    for (let i = 0; i < got.points.length; i++) assert.ok(Math.abs(got.points[i]!) <= 1);
    // Another step gives other jitter.
    const other = occupancyPointsTwin({
      res: RES,
      slices: SLICES,
      seed: 1234,
      step: 64,
      sliceTimes,
    });
    assert.notEqual(other.points[0], want.points[0]);
  },
);

Deno.test("occupancy: EMA, GPU mean, threshold and bitfield match the twin", GPU_TEST, async () => {
  const gpu = await testGpu();
  const prior = new Float32Array(randomArray(TOTAL, 5, 0, 3));
  const sigma = sparseSigma(6, 6);
  const sliceTimes = occupancySliceTimes(SLICES, seededRandom(2));
  const got = await runOccupancyUpdate(gpu, {
    res: RES,
    slices: SLICES,
    chunkCells: 512,
    step: 16,
    sliceTimes,
    grid: prior,
    sigma,
  });
  const grid = Float64Array.from(prior);
  occupancyEmaTwin(grid, sigma);
  const { mean, threshold } = occupancyThresholdTwin(grid);
  assertClose(got.grid, grid, { label: "grid" });
  assertClose([got.mean, got.threshold], [mean, threshold], { label: "mean, threshold" });
  assert.ok(threshold < 10);
  const bits = packBitfieldTwin(grid, { res: RES, slices: SLICES, threshold });
  assertBits(got.bits, bits, grid, threshold);
});

Deno.test("occupancy: the threshold is capped at densityThresh", GPU_TEST, async () => {
  const gpu = await testGpu();
  const sigma = sparseSigma(8, 100);
  const got = await runOccupancyUpdate(gpu, {
    res: RES,
    slices: SLICES,
    step: 0,
    sliceTimes: [0.1, 0.5, 0.9],
    sigma,
    densityThresh: 10,
  });
  const grid = Float64Array.from(sigma);
  const twin = occupancyThresholdTwin(grid, { densityThresh: 10 });
  assert.ok(twin.mean > 10);
  assert.equal(got.threshold, 10);
  assertClose([got.mean], [twin.mean], { label: "mean" });
  assertBits(
    got.bits,
    packBitfieldTwin(grid, { res: RES, slices: SLICES, threshold: 10 }),
    grid,
    10,
  );
});

Deno.test("occupancy: starts with every bit set, reset restores it", GPU_TEST, async () => {
  const gpu = await testGpu();
  const occ = await OccupancyGrid.create(gpu, { res: 4, slices: 2 });
  const all = new Uint32Array(await gpu.read(occ.bits));
  assert.equal(all.length, 4);
  assert.ok(all.every((w) => w === 0xffffffff));
  occ.setUpdate({ step: 0, sliceTimes: [0.25, 0.75] });
  gpu.submit((e) => {
    const p = e.beginComputePass();
    for (let k = 0; k < occ.chunks; k++) {
      occ.encodePoints(p, k);
      occ.encodeEma(p, k); // σ buffer is zero: grid stays 0, nothing exceeds mean 0
    }
    occ.encodeThreshold(p);
    p.end();
  });
  assert.ok(new Uint32Array(await gpu.read(occ.bits)).every((w) => w === 0));
  occ.reset();
  assert.ok(new Uint32Array(await gpu.read(occ.bits)).every((w) => w === 0xffffffff));
  assert.throws(() => occ.setUpdate({ step: 1, sliceTimes: [0.5] }), /sliceTimes/);
  assert.throws(() => {
    gpu.submit((e) => {
      const p = e.beginComputePass();
      try {
        occ.encodeEma(p, 9);
      } finally {
        p.end();
      }
    });
  }, /chunk/);
  occ.destroy();
  await assert.rejects(OccupancyGrid.create(gpu, { res: 1 }), /res/);
});
