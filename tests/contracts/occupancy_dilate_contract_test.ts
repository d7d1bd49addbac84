import assert from "assert";
import { OccupancyGrid } from "../../kernels/occupancy.ts";
import { OccupancyDilate } from "../../kernels/occupancy_dilate.ts";
import { dilateBitsTwin } from "../../kernels/occupancy_dilate_twin.ts";
import { seededRandom } from "../../kernels/random.ts";
import { GPU_TEST, testGpu } from "./_harness.ts";

for (const [res, slices, density] of [[5, 1, 0.05], [16, 3, 0.01], [32, 2, 0.002]] as const) {
  Deno.test(
    `occupancy_dilate: matches the twin (${slices}×${res}³, ${density * 100} % occupied)`,
    GPU_TEST,
    async () => {
      const gpu = await testGpu();
      const occ = await OccupancyGrid.create(gpu, { res, slices });
      const random = seededRandom(res * 7 + slices);
      const bits = new Uint32Array(slices * occ.wordsPerSlice);
      const cells = res ** 3;
      for (let s = 0; s < slices; s++) {
        for (let c = 0; c < cells; c++) {
          if (random() < density) bits[s * occ.wordsPerSlice + (c >> 5)]! |= 1 << (c & 31);
        }
      }
      gpu.upload(occ.bits, bits);
      const dilate = await OccupancyDilate.create(gpu, occ);
      gpu.submit((e) => dilate.encode(e));
      const got = new Uint32Array(await gpu.read(occ.bits));
      const want = dilateBitsTwin(bits, { res, slices });
      assert.deepEqual(Array.from(got), Array.from(want));
      // Dilation only adds cells, and adds some.
      const count = (a: Uint32Array) =>
        a.reduce((n, w) => n + w.toString(2).split("").filter((b) => b === "1").length, 0);
      assert.ok(count(want) > count(bits));
      for (let i = 0; i < bits.length; i++) assert.equal(bits[i]! & ~want[i]!, 0);
      dilate.destroy();
      occ.destroy();
    },
  );
}

Deno.test("occupancy_dilate twin: a cell's neighbourhood stays inside its slice and the grid", () => {
  const res = 4, words = 2;
  const bits = new Uint32Array(2 * words);
  bits[0] = 1; // slice 0, cell (0, 0, 0)
  const out = dilateBitsTwin(bits, { res, slices: 2 });
  const cellsOf = (s: number) => {
    const list: number[] = [];
    for (let c = 0; c < res ** 3; c++) {
      if ((out[s * words + (c >> 5)]! >>> (c & 31)) & 1) list.push(c);
    }
    return list;
  };
  // (0..1)³ around the corner: 8 cells, none wrapping to the far side.
  assert.deepEqual(cellsOf(0), [0, 1, 4, 5, 16, 17, 20, 21]);
  assert.deepEqual(cellsOf(1), []);
});
