import assert from "assert";
import { IndirectArgs } from "../../kernels/indirect_args.ts";
import {
  initMlpParams,
  Mlp,
  MLP_UNROLL_LIMIT,
  mlpBackwardOnce,
  type MlpConfig,
  mlpForwardOnce,
  mlpLayout,
  planMlpBackward,
  resolveMlpConfig,
} from "../../kernels/mlp.ts";
import { mlpBackwardTwin, mlpForwardTwin } from "../../kernels/mlp_twin.ts";
import { seededRandom } from "../../kernels/random.ts";
import { assertClose, GPU_TEST, randomArray, testGpu } from "./_harness.ts";

/** Seeded inputs rounded to float32, so the twin sees exactly what the GPU sees. */
function inputs(config: Partial<MlpConfig>, n: number, seed: number) {
  const layout = mlpLayout(config);
  const { input, output } = layout.config;
  return {
    params: initMlpParams(config, seededRandom(seed)),
    features: Float32Array.from(randomArray(n * input, seed + 1)),
    dRaw: Float32Array.from(randomArray(n * output, seed + 2)),
    grads: Float32Array.from(randomArray(layout.size, seed + 3, -0.5, 0.5)),
  };
}

async function checkAgainstTwin(
  config: Partial<MlpConfig>,
  n: number,
  options: { seed: number; groups?: number; unrolled?: boolean },
) {
  const gpu = await testGpu();
  const x = inputs(config, n, options.seed);
  const shape = options.unrolled === undefined ? {} : { unrolled: options.unrolled };
  const raw = await mlpForwardOnce(gpu, config, { ...x, ...shape });
  const label = `${JSON.stringify(config)} ${JSON.stringify(shape)}`;
  assertClose(raw, mlpForwardTwin(config, x), { label: `raw ${label}` });
  const got = await mlpBackwardOnce(gpu, config, {
    ...x,
    ...shape,
    ...(options.groups === undefined ? {} : { groups: options.groups }),
  });
  const want = mlpBackwardTwin(config, x);
  assertClose(got.dFeatures, want.dFeatures, { label: `dFeatures ${label}` });
  const accumulated = want.dParams.map((g, i) => g + x.grads[i]!);
  assertClose(got.dParams, accumulated, { label: `dParams ${label}` });
}

/** The fit's `tiny` MLP: 6 levels × 2 features → 16 → 4. */
const TINY = { input: 12, hidden: 16, output: 4 };

Deno.test("mlp: unrolled and tiled kernels both match the twin", GPU_TEST, async () => {
  for (const unrolled of [true, false]) {
    await checkAgainstTwin(TINY, 1000, { seed: 41, unrolled });
    await checkAgainstTwin({ input: 7, hidden: 13, output: 3 }, 77, { seed: 42, unrolled });
  }
});

Deno.test("mlp: unrolled backward with one workgroup walks every sample", GPU_TEST, async () => {
  await checkAgainstTwin(TINY, 1000, { seed: 43, groups: 1, unrolled: true });
  // More invocations than samples: idle ones must write zero rows.
  await checkAgainstTwin(TINY, 5, { seed: 44, groups: 4, unrolled: true });
});

Deno.test("mlp: software adapters get unrolled kernels up to the limit", GPU_TEST, async () => {
  const gpu = await testGpu();
  const x = inputs(TINY, 4, 45);
  const make = async (config: Partial<MlpConfig>, unrolled?: boolean) => {
    const size = mlpLayout(config).size;
    const buffers = {
      params: gpu.createBuffer(size * 4),
      features: gpu.createBuffer(x.features),
      raw: gpu.createBuffer(16),
      count: gpu.createBuffer(new Uint32Array([1])),
    };
    try {
      const mlp = await Mlp.create(gpu, {
        config,
        maxBatch: 1,
        ...buffers,
        ...(unrolled === undefined ? {} : { unrolled }),
      });
      mlp.destroy();
      return mlp.unrolled;
    } finally {
      for (const b of Object.values(buffers)) b.destroy();
    }
  };
  assert.equal(await make(TINY), gpu.software);
  assert.equal(await make(TINY, false), false);
  const wide = { input: 64, hidden: 64, output: 4 };
  assert.ok(mlpLayout(wide).size > MLP_UNROLL_LIMIT);
  assert.equal(await make(wide), false);
  await assert.rejects(make(wide, true), /Invalid option mlp.unrolled: expected at most 1024/);
});

Deno.test("mlp: default 32→64→4 matches the twin at N = 1000", GPU_TEST, async () => {
  await checkAgainstTwin({}, 1000, { seed: 11 });
});

Deno.test("mlp: few backward workgroups walk many tiles each", GPU_TEST, async () => {
  await checkAgainstTwin({}, 1000, { seed: 12, groups: 3 });
});

Deno.test("mlp: odd widths and a single sample", GPU_TEST, async () => {
  await checkAgainstTwin({ input: 7, hidden: 13, output: 3 }, 77, { seed: 13 });
  await checkAgainstTwin({ input: 3, hidden: 5, output: 1 }, 1, { seed: 14 });
});

