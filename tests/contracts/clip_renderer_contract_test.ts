// The whole differentiable render (rays → march → field → shade → composite, and back)
// on the GPU against the same chain composed from the float64 twins.
import assert from "assert";
import { orbitCamera } from "../../kernels/camera.ts";
import { type ClipFrame, ClipRenderer, type RenderSettings } from "../../kernels/clip_renderer.ts";
import { Field } from "../../kernels/field.ts";
import { OccupancyGrid } from "../../kernels/occupancy.ts";
import { seededRandom } from "../../kernels/random.ts";
import { renderClipTwin } from "../../kernels/render_twin.ts";
import { assertClose, GPU_TEST, randomArray, testGpu } from "./_harness.ts";

const W = 8;
const H = 8;

async function setup(keyframes: number) {
  const gpu = await testGpu();
  const field = await Field.create(gpu, {
    grid: { levels: 4, log2TableSize: 10, baseResolution: 4, finestResolution: 32, keyframes },
    mlp: { hidden: 16 },
    seed: 5,
  });
  // Larger grid values than the 1e-4 init, so density, colour and normals all vary.
  const rand = seededRandom(11);
  const grid = Array.from({ length: keyframes }, () => {
    const g = new Float32Array(field.layout.keyframeStride);
    for (let i = 0; i < field.layout.entries * 2; i++) g[i] = (rand() * 2 - 1) * 0.8;
    return g;
  });
  field.write({ grid });
  const values = await field.read();
  const occupancy = await OccupancyGrid.create(gpu, { res: 4, slices: 2 });
  // Clear a few cells so empty-space skipping is exercised.
  const bits = new Uint32Array(4).fill(0xffffffff);
  bits[0] = 0xfff0ff0f;
  bits[2] = 0x0ff0ffff;
  gpu.upload(occupancy.bits, bits);
  return { gpu, field, values, occupancy, bits };
}

const frames = (): ClipFrame[] => [
  {
    camera: orbitCamera({ radius: 1.8, thetaDeg: 80, phiDeg: 20, fovyDeg: 40 }, {
      width: W,
      height: H,
    }),
    time: 0.2,
  },
  {
    camera: orbitCamera({ radius: 1.8, thetaDeg: 100, phiDeg: -50, fovyDeg: 40 }, {
      width: W,
      height: H,
    }),
    time: 0.9,
  },
];

for (const shading of ["albedo", "lambertian"] as const) {
  Deno.test(
    `clip render forward and backward match the twin chain (${shading})`,
    GPU_TEST,
    async () => {
      const { gpu, field, values, occupancy, bits } = await setup(3);
      const dt = 0.06;
      const renderer = await ClipRenderer.create(gpu, field, {
        width: W,
        height: H,
        maxFrames: 2,
        occupancy,
        dt,
        seed: 3,
        chunk: 2048,
      });
      const settings: RenderSettings = {
        step: 7,
        shading,
        ambient: 0.3,
        background: [0.2, 0.5, 0.9],
      };
      const f = frames();
      renderer.forward(f, settings);
      const image = new Float32Array(await gpu.read(renderer.clip.image));
      const alpha = new Float32Array(await gpu.read(renderer.clip.alpha));
      const depth = new Float32Array(await gpu.read(renderer.clip.depth));
      const normalImage = new Float32Array(await gpu.read(renderer.clip.normalImage));
      const stats = new Uint32Array(await gpu.read(renderer.clip.stats));
      const R = W * H * 2;
      const grads = {
        image: randomArray(R * 3, 1),
        alpha: randomArray(R, 2),
        depth: randomArray(R, 3, -0.1, 0.1),
        normalImage: randomArray(R * 3, 4),
      };
      gpu.upload(renderer.grads.image, Float32Array.from(grads.image));
      gpu.upload(renderer.grads.alpha, Float32Array.from(grads.alpha));
      gpu.upload(renderer.grads.depth, Float32Array.from(grads.depth));
      gpu.upload(renderer.grads.normalImage, Float32Array.from(grads.normalImage));
      gpu.submit((e) => field.encodeZeroGrads(e));
      renderer.backward(f, settings);
      const got = await field.readGrads();

      const twin = renderClipTwin(f, {
        ...settings,
        layout: field.layout,
        mlp: field.mlpLayout.config,
        grid: values.grid,
        mlpParams: values.mlp,
        occupancy: { bits, res: 4, slices: 2 },
        dt,
        seed: 3,
        grads,
      });
      assert.deepEqual([stats[0], stats[4]], twin.samples, "samples per frame");
      assert.ok(twin.samples[0]! > 100, "the march emits samples");
      assert.ok(Math.max(...alpha) - Math.min(...alpha) > 0.1, "alpha varies");
      assertClose(image, twin.image, { rtol: 1e-3, atol: 1e-4, label: "image" });
      assertClose(alpha, twin.alpha, { rtol: 1e-3, atol: 1e-4, label: "alpha" });
      assertClose(depth, twin.depth, { rtol: 1e-3, atol: 1e-4, label: "depth" });
      assertClose(normalImage, twin.normalImage, { rtol: 1e-3, atol: 1e-4, label: "normal image" });
      // Gradients sum over thousands of samples in float32 with atomics: compare against
      // the gradient's own scale.
      const mlpScale = Math.max(...twin.mlpGrads!.map(Math.abs));
      assertClose(got.mlp, twin.mlpGrads!, {
        rtol: 2e-3,
        atol: 2e-4 * mlpScale,
        label: "mlp grads",
      });
      for (let k = 0; k < 3; k++) {
        const t = twin.gridGrads![k]!;
        const scale = Math.max(...t.map(Math.abs));
        assertClose(got.grid[k]!, t, { rtol: 2e-3, atol: 2e-4 * scale, label: `grid grads k${k}` });
      }
      // The backward above reused the last frame's forward samples. After another frame's
      // forward it must recompute every frame and give the same gradients.
      renderer.forward([f[0]!], settings);
      gpu.submit((e) => field.encodeZeroGrads(e));
      renderer.backward(f, settings);
      const again = await field.readGrads();
      assertClose(again.mlp, twin.mlpGrads!, {
        rtol: 2e-3,
        atol: 2e-4 * mlpScale,
        label: "mlp grads, recomputed",
      });
      renderer.destroy();
      occupancy.destroy();
      field.destroy();
    },
  );
}
