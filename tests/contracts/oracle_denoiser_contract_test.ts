import assert from "assert";
import type { Gpu } from "../../kernels/gpu.ts";
import { alphaBar } from "../../priors/noise_schedule.ts";
import { OracleDenoiser, type OracleTargetSet } from "../../priors/oracle_denoiser.ts";
import { oracleDenoiserTwin } from "../../priors/oracle_denoiser_twin.ts";
import { assertClose, GPU_TEST, randomArray, testGpu } from "./_harness.ts";

/** Runs the oracle once and reads ε̂_cond and ε̂_uncond back. */
async function runOracle(
  gpu: Gpu,
  inputs: {
    noisy: ArrayLike<number>;
    timesteps: number[];
    perItem: number;
    sets: OracleTargetSet[];
  },
  maxTargets = 8,
): Promise<{ epsCond: Float32Array; epsUncond: Float32Array }> {
  const items = inputs.timesteps.length, n = items * inputs.perItem;
  const oracle = await OracleDenoiser.create(gpu, {
    maxItems: items + 1,
    perItem: inputs.perItem,
    maxTargets,
  });
  inputs.sets.forEach((s, k) => oracle.setTargets(k, s));
  const noisy = gpu.createBuffer(new Float32Array(Array.from(inputs.noisy)));
  const epsCond = gpu.createBuffer(4 * n), epsUncond = gpu.createBuffer(4 * n);
  oracle.predict({
    noisy,
    items,
    perItem: inputs.perItem,
    framesPerItem: 1,
    width: 1,
    height: 1,
    timesteps: inputs.timesteps,
    conditioning: { cameras: [], times: [] },
    epsCond,
    epsUncond,
  });
  const out = {
    epsCond: new Float32Array(await gpu.read(epsCond)),
    epsUncond: new Float32Array(await gpu.read(epsUncond)),
  };
  oracle.destroy();
  for (const b of [noisy, epsCond, epsUncond]) b.destroy();
  return out;
}

const toZ = (y: ArrayLike<number>) => Array.from(y, (v) => 2 * v - 1);

Deno.test(
  "oracle_denoiser: ε̂ matches the twin (3 items, varying set sizes)",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    // 3·11·9 = 297 elements per item: more than one stride of the 256-thread reduction.
    const perItem = 297, timesteps = [650, 900, 999];
    const sets: OracleTargetSet[] = timesteps.map((_, item) => ({
      cond: Array.from({ length: 1 + item }, (_, k) => randomArray(perItem, 100 * item + k, 0, 1)),
      uncond: Array.from(
        { length: 3 + 2 * item },
        (_, k) => randomArray(perItem, 50 + 100 * item + k, 0, 1),
      ),
    }));
    // z_t near √ᾱ·(a cond target) plus noise, as during SDS.
    const noisy = new Float64Array(timesteps.length * perItem);
    const noise = randomArray(noisy.length, 7, -1.5, 1.5);
    timesteps.forEach((t, item) => {
      const ab = alphaBar(t), y = sets[item]!.cond[0]!;
      for (let e = 0; e < perItem; e++) {
        noisy[item * perItem + e] = Math.sqrt(ab) * (2 * y[e]! - 1) +
          Math.sqrt(1 - ab) * noise[item * perItem + e]!;
      }
    });
    const got = await runOracle(gpu, { noisy, timesteps, perItem, sets });
    const want = oracleDenoiserTwin({
      noisy,
      timesteps,
      perItem,
      cond: sets.map((s) => s.cond.map(toZ)),
      uncond: sets.map((s) => s.uncond.map(toZ)),
    });
    // The posterior is not degenerate at these noise levels, so the weights matter.
    assert.ok(want.weightsUncond[2]!.filter((w) => w > 1e-3).length >= 2, "mixed posterior");
    // Float32 squared distances over 297 elements: logit errors ~1e-5·|logit| move weights
    // by about that much; ε̂ carries them amplified by √ᾱ/√(1 − ᾱ) ≤ 0.6.
    assertClose(got.epsCond.slice(0, noisy.length), want.epsCond, {
      rtol: 1e-4,
      atol: 1e-4,
      label: "ε̂_cond",
    });
    assertClose(got.epsUncond.slice(0, noisy.length), want.epsUncond, {
      rtol: 1e-4,
      atol: 1e-4,
      label: "ε̂_uncond",
    });
  },
);

