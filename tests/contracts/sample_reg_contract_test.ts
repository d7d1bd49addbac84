/**
 * Contract: the WGSL per-sample regularisers (entropy of the weights, orientation of the
 * normals) against their float64 twin, loss shares and gradients, and the twin against
 * finite differences.
 */
import assert from "assert";
import { SampleReg, sampleReg } from "../../kernels/sample_reg.ts";
import { binaryEntropy, sampleRegTwin } from "../../kernels/sample_reg_twin.ts";
import { seededRandom } from "../../kernels/random.ts";
import { assertClose, finiteDifference, GPU_TEST, randomArray, testGpu } from "./_harness.ts";

/** S samples over R rays: weights in [0, 1) with exact zeros (after the stop) and clamp edges. */
function inputs(s: number, rays: number, seed: number) {
  const rand = seededRandom(seed);
  const weights = new Float64Array(s);
  for (let i = 0; i < s; i++) {
    const u = rand();
    weights[i] = u < 0.1 ? 0 : u < 0.13 ? 1e-6 : u < 0.15 ? 1 - 1e-6 : rand() * 0.99;
  }
  const normals = randomArray(3 * s, seed + 1);
  // Unit normals, as shade emits them.
  for (let i = 0; i < s; i++) {
    const n = Math.hypot(normals[3 * i]!, normals[3 * i + 1]!, normals[3 * i + 2]!);
    for (let k = 0; k < 3; k++) normals[3 * i + k] = normals[3 * i + k]! / n;
  }
  const rayIndex = Array.from({ length: s }, () => Math.floor(rand() * rays));
  // Unnormalised directions of varied length, as the camera emits them.
  const directions = randomArray(3 * rays, seed + 2, -2, 2);
  return { weights, normals, rayIndex, directions };
}

for (
  const [s, frames, entropy, orientation] of [
    [1, 1, 1e-3, 1e-2],
    [300, 3, 0.5, 0],
    [300, 2, 0, 0.7],
    [70_001, 16, 1e-3, 1e-2],
  ] as const
) {
  Deno.test(
    `sample_reg: losses and gradients match the twin (S ${s}, F ${frames}, λ_e ${entropy}, λ_o ${orientation})`,
    GPU_TEST,
    async () => {
      const gpu = await testGpu();
      const inp = inputs(s, Math.max(1, Math.floor(s / 7)), 5 + s);
      const f32 = (a: ArrayLike<number>) => Float32Array.from(a);
      const inp32 = {
        weights: f32(inp.weights),
        normals: f32(inp.normals),
        rayIndex: inp.rayIndex,
        directions: f32(inp.directions),
      };
      const prior = randomArray(3 * s, 77);
      const got = await sampleReg(gpu, {
        ...inp32,
        entropy,
        orientation,
        frames,
        gradNormal: prior,
      });
      const want = sampleRegTwin(inp32, { entropy, orientation, frames });
      if (entropy > 0) assert.ok(want.entropy > 0.01 / frames, "entropy is non-trivial");
      if (orientation > 0 && s > 1) assert.ok(want.orientation > 0.01 / frames, "orientation");
      // log2 near 1 loses absolute precision in float32; the sums are over up to 70k terms.
      assertClose([got.entropy, got.orientation], [want.entropy, want.orientation], {
        rtol: 2e-4,
        atol: 1e-7,
        label: "loss",
      });
      if (entropy > 0) {
        const scale = Math.max(...want.gradWeights.map(Math.abs));
        assertClose(got.gradWeights, want.gradWeights, {
          rtol: 1e-4,
          atol: 1e-5 * scale,
          label: "dL/dw",
        });
      }
      const expected = want.gradNormals.map((g, i) => g + prior[i]!);
      assertClose(got.gradNormal, expected, { atol: 1e-6, label: "dL/dn (added)" });
    },
  );
}

