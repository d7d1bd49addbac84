/**
 * Kernel benchmarks: `deno task bench` (= `deno bench -A tasks/bench.ts`).
 *
 * Each kernel is measured as WGSL on the WebGPU device and as its float64 CPU twin,
 * grouped so that `deno bench` prints the ratio against the twin baseline in one run.
 * Every WGSL bench group also holds a WGSL run at the twin's batch size, so that the
 * group ratio compares equal work; the larger WGSL batch is the headline throughput.
 *
 * All buffers, pipelines, bind groups and uploads are built once at module load; the
 * measured WGSL bodies only record, submit and wait for the queue (`gpu.flush()`).
 * Batch sizes are in the bench names: divide them by the printed time per iteration
 * for points/s or samples/s (docs/benchmarks.md).
 *
 * Backend: `ANIMATE124_BACKEND=gl|vulkan|auto deno task bench`.
 *
 * @module
 */
import { acquireGpu } from "../kernels/gpu.ts";
import { chunkFloats, gridLayout, initGridValues } from "../kernels/grid_config.ts";
import { createGridBuffers, GridEncoder } from "../kernels/grid_encode.ts";
import { gridEncodeBackwardTwin, gridEncodeTwin } from "../kernels/grid_encode_twin.ts";
import { initMlpParams, Mlp, mlpLayout } from "../kernels/mlp.ts";
import { mlpBackwardTwin, mlpForwardTwin } from "../kernels/mlp_twin.ts";
import { Adam } from "../kernels/adam.ts";
import { adamStepTwin, type AdamTwinTensor, adamTwinTensor } from "../kernels/adam_twin.ts";
import { seededRandom } from "../kernels/random.ts";
import { orbitCamera } from "../kernels/camera.ts";
import { type ClipFrame, ClipRenderer } from "../kernels/clip_renderer.ts";
import { Field } from "../kernels/field.ts";
import { OccupancyUpdater } from "../kernels/occupancy_updater.ts";
import { renderClipTwin } from "../kernels/render_twin.ts";

// ---------------------------------------------------------------------------
// Sizes
// ---------------------------------------------------------------------------

/** Keyframe grids of the dynamic stages (SPEC.md). */
const KEYFRAMES = 64;
/** Learning rates of the two Adam groups (grid, MLP). */
const LR_GRID = 1e-2;
const LR_MLP = 1e-3;

// Deno.bench runs the warm-up until 10 ms are spent and then `warmup` more iterations,
// and measures until 10 ms are spent and then `n` more iterations when `n` is set. So
// for a bench slower than 10 ms, FAST is 3 warm-up + 11 measured iterations, SLOW
// 1 warm-up + 5 measured and VERY_SLOW 1 warm-up + 3 measured.
const FAST = { warmup: 2, n: 10 } as const;
const SLOW = { warmup: 0, n: 4 } as const;
const VERY_SLOW = { warmup: 0, n: 2 } as const;

// ---------------------------------------------------------------------------
// Setup (once, outside every measured function)
// ---------------------------------------------------------------------------

const gpu = await acquireGpu();
/** A CPU rasteriser (Mesa llvmpipe / lavapipe, SwiftShader): WGSL runs on the host cores. */
const software = /llvmpipe|lavapipe|swiftshader|software/i.test(gpu.adapterName);
console.log(
  `bench adapter: ${gpu.adapterName} | backend: ${gpu.backend}${
    software ? " (software rasteriser: scaled-down MLP batch)" : ""
  } | Deno ${Deno.version.deno} (V8 ${Deno.version.v8}) | maxStorageBufferBindingSize ${gpu.limits.maxStorageBufferBindingSize}`,
);

/** Grid-encode batch on the GPU (headline throughput). */
const GRID_BATCH_GPU = 1 << 16;
/** Grid-encode batch of the float64 twin, also run on the GPU for the group ratio. */
const GRID_BATCH_TWIN = 1 << 12;
/**
 * MLP batch on the GPU (headline throughput): 2^18 on a real GPU. The WGSL backward
 * takes about 34 s per 2^18 samples on 2-core llvmpipe, so software adapters use 2^16.
 */
