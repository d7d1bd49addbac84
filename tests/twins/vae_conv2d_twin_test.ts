/**
 * The VAE conv2d twin: dL/dx, dL/dW, dL/db against central finite differences of
 * L = Σ dy·conv(x), for padded, strided and 1x1 convolutions, and hand values.
 */
import assert from "assert";
import {
  conv2dBackwardTwin,
  conv2dGeometry,
  type Conv2dShape,
  conv2dTwin,
} from "../../kernels/vae_ops/conv2d_twin.ts";
import { assertClose, finiteDifference, randomArray } from "../contracts/_harness.ts";

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};

function checkFiniteDifference(shape: Conv2dShape, seed: number): void {
  const g = conv2dGeometry(shape);
  const input = randomArray(g.batch * g.inChannels * g.height * g.width, seed);
  const weight = randomArray(g.outChannels * g.inChannels * g.kernel ** 2, seed + 1);
  const bias = randomArray(g.outChannels, seed + 2);
  const gradOutput = randomArray(g.batch * g.outChannels * g.outHeight * g.outWidth, seed + 3);
  const analytic = conv2dBackwardTwin(shape, { input, weight, gradOutput });
  const loss = (x: Float64Array, w: Float64Array, b: Float64Array) =>
    dot(gradOutput, conv2dTwin(shape, { input: x, weight: w, bias: b }));
  const all = (n: number) => Array.from({ length: n }, (_, i) => i);
  const tol = { rtol: 1e-6, atol: 1e-8 };
  const fx = finiteDifference((x) => loss(x, weight, bias), input, all(input.length));
  assertClose([...fx.values()], analytic.gradInput, { ...tol, label: "dL/dx" });
  const fw = finiteDifference((w) => loss(input, w, bias), weight, all(weight.length));
  assertClose([...fw.values()], analytic.gradWeight, { ...tol, label: "dL/dW" });
  const fb = finiteDifference((b) => loss(input, weight, b), bias, all(bias.length));
  assertClose([...fb.values()], analytic.gradBias, { ...tol, label: "dL/db" });
}

Deno.test("VAE conv2d twin: 3x3 pad 1 gradients match finite differences", () => {
  checkFiniteDifference(
    { batch: 2, inChannels: 3, outChannels: 2, height: 4, width: 5, kernel: 3 },
    1,
  );
});

Deno.test("VAE conv2d twin: Downsample2D stride 2 gradients match finite differences", () => {
  checkFiniteDifference({
    batch: 1,
    inChannels: 2,
    outChannels: 3,
    height: 5,
    width: 6,
    kernel: 3,
    stride: 2,
    padding: { top: 0, left: 0, bottom: 1, right: 1 },
  }, 2);
});

Deno.test("VAE conv2d twin: 1x1 gradients match finite differences", () => {
  checkFiniteDifference(
    { batch: 2, inChannels: 3, outChannels: 4, height: 2, width: 3, kernel: 1 },
    3,
  );
});

Deno.test("VAE conv2d twin: hand values of a Downsample2D", () => {
  // 1 channel, 4x4 input 1..16, all-ones weights, stride 2, pad right/bottom: windows
  // start at rows and columns 0 and 2; those starting at 2 reach into the padding.
  const y = conv2dTwin({
    batch: 1,
    inChannels: 1,
    outChannels: 1,
    height: 4,
    width: 4,
    kernel: 3,
    stride: 2,
    padding: { top: 0, left: 0, bottom: 1, right: 1 },
  }, {
    input: Array.from({ length: 16 }, (_, i) => i + 1),
    weight: new Array(9).fill(1),
    bias: [0],
  });
  assert.deepEqual([...y], [
    1 + 2 + 3 + 5 + 6 + 7 + 9 + 10 + 11,
    3 + 4 + 7 + 8 + 11 + 12,
    9 + 10 + 11 + 13 + 14 + 15,
    11 + 12 + 15 + 16,
  ]);
});