Deno.test("oracle_denoiser: the posterior is exact at the limits", GPU_TEST, async () => {
  const gpu = await testGpu();
  const perItem = 3 * 16 * 16;
  const a = randomArray(perItem, 1, 0, 1), b = randomArray(perItem, 2, 0, 1);
  const eps = randomArray(perItem, 3, -2, 2);
  const zFrom = (y: ArrayLike<number>, t: number) => {
    const ab = alphaBar(t);
    return Array.from({ length: perItem }, (_, e) => {
      const z = 2 * y[e]! - 1;
      return Math.sqrt(ab) * z + Math.sqrt(1 - ab) * eps[e]!;
    });
  };
  // One target: x̂₀ = y, so ε̂ = (z_t − √ᾱ y)/√(1 − ᾱ) recovers ε exactly, at any t.
  for (const t of [20, 500, 980]) {
    const single = await runOracle(gpu, {
      noisy: zFrom(a, t),
      timesteps: [t],
      perItem,
      sets: [{ cond: [a], uncond: [a] }],
    });
    assertClose(single.epsCond.slice(0, perItem), eps, { atol: 2e-3, label: `ε at t ${t}` });
  }
  // Two targets at low noise: z_t made from b picks b, so ε̂ recovers ε; with a it misses.
  const low = await runOracle(gpu, {
    noisy: zFrom(b, 50),
    timesteps: [50],
    perItem,
    sets: [{ cond: [a, b], uncond: [b, a] }],
  });
  assertClose(low.epsCond.slice(0, perItem), eps, { atol: 1e-3, label: "picks the nearer" });
  assertClose(low.epsUncond.slice(0, perItem), eps, { atol: 1e-3, label: "order does not matter" });
  // z_t = 0 with two targets of equal norm (mirror images in z, y and 1 − y): the
  // posterior is exactly ½/½, so x̂₀ is their mean 0 and ε̂ = z_t/σ = 0.
  const mirror = Array.from(a, (v) => 1 - v);
  const high = await runOracle(gpu, {
    noisy: new Float64Array(perItem),
    timesteps: [999],
    perItem,
    sets: [{ cond: [a, mirror], uncond: [a, mirror] }],
  });
  assertClose(high.epsCond.slice(0, perItem), new Float64Array(perItem), {
    atol: 1e-4,
    label: "mean",
  });
  // At t = 999 and z_t from a, the weights still lean to a but far less than at t = 50:
  // the twin's posterior on a drops below 1 while staying above ½.
  const ab999 = alphaBar(999);
  const zt = zFrom(a, 999);
  const w = oracleDenoiserTwin({
    noisy: zt,
    timesteps: [999],
    perItem,
    cond: [[toZ(a), toZ(b)]],
    uncond: [[toZ(a)]],
  });
  assert.ok(
    w.weightsCond[0]![0]! > 0.5 && w.weightsCond[0]![0]! < 1 - 1e-6,
    `w ${w.weightsCond[0]} at ᾱ ${ab999}`,
  );
  const gotHigh = await runOracle(gpu, {
    noisy: zt,
    timesteps: [999],
    perItem,
    sets: [{ cond: [a, b], uncond: [a] }],
  });
  assertClose(gotHigh.epsCond.slice(0, perItem), w.epsCond, {
    rtol: 1e-4,
    atol: 1e-4,
    label: "t 999 mixture",
  });
});

Deno.test("oracle_denoiser: bad targets and sizes are refused", GPU_TEST, async () => {
  const gpu = await testGpu();
  const oracle = await OracleDenoiser.create(gpu, { maxItems: 1, perItem: 6, maxTargets: 2 });
  assert.throws(
    () => oracle.setTargets(0, { cond: [[1, 2]], uncond: [[1, 2]] }),
    /targets.cond\[0\]: expected 6 values/,
  );
  assert.throws(
    () => oracle.setTargets(0, { cond: [], uncond: [new Float32Array(6)] }),
    /targets.cond.length/,
  );
  assert.throws(
    () => oracle.setTargets(1, { cond: [new Float32Array(6)], uncond: [new Float32Array(6)] }),
    /Invalid option item/,
  );
  await assert.rejects(
    OracleDenoiser.create(gpu, { maxItems: 1, perItem: 6, maxTargets: 300 }),
    /maxTargets/,
  );
  oracle.destroy();
});