Deno.test("sample_reg: reduce adds frame after frame until clearLoss", GPU_TEST, async () => {
  const gpu = await testGpu();
  const s = 500;
  const inp = inputs(s, 40, 9);
  const f = (a: ArrayLike<number>) => gpu.createBuffer(Float32Array.from(a));
  const count = gpu.createBuffer(new Uint32Array([s]));
  const buffers = {
    count,
    weights: f(inp.weights),
    normals: f(inp.normals),
    rayIndex: gpu.createBuffer(Uint32Array.from(inp.rayIndex)),
    directions: f(inp.directions),
    gradWeights: gpu.createBuffer(s * 4),
    gradNormal: gpu.createBuffer(s * 12),
  };
  const op = await SampleReg.create(gpu, buffers, {
    maxSamples: s,
    entropy: 1,
    orientation: 1,
    frames: 2,
  });
  const run = (first: boolean, live: number) => {
    gpu.upload(count, new Uint32Array([live]));
    gpu.submit((e) => {
      if (first) op.clearLoss(e);
      const p = e.beginComputePass();
      op.encodeMain(p, s);
      op.encodeReduce(p);
      p.end();
    });
  };
  run(true, s);
  run(false, 200);
  const got = new Float32Array(await gpu.read(op.loss));
  const sub = (n: number) => ({
    weights: inp.weights.subarray(0, n),
    normals: inp.normals.subarray(0, 3 * n),
    rayIndex: inp.rayIndex.slice(0, n),
    directions: inp.directions,
  });
  const opts = { entropy: 1, orientation: 1, frames: 2 };
  const a = sampleRegTwin(sub(s), opts);
  const b = sampleRegTwin(sub(200), opts);
  assertClose(Array.from(got), [a.entropy + b.entropy, a.orientation + b.orientation], {
    rtol: 2e-4,
    atol: 1e-7,
    label: "two frames",
  });
  run(true, s);
  assertClose(Array.from(new Float32Array(await gpu.read(op.loss))), [a.entropy, a.orientation], {
    rtol: 2e-4,
    atol: 1e-7,
    label: "after clearLoss",
  });
  assert.throws(() => op.set({ entropy: -1 }), /Invalid option regularisers.entropy/);
  op.destroy();
  for (const buf of Object.values(buffers)) buf.destroy();
});

Deno.test("sample_reg twin: gradients match central finite differences", () => {
  const s = 40;
  const inp = inputs(s, 6, 3);
  // Keep the weights off the clamp edges and the orientation off its kink.
  const weights = Float64Array.from(inp.weights, (w) => 0.02 + 0.9 * w);
  const opts = { entropy: 0.3, orientation: 0.8, frames: 3 };
  const total = (w: Float64Array, n: Float64Array) => {
    const r = sampleRegTwin({ ...inp, weights: w, normals: n }, opts);
    return opts.entropy * r.entropy + opts.orientation * r.orientation;
  };
  const base = sampleRegTwin({ ...inp, weights }, opts);
  const all = (n: number) => Array.from({ length: n }, (_, i) => i);
  const fdW = finiteDifference(
    (w) => {
      // The orientation term treats w as a constant (sg): only the entropy differentiates.
      const r = sampleRegTwin({ ...inp, weights: w }, opts);
      return opts.entropy * r.entropy;
    },
    weights,
    all(s),
  );
  assertClose(base.gradWeights, [...fdW.values()], { rtol: 1e-5, atol: 1e-9 });
  const normals = Float64Array.from(inp.normals);
  const fdN = finiteDifference((n) => total(weights, n), normals, all(3 * s));
  assertClose(base.gradNormals, [...fdN.values()], { rtol: 1e-5, atol: 1e-9 });
  // Some samples face away from the ray (n·d̂ > 0), so the orientation gradient is live.
  assert.ok(base.gradNormals.some((g) => Math.abs(g) > 1e-3));
});

Deno.test("sample_reg twin: entropy clamps at 1e-5 and is 1 bit at w = 0.5", () => {
  assert.equal(binaryEntropy(0.5), 1);
  assertClose([binaryEntropy(0)], [binaryEntropy(1e-5)], { rtol: 0, atol: 0 });
  assertClose([binaryEntropy(1)], [binaryEntropy(1 - 1e-5)], { rtol: 1e-12, atol: 0 });
  // Outside the clamp the gradient is zero, inside it is log2((1 − w)/w) / (F·S).
  const r = sampleRegTwin({
    weights: [0, 1e-6, 0.2],
    normals: [0, 0, 1, 0, 0, 1, 0, 0, 1],
    rayIndex: [0, 0, 0],
    directions: [0, 0, 1],
  }, { entropy: 1, orientation: 0, frames: 2 });
  assertClose(r.gradWeights, [0, 0, 2 / 6], { rtol: 1e-12, atol: 0 });
  assert.equal(r.orientation, 0);
});
