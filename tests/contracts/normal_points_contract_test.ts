import assert from "assert";
import { IndirectArgs } from "../../kernels/indirect_args.ts";
import { NormalPoints, normalPoints } from "../../kernels/normal_points.ts";
import { FD_BLOCKS, normalPointsTwin } from "../../kernels/normal_points_twin.ts";
import { assertClose, GPU_TEST, randomArray, testGpu } from "./_harness.ts";

function positionsWithEdges(s: number, seed: number): Float32Array<ArrayBuffer> {
  const p = new Float32Array(randomArray(3 * s, seed));
  // Samples on and next to the box faces exercise the clamp of the shifted points.
  p[0] = 1;
  p[4] = -0.995;
  p[8] = 0.999;
  return p;
}

Deno.test("normal_points: WGSL matches the twin, with times", GPU_TEST, async () => {
  const gpu = await testGpu();
  const s = 257;
  const positions = positionsWithEdges(s, 1);
  const times = new Float32Array(randomArray(s, 2, 0, 1));
  const got = await normalPoints(gpu, positions, { times });
  const want = normalPointsTwin(positions, { times });
  assert.equal(got.count, FD_BLOCKS * s);
  // Float32 x ± 0.01 against float64: one rounding of a number below 1.
  assertClose(got.points, want.points, { atol: 1e-7, rtol: 0, label: "points" });
  assertClose(got.times!, want.times!, { atol: 0, rtol: 0, label: "times" });
  assert.equal(got.points[3 * (1 * s + 0)], 1, "+x of a sample on the face stays on it");
});

Deno.test("normal_points: without times, and with no samples", GPU_TEST, async () => {
  const gpu = await testGpu();
  const positions = positionsWithEdges(40, 3);
  const got = await normalPoints(gpu, positions);
  assert.equal(got.times, null);
  assertClose(got.points, normalPointsTwin(positions).points, { atol: 1e-7, rtol: 0 });
  const empty = await normalPoints(gpu, new Float32Array(0));
  assert.equal(empty.count, 0);
  assert.equal(empty.points.length, 0);
});

Deno.test("normal_points: indirect dispatch from a GPU count", GPU_TEST, async () => {
  const gpu = await testGpu();
  const capacity = 100;
  const live = 61;
  const positions = positionsWithEdges(capacity, 4);
  const count = gpu.createBuffer(new Uint32Array([live]));
  const buffers = {
    count,
    positions: gpu.createBuffer(positions),
    points: gpu.createBuffer(FD_BLOCKS * capacity * 12),
    outCount: gpu.createBuffer(4),
  };
  const op = await NormalPoints.create(gpu, buffers);
  const ind = await IndirectArgs.create(gpu, count, { workgroupSize: 64, multiplier: FD_BLOCKS });
  gpu.submit((e) => {
    const pass = e.beginComputePass();
    ind.encode(pass);
    op.encodeIndirect(pass, ind.args);
    pass.end();
  });
  const points = new Float32Array(await gpu.read(buffers.points)).slice(0, FD_BLOCKS * live * 3);
  assertClose(points, normalPointsTwin(positions.subarray(0, 3 * live)).points, {
    atol: 1e-7,
    rtol: 0,
  });
  assert.equal(new Uint32Array(await gpu.read(buffers.outCount))[0], FD_BLOCKS * live);
});
