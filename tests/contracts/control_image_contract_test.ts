/**
 * Contract: the WGSL control image (`controlnet_cond`) against its float64 twin: up- and
 * downsampling, non-square sizes and several frames in one dispatch; the twin against the
 * VAE resize twin (the same taps, without 2x − 1) and exact linear ramps. No gradient: the
 * control render is the frozen model's and gets none.
 */
import assert from "assert";
import { controlImage } from "../../priors/latent/control_image.ts";
import { controlImageTwin } from "../../priors/latent/control_image_twin.ts";
import { imageResizeTwin } from "../../priors/latent/image_resize_twin.ts";
import { assertClose, GPU_TEST, randomArray, testGpu } from "./_harness.ts";

Deno.test(
  "control image: GPU matches the twin (up, down, non-square, 1–3 frames, 1–3 copies)",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const cases = [
      { inWidth: 6, inHeight: 6, outWidth: 16, outHeight: 16, frames: 2, repeat: 2 },
      { inWidth: 12, inHeight: 7, outWidth: 5, outHeight: 9, frames: 3, repeat: 1 },
      { inWidth: 3, inHeight: 5, outWidth: 3, outHeight: 5, frames: 1, repeat: 3 },
    ];
    for (const [k, c] of cases.entries()) {
      const { frames, repeat, ...shape } = c;
      const images = Float32Array.from(
        randomArray(frames * shape.inWidth * shape.inHeight * 3, 300 + k, 0, 1),
      );
      const got = await controlImage(gpu, { shape, images, frames, repeat });
      const want = controlImageTwin(shape, images, frames);
      assert.equal(got.length, repeat * want.length);
      for (let r = 0; r < repeat; r++) {
        const copy = got.subarray(r * want.length, (r + 1) * want.length);
        assertClose(copy, want, { label: `case ${k} copy ${r}` });
      }
      assert.ok(got.every((v) => v >= 0 && v <= 1), "stays in [0, 1]");
    }
  },
);

Deno.test("control image twin: the VAE resize's taps in [0, 1], identity at equal size, exact ramps", () => {
  const shape = { inWidth: 5, inHeight: 4, outWidth: 11, outHeight: 7 };
  const images = randomArray(2 * 5 * 4 * 3, 310, 0, 1);
  const twin = controlImageTwin(shape, images, 2);
  for (let f = 0; f < 2; f++) {
    const vae = imageResizeTwin(shape, images, f);
    const plane = twin.subarray(f * vae.length, (f + 1) * vae.length);
    assertClose(plane, vae.map((v) => (v + 1) / 2), { label: `frame ${f} vs (VAE input + 1)/2` });
  }
  const same = { inWidth: 3, inHeight: 2, outWidth: 3, outHeight: 2 };
  const rgb = randomArray(18, 311, 0, 1);
  const id = controlImageTwin(same, rgb, 1);
  for (let p = 0; p < 6; p++) {
    for (let c = 0; c < 3; c++) assert.equal(id[c * 6 + p], rgb[p * 3 + c]);
  }
  // A ramp x ↦ x/(W−1) upsampled 2× is linear inside the border: out(ox) = (ox + 0.5)/2 − 0.5.
  const W = 4;
  const ramp = Array.from({ length: W * 3 }, (_, i) => Math.floor(i / 3) / (W - 1));
  const up = controlImageTwin({ inWidth: W, inHeight: 1, outWidth: 2 * W, outHeight: 1 }, ramp, 1);
  for (let ox = 1; ox < 2 * W - 1; ox++) {
    assertClose([up[ox]!], [((ox + 0.5) / 2 - 0.5) / (W - 1)], { label: `ramp ${ox}` });
  }
  assert.equal(up[0], 0);
  assert.equal(up[2 * W - 1], 1);
});
