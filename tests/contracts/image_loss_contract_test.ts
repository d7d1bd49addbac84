import assert from "assert";
import { ImageLoss, imageLoss } from "../../kernels/image_loss.ts";
import { imageLossTwin } from "../../kernels/image_loss_twin.ts";
import { assertClose, finiteDifference, GPU_TEST, randomArray, testGpu } from "./_harness.ts";

function inputs(n: number, seed: number) {
  return {
    image: new Float32Array(randomArray(3 * n, seed, 0, 1)),
    target: new Float32Array(randomArray(3 * n, seed + 1, 0, 1)),
    alpha: new Float32Array(randomArray(n, seed + 2, 0, 1)),
    targetAlpha: new Float32Array(randomArray(n, seed + 3, 0, 1)),
  };
}

// 70,001 pixels: many workgroups, a partial last one, and more partial rows than the
// reduce workgroup has threads, so both reduction levels are exercised.
for (const [n, w, v] of [[1, 0, 1], [300, 0.5, 5], [70_001, 0.1, 1]] as const) {
  Deno.test(
    `image_loss: values and gradients match the twin (N ${n}, w ${w}, v ${v})`,
    GPU_TEST,
    async () => {
      const gpu = await testGpu();
      const inp = inputs(n, 11 + n);
      const got = await imageLoss(gpu, { ...inp, alphaWeight: w, rgbWeight: v });
      const want = imageLossTwin({ ...inp, alphaWeight: w, rgbWeight: v });
      assertClose([got.rgb, got.alpha, got.total], [want.rgb, want.alpha, want.total], {
        label: "loss",
      });
      assertClose(got.gradImage, want.gradImage, { label: "dL/dimage" });
      assertClose(got.gradAlpha, want.gradAlpha, { label: "dL/dalpha" });
    },
  );
}

Deno.test(
  "image_loss: the reduction is deterministic and follows setPixels",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const n = 5000;
    const inp = inputs(n, 3);
    const buf = (a: Float32Array<ArrayBuffer>) => gpu.createBuffer(a);
    const gradImage = gpu.createBuffer(n * 12);
    const gradAlpha = gpu.createBuffer(n * 4);
    const op = await ImageLoss.create(gpu, {
      image: buf(inp.image),
      alpha: buf(inp.alpha),
      target: buf(inp.target),
      targetAlpha: buf(inp.targetAlpha),
      gradImage,
      gradAlpha,
      maxPixels: n,
      alphaWeight: 1,
    });
    const run = async () => {
      gpu.submit((e) => {
        const p = e.beginComputePass();
        op.encode(p);
        p.end();
      });
      return Array.from(new Float32Array(await gpu.read(op.loss)));
    };
    const first = await run();
    assert.deepEqual(await run(), first, "bitwise equal on a rerun");
    op.setPixels(1000);
    const part = await run();
    const want = imageLossTwin({
      image: inp.image.subarray(0, 3000),
      target: inp.target.subarray(0, 3000),
      alpha: inp.alpha.subarray(0, 1000),
      targetAlpha: inp.targetAlpha.subarray(0, 1000),
      alphaWeight: 1,
    });
    assertClose(part, [want.rgb, want.alpha, want.total], { label: "prefix loss" });
    assert.throws(() => op.setPixels(n + 1), /Invalid option pixels/);
    op.destroy();
  },
);

Deno.test("image_loss twin: gradients match central finite differences", () => {
  const n = 7;
  const inp = inputs(n, 5);
  const image = Float64Array.from(inp.image);
  const alpha = Float64Array.from(inp.alpha);
  const w = 0.3;
  const base = imageLossTwin({ ...inp, image, alpha, alphaWeight: w, rgbWeight: 5 });
  const fdImage = finiteDifference(
    (x) => imageLossTwin({ ...inp, image: x, alpha, alphaWeight: w, rgbWeight: 5 }).total,
    image,
    Array.from({ length: 3 * n }, (_, i) => i),
  );
  const fdAlpha = finiteDifference(
    (x) => imageLossTwin({ ...inp, image, alpha: x, alphaWeight: w }).total,
    alpha,
    Array.from({ length: n }, (_, i) => i),
  );
  assertClose(base.gradImage, [...fdImage.values()], { rtol: 1e-5, atol: 1e-8 });
  assertClose(base.gradAlpha, [...fdAlpha.values()], { rtol: 1e-5, atol: 1e-8 });
});

Deno.test("image_loss: buffers smaller than maxPixels are refused", GPU_TEST, async () => {
  const gpu = await testGpu();
  const small = gpu.createBuffer(12);
  await assert.rejects(
    ImageLoss.create(gpu, {
      image: small,
      alpha: small,
      target: small,
      targetAlpha: small,
      gradImage: small,
      gradAlpha: small,
      maxPixels: 2,
    }),
    /Invalid option image: expected a buffer of at least 24 bytes/,
  );
});
