import assert from "assert";
import { gridLayout } from "../../kernels/grid_config.ts";
import { mlpLayout } from "../../kernels/mlp.ts";
import { createApp } from "../../server/app.ts";
import { FieldViewer, loadFieldParams, orbitView } from "../../server/static/viewer.js";
import { viewerRenderTwin } from "../../server/viewer_twin.ts";
import { orbitCamera } from "../../kernels/camera.ts";
import { saveCheckpoint } from "../../stages/checkpoint.ts";
import { GPU_TEST, randomArray, testGpu } from "../contracts/_harness.ts";

const FIELD = {
  levels: 3,
  log2TableSize: 8,
  baseResolution: 4,
  finestResolution: 16,
  mlpHidden: 8,
};

/** A run folder holding one dynamic checkpoint of a random 2-keyframe field. */
async function randomRun() {
  const root = await Deno.makeTempDir();
  const { mlpHidden: _, ...grid } = FIELD;
  const layout = gridLayout({ ...grid, keyframes: 2 });
  const net = mlpLayout({ input: layout.outputDim, hidden: FIELD.mlpHidden });
  const grids = [0, 1].map((k) =>
    new Float32Array(randomArray(layout.entries * 2, 10 + k, -1.5, 1.5))
  );
  const mlp = new Float32Array(randomArray(net.size, 3, -0.8, 0.8));
  await Deno.mkdir(`${root}/r/dynamic`, { recursive: true });
  await Deno.writeTextFile(`${root}/r/config.json`, "{}");
  await saveCheckpoint(`${root}/r/dynamic/checkpoint.safetensors`, {
    step: 7,
    grid: grids,
    featuresPerLevel: 2,
    mlp,
    adam: { step: 7, groups: [{ name: "mlp", m: [mlp], v: [mlp] }] },
    occupancy: {
      grid: new Float32Array(8),
      bits: new Uint32Array(1),
      stats: new Float32Array(2),
      res: 2,
      slices: 1,
    },
    rngState: 1,
    options: { stage: "dynamic", settings: { field: FIELD } },
    scene: "test",
  });
  return { root, layout, grids, mlp, net };
}

Deno.test("viewer: the JS camera matches kernels/camera.ts", () => {
  const pose = { radius: 1.8, thetaDeg: 70, phiDeg: 123, fovyDeg: 40 };
  const js = orbitView(pose, 12, 12);
  const ts = orbitCamera(pose, { width: 12, height: 12 });
  js.c2w.forEach((v, i) => assert.ok(Math.abs(v! - ts.c2w[i]!) < 1e-12));
  assert.equal(js.focal, ts.focal);
});

Deno.test(
  "viewer: the browser renderer (shared grid_encode and mlp WGSL) matches its float64 twin",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const run = await randomRun();
    const { app } = createApp({ root: run.root });
    const spec = await (await app.request("/api/runs/r/viewer")).json();
    assert.equal(spec.stage, "dynamic");
    assert.equal(spec.step, 7);
    assert.equal(spec.grid.keyframes, 2);
    assert.ok(!spec.wgsl.grid_encode.includes("#include"));
    // Only the field's tensors travel: Adam's moments stay on the server.
    assert.equal(spec.bytes, (run.grids[0]!.length * 2 + run.mlp.length) * 4);
    const params = await loadFieldParams(
      "/api/runs/r/files/dynamic/checkpoint.safetensors",
      spec,
      ((url: string, init?: RequestInit) =>
        Promise.resolve(app.request(url, init))) as typeof fetch,
    );
    assert.deepEqual(params.grids[1], run.grids[1]);
    assert.deepEqual(params.mlp, run.mlp);
    const size = 10, samples = 24;
    const viewer = await FieldViewer.create(gpu.device, spec, params, { width: size, samples });
    let lit = 0;
    for (const view of [{ phiDeg: 30, thetaDeg: 80, time: 0.3 }, { phiDeg: -140, time: 1 }]) {
      const got = await viewer.renderPixels(view);
      const want = viewerRenderTwin(
        { thetaDeg: 90, ...view, radius: 1.8, fovyDeg: 40 },
        {
          layout: run.layout,
          grids: run.grids,
          mlpConfig: run.net.config,
          mlp: run.mlp,
          size,
          samples,
        },
      );
      let worst = 0;
      for (let i = 0; i < got.length; i++) {
        worst = Math.max(worst, Math.abs(got[i]! - want.rgba[i]!));
      }
      // float32 against float64 can round a channel to the neighbouring byte.
      assert.ok(worst <= 1, `worst channel difference ${worst}`);
      for (let p = 0; p < size * size; p++) if (want.rgb[3 * p]! < 0.9) lit++;
    }
    assert.ok(lit > 10, `only ${lit} pixels show the field`);
    viewer.destroy();
    await Deno.remove(run.root, { recursive: true });
  },
);
