import assert from "assert";
import { gridLayout, resolveGridConfig } from "../kernels/grid_config.ts";
import { resolveMlpConfig } from "../kernels/mlp.ts";
import { resolveAdamHyper } from "../kernels/adam.ts";

Deno.test("bad grid options name the field and the allowed range", () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ levels: 0 }, /Invalid option grid\.levels: expected an integer in \[1, 32\], got 0/],
    [
      { baseResolution: 1 },
      /Invalid option grid\.baseResolution: expected an integer in \[2, 65536\], got 1/,
    ],
    [{ keyframes: 0 }, /Invalid option grid\.keyframes: expected an integer in \[1, 1024\], got 0/],
    [
      { finestResolution: NaN },
      /Invalid option grid\.finestResolution: expected a finite number >= 2, got NaN/,
    ],
    [{ finestResolution: Infinity }, /grid\.finestResolution: expected a finite number/],
    [
      { indexMode: "morton" },
      /Invalid option grid\.indexMode: expected one of tiled, hash, got "morton"/,
    ],
    [
      { log2TableSize: 2.5 },
      /Invalid option grid\.log2TableSize: expected an integer in \[4, 24\], got 2\.5/,
    ],
    [{ levelz: 3 }, /Unknown grid option levelz/],
  ];
  for (const [partial, message] of cases) {
    assert.throws(() => resolveGridConfig(partial), message);
  }
});

Deno.test("a keyframe too large for one binding is reported with the fix", () => {
  assert.throws(
    () => gridLayout({}, { maxBindingBytes: 1024 }),
    /one keyframe needs 7227904 bytes, over the device's storage binding limit of 1024 bytes/,
  );
  assert.throws(
    () => gridLayout({ keyframes: 64 }, { maxBindingBytes: 8 * 2 ** 20 }),
    /64 keyframes of 7227904 bytes need 64 storage bindings/,
  );
});

Deno.test("the default layout matches SPEC.md §2.1 and chunks 64 keyframes into 128 MiB bindings", () => {
  const layout = gridLayout({ keyframes: 64 }, { maxBindingBytes: 2 ** 27 });
  assert.deepEqual(
    layout.levels.map((l) => l.resolution),
    [16, 23, 31, 43, 59, 81, 112, 154, 213, 295, 407, 562, 777, 1073, 1483, 2048],
  );
  assert.equal(layout.entries, 903480);
  assert.equal(layout.keyframeStride % 64, 0);
  assert.equal(layout.keyframesPerChunk, 18);
  assert.equal(layout.chunks, 4);
});

Deno.test("bad MLP and Adam options name the field", () => {
  assert.throws(
    () => resolveMlpConfig({ hidden: 0 }),
    /mlp\.hidden: expected an integer in \[1, 256\], got 0/,
  );
  assert.throws(() => resolveAdamHyper({ eps: NaN }), /eps/);
  assert.throws(() => resolveAdamHyper({ beta1: 1 }), /beta1/);
});
