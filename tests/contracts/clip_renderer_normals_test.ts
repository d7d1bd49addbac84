// `normals: false` (used by the fit) evaluates the field at the samples only. With albedo
// shading the normals are unused, so image, alpha, depth and every field gradient must
// equal those of the full 7-block render.
import assert from "assert";
import { orbitCamera } from "../../kernels/camera.ts";
import { ClipRenderer } from "../../kernels/clip_renderer.ts";
import { Field } from "../../kernels/field.ts";
import { OccupancyGrid } from "../../kernels/occupancy.ts";
import { assertClose, GPU_TEST, randomArray, testGpu } from "./_harness.ts";

Deno.test(
  "clip renderer: normals false matches the full render under albedo",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const field = await Field.create(gpu, {
      grid: { levels: 3, log2TableSize: 10, keyframes: 2 },
      seed: 4,
    });
    const occupancy = await OccupancyGrid.create(gpu, { res: 8, slices: 2 });
    const size = 12;
    const frames = [{
      camera: orbitCamera({ radius: 1.8, thetaDeg: 70, phiDeg: 30, fovyDeg: 40 }, {
        width: size,
        height: size,
      }),
      time: 0.4,
    }];
    const gradImage = new Float32Array(randomArray(size * size * 3, 9));
    const gradAlpha = new Float32Array(randomArray(size * size, 10));
    const run = async (normals: boolean) => {
      const r = await ClipRenderer.create(gpu, field, {
        width: size,
        height: size,
        maxFrames: 1,
        occupancy,
        dt: 0.02,
        normals,
      });
      r.forward(frames, { step: 3 });
      const image = new Float32Array(await gpu.read(r.clip.image));
      const alpha = new Float32Array(await gpu.read(r.clip.alpha));
      const depth = new Float32Array(await gpu.read(r.clip.depth));
      gpu.upload(r.grads.image, gradImage);
      gpu.upload(r.grads.alpha, gradAlpha);
      gpu.submit((e) => field.encodeZeroGrads(e));
      r.backward(frames, { step: 3 });
      const grads = await field.readGrads();
      if (!normals) {
        assert.throws(
          () => r.forward(frames, { shading: "lambertian" }),
          /Invalid option shading: expected albedo/,
        );
      }
      r.destroy();
      return { image, alpha, depth, grads };
    };
    const full = await run(true);
    const lean = await run(false);
    assertClose(lean.image, full.image, { label: "image" });
    assertClose(lean.alpha, full.alpha, { label: "alpha" });
    assertClose(lean.depth, full.depth, { label: "depth" });
    assertClose(lean.grads.mlp, full.grads.mlp, { label: "mlp grads", atol: 1e-6 });
    lean.grads.grid.forEach((g, k) =>
      assertClose(g, full.grads.grid[k]!, { label: `grid grads ${k}`, atol: 1e-7 })
    );
    assert.ok(full.grads.mlp.some((v) => v !== 0), "the backward reached the field");
    field.destroy();
    occupancy.destroy();
  },
);