const MLP_BATCH_GPU = software ? 1 << 16 : 1 << 18;
/** MLP batch of the float64 twin, also run on the GPU for the group ratio. */
const MLP_BATCH_TWIN = 1 << 14;

const rand = seededRandom(124);

function uniformArray(length: number, lo: number, hi: number): Float32Array<ArrayBuffer> {
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = lo + (hi - lo) * rand();
  return out;
}

// The 64-keyframe grid with the default 16-level tiled layout.
const layout = gridLayout({ keyframes: KEYFRAMES }, {
  maxBindingBytes: gpu.limits.maxStorageBufferBindingSize,
});
const gridFloats = Array.from({ length: layout.chunks }, (_, c) => chunkFloats(layout, c));
const gridParamCount = gridFloats.reduce((a, b) => a + b, 0);
const gridValues = initGridValues(layout, rand, { copyFirst: false });
const gridParams = createGridBuffers(gpu, layout, { values: gridValues, label: "grid params" });
const gridGrads = createGridBuffers(gpu, layout, { label: "grid grads" });
console.log(
  `grid: ${KEYFRAMES} keyframes × ${layout.entries} entries × ${layout.config.featuresPerLevel} features, ` +
    `${gridParamCount} floats (padded) in ${layout.chunks} chunk buffers of ${layout.keyframesPerChunk} keyframes`,
);

/** Inputs of one grid-encode batch: points, random times, dL/dfeatures (host copies kept for the twin). */
function gridInputs(n: number) {
  const points = uniformArray(n * 3, -1, 1);
  const times = uniformArray(n, 0, 1);
  const featureGrads = uniformArray(n * layout.outputDim, -1e-3, 1e-3);
  return {
    n,
    points,
    times,
    featureGrads,
    buffers: {
      points: gpu.createBuffer(points, { label: "points" }),
      times: gpu.createBuffer(times, { label: "times" }),
      count: gpu.createBuffer(new Uint32Array([n]), { label: "count" }),
      features: gpu.createBuffer(n * layout.outputDim * 4, { label: "features" }),
      featureGrads: gpu.createBuffer(featureGrads, { label: "featureGrads" }),
    },
  };
}

async function gridEncoderFor(io: ReturnType<typeof gridInputs>): Promise<GridEncoder> {
  return await GridEncoder.create(gpu, layout, {
    params: gridParams,
    grads: gridGrads,
    ...io.buffers,
    maxPoints: io.n,
  });
}

const gridBig = gridInputs(GRID_BATCH_GPU);
const gridSmall = gridInputs(GRID_BATCH_TWIN);
const gridEncBig = await gridEncoderFor(gridBig);
const gridEncSmall = await gridEncoderFor(gridSmall);

// MLP 32 → 64 → 4.
const mlpShape = mlpLayout({});
const mlpParams = gpu.createBuffer(initMlpParams({}, rand), { label: "mlp params" });
const mlpGrads = gpu.createBuffer(mlpShape.size * 4, { label: "mlp grads" });

function mlpInputs(n: number) {
  const { input, output } = mlpShape.config;
  const features = uniformArray(n * input, -1e-2, 1e-2);
  const dRaw = uniformArray(n * output, -1, 1);
  return {
    n,
    features,
    dRaw,
    buffers: {
      features: gpu.createBuffer(features, { label: "mlp features" }),
      raw: gpu.createBuffer(n * output * 4, { label: "mlp raw" }),
      count: gpu.createBuffer(new Uint32Array([n]), { label: "mlp count" }),
      dRaw: gpu.createBuffer(dRaw, { label: "mlp dRaw" }),
      dFeatures: gpu.createBuffer(n * input * 4, { label: "mlp dFeatures" }),
    },
  };
}

