/**
 * Contracts of the latent-prior kernels against their float64 twins: the render resize
 * (`image_resize`, forward and adjoint), the posterior noise (`latent_noise`), the f16
 * casts (`f16_cast`), and the SDS kernels in latent space (`space: "latent"`).
 */
import assert from "assert";
import { imageResize } from "../../../priors/latent/image_resize.ts";
import {
  imageResizeBackwardTwin,
  imageResizeTwin,
  type ResizeShape,
} from "../../../priors/latent/image_resize_twin.ts";
import { LatentNoise } from "../../../priors/latent/latent_noise.ts";
import { latentNoiseTwin } from "../../../priors/latent/latent_noise_twin.ts";
import { F16Cast } from "../../../priors/latent/f16_cast.ts";
import { f16RoundTwin } from "../../../priors/latent/f16_cast_twin.ts";
import { sdsGrad } from "../../../priors/sds_grad.ts";
import { sdsGradTwin } from "../../../priors/sds_grad_twin.ts";
import { sdsNoise } from "../../../priors/sds_noise.ts";
import { sdsNoiseTwin } from "../../../priors/sds_noise_twin.ts";
import {
  assertClose,
  finiteDifference,
  GPU_TEST,
  randomArray,
  testGpu,
} from "../../contracts/_harness.ts";

const SHAPES: [string, ResizeShape][] = [
  ["upsample 7×5 → 12×9", { inWidth: 7, inHeight: 5, outWidth: 12, outHeight: 9 }],
  ["downsample 16×12 → 6×5", { inWidth: 16, inHeight: 12, outWidth: 6, outHeight: 5 }],
  ["×8 as SD 64² → 512², scaled to 4² → 32²", {
    inWidth: 4,
    inHeight: 4,
    outWidth: 32,
    outHeight: 32,
  }],
];

for (const [label, shape] of SHAPES) {
  Deno.test(
    `image_resize: ${label}, frame 1, forward and adjoint match the twin`,
    GPU_TEST,
    async () => {
      const gpu = await testGpu();
      const frameSize = 3 * shape.inWidth * shape.inHeight;
      const outSize = 3 * shape.outWidth * shape.outHeight;
      const images = new Float32Array(randomArray(2 * frameSize, 31, 0, 1));
      const gradResized = new Float32Array(randomArray(outSize, 32));
      const grad = new Float32Array(randomArray(2 * frameSize, 33));
      const got = await imageResize(gpu, { shape, images, gradResized, grad, frame: 1 });
      assertClose(got.resized, imageResizeTwin(shape, images, 1), { label: "resized" });
      const adjoint = imageResizeBackwardTwin(shape, gradResized);
      const want = Float64Array.from(grad);
      adjoint.forEach((g, i) => want[frameSize + i] = want[frameSize + i]! + g);
      // Frame 0's slice must come back untouched: the adjoint adds into its frame only.
      assertClose(got.grad, want, { label: "image gradient" });
    },
  );
}

Deno.test("image_resize twin: the adjoint is the transpose of the forward (finite differences)", () => {
  const shape: ResizeShape = { inWidth: 5, inHeight: 4, outWidth: 7, outHeight: 3 };
  const g = randomArray(3 * 7 * 3, 41);
  const x = randomArray(3 * 5 * 4, 42, 0, 1);
  const loss = (v: Float64Array) => imageResizeTwin(shape, v).reduce((s, y, i) => s + y * g[i]!, 0);
  const fd = finiteDifference(loss, x, [0, 7, 13, 29, 44, 59]);
  const adjoint = imageResizeBackwardTwin(shape, g);
  for (const [i, d] of fd) {
    assert.ok(Math.abs(d - adjoint[i]!) < 1e-6, `pixel ${i}: ${d} vs ${adjoint[i]}`);
  }
});

