import assert from "assert";
import { boxDownsample, psnr, ssim, SSIM_C1, SSIM_C2 } from "../../stages/image_metrics.ts";
import { orbitCamera } from "../../kernels/camera.ts";
import { renderCameraGroundTruth } from "../../scenes/ground_truth.ts";
import { parseScene } from "../../scenes/scene_config.ts";
import { seededRandom } from "../../kernels/random.ts";

Deno.test("psnr: hand-computed cases", () => {
  assert.equal(psnr([0.2, 0.4], [0.2, 0.4]), Infinity);
  // MSE 0.01 → 20 dB; MSE 0.0001 → 40 dB; peak 255 with error 2.55 → 40 dB.
  assert.ok(Math.abs(psnr([0, 1, 0.5], [0.1, 0.9, 0.6]) - 20) < 1e-9);
  assert.ok(Math.abs(psnr([0.5, 0.5], [0.51, 0.49]) - 40) < 1e-9);
  assert.ok(Math.abs(psnr([100], [102.55], { peak: 255 }) - 40) < 1e-9);
  assert.throws(() => psnr([1], [1, 2]), /Invalid option psnr/);
});

Deno.test("ssim: identical images give 1", () => {
  const r = seededRandom(3);
  const a = Float64Array.from({ length: 16 * 14 * 3 }, () => r());
  assert.ok(Math.abs(ssim(a, a, { width: 16, height: 14 }) - 1) < 1e-12);
});

Deno.test("ssim: constant images reduce to the luminance term", () => {
  const a = new Float64Array(11 * 11 * 3).fill(0.5);
  const b = new Float64Array(11 * 11 * 3).fill(0.25);
  const want = (2 * 0.5 * 0.25 + SSIM_C1) / (0.25 + 0.0625 + SSIM_C1);
  assert.ok(Math.abs(ssim(a, b, { width: 11, height: 11 }) - want) < 1e-12);
});

Deno.test("ssim: a contrast-inverted pattern has the hand-computed value", () => {
  // One channel, 11×11 checkerboard of 0/1 against its inverse: equal means (the window
  // sums to 1 so both means are the same m), equal variances v, covariance −v:
  // SSIM = (2m² + C1)/(2m² + C1) · (−2v + C2)/(2v + C2).
  const n = 11;
  const a = new Float64Array(n * n);
  const b = new Float64Array(n * n);
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) {
      a[y * n + x] = (x + y) % 2;
      b[y * n + x] = 1 - a[y * n + x]!;
    }
  }
  // Gaussian-weighted mean and variance of the pattern, computed directly.
  const w: number[] = [];
  for (let i = 0; i < n; i++) w.push(Math.exp(-((i - 5) ** 2) / (2 * 1.5 * 1.5)));
  const s = w.reduce((p, q) => p + q, 0);
  let m = 0;
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) m += (w[y]! * w[x]! / s / s) * a[y * n + x]!;
  }
  const mb = 1 - m;
  const v = m - m * m; // E[a²] = E[a] for a 0/1 image
  const want = ((2 * m * mb + SSIM_C1) / (m * m + mb * mb + SSIM_C1)) *
    ((-2 * v + SSIM_C2) / (2 * v + SSIM_C2));
  const got = ssim(a, b, { width: n, height: n, channels: 1 });
  assert.ok(Math.abs(got - want) < 1e-12, `${got} vs ${want}`);
  assert.ok(got < 0);
});

Deno.test("ssim: too small or mismatched images are refused", () => {
  assert.throws(
    () => ssim(new Float64Array(30), new Float64Array(30), { width: 10, height: 1 }),
    /at least 11×11/,
  );
  assert.throws(
    () => ssim(new Float64Array(30), new Float64Array(30), { width: 11, height: 11 }),
    /expected 11×11×3/,
  );
});

Deno.test("boxDownsample of a 2× ground-truth render is the 2×2 anti-aliased ground truth", () => {
  // The held-out score renders the field at k× and box-filters it; this is the same
  // filter the ground truth applies to its sub-rays, so the two compare like for like.
  const scene = parseScene(
    "name: a\nmotion_prompt: A ball.\nprimitives: [{ type: sphere, radius: 0.4, center: [0.1, 0, 0], color: [0.9, 0.2, 0.1] }]",
  );
  const pose = { radius: 1.8, thetaDeg: 80, phiDeg: 30, fovyDeg: 40 };
  const size = 12;
  const fine = renderCameraGroundTruth(
    scene,
    orbitCamera(pose, { width: 2 * size, height: 2 * size }),
    {
      time: 0,
      subsamples: 1,
      background: [1, 1, 1],
    },
  );
  const aa = renderCameraGroundTruth(scene, orbitCamera(pose, { width: size, height: size }), {
    time: 0,
    subsamples: 2,
    background: [1, 1, 1],
  });
  const got = boxDownsample(fine.rgb, { size, k: 2 });
  let edge = 0;
  for (let i = 0; i < got.length; i++) {
    assert.ok(Math.abs(got[i]! - aa.rgb[i]!) < 1e-6, `value ${i}: ${got[i]} vs ${aa.rgb[i]}`);
    if (aa.rgb[i]! > 0.3 && aa.rgb[i]! < 0.85) edge++;
  }
  assert.ok(edge > 0, "some pixels straddle the silhouette");
  assert.throws(() => boxDownsample(fine.rgb, { size: 10, k: 2 }), /expected 20² RGB values/);
});
