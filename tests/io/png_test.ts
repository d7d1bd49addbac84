import assert from "assert";
import { encode } from "fast-png";
import { readImage, writePng } from "../../io/png.ts";

async function tempPath(): Promise<string> {
  return await Deno.makeTempFile({ prefix: "png_test_", suffix: ".png" });
}

Deno.test("RGB floats round trip through PNG as rounded bytes", async () => {
  const path = await tempPath();
  try {
    const rgb = new Float32Array([
      0,
      0.5,
      1,
      1.5,
      -1,
      NaN,
      0.2,
      0.4,
      0.6,
      1,
      1,
      1,
      0,
      0,
      0,
      0.1,
      0.9,
      0.3,
    ]);
    await writePng(path, { width: 3, height: 2, rgb });
    const img = await readImage(path);
    assert.deepEqual([img.width, img.height, img.channels], [3, 2, 3]);
    assert.deepEqual(
      Array.from(img.data),
      Array.from(rgb, (v) => v > 0 ? Math.round(Math.min(v, 1) * 255) : 0),
    );
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("RGBA bytes round trip exactly and channels can be forced", async () => {
  const path = await tempPath();
  try {
    const rgba = new Uint8Array([1, 2, 3, 4, 250, 251, 252, 253]);
    await writePng(path, { width: 1, height: 2, rgba });
    const img = await readImage(path);
    assert.equal(img.channels, 4);
    assert.deepEqual(img.data, rgba);
    const rgb = await readImage(path, { channels: 3 });
    assert.deepEqual(Array.from(rgb.data), [1, 2, 3, 250, 251, 252]);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("grayscale, 16-bit and 1-bit files are read as 8-bit RGB", async () => {
  const path = await tempPath();
  try {
    await Deno.writeFile(
      path,
      encode({ width: 2, height: 1, data: new Uint8Array([0, 200]), channels: 1, depth: 8 }),
    );
    assert.deepEqual(Array.from((await readImage(path)).data), [0, 0, 0, 200, 200, 200]);
    await Deno.writeFile(
      path,
      encode({
        width: 1,
        height: 1,
        data: new Uint16Array([65535, 257, 0]),
        channels: 3,
        depth: 16,
      }),
    );
    assert.deepEqual(Array.from((await readImage(path)).data), [255, 1, 0]);
    await Deno.writeFile(
      path,
      encode({ width: 3, height: 1, data: new Uint8Array([0b10100000]), channels: 1, depth: 1 }),
    );
    assert.deepEqual(Array.from((await readImage(path)).data), [
      255,
      255,
      255,
      0,
      0,
      0,
      255,
      255,
      255,
    ]);
    const ga = await readImage(path, { channels: 4 });
    assert.deepEqual(Array.from(ga.data.subarray(0, 4)), [255, 255, 255, 255]);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("errors name the file", async () => {
  const path = await tempPath();
  try {
    await assert.rejects(
      writePng(path, { width: 2, height: 2, rgb: new Float32Array(11) }),
      /^Error: Cannot write image .*png_test_.*\.png: 2x2 RGB needs 12 values but got 11$/,
    );
    await Deno.writeTextFile(path, "not a png");
    await assert.rejects(readImage(path), /Cannot read image .*\.png: not a PNG file/);
    await assert.rejects(readImage(`${path}.missing`), /Cannot read image .*\.png\.missing: /);
    const good = encode({ width: 4, height: 4, data: new Uint8Array(48), channels: 3, depth: 8 });
    await Deno.writeFile(path, good.subarray(0, 30));
    await assert.rejects(readImage(path), /Cannot read image .*\.png: /);
  } finally {
    await Deno.remove(path);
  }
});
