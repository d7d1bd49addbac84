/**
 * Contract: the WGSL time TV against its float64 twin, loss and gradients, in both
 * index modes, with several chunks and with K = 1.
 */
import assert from "assert";
import { type GridConfig, type GridLayout, gridLayout } from "../../kernels/grid_config.ts";
import { createGridBuffers, readGridBuffers } from "../../kernels/grid_encode.ts";
import { TimeTv, timeTvBackwardOnce, timeTvOnce } from "../../kernels/time_tv.ts";
import { timeTvBackwardTwin, timeTvTwin } from "../../kernels/time_tv_twin.ts";
import { assertClose, GPU_TEST, randomArray, testGpu } from "./_harness.ts";

const SMALL: Partial<GridConfig> = {
  levels: 4,
  log2TableSize: 10,
  baseResolution: 4,
  finestResolution: 64,
};

function randomParams(layout: GridLayout, seed: number): Float32Array<ArrayBuffer>[] {
  return Array.from(
    { length: layout.config.keyframes },
    (_, k) => Float32Array.from(randomArray(layout.keyframeStride, seed + k)),
  );
}

async function check(
  layout: GridLayout,
  options: { n: number; seed: number; lambda: number; lo?: number; hi?: number },
): Promise<void> {
  const gpu = await testGpu();
  const params = randomParams(layout, options.seed);
  const points = Float32Array.from(
    randomArray(3 * options.n, options.seed + 50, options.lo ?? -1, options.hi ?? 1),
  );
  const want = timeTvTwin(layout, { params, points });
  assertClose([await timeTvOnce(gpu, layout, { params, points })], [want], { label: "loss" });
  const got = await timeTvBackwardOnce(gpu, layout, { params, points, lambda: options.lambda });
  assertClose([got.loss], [want], { label: "loss (backward pass)" });
  const wantG = timeTvBackwardTwin(layout, { params, points, lambda: options.lambda });
  got.grads.forEach((g, k) => assertClose(g, wantG[k]!, { label: `grad keyframe ${k}` }));
}

Deno.test("time TV: tiled, 4 keyframes", GPU_TEST, async () => {
  await check(gridLayout({ ...SMALL, keyframes: 4 }), { n: 300, seed: 1, lambda: 0.1 });
});

Deno.test("time TV: hash, 5 keyframes in 3 chunks, points leaving the box", GPU_TEST, async () => {
  const cfg: Partial<GridConfig> = { ...SMALL, keyframes: 5, indexMode: "hash" };
  const layout = gridLayout(cfg, { maxBindingBytes: gridLayout(cfg).keyframeStride * 4 * 2 });
  assert.equal(layout.chunks, 3);
  await check(layout, { n: 300, seed: 2, lambda: 2, lo: -1.1, hi: 1.1 });
});

Deno.test("time TV: tiled, 4 keyframes in 4 chunks", GPU_TEST, async () => {
  const cfg: Partial<GridConfig> = { ...SMALL, keyframes: 4 };
  const layout = gridLayout(cfg, { maxBindingBytes: gridLayout(cfg).keyframeStride * 4 });
  assert.equal(layout.chunks, 4);
  await check(layout, { n: 200, seed: 3, lambda: 0.5 });
});

Deno.test("time TV: one keyframe has no pairs", GPU_TEST, async () => {
  const gpu = await testGpu();
  const layout = gridLayout(SMALL);
  const params = randomParams(layout, 4);
  const points = Float32Array.from(randomArray(30, 5));
  const got = await timeTvBackwardOnce(gpu, layout, { params, points, lambda: 1 });
  assert.equal(got.loss, 0);
  assert.ok(got.grads[0]!.every((v) => v === 0));
});

Deno.test("time TV: default 16-level layout, 3 keyframes", GPU_TEST, async () => {
  const layout = gridLayout({ keyframes: 3 }, { maxBindingBytes: 2 ** 27 });
  await check(layout, { n: 200, seed: 6, lambda: 0.1 });
});

Deno.test(
  "time TV: class reuse accumulates gradients and refreshes the loss",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const layout = gridLayout({ ...SMALL, keyframes: 3 });
    const params = randomParams(layout, 7);
    const points = Float32Array.from(randomArray(150, 8));
    const grads = createGridBuffers(gpu, layout);
    const tv = await TimeTv.create(gpu, layout, {
      params: createGridBuffers(gpu, layout, { values: params }),
      grads,
      points: gpu.createBuffer(points),
      batch: 50,
      lambda: 0.1,
    });
    tv.setLambda(0.3);
    for (let i = 0; i < 2; i++) {
      gpu.submit((e) => {
        const pass = e.beginComputePass();
        tv.encodeBackward(pass);
        pass.end();
      });
    }
    const loss = new Float32Array(await gpu.read(tv.loss))[0]!;
    assertClose([loss], [timeTvTwin(layout, { params, points })], { label: "loss" });
    const wantG = timeTvBackwardTwin(layout, { params, points, lambda: 0.6 });
    (await readGridBuffers(gpu, layout, grads)).forEach((g, k) =>
      assertClose(g, wantG[k]!, { label: `grad keyframe ${k}` })
    );
    tv.destroy();
  },
);
