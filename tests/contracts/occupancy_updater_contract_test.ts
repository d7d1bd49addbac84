// The field-driven occupancy update against the twin chain: cell points → grid encode →
// MLP → density → EMA → threshold → bitfield.
import assert from "assert";
import { densityTwin } from "../../kernels/density_twin.ts";
import { Field } from "../../kernels/field.ts";
import { gridEncodeTwin } from "../../kernels/grid_encode_twin.ts";
import { mlpForwardTwin } from "../../kernels/mlp_twin.ts";
import { OccupancyUpdater } from "../../kernels/occupancy_updater.ts";
import {
  occupancyEmaTwin,
  occupancyPointsTwin,
  occupancySliceTimes,
  occupancyThresholdTwin,
  packBitfieldTwin,
} from "../../kernels/occupancy_twin.ts";
import { seededRandom } from "../../kernels/random.ts";
import { assertClose, GPU_TEST, testGpu } from "./_harness.ts";

Deno.test(
  "occupancy update from the field matches the twin chain over two updates",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const field = await Field.create(gpu, {
      grid: { levels: 3, log2TableSize: 9, baseResolution: 4, finestResolution: 16, keyframes: 2 },
      mlp: { hidden: 8 },
      seed: 2,
    });
    const rand = seededRandom(4);
    const grid = [0, 1].map(() => {
      const g = new Float32Array(field.layout.keyframeStride);
      for (let i = 0; i < field.layout.entries * 2; i++) g[i] = (rand() * 2 - 1) * 2;
      return g;
    });
    field.write({ grid });
    const values = await field.read();
    const res = 6;
    const slices = 2;
    const occ = await OccupancyUpdater.create(gpu, field, { res, slices, seed: 9 });
    let twinGrid = new Float64Array(slices * res ** 3);
    let threshold = 0;
    for (const step of [0, 16]) {
      const drawGpu = seededRandom(100 + step);
      const drawTwin = seededRandom(100 + step);
      occ.update(step, drawGpu);
      const pts = occupancyPointsTwin({
        res,
        slices,
        seed: 9,
        step,
        sliceTimes: occupancySliceTimes(slices, drawTwin),
      });
      const features = gridEncodeTwin(field.layout, {
        params: values.grid,
        points: pts.points,
        times: pts.times,
      });
      const raw = mlpForwardTwin(field.mlpLayout.config, { params: values.mlp, features });
      const sigma = densityTwin(pts.points, { raw });
      occupancyEmaTwin(twinGrid, sigma);
      threshold = occupancyThresholdTwin(twinGrid).threshold;
    }
    const got = new Float32Array(await gpu.read(occ.grid.grid));
    assertClose(got, twinGrid, { rtol: 1e-4, atol: 1e-5, label: "occupancy grid" });
    const stats = new Float32Array(await gpu.read(occ.grid.stats));
    assertClose([stats[1]!], [threshold], { rtol: 1e-4, label: "threshold" });
    const bits = new Uint32Array(await gpu.read(occ.grid.bits));
    const twinBits = packBitfieldTwin(twinGrid, { res, slices, threshold });
    let differ = 0;
    for (let c = 0; c < twinGrid.length; c++) {
      const a = (bits[c >>> 5]! >>> (c & 31)) & 1;
      const b = (twinBits[c >>> 5]! >>> (c & 31)) & 1;
      // Cells within float32 rounding of the threshold may fall either way.
      if (a !== b && Math.abs(twinGrid[c]! - threshold) > 1e-4 * threshold) differ++;
    }
    assert.equal(differ, 0, "bitfield");
    const set = twinBits.reduce((n, w) => n + w.toString(2).split("1").length - 1, 0);
    assert.ok(set > 0 && set < twinGrid.length, "some cells occupied, some empty");
    twinGrid = new Float64Array(0);
    occ.destroy();
    field.destroy();
  },
);