async function mlpFor(io: ReturnType<typeof mlpInputs>): Promise<Mlp> {
  const b = io.buffers;
  return await Mlp.create(gpu, {
    maxBatch: io.n,
    params: mlpParams,
    features: b.features,
    raw: b.raw,
    count: b.count,
    backward: { dRaw: b.dRaw, dFeatures: b.dFeatures, grads: mlpGrads },
  });
}

const mlpBig = mlpInputs(MLP_BATCH_GPU);
const mlpSmall = mlpInputs(MLP_BATCH_TWIN);
const mlpRunBig = await mlpFor(mlpBig);
const mlpRunSmall = await mlpFor(mlpSmall);
const mlpHostParams = await gpu.read(mlpParams).then((b) => new Float32Array(b));

// Adam over the full field: both groups, moments owned by the optimiser.
const adam = await Adam.create(gpu, {
  groups: [
    { name: "grid", params: gridParams, grads: gridGrads, floats: gridFloats, lr: LR_GRID },
    { name: "mlp", params: [mlpParams], grads: [mlpGrads], floats: [mlpShape.size], lr: LR_MLP },
  ],
});
const adamParamCount = gridParamCount + mlpShape.size;

// Adam twin over the same count: one float64 tensor per keyframe plus the MLP. The grid
// gradient is one shared random array (ArrayLike input, never written by the twin).
const twinGridGrad = uniformArray(layout.keyframeStride, -1e-3, 1e-3);
const twinGridTensors: AdamTwinTensor[] = gridValues.map((v) => adamTwinTensor(v));
gridValues.length = 0; // the twin tensors hold float64 copies now
const twinMlpTensor = adamTwinTensor(mlpHostParams);
const twinMlpGrad = uniformArray(mlpShape.size, -1e-3, 1e-3);
let twinAdamStep = 0;

// Host copies of the grid for the encode twin: the twin tensors' params (float64).
const twinGridParams = twinGridTensors.map((t) => t.params);

await gpu.flush();
console.log(
  `adam: ${adamParamCount} params (${gridParamCount} grid, lr ${LR_GRID}; ${mlpShape.size} mlp, lr ${LR_MLP})`,
);

// ---------------------------------------------------------------------------
// Measured bodies
// ---------------------------------------------------------------------------

function recordPass(body: (pass: GPUComputePassEncoder) => void): void {
  gpu.submit((encoder) => {
    const pass = encoder.beginComputePass();
    body(pass);
    pass.end();
  });
}

// ---------------------------------------------------------------------------
// 1. Grid encode forward
// ---------------------------------------------------------------------------

const GRID_FWD = "grid encode fwd (K=64, 16 levels, tiled)";

Deno.bench({
  name: `grid encode fwd, ${GRID_BATCH_TWIN} points, twin`,
  group: GRID_FWD,
  baseline: true,
  ...SLOW,
  fn() {
    gridEncodeTwin(layout, {
      params: twinGridParams,
      points: gridSmall.points,
      times: gridSmall.times,
    });
  },
});

Deno.bench({
  name: `grid encode fwd, ${GRID_BATCH_TWIN} points, WGSL`,
  group: GRID_FWD,
  ...FAST,
  async fn() {
    recordPass((pass) => gridEncSmall.encodeForward(pass));
    await gpu.flush();
  },
});

Deno.bench({
  name: `grid encode fwd, ${GRID_BATCH_GPU} points, WGSL`,
  group: GRID_FWD,
  ...SLOW,
  async fn() {
    recordPass((pass) => gridEncBig.encodeForward(pass));
    await gpu.flush();
  },
});

// ---------------------------------------------------------------------------
// 2. Grid encode forward + backward. The WGSL backward scatters into the grid
// gradients without clearing them (the Adam step or its zeroGrads does that in
// training); the twin allocates its 64 float64 gradient grids on every call.
// ---------------------------------------------------------------------------

const GRID_FWD_BWD = "grid encode fwd+bwd (K=64, 16 levels, tiled)";

