import assert from "assert";
import { Field } from "../../kernels/field.ts";
import { OccupancyGrid } from "../../kernels/occupancy.ts";
import { exportTurntable } from "../../stages/export_turntable.ts";
import { GPU_TEST, testGpu } from "../contracts/_harness.ts";

Deno.test("exportTurntable: GIFs, PNG frames and the orbit", GPU_TEST, async () => {
  const gpu = await testGpu();
  const field = await Field.create(gpu, { grid: { levels: 2, log2TableSize: 8, keyframes: 2 } });
  const occupancy = await OccupancyGrid.create(gpu, { res: 8, slices: 1 });
  const out = await Deno.makeTempDir();
  const frames: number[] = [];
  const result = await exportTurntable({ gpu, field, occupancy, dt: 0.05 }, {
    out,
    size: 12,
    views: 3,
    times: 2,
    mp4: false,
    onFrame: (done) => frames.push(done),
  });
  // 3 views × 2 times for the turntable, then 2 orbit frames.
  assert.deepEqual(frames, [1, 2, 3, 4, 5, 6, 7, 8]);
  const names = result.files.map((f) => f.slice(out.length + 1)).sort();
  assert.deepEqual(names, [
    "frames/view00_t00.png",
    "frames/view00_t01.png",
    "frames/view01_t00.png",
    "frames/view01_t01.png",
    "frames/view02_t00.png",
    "frames/view02_t01.png",
    "orbit.gif",
    "turntable.gif",
    "turntable_alpha.gif",
    "turntable_depth.gif",
  ]);
  for (const f of result.files) assert.ok((await Deno.stat(f)).size > 0, f);
  await Deno.remove(out, { recursive: true });
  field.destroy();
  occupancy.destroy();
});
