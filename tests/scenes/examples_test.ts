import assert from "assert";
import { decode } from "fast-png";
import { orbitCamera, REFERENCE_POSE } from "../../kernels/camera.ts";
import { renderCameraGroundTruth } from "../../scenes/ground_truth.ts";
import { loadScene, type Scene } from "../../scenes/scene_config.ts";
import { REFERENCE_SIZE, referencePngPath, referenceRgba } from "../../scenes/write_reference.ts";

const ROOT = new URL("../../examples/", import.meta.url).pathname;

async function exampleScenes(): Promise<Scene[]> {
  const paths: string[] = [];
  for await (const e of Deno.readDir(ROOT)) {
    if (e.isFile && e.name.endsWith(".yaml")) paths.push(`${ROOT}${e.name}`);
  }
  paths.sort();
  return await Promise.all(paths.map((p) => loadScene(p)));
}

const scenes = await exampleScenes();

Deno.test("at least three example scenes, covering rigid and non-rigid motion kinds", () => {
  assert.ok(scenes.length >= 3, `${scenes.length} scenes`);
  const kinds = new Set<string>();
  for (const s of scenes) {
    assert.ok(s.motionPrompt.split(" ").length >= 5, `${s.name}: the motion prompt is a sentence`);
    for (const p of s.primitives) for (const k of Object.keys(p.motion)) kinds.add(k);
  }
  for (const k of ["translate", "rotate", "scale", "wave", "bend"]) assert.ok(kinds.has(k), k);
});

Deno.test("examples render at t = 0, 0.5, 1 with content that changes over time", () => {
  const cam = orbitCamera(REFERENCE_POSE, { width: 64, height: 64 });
  for (const s of scenes) {
    const imgs = [0, 0.5, 1].map((time) => renderCameraGroundTruth(s, cam, { time }));
    for (const img of imgs) {
      const coverage = img.alpha.reduce((a, v) => a + v, 0) / img.alpha.length;
      assert.ok(coverage > 0.03 && coverage < 0.6, `${s.name}: coverage ${coverage}`);
    }
    for (const [a, b] of [[0, 1], [1, 2]] as const) {
      let changed = 0;
      for (let k = 0; k < imgs[a]!.rgb.length; k++) {
        if (Math.abs(imgs[a]!.rgb[k]! - imgs[b]!.rgb[k]!) > 0.1) changed++;
      }
      assert.ok(changed > 20, `${s.name}: frames ${a} and ${b} barely differ (${changed})`);
    }
  }
});

Deno.test("shipped reference PNGs match a fresh render", async () => {
  for (const s of scenes) {
    const png = decode(await Deno.readFile(referencePngPath(s.source)));
    assert.equal(png.width, REFERENCE_SIZE);
    assert.equal(png.height, REFERENCE_SIZE);
    assert.equal(png.channels, 4, `${s.name}: RGBA`);
    assert.equal(png.depth, 8);
    const fresh = referenceRgba(s);
    let worst = 0, coverage = 0;
    for (let k = 0; k < fresh.length; k++) {
      worst = Math.max(worst, Math.abs(fresh[k]! - png.data[k]!));
    }
    for (let k = 3; k < fresh.length; k += 4) coverage += fresh[k]! / 255;
    // Rounding to 8 bits may differ by one level across platforms' libm; anything more
    // means the PNG is stale: rerun scenes/write_reference.ts.
    assert.ok(worst <= 1, `${s.name}: PNG differs from a fresh render by ${worst} levels`);
    assert.ok(coverage > 0.03 * REFERENCE_SIZE ** 2, `${s.name}: nearly empty reference`);
  }
});
