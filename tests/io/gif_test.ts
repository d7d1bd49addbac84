import assert from "assert";
import { writeGif } from "../../io/gif.ts";

interface GifSummary {
  width: number;
  height: number;
  globalPalette: number[][];
  frames: { localPalette: boolean; delayCs: number }[];
  loop: number | null;
}

/** Walks the GIF89a block structure (spec sections 17–27) without decoding pixels. */
function parseGif(b: Uint8Array): GifSummary {
  const text = new TextDecoder().decode(b.subarray(0, 6));
  assert.equal(text, "GIF89a");
  const u16 = (o: number) => b[o]! | (b[o + 1]! << 8);
  const width = u16(6);
  const height = u16(8);
  const packed = b[10]!;
  let p = 13;
  const globalPalette: number[][] = [];
  if (packed & 0x80) {
    const n = 2 ** ((packed & 7) + 1);
    for (let i = 0; i < n; i++) {
      globalPalette.push([b[p + 3 * i]!, b[p + 3 * i + 1]!, b[p + 3 * i + 2]!]);
    }
    p += 3 * n;
  }
  const skipSubBlocks = () => {
    while (b[p] !== 0) p += b[p]! + 1;
    p++;
  };
  const frames: GifSummary["frames"] = [];
  let delayCs = 0;
  let loop: number | null = null;
  while (true) {
    const tag = b[p++];
    if (tag === 0x3b) break; // trailer
    if (tag === 0x21) {
      const label = b[p++];
      if (label === 0xf9) delayCs = u16(p + 2);
      if (label === 0xff && new TextDecoder().decode(b.subarray(p + 1, p + 12)) === "NETSCAPE2.0") {
        loop = u16(p + 12 + 2);
      }
      skipSubBlocks();
    } else if (tag === 0x2c) {
      const fp = b[p + 8]!;
      p += 9;
      const local = (fp & 0x80) !== 0;
      if (local) p += 3 * 2 ** ((fp & 7) + 1);
      p++; // LZW minimum code size
      skipSubBlocks();
      frames.push({ localPalette: local, delayCs });
    } else {
      throw new Error(`unexpected GIF block 0x${tag?.toString(16)} at byte ${p - 1}`);
    }
  }
  assert.equal(p, b.length, "bytes after the trailer");
  return { width, height, globalPalette, frames, loop };
}

function solid(w: number, h: number, rgb: [number, number, number]) {
  const data = new Float32Array(w * h * 3);
  for (let i = 0; i < w * h; i++) data.set(rgb, 3 * i);
  return { width: w, height: h, rgb: data };
}

Deno.test("an animated GIF has the right size, frame count, delays and loop", async () => {
  const path = await Deno.makeTempFile({ suffix: ".gif" });
  try {
    const frames = [solid(5, 3, [1, 0, 0]), solid(5, 3, [0, 1, 0]), solid(5, 3, [0, 0, 1])];
    await writeGif(path, frames, { fps: 4 });
    const gif = parseGif(await Deno.readFile(path));
    assert.deepEqual([gif.width, gif.height], [5, 3]);
    assert.equal(gif.frames.length, 3);
    assert.ok(gif.frames.every((f) => f.delayCs === 25 && !f.localPalette));
    assert.equal(gif.loop, 0);
    for (const c of [[255, 0, 0], [0, 255, 0], [0, 0, 255]]) {
      assert.ok(gif.globalPalette.some((p) => p.join() === c.join()), `palette lacks ${c}`);
    }
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("per-frame palettes put a local colour table on later frames", async () => {
  const path = await Deno.makeTempFile({ suffix: ".gif" });
  try {
    const frames = [solid(4, 4, [1, 1, 1]), solid(4, 4, [0, 0, 0])];
    await writeGif(path, frames, { fps: 100, palette: "per-frame", repeat: 3 });
    const gif = parseGif(await Deno.readFile(path));
    assert.deepEqual(gif.frames.map((f) => f.localPalette), [false, true]);
    // 100 fps is clamped to 2 cs, the shortest delay browsers honour.
    assert.ok(gif.frames.every((f) => f.delayCs === 2));
    assert.equal(gif.loop, 3);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("mismatched frames and bad options are refused naming the file", async () => {
  const path = await Deno.makeTempFile({ suffix: ".gif" });
  try {
    await assert.rejects(
      writeGif(path, [solid(4, 4, [0, 0, 0]), solid(4, 2, [0, 0, 0])]),
      /Cannot write GIF .*\.gif: frame 1 is 4x2 but frame 0 is 4x4/,
    );
    await assert.rejects(writeGif(path, []), /Cannot write GIF .*\.gif: no frames given/);
    await assert.rejects(
      writeGif(path, [solid(1, 1, [0, 0, 0])], { fps: 0 }),
      /fps 0 is not a positive number/,
    );
  } finally {
    await Deno.remove(path);
  }
});
