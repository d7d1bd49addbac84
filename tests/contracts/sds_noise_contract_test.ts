import assert from "assert";
import { alphaBar } from "../../priors/noise_schedule.ts";
import { sdsNoise } from "../../priors/sds_noise.ts";
import { gaussianTwin, sdsNoiseTwin } from "../../priors/sds_noise_twin.ts";
import { assertClose, GPU_TEST, randomArray, testGpu } from "./_harness.ts";

// The uniforms are identical lattice values on both sides; only float32 log and cos
// differ from float64, hence atol 1e-5 on ε of magnitude up to ~5.
Deno.test("sds_noise: ε and z_t match the twin (3 items, 3 timesteps)", GPU_TEST, async () => {
  const gpu = await testGpu();
  const perItem = 3 * 17 * 13;
  const timesteps = [0, 437, 999];
  const image = new Float32Array(randomArray(timesteps.length * perItem, 21, 0, 1));
  const got = await sdsNoise(gpu, { image, timesteps, perItem, seed: 0xdeadbeef });
  const want = sdsNoiseTwin({ image, timesteps, perItem, seed: 0xdeadbeef });
  assertClose(got.noise, want.noise, { rtol: 1e-4, atol: 2e-5, label: "ε" });
  assertClose(got.noisy, want.noisy, { rtol: 1e-4, atol: 2e-5, label: "z_t" });
});

Deno.test("sds_noise: ε is standard normal, reproducible per seed", GPU_TEST, async () => {
  const gpu = await testGpu();
  const n = 16 * 32 * 32 * 3;
  const image = new Float32Array(n).fill(0.5);
  const a = await sdsNoise(gpu, { image, timesteps: [300], perItem: n, seed: 7 });
  const b = await sdsNoise(gpu, { image, timesteps: [300], perItem: n, seed: 7 });
  const c = await sdsNoise(gpu, { image, timesteps: [300], perItem: n, seed: 8 });
  assert.deepEqual(a.noise, b.noise, "same seed, same draws");
  let same = 0, mean = 0, sq = 0, fourth = 0, corr = 0;
  for (let i = 0; i < n; i++) {
    const e = a.noise[i]!;
    if (e === c.noise[i]) same++;
    mean += e;
    sq += e * e;
    fourth += e ** 4;
    corr += e * c.noise[i]!;
  }
  mean /= n;
  const variance = sq / n - mean * mean;
  // Standard errors at n = 49152: mean 0.0045, variance 0.0064, kurtosis ~0.05.
  assert.ok(Math.abs(mean) < 0.02, `mean ${mean}`);
  assert.ok(Math.abs(variance - 1) < 0.03, `variance ${variance}`);
  assert.ok(Math.abs(fourth / n / (variance * variance) - 3) < 0.25, "kurtosis 3");
  assert.ok(Math.abs(corr / n) < 0.02, `seeds 7 and 8 correlate: ${corr / n}`);
  assert.ok(same < 5, `${same} equal draws across seeds`);
  // Neighbouring elements are independent too.
  let lag = 0;
  for (let i = 1; i < n; i++) lag += a.noise[i]! * a.noise[i - 1]!;
  assert.ok(Math.abs(lag / n) < 0.02, `lag-1 correlation ${lag / n}`);
  // z = 2·0.5 − 1 = 0, so z_t is pure scaled noise.
  const sigma = Math.sqrt(1 - alphaBar(300));
  assertClose(a.noisy, a.noise.map((e) => sigma * e), { label: "z_t at z = 0" });
  assertClose([a.noise[123]!], [gaussianTwin(7, 123)], { atol: 2e-5 });
});
