/**
 * Contract: the WGSL VAE convolution against its float64 twin, output and all three
 * gradients, for 3x3 and 1x1 kernels, the Downsample's stride 2 with asymmetric padding,
 * and shapes larger than one 64x64x16 tile in every GEMM dimension.
 */
import assert from "assert";
import { Conv2d, conv2dBackwardOnce, conv2dOnce } from "../../kernels/vae_ops/conv2d.ts";
import {
  conv2dBackwardTwin,
  conv2dGeometry,
  type Conv2dShape,
  conv2dTwin,
} from "../../kernels/vae_ops/conv2d_twin.ts";
import { assertClose, GPU_TEST, randomArray, testGpu } from "./_harness.ts";

function inputs(shape: Conv2dShape, seed: number) {
  const g = conv2dGeometry(shape);
  const k2 = g.kernel * g.kernel;
  // Weights scaled like PyTorch's default init so outputs stay O(1) whatever C_in·k².
  const bound = 1 / Math.sqrt(g.inChannels * k2);
  return {
    input: Float32Array.from(randomArray(g.batch * g.inChannels * g.height * g.width, seed)),
    weight: Float32Array.from(
      randomArray(g.outChannels * g.inChannels * k2, seed + 1, -bound, bound),
    ),
    bias: Float32Array.from(randomArray(g.outChannels, seed + 2)),
    gradOutput: Float32Array.from(
      randomArray(g.batch * g.outChannels * g.outHeight * g.outWidth, seed + 3),
    ),
  };
}

async function check(shape: Conv2dShape, seed: number): Promise<void> {
  const gpu = await testGpu();
  const data = inputs(shape, seed);
  assertClose(await conv2dOnce(gpu, shape, data), conv2dTwin(shape, data), { label: "y" });
  const got = await conv2dBackwardOnce(gpu, shape, data);
  const want = conv2dBackwardTwin(shape, data);
  assertClose(got.gradInput, want.gradInput, { label: "dL/dx" });
  // dL/dW and dL/db sum over every output pixel (up to a few hundred O(1) terms), so the
  // f32 rounding of the sum sits near 1e-5 absolute.
  assertClose(got.gradWeight, want.gradWeight, { atol: 1e-4, label: "dL/dW" });
  assertClose(got.gradBias, want.gradBias, { atol: 1e-4, label: "dL/db" });
}

Deno.test("VAE conv2d: 3x3, pad 1, batch 2", GPU_TEST, async () => {
  await check({ batch: 2, inChannels: 5, outChannels: 7, height: 9, width: 11, kernel: 3 }, 1);
});

Deno.test("VAE conv2d: Downsample2D, 3x3 stride 2, pad right/bottom only", GPU_TEST, async () => {
  const padding = { top: 0, left: 0, bottom: 1, right: 1 };
  await check(
    {
      batch: 1,
      inChannels: 6,
      outChannels: 6,
      height: 10,
      width: 8,
      kernel: 3,
      stride: 2,
      padding,
    },
    2,
  );
  // Odd sizes leave the last row and column of the input outside every window but one.
  await check(
    { batch: 2, inChannels: 3, outChannels: 4, height: 7, width: 9, kernel: 3, stride: 2, padding },
    3,
  );
});

Deno.test("VAE conv2d: 1x1 shortcut and quant_conv", GPU_TEST, async () => {
  await check({ batch: 2, inChannels: 9, outChannels: 5, height: 6, width: 7, kernel: 1 }, 4);
});

Deno.test("VAE conv2d: more than one tile in M, N and K", GPU_TEST, async () => {
  await check({ batch: 2, inChannels: 20, outChannels: 70, height: 9, width: 11, kernel: 3 }, 5);
});

Deno.test("VAE conv2d: class accumulates dL/dx and weight gradients", GPU_TEST, async () => {
  const gpu = await testGpu();
  const shape: Conv2dShape = {
    batch: 1,
    inChannels: 4,
    outChannels: 3,
    height: 5,
    width: 6,
    kernel: 3,
  };
  const g = conv2dGeometry(shape);
  const data = inputs(shape, 6);
  const prior = Float32Array.from(randomArray(data.input.length, 7));
  const b = (v: Float32Array<ArrayBuffer>) => gpu.createBuffer(v);
  const gradInput = b(prior);
  const gradWeight = b(new Float32Array(data.weight.length));
  const gradBias = b(new Float32Array(3));
  const conv = await Conv2d.create(gpu, {
    shape,
    input: b(data.input),
    weight: b(data.weight),
    bias: b(data.bias),
    output: gpu.createBuffer(3 * g.outHeight * g.outWidth * 4),
    gradOutput: b(data.gradOutput),
    gradInput,
    gradWeight,
    gradBias,
    accumulateGradInput: true,
  });
  for (let i = 0; i < 2; i++) {
    gpu.submit((e) => {
      const p = e.beginComputePass();
      conv.encodeBackward(p);
      p.end();
    });
  }
  const want = conv2dBackwardTwin(shape, data);
  const read = async (x: GPUBuffer) => new Float32Array(await gpu.read(x));
  assertClose(await read(gradInput), prior.map((v, i) => v + 2 * want.gradInput[i]!), {
    label: "dL/dx accumulated twice",
  });
  assertClose(await read(gradWeight), want.gradWeight.map((v) => 2 * v), {
    atol: 1e-4,
    label: "dL/dW accumulated twice",
  });
  assertClose(await read(gradBias), want.gradBias.map((v) => 2 * v), {
    atol: 1e-4,
    label: "dL/db accumulated twice",
  });
  conv.destroy();
});

Deno.test("VAE conv2d: bad shapes and buffers are refused by name", GPU_TEST, async () => {
  const gpu = await testGpu();
  assert.throws(
    () =>
      conv2dGeometry({ batch: 1, inChannels: 1, outChannels: 1, height: 4, width: 4, kernel: 2 }),
    /kernel: expected 1 or 3, got 2/,
  );
  assert.throws(
    () =>
      conv2dGeometry({
        batch: 1,
        inChannels: 1,
        outChannels: 1,
        height: 4,
        width: 4,
        kernel: 3,
        stride: 3,
      }),
    /Invalid option stride/,
  );
  const small = gpu.createBuffer(4);
  await assert.rejects(
    () =>
      Conv2d.create(gpu, {
        shape: { batch: 1, inChannels: 2, outChannels: 1, height: 2, width: 2, kernel: 1 },
        input: small,
        weight: small,
        bias: small,
        output: small,
      }),
    /Invalid option input: expected a buffer of at least 32 bytes, got 4/,
  );
});
