import assert from "assert";
import { seededRandom } from "../../kernels/random.ts";
import { Shade, shade, shadeBackward } from "../../kernels/shade.ts";
import {
  shadeBackwardTwin,
  type ShadeGrads,
  type ShadeInputs,
  shadeTwin,
  SHADING_MODES,
} from "../../kernels/shade_twin.ts";
import { assertClose, GPU_TEST, randomArray, testGpu } from "./_harness.ts";

const S = 300;
const FRAMES = 3;
const RAYS_PER_FRAME = 50;

function lights(seed: number): Float64Array {
  const l = randomArray(3 * FRAMES, seed);
  for (let f = 0; f < FRAMES; f++) {
    const n = Math.hypot(l[3 * f]!, l[3 * f + 1]!, l[3 * f + 2]!);
    for (let c = 0; c < 3; c++) l[3 * f + c] = l[3 * f + c]! / n;
  }
  return l;
}

/** Seeded inputs, rounded to float32 so both sides see the same numbers. */
function inputs(seed: number, mode: ShadeInputs["mode"], ambient = 0.3): ShadeInputs {
  const raw = new Float32Array(randomArray(7 * S * 4, seed, -2, 2));
  const positions = new Float32Array(randomArray(3 * S, seed + 1));
  const rand = seededRandom(seed + 2);
  // Ray indices past the last frame reuse the last light.
  const rayIndex = Array.from(
    { length: S },
    () => Math.floor(rand() * (FRAMES + 1) * RAYS_PER_FRAME),
  );
  // Sample 0 on a face: the clamp shortens one finite difference.
  positions.set([1, 0.2, -0.3], 0);
  // Sample 1 at the origin with equal raw densities: ∇σ = 0, so n = 0 without NaN.
  positions.set([0, 0, 0], 3);
  for (let b = 0; b < 7; b++) raw[4 * (b * S + 1)] = 0.5;
  // Sample 2 near the blob centre with a large logit: trunc_exp's backward clamp at 15.
  positions.set([0.01, 0, 0], 6);
  raw[4 * 2] = 8;
  return {
    raw,
    positions,
    rayIndex,
    lights: new Float32Array(lights(seed + 3)),
    raysPerFrame: RAYS_PER_FRAME,
    mode,
    ambient,
  };
}

function grads(seed: number): ShadeGrads {
  return {
    sigma: new Float32Array(randomArray(S, seed)),
    colour: new Float32Array(randomArray(3 * S, seed + 1)),
    normal: new Float32Array(randomArray(3 * S, seed + 2)),
  };
}

for (const mode of SHADING_MODES) {
  Deno.test(`shade: ${mode} forward and backward match the twin`, GPU_TEST, async () => {
    const gpu = await testGpu();
    const inp = inputs(10, mode);
    const got = await shade(gpu, inp);
    const want = shadeTwin(inp);
    // σ = exp(raw + blob) reaches e^18: float32 exp of a rounded argument, relative.
    assertClose(got.sigma, want.sigma, { rtol: 1e-5, atol: 0, label: "sigma" });
    // Normals divide float32 differences of densities; a few ulps of σ, relative.
    assertClose(got.normal, want.normal, { rtol: 1e-4, atol: 1e-5, label: "normal" });
    assertClose(got.colour, want.colour, { label: "colour" });
    assert.ok(got.normal.subarray(3, 6).every((x) => x === 0), "∇σ = 0 gives n = 0");
    const g = grads(20);
    const gotRaw = await shadeBackward(gpu, inp, g);
    const wantRaw = shadeBackwardTwin(inp, g);
    // dL/draw scales with σ (up to e^15 before the clamp), so the bound is relative
    // with an absolute floor set by the largest gradient.
    const scale = wantRaw.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
    assertClose(gotRaw, wantRaw, { rtol: 1e-4, atol: 1e-7 * scale, label: "dL/draw" });
    for (let b = 1; b < 7; b++) {
      for (let c = 1; c < 4; c++) assert.equal(gotRaw[4 * (b * S + 5) + c], 0);
    }
  });
}

Deno.test("shade: reusable op switches modes and zero samples do nothing", GPU_TEST, async () => {
  const gpu = await testGpu();
  const inp = inputs(30, "albedo", 0.5);
  const f32 = (a: ArrayLike<number>) => gpu.createBuffer(new Float32Array(Array.from(a)));
  const count = gpu.createBuffer(new Uint32Array([S]));
  const buffers = {
    count,
    raw: f32(inp.raw),
    positions: f32(inp.positions),
    rayIndex: gpu.createBuffer(new Uint32Array(Array.from(inp.rayIndex))),
    lights: f32(inp.lights),
    sigma: gpu.createBuffer(S * 4),
    colour: gpu.createBuffer(3 * S * 4),
    normal: gpu.createBuffer(3 * S * 4),
  };
  const op = await Shade.create(gpu, buffers, {
    raysPerFrame: RAYS_PER_FRAME,
    frames: FRAMES,
    mode: "albedo",
    ambient: 0.5,
  });
  const run = async () => {
    gpu.submit((e) => {
      const p = e.beginComputePass();
      op.encodeForward(p, S);
      p.end();
    });
    return new Float32Array(await gpu.read(buffers.colour));
  };
  assertClose(await run(), shadeTwin(inp).colour, { label: "albedo" });
  op.setShading({ mode: "textureless" });
  assertClose(await run(), shadeTwin({ ...inp, mode: "textureless" }).colour, {
    label: "textureless",
  });
  gpu.upload(count, new Uint32Array([0]));
  gpu.upload(buffers.colour, new Float32Array(3 * S).fill(-7));
  const untouched = await run();
  assert.ok(untouched.every((x) => x === -7), "count 0 writes nothing");
  assert.throws(() => op.encodeBackward({} as GPUComputePassEncoder, S), /without gradient/);
  op.destroy();
});