Deno.bench({
  name: `grid encode fwd+bwd, ${GRID_BATCH_TWIN} points, twin`,
  group: GRID_FWD_BWD,
  baseline: true,
  ...SLOW,
  fn() {
    gridEncodeTwin(layout, {
      params: twinGridParams,
      points: gridSmall.points,
      times: gridSmall.times,
    });
    gridEncodeBackwardTwin(layout, {
      points: gridSmall.points,
      times: gridSmall.times,
      featureGrads: gridSmall.featureGrads,
    });
  },
});

Deno.bench({
  name: `grid encode fwd+bwd, ${GRID_BATCH_TWIN} points, WGSL`,
  group: GRID_FWD_BWD,
  ...FAST,
  async fn() {
    recordPass((pass) => {
      gridEncSmall.encodeForward(pass);
      gridEncSmall.encodeBackward(pass);
    });
    await gpu.flush();
  },
});

Deno.bench({
  name: `grid encode fwd+bwd, ${GRID_BATCH_GPU} points, WGSL`,
  group: GRID_FWD_BWD,
  ...SLOW,
  async fn() {
    recordPass((pass) => {
      gridEncBig.encodeForward(pass);
      gridEncBig.encodeBackward(pass);
    });
    await gpu.flush();
  },
});

// ---------------------------------------------------------------------------
// 3. MLP 32 → 64 → 4 forward + backward (parameter gradients cleared each step,
// as a training step does).
// ---------------------------------------------------------------------------

const MLP_GROUP = "mlp 32→64→4 fwd+bwd";

Deno.bench({
  name: `mlp fwd+bwd, ${MLP_BATCH_TWIN} samples, twin`,
  group: MLP_GROUP,
  baseline: true,
  ...SLOW,
  fn() {
    mlpForwardTwin({}, { params: mlpHostParams, features: mlpSmall.features });
    mlpBackwardTwin({}, {
      params: mlpHostParams,
      features: mlpSmall.features,
      dRaw: mlpSmall.dRaw,
    });
  },
});

function mlpStep(mlp: Mlp): void {
  gpu.submit((encoder) => {
    encoder.clearBuffer(mlpGrads);
    const pass = encoder.beginComputePass();
    mlp.encodeForward(pass);
    mlp.encodeBackward(pass);
    pass.end();
  });
}

Deno.bench({
  name: `mlp fwd+bwd, ${MLP_BATCH_TWIN} samples, WGSL`,
  group: MLP_GROUP,
  ...(software ? SLOW : FAST),
  async fn() {
    mlpStep(mlpRunSmall);
    await gpu.flush();
  },
});

Deno.bench({
  name: `mlp fwd+bwd, ${MLP_BATCH_GPU} samples, WGSL`,
  group: MLP_GROUP,
  ...(software ? VERY_SLOW : SLOW),
  async fn() {
    mlpStep(mlpRunBig);
    await gpu.flush();
  },
});

// ---------------------------------------------------------------------------
// 4. One Adam step over the full 64-keyframe field plus the MLP (two groups).
// ---------------------------------------------------------------------------

const ADAM_GROUP = `adam step, ${adamParamCount} params`;

Deno.bench({
  name: `adam step, ${adamParamCount} params, twin`,
  group: ADAM_GROUP,
  baseline: true,
  ...VERY_SLOW,
  fn() {
    twinAdamStep++;
    for (const t of twinGridTensors) {
      adamStepTwin(t, twinGridGrad, { step: twinAdamStep, lr: LR_GRID });
    }
    adamStepTwin(twinMlpTensor, twinMlpGrad, { step: twinAdamStep, lr: LR_MLP });
  },
});

Deno.bench({
  name: `adam step, ${adamParamCount} params, WGSL`,
  group: ADAM_GROUP,
  ...(software ? VERY_SLOW : SLOW),
  async fn() {
    recordPass((pass) => adam.encodeStep(pass));
    await gpu.flush();
  },
});

// ---------------------------------------------------------------------------
// 5. RENDER FORWARD + BACKWARD of a clip through the 64-keyframe field
// ---------------------------------------------------------------------------