Deno.test(
  "mlp: weights too large for workgroup memory are read from storage",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const config = { input: 64, hidden: 256, output: 4 };
    const limit = gpu.limits.maxComputeWorkgroupStorageSize;
    // Only meaningful where the parameters (70 KiB) overflow workgroup storage.
    if (mlpLayout(config).size * 4 > limit) {
      assert.equal(planMlpBackward(config, { workgroupBytes: limit }).cacheWeights, false);
    }
    await checkAgainstTwin(config, 100, { seed: 15 });
  },
);

async function checkCount(config: Partial<MlpConfig>, unrolled: boolean) {
  const gpu = await testGpu();
  const { input: nIn, output: nOut } = mlpLayout(config).config;
  const n = 1000;
  const maxBatch = 1500;
  const x = inputs(config, maxBatch, 21);
  const sentinel = new Float32Array(maxBatch * nOut).fill(7);
  const buffers = {
    params: gpu.createBuffer(x.params),
    features: gpu.createBuffer(x.features),
    raw: gpu.createBuffer(sentinel),
    count: gpu.createBuffer(new Uint32Array([n])),
  };
  const dFeatures = gpu.createBuffer(new Float32Array(maxBatch * nIn).fill(7));
  const grads = gpu.createBuffer(x.grads);
  const mlp = await Mlp.create(gpu, {
    config,
    unrolled,
    maxBatch,
    ...buffers,
    backward: { dRaw: gpu.createBuffer(x.dRaw), dFeatures, grads },
  });
  gpu.submit((encoder) => {
    const pass = encoder.beginComputePass();
    mlp.encodeForward(pass);
    mlp.encodeBackward(pass);
    pass.end();
  });
  const first = { params: x.params, features: x.features.subarray(0, n * nIn) };
  const raw = new Float32Array(await gpu.read(buffers.raw));
  assertClose(raw.subarray(0, n * nOut), mlpForwardTwin(config, first), { label: "raw" });
  assert.ok(raw.subarray(n * nOut).every((v) => v === 7), "rows past count[0] untouched");
  const want = mlpBackwardTwin(config, { ...first, dRaw: x.dRaw.subarray(0, n * nOut) });
  const dF = new Float32Array(await gpu.read(dFeatures));
  assertClose(dF.subarray(0, n * nIn), want.dFeatures, { label: "dFeatures" });
  assert.ok(dF.subarray(n * nIn).every((v) => v === 7), "dFeatures past count[0] untouched");
  const accumulated = want.dParams.map((g, i) => g + x.grads[i]!);
  const got = new Float32Array(await gpu.read(grads));
  assertClose(got, accumulated, { label: "dParams" });

  // Indirect: a smaller count on the GPU, dispatched through IndirectArgs.
  const m = 333;
  gpu.upload(buffers.count, new Uint32Array([m]));
  gpu.upload(buffers.raw, sentinel);
  const indirect = await IndirectArgs.create(gpu, buffers.count, { workgroupSize: 64 });
  gpu.submit((encoder) => {
    const pass = encoder.beginComputePass();
    indirect.encode(pass);
    mlp.encodeForward(pass, { indirect: indirect.args });
    pass.end();
  });
  const raw2 = new Float32Array(await gpu.read(buffers.raw));
  const want2 = mlpForwardTwin(config, {
    params: x.params,
    features: x.features.subarray(0, m * nIn),
  });
  assertClose(raw2.subarray(0, m * nOut), want2, { label: "indirect raw" });
  assert.ok(raw2.subarray(m * nOut).every((v) => v === 7), "indirect rows past count[0] untouched");
  mlp.destroy();
  for (const b of [...Object.values(buffers), dFeatures, grads]) b.destroy();
}

Deno.test("mlp: N comes from the count buffer, directly and indirectly", GPU_TEST, async () => {
  await checkCount({}, false);
  await checkCount(TINY, true);
});

Deno.test("mlp: backward is deterministic", GPU_TEST, async () => {
  const gpu = await testGpu();
  for (const [config, unrolled] of [[{}, false], [TINY, true]] as const) {
    const x = { ...inputs(config, 500, 31), unrolled };
    const a = await mlpBackwardOnce(gpu, config, x);
    const b = await mlpBackwardOnce(gpu, config, x);
    assert.deepEqual(Array.from(a.dParams), Array.from(b.dParams));
  }
});

Deno.test("mlp: options are validated with the field name", () => {
  assert.throws(
    () => resolveMlpConfig({ hidden: 0 }),
    { message: "Invalid option mlp.hidden: expected an integer in [1, 256], got 0" },
  );
  assert.throws(() => resolveMlpConfig({ input: 2.5 }), /Invalid option mlp.input/);
  assert.throws(() => resolveMlpConfig({ output: 300 }), /Invalid option mlp.output/);
  assert.throws(
    () => resolveMlpConfig({ width: 3 } as Partial<MlpConfig>),
    /Unknown mlp option width/,
  );
});

Deno.test("mlp: the backward tile is planned from workgroup storage", () => {
  assert.deepEqual(planMlpBackward({}, { workgroupBytes: 32768 }), {
    tile: 32,
    cacheWeights: true,
  });
  assert.deepEqual(planMlpBackward({}, { workgroupBytes: 16384 }), {
    tile: 16,
    cacheWeights: false,
  });
});
