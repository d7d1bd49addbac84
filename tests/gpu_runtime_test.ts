import assert from "assert";
import { workgroupGrid } from "../kernels/gpu.ts";
import { wgslFromString } from "../kernels/wgsl.ts";
import { GPU_TEST, testGpu } from "./contracts/_harness.ts";

Deno.test("buffer upload and read-back round trip", GPU_TEST, async () => {
  const gpu = await testGpu();
  const data = new Float32Array([1.5, -2, 3.25, 1e-7, 9]);
  const buf = gpu.createBuffer(data, { label: "rt" });
  assert.deepEqual(
    Array.from(new Float32Array(await gpu.read(buf)).subarray(0, 5)),
    Array.from(data),
  );
  gpu.upload(buf, new Float32Array([7]), 4);
  const back = new Float32Array(await gpu.read(buf, { byteOffset: 4, byteLength: 8 }));
  assert.deepEqual(Array.from(back), [7, 3.25]);
  buf.destroy();
});

Deno.test("compile errors name the kernel and the line", GPU_TEST, async () => {
  const gpu = await testGpu();
  const src = wgslFromString(
    "broken",
    "@compute @workgroup_size(1)\nfn main() {\n  let x: f32 = 1u;\n}",
  );
  await assert.rejects(
    gpu.pipelineFromSource(src),
    /WGSL compile error in kernel broken: broken:3:/,
  );
});

Deno.test("a missing kernel file is reported with its name", GPU_TEST, async () => {
  const gpu = await testGpu();
  await assert.rejects(gpu.pipeline("no_such_kernel"), /Cannot load kernel no_such_kernel/);
});

Deno.test("pipelines are cached by source and constants", GPU_TEST, async () => {
  const gpu = await testGpu();
  const code =
    "override k: f32 = 1.0;\n@group(0) @binding(0) var<storage, read_write> o: array<f32>;\n" +
    "@compute @workgroup_size(1) fn main() { o[0] = k; }";
  const a = await gpu.pipelineFromSource(wgslFromString("c", code), { constants: { k: 2 } });
  const b = await gpu.pipelineFromSource(wgslFromString("c", code), { constants: { k: 2 } });
  const c = await gpu.pipelineFromSource(wgslFromString("c", code), { constants: { k: 3 } });
  assert.equal(a, b);
  assert.notEqual(a, c);
  const out = gpu.createBuffer(4);
  gpu.submit((enc) => {
    const pass = enc.beginComputePass();
    gpu.dispatch(pass, c, gpu.bindGroup(c, [out]), 1, 1);
    pass.end();
  });
  assert.equal(new Float32Array(await gpu.read(out))[0], 3);
});

Deno.test("workgroup grids stay inside the per-dimension limit", () => {
  assert.deepEqual(workgroupGrid(100, 64), [2, 1]);
  const [x, y] = workgroupGrid(70000 * 64, 64);
  assert.ok(x <= 65535 && x * y >= 70000);
});

Deno.test("memory accounting follows creation and destruction", GPU_TEST, async () => {
  const gpu = await testGpu();
  const before = gpu.memory.liveBytes;
  const a = gpu.createBuffer(1000);
  const b = gpu.createUniform(20);
  assert.equal(gpu.memory.liveBytes - before, 1000 + 32);
  assert.ok(gpu.memory.peakBytes >= gpu.memory.liveBytes);
  a.destroy();
  a.destroy();
  assert.equal(gpu.memory.liveBytes - before, 32);
  b.destroy();
  assert.equal(gpu.memory.liveBytes, before);
});
