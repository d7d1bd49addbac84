import assert from "assert";
import {
  readSafetensors,
  readSafetensorsHeader,
  type Tensor,
  type TensorData,
  writeSafetensors,
} from "../../io/safetensors.ts";
import { writeFileAtomic } from "../../io/atomic_write.ts";

/** Elements of any tensor as a plain array, for deepEqual. */
const vals = (d: TensorData) => Array.from(d as ArrayLike<number | bigint>);

/** A fresh directory per test, removed afterwards. */
async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "safetensors_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A file laid out by hand from the spec: u64 LE length, header, data. */
function handBuilt(header: string, data: number[], opts: { length?: number } = {}): Uint8Array {
  const json = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + json.length + data.length);
  const n = opts.length ?? json.length;
  // Little-endian u64, written byte by byte rather than with DataView.
  for (let i = 0; i < 8; i++) out[i] = Math.floor(n / 2 ** (8 * i)) % 256;
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

async function rejectsWith(path: string, bytes: Uint8Array, pattern: RegExp): Promise<void> {
  await Deno.writeFile(path, bytes);
  await assert.rejects(readSafetensors(path), (err: Error) => {
    assert.match(err.message, new RegExp(`^Cannot read checkpoint ${path}: `));
    assert.match(err.message, pattern);
    return true;
  });
}

Deno.test("round trip of every integer and float dtype with metadata", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/ckpt.safetensors`;
    const tensors: Record<string, Tensor> = {
      "grid.0": { dtype: "F32", shape: [2, 3], data: new Float32Array([1, -2, 3.5, 1e-20, 7, 0]) },
      half: { dtype: "F16", shape: [4], data: new Float32Array([0.5, -1.25, 2048, 0]) },
      idx: { dtype: "I32", shape: [3], data: new Int32Array([-1, 0, 2147483647]) },
      counts: { dtype: "U32", shape: [1, 2], data: new Uint32Array([0, 4294967295]) },
      step: { dtype: "I64", shape: [], data: new BigInt64Array([123456789012345n]) },
      f64: { dtype: "F64", shape: [1], data: new Float64Array([Math.PI]) },
      bytes: { dtype: "U8", shape: [3], data: new Uint8Array([0, 128, 255]) },
      mask: { dtype: "BOOL", shape: [2], data: new Uint8Array([1, 0]) },
      bf: { dtype: "BF16", shape: [2], data: new Float32Array([1.5, -3]) },
      empty: { dtype: "F32", shape: [0, 4], data: new Float32Array(0) },
    };
    const metadata = { stage: "static", iteration: "500" };
    await writeSafetensors(path, tensors, { metadata });
    const back = await readSafetensors(path);
    assert.deepEqual(back.metadata, metadata);
    assert.deepEqual(Object.keys(back.tensors).sort(), Object.keys(tensors).sort());
    for (const [name, t] of Object.entries(tensors)) {
      const got = back.tensors[name]!;
      assert.equal(got.dtype, t.dtype, name);
      assert.deepEqual(got.shape, t.shape, name);
      assert.deepEqual(vals(got.data), vals(t.data), name);
    }
    assert.ok(back.tensors.half!.data instanceof Float32Array);
  });
});

Deno.test("F16 rounds to nearest even, overflows to infinity, and reads back as bits", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/h.safetensors`;
    const values = new Float32Array([1 / 3, 65504, 65520, -1e-8, 6e-5, NaN]);
    await writeSafetensors(path, { h: { dtype: "F16", shape: [6], data: values } });
    const f = (await readSafetensors(path)).tensors.h!.data;
    const expected = Array.from(values, (v) => Math.f16round(v));
    assert.deepEqual(vals(f), expected);
    assert.equal(f[2], Infinity);
    const bits = (await readSafetensors(path, { half: "bits" })).tensors.h!.data;
    assert.ok(bits instanceof Uint16Array);
    assert.equal(bits[1], 0x7bff); // largest finite f16
    assert.equal(bits[2], 0x7c00); // +inf
    // Raw bits go back in unchanged.
    await writeSafetensors(path, {
      h: { dtype: "F16", shape: [2], data: new Uint16Array([0x3c00, 0xc000]) },
    });
    assert.deepEqual(vals((await readSafetensors(path)).tensors.h!.data), [1, -2]);
  });
});

