/**
 * The clip latent reorder (`priors/latent/latent_frames.ts`): the GPU copies against the
 * float64 element-index twin in both directions, with byte offsets, and the round trip.
 * A pure reorder has no gradient of its own: the backward of "to channel-major" is "to
 * frame-major", which the round trip checks.
 */
import assert from "assert";
import { encodeLatentFrames, latentFrameCopies } from "../../priors/latent/latent_frames.ts";
import {
  type LatentFramesShape,
  latentFramesTwin,
} from "../../priors/latent/latent_frames_twin.ts";
import { assertClose, GPU_TEST, randomArray, testGpu } from "./_harness.ts";

const SHAPES: LatentFramesShape[] = [
  { items: 1, frames: 4, channels: 4, plane: 64 },
  { items: 2, frames: 3, channels: 5, plane: 7 },
  { items: 2, frames: 1, channels: 4, plane: 9 },
  { items: 1, frames: 6, channels: 1, plane: 3 },
];

Deno.test(
  "latent_frames: GPU copies match the twin both ways and round-trip",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    for (const shape of SHAPES) {
      const n = shape.items * shape.frames * shape.channels * shape.plane;
      const data = randomArray(n, 11 + n);
      // Offsets exercise the batch-half and output-half placement the UNet denoiser uses.
      const pad = 3;
      const src = gpu.createBuffer(new Float32Array([...new Float32Array(pad), ...data]));
      const mid = gpu.createBuffer(4 * (n + 2 * pad));
      const back = gpu.createBuffer(4 * n);
      gpu.submit((e) => {
        encodeLatentFrames(e, latentFrameCopies(shape, { to: "channelMajor" }), {
          src,
          dst: mid,
          srcOffset: 4 * pad,
          dstOffset: 8 * pad,
        });
        encodeLatentFrames(e, latentFrameCopies(shape, { to: "frameMajor" }), {
          src: mid,
          dst: back,
          srcOffset: 8 * pad,
        });
      });
      const channelMajor = new Float32Array(await gpu.read(mid)).slice(2 * pad);
      const roundTrip = new Float32Array(await gpu.read(back));
      const label = JSON.stringify(shape);
      const want = latentFramesTwin(Float32Array.from(data), { shape, to: "channelMajor" });
      assertClose(channelMajor, want, { rtol: 0, atol: 0, label: `to channel-major ${label}` });
      const wantBack = latentFramesTwin(want, { shape, to: "frameMajor" });
      assertClose(roundTrip, wantBack, { rtol: 0, atol: 0, label: `to frame-major ${label}` });
      assertClose(roundTrip, Float32Array.from(data), {
        rtol: 0,
        atol: 0,
        label: `round trip ${label}`,
      });
      for (const b of [src, mid, back]) b.destroy();
    }
  },
);

Deno.test("latent_frames: copies cover every element once, merged where planes are adjacent", () => {
  for (const shape of SHAPES) {
    const n = shape.items * shape.frames * shape.channels * shape.plane;
    for (const to of ["channelMajor", "frameMajor"] as const) {
      const hits = new Uint8Array(n);
      const copies = latentFrameCopies(shape, { to });
      for (const c of copies) for (let k = 0; k < c.count; k++) hits[c.to + k]! += 1;
      assert.ok(
        hits.every((h) => h === 1),
        `${to} ${JSON.stringify(shape)} covers each element once`,
      );
      // One copy per (frame, channel) plane, except where planes stay adjacent: all of them
      // when F or C is 1, and an item's last plane with the next item's first.
      const planes = shape.frames * shape.channels;
      const want = shape.frames === 1 || shape.channels === 1
        ? 1
        : shape.items * planes - (shape.items - 1);
      assert.equal(copies.length, want, `${to} ${JSON.stringify(shape)} copies`);
    }
  }
  assert.throws(
    () => latentFrameCopies({ items: 1, frames: 0, channels: 4, plane: 4 }, { to: "channelMajor" }),
    /Invalid option frames: expected an integer >= 1, got 0/,
  );
});