Deno.test("latent_noise: every frame's draws match the twin", GPU_TEST, async () => {
  const gpu = await testGpu();
  const count = 4 * 9 * 7;
  const out = gpu.createBuffer(4 * count);
  const op = await LatentNoise.create(gpu, { output: out, count, maxFrames: 3 });
  op.set(0xc0ffee);
  for (const frame of [0, 2]) {
    gpu.submit((e) => {
      const p = e.beginComputePass();
      op.encode(p, frame);
      p.end();
    });
    const got = new Float32Array(await gpu.read(out));
    // Same lattice uniforms; only float32 log and cos differ (see sds_noise's contract).
    assertClose(got, latentNoiseTwin(0xc0ffee, { frame, count }), {
      rtol: 1e-4,
      atol: 2e-5,
      label: `frame ${frame}`,
    });
  }
  op.destroy();
  out.destroy();
});

Deno.test(
  "f16_cast: to f16 and back rounds like Math.f16round, offsets and odd counts",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const cast = await F16Cast.create(gpu);
    const values = Float32Array.from(randomArray(37, 51, -300, 300));
    const src = gpu.createBuffer(values);
    const half = gpu.createBuffer(new Uint8Array(4 * 24).fill(0xff));
    const back = gpu.createBuffer(4 * 40);
    const calls = [
      cast.bind("toF16", src, half, { count: 35, srcOffset: 2, dstOffset: 6 }),
      cast.bind("toF32", half, back, { count: 35, srcOffset: 6, dstOffset: 3 }),
    ];
    gpu.submit((e) => {
      const p = e.beginComputePass();
      for (const c of calls) c.encode(p);
      p.end();
    });
    const got = new Float32Array(await gpu.read(back)).slice(3, 38);
    const want = f16RoundTwin(values.slice(2, 37));
    // pack2x16float may round either way on an inexact value: one f16 ulp, 2⁻¹⁰ relative.
    assertClose(got, want, { rtol: 1e-3, atol: 1e-4, label: "round trip" });
    const halves = new Uint16Array(await gpu.read(half));
    assert.equal(halves[5], 0xffff, "the half before the destination range stays");
    assert.equal(halves[41], 0xffff, "the odd tail keeps the neighbouring half");
    for (const c of calls) c.destroy();
  },
);

Deno.test(
  "sds kernels in latent space: z = x and dL/dx = dL/dz, against the twins",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const perItem = 4 * 6 * 5;
    const timesteps = [250, 580];
    const latents = new Float32Array(randomArray(2 * perItem, 61, -3, 3));
    const got = await sdsNoise(gpu, {
      image: latents,
      timesteps,
      perItem,
      seed: 77,
      space: "latent",
    });
    const want = sdsNoiseTwin({ image: latents, timesteps, perItem, seed: 77, space: "latent" });
    assertClose(got.noisy, want.noisy, { rtol: 1e-4, atol: 3e-5, label: "z_t" });
    const pixel = sdsNoiseTwin({ image: latents, timesteps, perItem, seed: 77 });
    assert.ok(
      Math.abs(pixel.noisy[0]! - want.noisy[0]!) > 1e-3,
      "latent space differs from 2x − 1",
    );
    const epsCond = new Float32Array(randomArray(2 * perItem, 62));
    const epsUncond = new Float32Array(randomArray(2 * perItem, 63));
    const grad = new Float32Array(randomArray(2 * perItem, 64));
    const sds = { guidanceScale: 100, cfg: "standard", batchDivisor: 1, variant: "sds" } as const;
    const inputs = {
      noise: new Float32Array(got.noise),
      epsCond,
      epsUncond,
      grad,
      timesteps,
      lambdas: [1, 1],
      perItem,
    };
    const gpuGrad = await sdsGrad(gpu, { ...inputs, weight: 0.5, sds, space: "latent" });
    const twin = sdsGradTwin({ ...inputs, image: latents, weight: 0.5, sds, space: "latent" });
    assertClose(gpuGrad.grad, twin.grad, { rtol: 1e-4, atol: 1e-4, label: "grad" });
    const added = twin.grad.map((g, i) => g - grad[i]!);
    assertClose(added, twin.dLdz.map((d) => 0.5 * d), { rtol: 1e-9, atol: 1e-9, label: "no ×2" });
  },
);