Deno.test("writer output matches a file built by hand from the spec, byte for byte", async () => {
  await withDir(async (dir) => {
    // Writer layout: __metadata__ first, then tensors by element size (desc) then name.
    const header = '{"__metadata__":{"k":"v"},' +
      '"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
      '"i":{"dtype":"I16","shape":[3],"data_offsets":[8,14]}}';
    const padded = header + " ".repeat((8 - (header.length % 8)) % 8);
    assert.equal(padded.length % 8, 0);
    const data = [
      ...[0x00, 0x00, 0x80, 0x3f], // 1.0f
      ...[0x00, 0x00, 0x00, 0xc0], // -2.0f
      ...[0x01, 0x00], // 1
      ...[0xff, 0xff], // -1
      ...[0x00, 0x01], // 256
    ];
    const expected = handBuilt(padded, data);
    const path = `${dir}/exact.safetensors`;
    await writeSafetensors(path, {
      i: { dtype: "I16", shape: [3], data: new Int16Array([1, -1, 256]) },
      w: { dtype: "F32", shape: [2], data: new Float32Array([1, -2]) },
    }, { metadata: { k: "v" } });
    assert.deepEqual(await Deno.readFile(path), expected);

    // The reader accepts the hand-built bytes, including an unpadded header.
    const hand = `${dir}/hand.safetensors`;
    await Deno.writeFile(hand, handBuilt(header, data));
    const back = await readSafetensors(hand);
    assert.deepEqual(vals(back.tensors.w!.data), [1, -2]);
    assert.deepEqual(vals(back.tensors.i!.data), [1, -1, 256]);
    assert.deepEqual(back.metadata, { k: "v" });
  });
});

