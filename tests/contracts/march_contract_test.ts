import assert from "assert";
import { orbitCamera } from "../../kernels/camera.ts";
import { marchRays } from "../../kernels/march.ts";
import { marchRaysTwin, type PackedSamples, sliceOfTime } from "../../kernels/march_twin.ts";
import { packBitfieldTwin } from "../../kernels/occupancy_twin.ts";
import { seededRandom } from "../../kernels/random.ts";
import { generateRaysTwin } from "../../kernels/rays_twin.ts";
import { assertClose, GPU_TEST, testGpu } from "./_harness.ts";

const RES = 16;
const SLICES = 4;
const SIZE = { width: 16, height: 16 };
const DT = 2 * Math.sqrt(3) / 256;

/** A blob whose radius changes with the slice, with random holes: partially empty. */
function occupancy(): Uint32Array<ArrayBuffer> {
  const rand = seededRandom(99);
  const grid = new Float64Array(SLICES * RES ** 3);
  for (let s = 0; s < SLICES; s++) {
    for (let ix = 0; ix < RES; ix++) {
      for (let iy = 0; iy < RES; iy++) {
        for (let iz = 0; iz < RES; iz++) {
          const p = [ix, iy, iz].map((c) => (c + 0.5) / RES * 2 - 1);
          const r = Math.hypot(p[0]! - 0.1 * s, p[1]!, p[2]!);
          const c = (ix * RES + iy) * RES + iz;
          grid[s * RES ** 3 + c] = r < 0.35 + 0.1 * s && rand() > 0.2 ? 1 : 0;
        }
      }
    }
  }
  return packBitfieldTwin(grid, { res: RES, slices: SLICES, threshold: 0.5 });
}

function clipRays() {
  const cams = [
    orbitCamera({ radius: 1.8, thetaDeg: 90, phiDeg: 0, fovyDeg: 40 }, SIZE),
    orbitCamera({ radius: 1.6, thetaDeg: 60, phiDeg: 130, fovyDeg: 40 }, SIZE),
  ];
  const rays = generateRaysTwin(cams, { originOffset: [1e-3, 0, -1e-3] });
  // The kernel sees float32 rays; give the twin the same values.
  return {
    origins: Float32Array.from(rays.origins),
    directions: Float32Array.from(rays.directions),
  };
}

/** Samples of ray r from a packed result, via its range. */
function raySamples(
  out: {
    positions: ArrayLike<number>;
    ts: ArrayLike<number>;
    rayIndex: ArrayLike<number>;
    rays: ArrayLike<number>;
  },
  r: number,
): { positions: number[]; ts: number[]; rayIndex: number[] } {
  const first = out.rays[2 * r]!;
  const n = out.rays[2 * r + 1]!;
  const positions: number[] = [];
  const ts: number[] = [];
  const rayIndex: number[] = [];
  for (let s = first; s < first + n; s++) {
    positions.push(out.positions[3 * s]!, out.positions[3 * s + 1]!, out.positions[3 * s + 2]!);
    ts.push(out.ts[2 * s]!, out.ts[2 * s + 1]!);
    rayIndex.push(out.rayIndex[s]!);
  }
  return { positions, ts, rayIndex };
}

function compareRays(
  got: Awaited<ReturnType<typeof marchRays>>,
  want: PackedSamples,
  rays: number,
): void {
  for (let r = 0; r < rays; r++) {
    const g = raySamples(got, r);
    const w = raySamples(want, r);
    assert.equal(g.rayIndex.length, w.rayIndex.length, `sample count of ray ${r}`);
    assert.ok(g.rayIndex.every((i) => i === r), `ray index of ray ${r}`);
    // t accumulates in float32 on the GPU: |t| ≤ 4, so 1e-5 absolute is a few ulps.
    assertClose(g.ts, w.ts, { atol: 2e-5, label: `ts of ray ${r}` });
    assertClose(g.positions, w.positions, { atol: 2e-5, label: `positions of ray ${r}` });
  }
}

const TIMES = [0.1, 0.8];

