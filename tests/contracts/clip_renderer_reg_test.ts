// The per-sample regularisers inside ClipRenderer.backward (entropy of the weights,
// orientation of the normals; SPEC.md §5.5) against the float64 twin chain, and the
// guarantee that with the terms off the gradients are bit-identical to a plain backward.
import assert from "assert";
import { orbitCamera } from "../../kernels/camera.ts";
import { type ClipFrame, ClipRenderer, type RenderSettings } from "../../kernels/clip_renderer.ts";
import { Field } from "../../kernels/field.ts";
import { OccupancyGrid } from "../../kernels/occupancy.ts";
import { seededRandom } from "../../kernels/random.ts";
import { renderClipTwin, type RenderTwinOptions } from "../../kernels/render_twin.ts";
import { assertClose, GPU_TEST, randomArray, testGpu } from "./_harness.ts";

const W = 8;
const H = 8;
const DT = 0.06;

async function setup() {
  const gpu = await testGpu();
  const field = await Field.create(gpu, {
    grid: { levels: 4, log2TableSize: 10, baseResolution: 4, finestResolution: 32, keyframes: 2 },
    mlp: { hidden: 16 },
    seed: 8,
  });
  // Larger grid values than the 1e-4 init, so weights and normals vary.
  const rand = seededRandom(21);
  const grid = Array.from({ length: 2 }, () => {
    const g = new Float32Array(field.layout.keyframeStride);
    for (let i = 0; i < field.layout.entries * 2; i++) g[i] = (rand() * 2 - 1) * 0.8;
    return g;
  });
  field.write({ grid });
  const values = await field.read();
  const occupancy = await OccupancyGrid.create(gpu, { res: 4, slices: 2 });
  const bits = new Uint32Array(4).fill(0xffffffff);
  bits[1] = 0xff0fff0f;
  gpu.upload(occupancy.bits, bits);
  const renderer = await ClipRenderer.create(gpu, field, {
    width: W,
    height: H,
    maxFrames: 2,
    occupancy,
    dt: DT,
    seed: 4,
    chunk: 2048,
  });
  const twinBase: Omit<RenderTwinOptions, "grads"> = {
    layout: field.layout,
    mlp: field.mlpLayout.config,
    grid: values.grid,
    mlpParams: values.mlp,
    occupancy: { bits, res: 4, slices: 2 },
    dt: DT,
    seed: 4,
  };
  const destroy = () => {
    renderer.destroy();
    occupancy.destroy();
    field.destroy();
  };
  return { gpu, field, renderer, twinBase, destroy };
}

const frames = (): ClipFrame[] => [
  {
    camera: orbitCamera({ radius: 1.8, thetaDeg: 70, phiDeg: 35, fovyDeg: 40 }, {
      width: W,
      height: H,
    }),
    time: 0.1,
  },
  {
    camera: orbitCamera({ radius: 1.8, thetaDeg: 95, phiDeg: -120, fovyDeg: 40 }, {
      width: W,
      height: H,
    }),
    time: 0.7,
  },
];

type Setup = Awaited<ReturnType<typeof setup>>;

function clipGrads(zero: boolean) {
  const R = W * H * 2;
  const z = (n: number) => new Float64Array(n);
  return zero ? { image: z(R * 3), alpha: z(R), depth: z(R), normalImage: z(R * 3) } : {
    image: randomArray(R * 3, 1),
    alpha: randomArray(R, 2),
    depth: randomArray(R, 3, -0.1, 0.1),
    normalImage: randomArray(R * 3, 4),
  };
}

async function backward(s: Setup, grads: ReturnType<typeof clipGrads>, settings: RenderSettings) {
  const { gpu, field, renderer } = s;
  const f = frames();
  renderer.forward(f, settings);
  gpu.upload(renderer.grads.image, Float32Array.from(grads.image));
  gpu.upload(renderer.grads.alpha, Float32Array.from(grads.alpha));
  gpu.upload(renderer.grads.depth, Float32Array.from(grads.depth));
  gpu.upload(renderer.grads.normalImage, Float32Array.from(grads.normalImage));
  gpu.submit((e) => field.encodeZeroGrads(e));
  renderer.backward(f, settings);
  const got = await field.readGrads();
  const regLoss = Array.from(new Float32Array(await gpu.read(renderer.regLoss)));
  return { ...got, regLoss };
}