Deno.test("the header alone is read without touching multi-gigabyte data", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/big.safetensors`;
    const big = 700_000_000; // F32 elements: 2.8 GB
    const header = JSON.stringify({
      big: { dtype: "F32", shape: [big], data_offsets: [0, big * 4] },
      tiny: { dtype: "I32", shape: [2], data_offsets: [big * 4, big * 4 + 8] },
    });
    const bytes = handBuilt(header, []);
    await Deno.writeFile(path, bytes);
    // A sparse extension: the file is 2.8 GB long but holds almost no blocks.
    await Deno.truncate(path, bytes.length + big * 4 + 8);
    const f = await Deno.open(path, { write: true });
    await f.seek(bytes.length + big * 4, Deno.SeekMode.Start);
    await f.write(new Uint8Array([7, 0, 0, 0, 9, 0, 0, 0]));
    f.close();
    const h = await readSafetensorsHeader(path);
    assert.equal(h.fileSize, bytes.length + big * 4 + 8);
    assert.deepEqual(h.tensors.tiny, {
      dtype: "I32",
      shape: [2],
      dataOffsets: [big * 4, big * 4 + 8],
    });
    const { tensors } = await readSafetensors(path, { names: ["tiny"] });
    assert.deepEqual(Object.keys(tensors), ["tiny"]);
    assert.deepEqual(vals(tensors.tiny!.data), [7, 9]);
  });
});

Deno.test("every malformed file is refused with the file, tensor and expectation named", async () => {
  await withDir(async (dir) => {
    const p = `${dir}/bad.safetensors`;
    const t = (dtype: string, shape: unknown, offsets: unknown) =>
      JSON.stringify({ dtype, shape, data_offsets: offsets });
    await rejectsWith(p, new Uint8Array(5), /the file is 5 bytes, too short/);
    await rejectsWith(
      p,
      handBuilt("{}", [], { length: 2 ** 40 }),
      /header length 1099511627776 is over/,
    );
    await rejectsWith(
      p,
      handBuilt("{}", [], { length: 50 }),
      /header length 50 runs past the end of the file \(10 bytes\)/,
    );
    await rejectsWith(p, handBuilt("{", []), /header length 1 is too small/);
    await rejectsWith(p, handBuilt("[1, 2]", []), /does not start with "\{"/);
    await rejectsWith(p, handBuilt('{"a": }', []), /not valid UTF-8 JSON/);
    await rejectsWith(
      p,
      handBuilt(`{"x":${t("F128", [1], [0, 16])}}`, new Array(16).fill(0)),
      /tensor x has unknown dtype "F128"; expected one of F64, F32/,
    );
    await rejectsWith(
      p,
      handBuilt(`{"x":${t("F8_E4M3", [1], [0, 1])}}`, [0]),
      /tensor x has unsupported dtype "F8_E4M3"/,
    );
    await rejectsWith(
      p,
      handBuilt(`{"x":${t("F32", [-1], [0, 4])}}`, [0, 0, 0, 0]),
      /tensor x has shape \[-1\]; expected an array of non-negative integers/,
    );
    await rejectsWith(
      p,
      handBuilt(`{"x":${t("F32", [1], [4, 0])}}`, [0, 0, 0, 0]),
      /tensor x has data_offsets \[4,0\]; expected \[begin, end\]/,
    );
    await rejectsWith(p, handBuilt('{"x":3}', []), /tensor x entry is not an object/);
    await rejectsWith(
      p,
      handBuilt('{"__metadata__":{"a":1}}', []),
      /__metadata__ value for a is 1; expected a string/,
    );

    // The example from the brief: an 80-byte file whose tensor ends at byte 90.
    const h90 = `{"grid.0":${t("U8", [22], [0, 22])}}`;
    assert.equal(8 + h90.length + 22, 90);
    const past = handBuilt(h90, new Array(80 - 8 - h90.length).fill(0));
    assert.equal(past.length, 80);
    await rejectsWith(
      p,
      past,
      /: tensor grid\.0 ends at byte 90, past the end of the file \(80 bytes\)$/,
    );

    await rejectsWith(
      p,
      handBuilt(`{"x":${t("F32", [2, 3], [0, 20])}}`, new Array(20).fill(0)),
      /tensor x has dtype F32 and shape \[2, 3\], which needs 24 bytes, but its data_offsets \[0, 20\] span 20 bytes/,
    );
    await rejectsWith(
      p,
      handBuilt(
        `{"a":${t("F32", [2], [0, 8])},"b":${t("F32", [1], [4, 8])}}`,
        new Array(8).fill(0),
      ),
      /tensor b starts at data byte 4, inside tensor a \(which ends at 8\); tensors must not overlap/,
    );
    await rejectsWith(
      p,
      handBuilt(
        `{"a":${t("F32", [1], [0, 4])},"b":${t("F32", [1], [8, 12])}}`,
        new Array(12).fill(0),
      ),
      /tensor b starts at data byte 8 but tensor a ends at 4; tensors must be contiguous/,
    );
    await rejectsWith(
      p,
      handBuilt(`{"a":${t("F32", [1], [4, 8])}}`, new Array(8).fill(0)),
      /the first tensor a starts at data byte 4; expected 0/,
    );
    await rejectsWith(
      p,
      handBuilt(`{"a":${t("F32", [1], [0, 4])}}`, new Array(6).fill(0)),
      /the tensors end at data byte 4 but the data section holds 6 bytes; 2 trailing bytes/,
    );

    await assert.rejects(
      readSafetensors(`${dir}/missing.safetensors`),
      /^Error: Cannot read checkpoint .*missing\.safetensors: /,
    );
    await writeSafetensors(p, { a: { dtype: "U8", shape: [1], data: new Uint8Array(1) } });
    await assert.rejects(
      readSafetensors(p, { names: ["b"] }),
      /tensor b is not in the file \(it has a\)/,
    );
  });
});

Deno.test("bad tensors are refused before anything is written", async () => {
  await withDir(async (dir) => {
    const p = `${dir}/w.safetensors`;
    const bad = async (tensors: Record<string, Tensor>, pattern: RegExp) => {
      await assert.rejects(writeSafetensors(p, tensors), (err: Error) => {
        assert.match(err.message, new RegExp(`^Cannot write checkpoint ${p}: `));
        assert.match(err.message, pattern);
        return true;
      });
    };
    await bad(
      { x: { dtype: "F32", shape: [2], data: new Float64Array(2) } },
      /tensor x has dtype F32 but its data is a Float64Array; expected Float32Array/,
    );
    await bad(
      { x: { dtype: "I32", shape: [2, 2], data: new Int32Array(3) } },
      /tensor x has shape \[2, 2\] \(4 elements\) but its data holds 3/,
    );
    await bad({ __metadata__: { dtype: "U8", shape: [0], data: new Uint8Array(0) } }, /reserved/);
    await bad({ x: { dtype: "U8", shape: [1.5], data: new Uint8Array(1) } }, /shape \[1.5\]/);
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  });
});

Deno.test("writes are atomic: no temp file remains and a failed write keeps the old file", async () => {
  await withDir(async (dir) => {
    const p = `${dir}/ckpt.safetensors`;
    await writeSafetensors(p, { a: { dtype: "F32", shape: [1], data: new Float32Array([1]) } });
    await writeSafetensors(p, { a: { dtype: "F32", shape: [1], data: new Float32Array([2]) } });
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["ckpt.safetensors"]);
    const before = await Deno.readFile(p);
    // A crash mid-write, simulated by a failing producer after the first chunk.
    await assert.rejects(
      writeFileAtomic(p, async (write) => {
        await write(new Uint8Array([1, 2, 3]));
        throw new Error("disk on fire");
      }),
      /disk on fire/,
    );
    assert.deepEqual(await Deno.readFile(p), before);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["ckpt.safetensors"]);
    assert.deepEqual(vals((await readSafetensors(p)).tensors.a!.data), [2]);
    // A directory that does not exist: an error naming the checkpoint, nothing left behind.
    await assert.rejects(
      writeSafetensors(`${dir}/nope/x.safetensors`, {}),
      /Cannot write checkpoint .*nope\/x\.safetensors: /,
    );
  });
});