Deno.test("march: packed samples match the twin ray by ray", GPU_TEST, async () => {
  const gpu = await testGpu();
  const { origins, directions } = clipRays();
  const bits = occupancy();
  const settings = { dt: DT, maxSteps: 1024, perturb: true, seed: 7, step: 32 };
  const got = await marchRays(gpu, origins, {
    ...settings,
    directions,
    bits,
    res: RES,
    slices: SLICES,
    raysPerFrame: 256,
    times: TIMES,
  });
  const want = marchRaysTwin(origins, {
    ...settings,
    directions,
    bits,
    res: RES,
    slices: SLICES,
    raysPerFrame: 256,
    frameSlices: TIMES.map((t) => sliceOfTime(t, SLICES)),
  });
  assert.ok(want.total > 500, `enough samples (${want.total})`);
  assert.equal(got.total, want.total);
  assert.equal(got.requested, want.total);
  assert.equal(got.overflow, false);
  compareRays(got, want, 512);
  // Every sample slot is owned by exactly one ray range.
  const owned = new Uint8Array(got.total);
  for (let r = 0; r < 512; r++) {
    for (let s = got.rays[2 * r]!; s < got.rays[2 * r]! + got.rays[2 * r + 1]!; s++) owned[s]!++;
  }
  assert.ok(owned.every((v) => v === 1));

  // Empty-space skipping happened and kept every sample on the t0 + k·dt lattice.
  let gaps = 0;
  for (let r = 0; r < 512; r++) {
    const g = raySamples(got, r);
    const t0 = want.t0[r]!;
    for (let k = 0; k < g.ts.length; k += 2) {
      const steps = (g.ts[k]! - DT - t0) / DT;
      assert.ok(Math.abs(steps - Math.round(steps)) < 1e-2, `ray ${r}: (t − t0)/dt = ${steps}`);
      if (k > 0 && g.ts[k]! - g.ts[k - 2]! > 1.5 * DT) gaps++;
    }
  }
  assert.ok(gaps > 10, `skips inside rays (${gaps})`);
  // The two frames use different slices: the same march against slice 0 differs.
  const oneSlice = marchRaysTwin(origins, {
    ...settings,
    directions,
    bits,
    res: RES,
    slices: SLICES,
    raysPerFrame: 256,
    frameSlices: [0, 0],
  });
  assert.notEqual(oneSlice.total, want.total);
});

Deno.test("march: no perturbation starts at near, maxSteps caps each ray", GPU_TEST, async () => {
  const gpu = await testGpu();
  const { origins, directions } = clipRays();
  const bits = new Uint32Array(SLICES * RES ** 3 / 32).fill(0xffffffff);
  const common = { directions, bits, res: RES, slices: SLICES, raysPerFrame: 256 };
  const settings = { dt: 2 * Math.sqrt(3) / 1024, maxSteps: 100, perturb: false };
  const got = await marchRays(gpu, origins, { ...common, ...settings, times: TIMES });
  const want = marchRaysTwin(origins, { ...common, ...settings, frameSlices: [0, 3] });
  compareRays(got, want, 512);
  for (let r = 0; r < 512; r++) assert.ok(got.rays[2 * r + 1]! <= 100);
  assert.ok(Array.from({ length: 512 }, (_, r) => want.rays[2 * r + 1]!).some((n) => n === 100));
  // The reference ray through the image centre enters the box at t = 0.8 (near ≥ 0.2).
  const centre = raySamples(want, 8 * 16 + 8);
  assert.ok(Math.abs(centre.ts[0]! - settings.dt - 0.8) < 0.01);
});

Deno.test("march: overflow clamps to capacity and is flagged", GPU_TEST, async () => {
  const gpu = await testGpu();
  const { origins, directions } = clipRays();
  const bits = occupancy();
  const common = { directions, bits, res: RES, slices: SLICES, raysPerFrame: 256, dt: DT, seed: 3 };
  const want = marchRaysTwin(origins, { ...common, frameSlices: [0, 3] });
  const capacity = Math.floor(want.total / 2);
  const got = await marchRays(gpu, origins, { ...common, times: TIMES, capacity });
  assert.equal(got.total, capacity);
  assert.equal(got.requested, want.total);
  assert.equal(got.overflow, true);
  let kept = 0;
  for (let r = 0; r < 512; r++) {
    const g = raySamples(got, r);
    const w = raySamples(want, r);
    kept += g.rayIndex.length;
    assert.ok(g.rayIndex.length <= w.rayIndex.length);
    assert.ok(got.rays[2 * r]! + got.rays[2 * r + 1]! <= capacity);
    // A clamped ray keeps a prefix of its samples.
    assertClose(g.ts, w.ts.slice(0, g.ts.length), { atol: 2e-5, label: `ts of ray ${r}` });
  }
  assert.equal(kept, capacity);
});
