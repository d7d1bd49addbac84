import assert from "assert";
import { Composite, composite, compositeBackward } from "../../kernels/composite.ts";
import {
  compositeBackwardTwin,
  type CompositeGrads,
  type CompositeInputs,
  compositeTwin,
} from "../../kernels/composite_twin.ts";
import { seededRandom } from "../../kernels/random.ts";
import { assertClose, GPU_TEST, randomArray, testGpu } from "./_harness.ts";

const RAYS = 96;

/**
 * Seeded packed samples, float32-rounded: a few empty rays, and densities from 0.1 to
 * e^9 so that some rays stop early (T < 1e-4) and others run to their end.
 */
function inputs(seed: number, options: { dense?: boolean } = {}): CompositeInputs {
  const rand = seededRandom(seed);
  const rayInfo = new Uint32Array(2 * RAYS);
  let s = 0;
  for (let r = 0; r < RAYS; r++) {
    const n = r % 11 === 0 ? 0 : 1 + Math.floor(rand() * 40);
    rayInfo[2 * r] = s;
    rayInfo[2 * r + 1] = n;
    s += n;
  }
  const ts = new Float32Array(2 * s);
  for (let r = 0; r < RAYS; r++) {
    let t = 0.5 + rand();
    for (let k = 0; k < rayInfo[2 * r + 1]!; k++) {
      const i = rayInfo[2 * r]! + k;
      const dt = 0.003 + 0.03 * rand();
      t += dt;
      ts[2 * i] = t;
      ts[2 * i + 1] = dt;
    }
  }
  const logSigma = randomArray(s, seed + 1, options.dense ? 6 : -2, options.dense ? 9 : 7);
  return {
    rayInfo,
    ts,
    sigma: new Float32Array(Array.from(logSigma, Math.exp)),
    colour: new Float32Array(randomArray(3 * s, seed + 2, 0, 1)),
    normal: new Float32Array(randomArray(3 * s, seed + 3)),
    background: new Float32Array([0.2, 0.7, 0.4]),
  };
}

function grads(seed: number, samples: number, withWeights: boolean): CompositeGrads {
  const g: CompositeGrads = {
    image: new Float32Array(randomArray(3 * RAYS, seed)),
    alpha: new Float32Array(randomArray(RAYS, seed + 1)),
    depth: new Float32Array(randomArray(RAYS, seed + 2)),
    normalImage: new Float32Array(randomArray(3 * RAYS, seed + 3)),
  };
  if (withWeights) g.weights = new Float32Array(randomArray(samples, seed + 4));
  return g;
}

function stoppedEarly(inp: CompositeInputs, weights: ArrayLike<number>): number {
  let stopped = 0;
  for (let r = 0; r < RAYS; r++) {
    const first = inp.rayInfo[2 * r]!;
    const n = inp.rayInfo[2 * r + 1]!;
    if (n > 1 && weights[first + n - 1] === 0) stopped++;
  }
  return stopped;
}

