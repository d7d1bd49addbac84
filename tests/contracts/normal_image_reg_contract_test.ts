/**
 * Contract: the WGSL normal-image regularisers (TV + Gaussian-blur MSE) against their
 * float64 twin, loss and gradient, and the twin against finite differences and against
 * an independent separable blur.
 */
import assert from "assert";
import { NormalImageReg, normalImageReg } from "../../kernels/normal_image_reg.ts";
import {
  gaussianBlurTwin,
  gaussianKernel1d,
  NORMAL_BLUR_SIGMA,
  normalImageRegTwin,
} from "../../kernels/normal_image_reg_twin.ts";
import { assertClose, finiteDifference, GPU_TEST, randomArray, testGpu } from "./_harness.ts";

// Sizes: the smallest legal image (5×5, every pixel near a reflected border), a
// non-square one, and a 2-frame 128×96 one with many workgroups and partial rows.
const CASES = [
  { frames: 1, width: 5, height: 5, tv: 0.5, blur: 0.5 },
  { frames: 3, width: 11, height: 7, tv: 0.5, blur: 0.5 },
  { frames: 2, width: 128, height: 96, tv: 0.3, blur: 1.7 },
] as const;

for (const c of CASES) {
  Deno.test(
    `normal_image_reg: loss and gradient match the twin (${c.frames}×${c.width}×${c.height})`,
    GPU_TEST,
    async () => {
      const gpu = await testGpu();
      const n = c.frames * c.width * c.height * 3;
      const image = Float32Array.from(randomArray(n, 7 + n, 0, 1));
      const shape = { frames: c.frames, width: c.width, height: c.height };
      const got = await normalImageReg(gpu, {
        normalImage: image,
        ...shape,
        tvWeight: c.tv,
        blurWeight: c.blur,
      });
      const want = normalImageRegTwin(image, { ...shape, tvWeight: c.tv, blurWeight: c.blur });
      assert.ok(want.tv > 0.01 && want.blur > 0.01, "both terms are non-trivial");
      assertClose([got.tv, got.blur, got.total], [want.tv, want.blur, want.total], {
        label: "loss",
      });
      // Each gradient element is a difference of O(1/n) terms: compare on its own scale.
      const scale = Math.max(...want.grad.map(Math.abs));
      assertClose(got.grad, want.grad, { rtol: 1e-4, atol: 1e-5 * scale, label: "gradient" });
    },
  );
}

Deno.test("normal_image_reg: accumulate mode adds to the gradient buffer", GPU_TEST, async () => {
  const gpu = await testGpu();
  const shape = { frames: 2, width: 9, height: 6 };
  const n = 2 * 9 * 6 * 3;
  const image = Float32Array.from(randomArray(n, 3, 0, 1));
  const prior = Float32Array.from(randomArray(n, 4));
  const got = await normalImageReg(gpu, {
    normalImage: image,
    ...shape,
    accumulateInto: prior.slice(),
  });
  const want = normalImageRegTwin(image, shape);
  const expected = want.grad.map((g, i) => g + prior[i]!);
  assertClose(got.grad, expected, { atol: 1e-6, label: "accumulated gradient" });
});

Deno.test(
  "normal_image_reg: setFrames and setWeights change the next encode",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const shape = { width: 8, height: 8 };
    const n1 = 8 * 8 * 3;
    const image = Float32Array.from(randomArray(3 * n1, 9, 0, 1));
    const buf = gpu.createBuffer(image);
    const grad = gpu.createBuffer(image.byteLength);
    const op = await NormalImageReg.create(gpu, {
      normalImage: buf,
      grad,
      ...shape,
      maxFrames: 3,
    });
    op.setFrames(1);
    op.setWeights({ tv: 2, blur: 0 });
    gpu.submit((e) => {
      const p = e.beginComputePass();
      op.encode(p);
      p.end();
    });
    const loss = new Float32Array(await gpu.read(op.loss));
    const g = new Float32Array(await gpu.read(grad)).slice(0, n1);
    const want = normalImageRegTwin(image.subarray(0, n1), {
      frames: 1,
      ...shape,
      tvWeight: 2,
      blurWeight: 0,
    });
    assertClose(Array.from(loss), [want.tv, want.blur, want.total], { label: "loss, 1 frame" });
    assertClose(g, want.grad, { atol: 1e-6, label: "gradient, 1 frame" });
    assert.throws(() => op.setFrames(4), /Invalid option frames/);
    op.destroy();
    buf.destroy();
    grad.destroy();
    await assert.rejects(
      NormalImageReg.create(gpu, { normalImage: buf, grad, width: 4, height: 8, maxFrames: 1 }),
      /Invalid option width/,
    );
  },
);

Deno.test("normal_image_reg twin: gradient matches central finite differences", () => {
  const shape = { frames: 2, width: 6, height: 5 };
  const n = 2 * 6 * 5 * 3;
  const image = randomArray(n, 21, 0, 1);
  const opts = { ...shape, tvWeight: 0.7, blurWeight: 1.3 };
  const base = normalImageRegTwin(image, opts);
  const fd = finiteDifference(
    (x) => normalImageRegTwin(x, opts).total,
    image,
    Array.from({ length: n }, (_, i) => i),
  );
  assertClose(base.grad, [...fd.values()], { rtol: 1e-5, atol: 1e-9 });
});

Deno.test("normal_image_reg twin: torchvision's kernel and reflect-padded blur", () => {
  // torchvision: sigma = 0.3·((k − 1)·0.5 − 1) + 0.8.
  assert.ok(Math.abs(NORMAL_BLUR_SIGMA - 1.7) < 1e-12);
  const k = gaussianKernel1d(9, 1.7);
  assertClose([k.reduce((a, b) => a + b, 0)], [1], { rtol: 0, atol: 1e-15 });
  // The centre tap: 1 / Σ_x exp(−x²/(2·1.7²)), x = −4..4.
  let z = 0;
  for (let x = -4; x <= 4; x++) z += Math.exp(-(x * x) / (2 * 1.7 * 1.7));
  assertClose([k[4]!], [1 / z], { rtol: 1e-14, atol: 0 });
  // An independent reference: scipy.ndimage.gaussian_filter(img, sigma=1.7,
  // mode="mirror", truncate=4/1.7) (radius 4; "mirror" is torch's "reflect") on the 7×6
  // image sin(0.7y + 1.3x) + 0.1·y·x, computed once with scipy 1.17.1.
  const W = 6;
  const H = 7;
  const img = new Float64Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      for (let c = 0; c < 3; c++) {
        img[(y * W + x) * 3 + c] = Math.sin(0.7 * y + 1.3 * x) + 0.1 * y * x;
      }
    }
  }
  const out = gaussianBlurTwin(img, { frames: 1, width: W, height: H });
  const scipy: [number, number, number][] = [
    [0, 0, 0.4200037883095898],
    [1, 0, 0.40316139219965785],
    [3, 2, 0.5754286955765658],
    [6, 5, 2.0131981523052374],
    [2, 5, 0.8674099903923387],
  ];
  for (const [y, x, v] of scipy) {
    for (let c = 0; c < 3; c++) {
      assertClose([out[(y * W + x) * 3 + c]!], [v], {
        rtol: 1e-12,
        atol: 1e-14,
        label: `(${y}, ${x})`,
      });
    }
  }
});
