import assert from "assert";
import {
  blob,
  shadeBackwardTwin,
  type ShadeGrads,
  type ShadeInputs,
  shadeTwin,
  SHADING_MODES,
  TRUNC_EXP_MAX,
} from "../../kernels/shade_twin.ts";
import { assertClose, finiteDifference, randomArray } from "../contracts/_harness.ts";

const S = 6;

function inputs(mode: ShadeInputs["mode"], seed: number): ShadeInputs {
  const positions = randomArray(3 * S, seed + 1);
  positions.set([1, 0.3, -0.2], 0); // on a face: the clamp shortens one difference
  positions.set([0.05, -0.1, 0.1], 3); // near the blob centre, where the blob dominates ∇σ
  return {
    raw: randomArray(7 * S * 4, seed, -1.5, 1.5),
    positions,
    rayIndex: [0, 1, 2, 3, 4, 5],
    lights: [0, 0, 1, 0.6, 0.8, 0, -1, 0, 0],
    raysPerFrame: 2,
    mode,
    ambient: 0.25,
  };
}

function grads(seed: number, only?: keyof ShadeGrads): ShadeGrads {
  const pick = (key: keyof ShadeGrads, n: number, s: number) =>
    only === undefined || only === key ? randomArray(n, s) : new Float64Array(n);
  return {
    sigma: pick("sigma", S, seed),
    colour: pick("colour", 3 * S, seed + 1),
    normal: pick("normal", 3 * S, seed + 2),
  };
}

function loss(inp: ShadeInputs, g: ShadeGrads): (raw: Float64Array) => number {
  return (raw) => {
    const out = shadeTwin({ ...inp, raw });
    let l = 0;
    for (let i = 0; i < S; i++) l += g.sigma[i]! * out.sigma[i]!;
    for (let i = 0; i < 3 * S; i++) {
      l += g.colour[i]! * out.colour[i]! + g.normal[i]! * out.normal[i]!;
    }
    return l;
  };
}

function checkAgainstFd(inp: ShadeInputs, g: ShadeGrads, label: string): Float64Array {
  const analytic = shadeBackwardTwin(inp, g);
  const raw = Float64Array.from(inp.raw);
  const fd = finiteDifference(loss(inp, g), raw, raw.keys());
  const numeric = Float64Array.from(raw, (_, i) => fd.get(i)!);
  // σ reaches e^11; the central difference's rounding error scales with it.
  const scale = numeric.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
  assertClose(analytic, numeric, { rtol: 1e-5, atol: 1e-7 * scale, label });
  return analytic;
}

for (const mode of SHADING_MODES) {
  Deno.test(`shade twin: ${mode} gradients match finite differences`, () => {
    checkAgainstFd(inputs(mode, 3), grads(7), mode);
  });
}

Deno.test("shade twin: gradients reach all six shifted densities through the normals", () => {
  for (const mode of ["lambertian", "textureless", "normal"] as const) {
    const inp = inputs(mode, 11);
    // Colour only: the normals feed the shading.
    const viaColour = checkAgainstFd(inp, grads(12, "colour"), `${mode} via colour`);
    const viaNormal = checkAgainstFd(inp, grads(13, "normal"), `${mode} via normal`);
    for (const g of [viaColour, viaNormal]) {
      for (let b = 1; b < 7; b++) {
        const block = Array.from({ length: S }, (_, i) => g[4 * (b * S + i)]!);
        assert.ok(block.some((x) => x !== 0), `${mode}: block ${b} gets a gradient`);
      }
    }
  }
  // Albedo shading ignores the normals, so colour gradients stay in block 0.
  const albedo = checkAgainstFd(inputs("albedo", 14), grads(15, "colour"), "albedo via colour");
  for (let b = 1; b < 7; b++) {
    for (let i = 0; i < S; i++) assert.ok(albedo[4 * (b * S + i)] === 0);
  }
});

Deno.test("shade twin: trunc_exp backward clamps at exp(15)", () => {
  const inp = inputs("albedo", 21);
  const raw = Float64Array.from(inp.raw);
  raw[4 * 1] = 8; // sample 1 sits next to the blob centre: 8 + blob > 15
  const x = raw[4]! + blob([0.05, -0.1, 0.1]);
  assert.ok(x > TRUNC_EXP_MAX);
  const g = grads(22, "sigma");
  const analytic = shadeBackwardTwin({ ...inp, raw }, g);
  assertClose([analytic[4]!], [g.sigma[1]! * Math.exp(TRUNC_EXP_MAX)], { rtol: 1e-12 });
  assertClose([shadeTwin({ ...inp, raw }).sigma[1]!], [Math.exp(x)], { rtol: 1e-12 });
});

Deno.test("shade twin: the clamped difference still divides by 2ε, and ∇σ = 0 gives n = 0", () => {
  const raw = new Float64Array(7 * 4);
  // At x = 1 the +x point is the sample itself: ∇σ_x = (σ(1) − σ(0.99))/0.02.
  const inp: ShadeInputs = {
    raw,
    positions: [1, 0, 0],
    rayIndex: [0],
    lights: [1, 0, 0],
    raysPerFrame: 1,
    mode: "normal",
    ambient: 1,
  };
  const n = shadeTwin(inp).normal;
  assert.ok(n[0]! < 0 || n[0]! > 0);
  const zero = shadeTwin({ ...inp, positions: [0, 0, 0] });
  assert.ok(zero.normal.every((x) => x === 0));
  assert.deepEqual(Array.from(zero.colour), [0.5, 0.5, 0.5]);
});