for (const dense of [false, true]) {
  Deno.test(
    `composite: forward matches the twin (${dense ? "dense" : "mixed"})`,
    GPU_TEST,
    async () => {
      const gpu = await testGpu();
      const inp = inputs(dense ? 7 : 5, { dense });
      const got = await composite(gpu, inp);
      const want = compositeTwin(inp);
      assert.ok(stoppedEarly(inp, want.weights) > (dense ? 60 : 5), "rays stop early");
      // α = 1 − exp(−σ dt) in float32 carries ~1e-7 absolute error per sample.
      const tol = { rtol: 1e-4, atol: 1e-5 };
      assertClose(got.weights, want.weights, { ...tol, label: "weights" });
      assertClose(got.image, want.image, { ...tol, label: "image" });
      assertClose(got.alpha, want.alpha, { ...tol, label: "alpha" });
      assertClose(got.depth, want.depth, { ...tol, label: "depth" });
      assertClose(got.normalImage, want.normalImage, { ...tol, label: "normal image" });
      for (let r = 0; r < RAYS; r += 11) {
        assert.equal(got.alpha[r], 0, "empty ray");
        assertClose(got.image.subarray(3 * r, 3 * r + 3), inp.background, {
          label: "empty ray bg",
        });
      }
    },
  );

  for (const withWeights of [false, true]) {
    Deno.test(
      `composite: backward matches the twin (${dense ? "dense" : "mixed"}, dL/dw ${withWeights})`,
      GPU_TEST,
      async () => {
        const gpu = await testGpu();
        const inp = inputs(dense ? 8 : 6, { dense });
        const g = grads(40, inp.sigma.length, withWeights);
        const got = await compositeBackward(gpu, inp, g);
        const want = compositeBackwardTwin(inp, g);
        // dL/dσ = dt·(T g − (total − prefix)): the suffix is a float32 difference of
        // sums of O(1) terms, so its error is absolute, ~1e-6 times dt.
        assertClose(got.sigma, want.sigma, { rtol: 1e-4, atol: 1e-6, label: "dL/dsigma" });
        assertClose(got.colour, want.colour, { label: "dL/dcolour" });
        assertClose(got.normal, want.normal, { label: "dL/dnormal" });
      },
    );
  }
}

Deno.test("composite: reusable op, background switch, zeros after the stop", GPU_TEST, async () => {
  const gpu = await testGpu();
  const inp = inputs(9, { dense: true });
  const s = inp.sigma.length;
  const f32 = (a: ArrayLike<number>) => gpu.createBuffer(new Float32Array(Array.from(a)));
  const g = grads(50, s, false);
  const buffers = {
    rayInfo: gpu.createBuffer(new Uint32Array(Array.from(inp.rayInfo))),
    ts: f32(inp.ts),
    sigma: f32(inp.sigma),
    colour: f32(inp.colour),
    normal: f32(inp.normal),
    image: gpu.createBuffer(3 * RAYS * 4),
    alpha: gpu.createBuffer(RAYS * 4),
    depth: gpu.createBuffer(RAYS * 4),
    normalImage: gpu.createBuffer(3 * RAYS * 4),
    weights: gpu.createBuffer(s * 4),
    gradImage: f32(g.image),
    gradAlpha: f32(g.alpha),
    gradDepth: f32(g.depth),
    gradNormalImage: f32(g.normalImage),
    // Stale values must be overwritten, not accumulated into.
    gradSigma: f32(new Float32Array(s).fill(3)),
    gradColour: f32(new Float32Array(3 * s).fill(3)),
    gradNormal: f32(new Float32Array(3 * s).fill(3)),
  };
  const op = await Composite.create(gpu, buffers, { rays: RAYS });
  const run = async () => {
    gpu.submit((e) => {
      const p = e.beginComputePass();
      op.encodeForward(p);
      op.encodeBackward(p);
      p.end();
    });
    return new Float32Array(await gpu.read(buffers.image));
  };
  assertClose(await run(), compositeTwin({ ...inp, background: [1, 1, 1] }).image, {
    label: "white",
  });
  op.setBackground([0, 0, 1]);
  assertClose(await run(), compositeTwin({ ...inp, background: [0, 0, 1] }).image, {
    label: "blue",
  });
  const weights = new Float32Array(await gpu.read(buffers.weights));
  const dsigma = new Float32Array(await gpu.read(buffers.gradSigma));
  let after = 0;
  for (let i = 0; i < s; i++) {
    if (weights[i] === 0) {
      after++;
      assert.equal(dsigma[i], 0, "no gradient after the stop");
    }
  }
  assert.ok(after > 100, "dense rays leave samples after the stop");
  const want = compositeBackwardTwin({ ...inp, background: [0, 0, 1] }, g);
  assertClose(dsigma, want.sigma, { rtol: 1e-4, atol: 1e-6, label: "dL/dsigma" });
  op.destroy();
});