// A fresh field after one occupancy update: the blob keeps a sphere of radius ≈ 0.34
// occupied, which is what the first steps of a stage march through. On a software
// adapter the full 16×128² clip takes tens of minutes, so it benches 2 frames of 32².
const RENDER = software ? { frames: 2, size: 32 } : { frames: 16, size: 128 };
/** Occupancy resolution: SPEC.md's 128³ per slice costs 33.5 M field evaluations an update. */
const RENDER_OCC_RES = software ? 32 : 128;
/** Size the float64 twin renders, also run on the GPU for the group ratio. */
const RENDER_TWIN = { frames: 1, size: 16 };
const RENDER_GROUP = "render fwd+bwd";

const renderField = await Field.create(gpu, { grid: { keyframes: KEYFRAMES }, seed: 3 });
const renderOcc = await OccupancyUpdater.create(gpu, renderField, {
  res: RENDER_OCC_RES,
  slices: 16,
});
renderOcc.update(0, seededRandom(5));

function clipFrames(frames: number, size: number): ClipFrame[] {
  return Array.from({ length: frames }, (_, f) => ({
    camera: orbitCamera({ radius: 1.8, thetaDeg: 90, phiDeg: f * 7, fovyDeg: 40 }, {
      width: size,
      height: size,
    }),
    time: f / 16,
  }));
}

async function renderBench(clip: { frames: number; size: number }) {
  const renderer = await ClipRenderer.create(gpu, renderField, {
    width: clip.size,
    height: clip.size,
    maxFrames: clip.frames,
    occupancy: renderOcc.grid,
  });
  const rays = clip.frames * clip.size * clip.size;
  gpu.upload(renderer.grads.image, uniformArray(rays * 3, -1e-3, 1e-3));
  gpu.upload(renderer.grads.alpha, uniformArray(rays, -1e-3, 1e-3));
  return { renderer, frames: clipFrames(clip.frames, clip.size) };
}

const renderMain = await renderBench(RENDER);
const renderSmall = await renderBench(RENDER_TWIN);
const renderSettings = { shading: "lambertian", ambient: 0.5 } as const;
const renderValues = await renderField.read();
const renderOccBits = new Uint32Array(await gpu.read(renderOcc.grid.bits));
const twinFrames = clipFrames(RENDER_TWIN.frames, RENDER_TWIN.size);
const twinRays = RENDER_TWIN.frames * RENDER_TWIN.size ** 2;
const renderTwinGrads = {
  image: uniformArray(twinRays * 3, -1e-3, 1e-3),
  alpha: uniformArray(twinRays, -1e-3, 1e-3),
  depth: new Float32Array(twinRays),
  normalImage: new Float32Array(twinRays * 3),
};

Deno.bench({
  name: `render fwd+bwd, ${RENDER_TWIN.frames}×${RENDER_TWIN.size}² clip, twin`,
  group: RENDER_GROUP,
  baseline: true,
  ...VERY_SLOW,
  fn() {
    renderClipTwin(twinFrames, {
      ...renderSettings,
      layout: renderField.layout,
      mlp: renderField.mlpLayout.config,
      grid: renderValues.grid,
      mlpParams: renderValues.mlp,
      occupancy: { bits: renderOccBits, res: RENDER_OCC_RES, slices: 16 },
      grads: renderTwinGrads,
    });
  },
});

for (const [clip, r] of [[RENDER_TWIN, renderSmall], [RENDER, renderMain]] as const) {
  Deno.bench({
    name: `render fwd+bwd, ${clip.frames}×${clip.size}² clip, WGSL`,
    group: RENDER_GROUP,
    ...(software ? VERY_SLOW : SLOW),
    async fn() {
      gpu.submit((e) => renderField.encodeZeroGrads(e));
      r.renderer.forward(r.frames, renderSettings);
      r.renderer.backward(r.frames, renderSettings);
      await gpu.flush();
    },
  });
}
