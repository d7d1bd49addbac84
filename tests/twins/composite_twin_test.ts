import assert from "assert";
import {
  compositeBackwardTwin,
  type CompositeGrads,
  type CompositeInputs,
  compositeTwin,
  TRANSMITTANCE_THRESHOLD,
} from "../../kernels/composite_twin.ts";
import { assertClose, finiteDifference, randomArray } from "../contracts/_harness.ts";

const COUNTS = [3, 0, 7, 1, 5];
const S = COUNTS.reduce((a, b) => a + b, 0);
const R = COUNTS.length;

/** Moderate densities: no ray reaches T < 1e-4, so the loss is smooth in σ. */
function inputs(seed: number): CompositeInputs {
  const rayInfo: number[] = [];
  let first = 0;
  for (const n of COUNTS) {
    rayInfo.push(first, n);
    first += n;
  }
  const ts = new Float64Array(2 * S);
  const dts = randomArray(S, seed + 1, 0.01, 0.05);
  for (let i = 0; i < S; i++) {
    ts[2 * i] = 1 + 0.1 * i;
    ts[2 * i + 1] = dts[i]!;
  }
  return {
    rayInfo,
    ts,
    sigma: randomArray(S, seed, 0.5, 30),
    colour: randomArray(3 * S, seed + 2, 0, 1),
    normal: randomArray(3 * S, seed + 3),
    background: [0.3, 0.9, 0.1],
  };
}

function grads(seed: number): Required<CompositeGrads> {
  return {
    image: randomArray(3 * R, seed),
    alpha: randomArray(R, seed + 1),
    depth: randomArray(R, seed + 2),
    normalImage: randomArray(3 * R, seed + 3),
    weights: randomArray(S, seed + 4),
  };
}

/** Σ upstream · output; `normalImage` false leaves out the normal-image term. */
function loss(
  inp: CompositeInputs,
  g: CompositeGrads,
  normalImage = true,
): (field: keyof CompositeInputs, x: Float64Array) => number {
  return (field, x) => {
    const out = compositeTwin({ ...inp, [field]: x });
    let l = 0;
    for (let r = 0; r < R; r++) {
      l += g.alpha[r]! * out.alpha[r]! + g.depth[r]! * out.depth[r]!;
      for (let c = 0; c < 3; c++) {
        l += g.image[3 * r + c]! * out.image[3 * r + c]!;
        if (normalImage) l += g.normalImage[3 * r + c]! * out.normalImage[3 * r + c]!;
      }
    }
    for (let i = 0; i < S; i++) l += (g.weights?.[i] ?? 0) * out.weights[i]!;
    return l;
  };
}

function fd(
  f: (field: keyof CompositeInputs, x: Float64Array) => number,
  field: "sigma" | "colour" | "normal",
  inp: CompositeInputs,
): Float64Array {
  const x = Float64Array.from(inp[field]);
  const d = finiteDifference((v) => f(field, v), x, x.keys());
  return Float64Array.from(x, (_, i) => d.get(i)!);
}

Deno.test("composite twin: gradients match finite differences", () => {
  const inp = inputs(1);
  for (const withWeights of [false, true]) {
    const g: CompositeGrads = grads(2);
    if (!withWeights) delete g.weights;
    const analytic = compositeBackwardTwin(inp, g);
    // σ: the normal image composites with detached weights, so its term is left out.
    assertClose(analytic.sigma, fd(loss(inp, g, false), "sigma", inp), {
      rtol: 1e-6,
      atol: 1e-8,
      label: `dL/dsigma (dL/dw ${withWeights})`,
    });
    assertClose(analytic.colour, fd(loss(inp, g), "colour", inp), { rtol: 1e-6, atol: 1e-8 });
    assertClose(analytic.normal, fd(loss(inp, g), "normal", inp), { rtol: 1e-6, atol: 1e-8 });
  }
});

Deno.test("composite twin: the normal image reaches n but never σ (detached weights)", () => {
  const inp = inputs(3);
  const g: CompositeGrads = {
    image: new Float64Array(3 * R),
    alpha: new Float64Array(R),
    depth: new Float64Array(R),
    normalImage: randomArray(3 * R, 4),
  };
  const analytic = compositeBackwardTwin(inp, g);
  assert.ok(analytic.sigma.every((x) => x === 0), "no σ gradient from the normal image");
  assert.ok(analytic.normal.some((x) => x !== 0));
  assertClose(analytic.normal, fd(loss(inp, g), "normal", inp), { rtol: 1e-6, atol: 1e-8 });
  // The undetached derivative is not zero: the rule is a choice, not an accident.
  const attached = fd(loss(inp, g), "sigma", inp);
  assert.ok(attached.some((x) => Math.abs(x) > 1e-3));
});

Deno.test("composite twin: stops after T < 1e-4, empty rays show the background", () => {
  const inp = inputs(5);
  const sigma = Float64Array.from(inp.sigma);
  sigma[3] = 1e4; // the first sample of ray 2 (samples 3..9) is opaque
  const out = compositeTwin({ ...inp, sigma });
  const w = out.weights;
  assert.ok(w[3]! > 0);
  for (let i = 4; i < 10; i++) assert.equal(w[i], 0, `sample ${i} is after the stop`);
  const t = 1 - out.alpha[2]!;
  assert.ok(t < TRANSMITTANCE_THRESHOLD);
  assert.equal(out.alpha[1], 0);
  assert.deepEqual(Array.from(out.image.subarray(3, 6)), [0.3, 0.9, 0.1]);
  const g = compositeBackwardTwin({ ...inp, sigma }, grads(6));
  for (let i = 4; i < 10; i++) assert.ok(g.sigma[i] === 0 && g.colour[3 * i] === 0);
  // Gradients of the samples before the stop still match finite differences (the
  // stop itself does not move under a small perturbation here).
  const f = loss({ ...inp, sigma }, grads(6), false);
  const x = Float64Array.from(sigma);
  const num = finiteDifference((v) => f("sigma", v), x, [3, 4, 5], 1e-4);
  assertClose([g.sigma[3]!, g.sigma[4]!], [num.get(3)!, num.get(4)!], { rtol: 1e-4, atol: 1e-8 });
});
