import assert from "assert";
import { orbitCamera, REFERENCE_POSE } from "../../kernels/camera.ts";
import { generateRays, RayGenerator } from "../../kernels/rays.ts";
import { generateRaysTwin } from "../../kernels/rays_twin.ts";
import { assertClose, GPU_TEST, testGpu } from "./_harness.ts";

const SIZE = { width: 16, height: 12 };

function clip() {
  return [0, 1, 2].map((k) =>
    orbitCamera(
      { radius: 1.8 + 0.1 * k, thetaDeg: 70 + 15 * k, phiDeg: -40 + 50 * k, fovyDeg: 40 },
      SIZE,
    )
  );
}

Deno.test("rays: WGSL matches the twin for a 3-frame clip with offsets", GPU_TEST, async () => {
  const gpu = await testGpu();
  const cams = clip();
  const options = {
    originOffset: [1e-3, -2e-3, 5e-4] as const,
    directionOffset: [-7e-4, 3e-4, 1e-3] as const,
  };
  const got = await generateRays(gpu, cams, options);
  const want = generateRaysTwin(cams, options);
  assert.equal(got.origins.length, 3 * 3 * 16 * 12);
  assertClose(got.origins, want.origins, { label: "origins" });
  assertClose(got.directions, want.directions, { label: "directions" });
});

Deno.test("rays: a generator reuses its buffers for fewer frames", GPU_TEST, async () => {
  const gpu = await testGpu();
  const gen = await RayGenerator.create(gpu, { ...SIZE, maxFrames: 3 });
  const cams = clip();
  for (const frames of [cams, [orbitCamera(REFERENCE_POSE, SIZE)]]) {
    gen.setCameras(frames);
    gpu.submit((e) => {
      const p = e.beginComputePass();
      gen.encode(p);
      p.end();
    });
    const n = gen.rayCount;
    const want = generateRaysTwin(frames);
    const dirs = new Float32Array(await gpu.read(gen.directions)).subarray(0, 3 * n);
    assertClose(dirs, want.directions, { label: `directions (${frames.length} frames)` });
  }
  assert.throws(() => gen.setCameras([...cams, ...cams]), /cameras.length/);
  assert.throws(
    () => gen.setCameras(cams, { originOffset: [0, NaN, 0] }),
    /originOffset\[1\]/,
  );
  gen.destroy();
});
