/**
 * Zero123 conditioning: the pose vector's sign conventions, cc_projection against a direct
 * float64 Linear on concat(clip, T), loading from a folder, and the CLIP image input.
 */
import assert from "assert";
import { writeSafetensors } from "../../../io/safetensors.ts";
import { assertClose, randomArray } from "../../contracts/_harness.ts";
import {
  CcProjection,
  zero123EncoderStates,
  zero123PoseVector,
} from "../../../priors/models/zero123_conditioning.ts";
import {
  CLIP_MEAN,
  CLIP_STD,
  clipImageInput,
  resizeBicubicU8,
} from "../../../priors/models/clip_image_input.ts";

Deno.test("pose vector: [Δθ rad, sin(−Δφ), cos(Δφ), Δr]", () => {
  assertClose(zero123PoseVector({ dTheta: 0, dPhi: 0, dRadius: 0 }), [0, 0, 1, 0], { atol: 1e-15 });
  // A camera at φ = +90° (azimuth towards +x) gives sin(−90°) = −1: the mirrored basis of §9.
  assertClose(zero123PoseVector({ dTheta: 45, dPhi: 90, dRadius: -0.3 }), [
    Math.PI / 4,
    -1,
    0,
    -0.3,
  ], {
    atol: 1e-15,
  });
  assertClose(
    zero123PoseVector({ dTheta: -90, dPhi: -180, dRadius: 0 }),
    [-Math.PI / 2, 0, -1, 0],
    {
      atol: 1e-15,
    },
  );
  assert.throws(
    () => zero123PoseVector({ dTheta: NaN, dPhi: 0, dRadius: 0 }),
    /relativePose\.dTheta/,
  );
});

Deno.test("cc_projection equals a float64 Linear on concat(clip, T), uncond half zeros", async () => {
  const out = 768, d = 768, inputs = d + 4;
  const weight = new Float32Array(randomArray(out * inputs, 1, -0.05, 0.05));
  const bias = new Float32Array(randomArray(out, 2));
  const clip = new Float32Array(randomArray(d, 3));
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/cc_projection`);
    await writeSafetensors(`${dir}/cc_projection/diffusion_pytorch_model.safetensors`, {
      "cc_projection.weight": { dtype: "F32", shape: [out, inputs], data: weight },
      "cc_projection.bias": { dtype: "F32", shape: [out], data: bias },
    });
    const projection = await CcProjection.load(dir);
    const poses = [{ dTheta: 10, dPhi: -120, dRadius: 0.1 }, { dTheta: -5, dPhi: 170, dRadius: 0 }];
    const states = zero123EncoderStates(projection.forImage(clip), poses);
    assert.equal(states.length, 2 * 2 * out);
    assert.ok(states.subarray(0, 2 * out).every((v) => v === 0));
    poses.forEach((pose, b) => {
      const x = [...clip, ...zero123PoseVector(pose)];
      const expected = Array.from({ length: out }, (_, o) => {
        let s = bias[o]!;
        for (let i = 0; i < inputs; i++) s += weight[o * inputs + i]! * x[i]!;
        return s;
      });
      assertClose(states.subarray((2 + b) * out, (3 + b) * out), expected, {
        rtol: 1e-6,
        atol: 1e-6,
      });
    });
    assert.throws(() => projection.forImage(new Float32Array(512)), /expected 768 values/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CLIP input: resize matches a float bicubic within one 8-bit level, then mean/std", () => {
  const n = 256, m = 224;
  const rgb = new Float32Array(n * n * 3);
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) {
      for (let c = 0; c < 3; c++) {
        rgb[(y * n + x) * 3 + c] = 0.5 + 0.45 * Math.sin(x / 9 + c) * Math.cos(y / 13);
      }
    }
  }
  const q = Uint8Array.from(rgb, (v) => Math.trunc(v * 255));
  const fast = resizeBicubicU8(q, { width: n, height: n, outWidth: m, outHeight: m });
  // Independent float64 separable antialiased Keys(a = −0.5) resize.
  const scale = n / m, support = 2 * scale;
  const keys = (t: number) => {
    t = Math.abs(t);
    return t < 1
      ? 1.5 * t ** 3 - 2.5 * t ** 2 + 1
      : t < 2
      ? -0.5 * t ** 3 + 2.5 * t ** 2 - 4 * t + 2
      : 0;
  };
  const weights = (o: number) => {
    const centre = (o + 0.5) * scale, w: [number, number][] = [];
    for (
      let i = Math.max(0, Math.floor(centre - support));
      i < Math.min(n, Math.ceil(centre + support));
      i++
    ) {
      w.push([i, keys((i + 0.5 - centre) / scale)]);
    }
    const total = w.reduce((s, [, v]) => s + v, 0);
    return w.map(([i, v]): [number, number] => [i, v / total]);
  };
  let worst = 0;
  for (let y = 0; y < m; y += 7) {
    for (let x = 0; x < m; x += 5) {
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (const [j, wy] of weights(y)) {
          for (const [i, wx] of weights(x)) s += wy * wx * q[(j * n + i) * 3 + c]!;
        }
        worst = Math.max(worst, Math.abs(s - fast[(y * m + x) * 3 + c]!));
      }
    }
  }
  assert.ok(worst <= 1.01, `worst difference ${worst} levels`);
  const input = clipImageInput(rgb, { width: n, height: n });
  assert.equal(input.length, 3 * m * m);
  for (const [y, x, c] of [[0, 0, 0], [100, 37, 1], [223, 223, 2]] as const) {
    assertClose([input[(c * m + y) * m + x]!], [
      (fast[(y * m + x) * 3 + c]! / 255 - CLIP_MEAN[c]) / CLIP_STD[c],
    ], {
      atol: 1e-6,
    });
  }
  // A 320×256 image: shortest edge to 224 (280 wide), then the centre 224 columns.
  const wide = clipImageInput(new Float32Array(320 * 256 * 3).fill(0.2), {
    width: 320,
    height: 256,
  });
  assertClose([wide[0]!], [(51 / 255 - CLIP_MEAN[0]) / CLIP_STD[0]], { atol: 1e-6 });
  assert.throws(
    () => clipImageInput(new Float32Array(5), { width: 2, height: 2 }),
    /expected 2×2×3 = 12 values, got 5/,
  );
});