function compareToTwin(
  got: Awaited<ReturnType<typeof backward>>,
  s: Setup,
  grads: ReturnType<typeof clipGrads>,
  settings: RenderSettings,
) {
  const twin = renderClipTwin(frames(), { ...s.twinBase, ...settings, grads });
  assert.ok(twin.samples.every((n) => n > 100), "the march emits samples in every frame");
  assertClose(got.regLoss, twin.regLoss!, { rtol: 1e-3, atol: 1e-7, label: "regLoss" });
  // Float32 sums over thousands of samples with atomics: compare on the gradient's scale.
  const mlpScale = Math.max(...twin.mlpGrads!.map(Math.abs));
  assertClose(got.mlp, twin.mlpGrads!, { rtol: 2e-3, atol: 2e-4 * mlpScale, label: "mlp grads" });
  twin.gridGrads!.forEach((t, k) => {
    const scale = Math.max(...t.map(Math.abs));
    assertClose(got.grid[k]!, t, { rtol: 2e-3, atol: 2e-4 * scale, label: `grid grads k${k}` });
  });
  return twin;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

Deno.test(
  "clip renderer regularisers: change the gradients, match the twin, and off is bit-identical",
  GPU_TEST,
  async () => {
    const s = await setup();
    const grads = clipGrads(false);
    const base: RenderSettings = {
      step: 3,
      shading: "lambertian",
      ambient: 0.2,
      background: [0.3, 0.6, 0.1],
    };
    // Large weights, so the terms stand out against random O(1) image gradients.
    const regs = { entropy: 20, orientation: 80 };
    const off = await backward(s, grads, base);
    const on = await backward(s, grads, { ...base, regularisers: regs });
    const zero = await backward(s, grads, {
      ...base,
      regularisers: { entropy: 0, orientation: 0 },
    });
    const offAgain = await backward(s, grads, base);
    // Off (absent, zero weights, or after a regularised step) is one and the same code
    // path: no extra dispatch, composite ignores dL/dw. The MLP gradient reduces in a
    // fixed order and depends on every sample's dL/draw, so it must match bit for bit.
    // The grid gradient is scattered with float atomics, whose order varies between any
    // two runs, so it can only match to rounding.
    assert.deepStrictEqual(zero.mlp, off.mlp, "zero weights: mlp grads bit-identical");
    assert.deepStrictEqual(offAgain.mlp, off.mlp, "off after on: mlp grads bit-identical");
    for (let k = 0; k < 2; k++) {
      const gs = Math.max(...off.grid[k]!.map(Math.abs));
      for (const [label, g] of [["zero weights", zero], ["off after on", offAgain]] as const) {
        assertClose(g.grid[k]!, off.grid[k]!, {
          rtol: 1e-4,
          atol: 1e-5 * gs,
          label: `${label} k${k}`,
        });
      }
    }
    assert.deepStrictEqual(off.regLoss, [0, 0]);
    assert.deepStrictEqual(zero.regLoss, [0, 0]);
    // On: the gradients move by a visible fraction of their scale.
    const scale = Math.max(...off.mlp.map(Math.abs));
    assert.ok(maxAbsDiff(on.mlp, off.mlp) > 0.05 * scale, "the terms change the mlp grads");
    assert.ok(on.regLoss[0]! > 0.01 && on.regLoss[1]! > 1e-4, `losses ${on.regLoss}`);
    compareToTwin(on, s, grads, { ...base, regularisers: regs });
    s.destroy();
  },
);

// With zero upstream gradients the field gradient is the regulariser's alone, so each
// path (dL/dw through composite; dL/dn through shade's normals) is checked in isolation.
for (
  const [name, regs, shading] of [
    ["entropy", { entropy: 1 }, "albedo"],
    ["orientation", { orientation: 1 }, "albedo"],
  ] as const
) {
  Deno.test(
    `clip renderer regularisers: ${name} alone matches the twin`,
    GPU_TEST,
    async () => {
      const s = await setup();
      const grads = clipGrads(true);
      const settings: RenderSettings = { step: 5, shading, regularisers: regs };
      const got = await backward(s, grads, settings);
      assert.ok(Math.max(...got.mlp.map(Math.abs)) > 0, "the term alone moves the field");
      const twin = compareToTwin(got, s, grads, settings);
      const other = name === "entropy" ? 1 : 0;
      assert.equal(twin.regLoss![other], 0, "the other term is off");
      s.destroy();
    },
  );
}
