import assert from "assert";
import { hasFfmpeg, writeMp4 } from "../../io/mp4.ts";

const FFMPEG = await hasFfmpeg();
if (!FFMPEG) {
  console.warn(
    "SKIPPING MP4 encode tests: no usable ffmpeg on this machine (apt-get install ffmpeg)",
  );
}

async function ffprobe(path: string): Promise<Record<string, string> | null> {
  try {
    const out = await new Deno.Command("ffprobe", {
      args: [
        ...["-v", "error", "-select_streams", "v:0", "-count_frames"],
        ...["-show_entries", "stream=codec_name,width,height,pix_fmt,nb_read_frames"],
        ...["-of", "default=noprint_wrappers=1", path],
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
    const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
    return Object.fromEntries(lines.map((l) => l.split("=") as [string, string]));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}

function gradientFrames(w: number, h: number, n: number) {
  return Array.from({ length: n }, (_, t) => {
    const rgb = new Float32Array(w * h * 3);
    for (let i = 0; i < w * h; i++) rgb.set([(i % w) / w, t / n, 0.5], 3 * i);
    return { width: w, height: h, rgb };
  });
}

Deno.test({
  name: "an MP4 from odd-sized frames is a real, padded, yuv420p video",
  ignore: !FFMPEG,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const path = `${dir}/clip.mp4`;
      const result = await writeMp4(path, gradientFrames(33, 17, 5), { fps: 10 });
      assert.ok(result.written);
      assert.deepEqual([result.width, result.height], [34, 18]);
      const bytes = await Deno.readFile(path);
      // ISO BMFF: the first box is 'ftyp' (size in bytes 0-3, type in 4-7).
      assert.equal(new TextDecoder().decode(bytes.subarray(4, 8)), "ftyp");
      assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["clip.mp4"]);
      const info = await ffprobe(path);
      if (info === null) {
        console.warn("ffprobe missing: checked only the ftyp box");
        return;
      }
      assert.equal(info.codec_name, result.codec === "libx264" ? "h264" : "mpeg4");
      assert.deepEqual([info.width, info.height, info.pix_fmt], ["34", "18", "yuv420p"]);
      assert.equal(info.nb_read_frames, "5");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "frames may stream from an async source; a bad frame fails cleanly",
  ignore: !FFMPEG,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const path = `${dir}/clip.mp4`;
      const frames = (async function* () {
        yield* gradientFrames(16, 16, 3);
      })();
      assert.ok((await writeMp4(path, frames, { fps: 24 })).written);
      const bad = [...gradientFrames(16, 16, 2), ...gradientFrames(8, 8, 1)];
      await assert.rejects(
        writeMp4(`${dir}/bad.mp4`, bad),
        /Cannot write video .*bad\.mp4: frame 2 is 8x8 but frame 0 is 16x16/,
      );
      assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["clip.mp4"]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("without ffmpeg nothing is written and the reason says so", async () => {
  const ffmpeg = "/nonexistent/ffmpeg";
  assert.equal(await hasFfmpeg({ ffmpeg }), false);
  const dir = await Deno.makeTempDir();
  const path = `${dir}/x.mp4`;
  const result = await writeMp4(path, gradientFrames(4, 4, 1), { ffmpeg });
  assert.equal(result.written, false);
  if (!result.written) {
    assert.match(result.reason, /MP4 export skipped for .*x\.mp4: no usable ffmpeg/);
  }
  await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
  await Deno.remove(dir);
});
