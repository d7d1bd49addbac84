import assert from "assert";
import { type Camera, orbitCamera, REFERENCE_POSE } from "../../kernels/camera.ts";
import { seededRandom } from "../../kernels/random.ts";
import { renderCameraGroundTruth } from "../../scenes/ground_truth.ts";
import { loadScene } from "../../scenes/scene_config.ts";
import {
  createFrameOracle,
  createVideoOracle,
  createViewOracle,
  FIXED_VIEWS,
  resizeCamera,
  SceneTargets,
} from "../../priors/scene_oracles.ts";
import { MODELSCOPE_SDS, ZERO123_SDS } from "../../priors/sds_options.ts";
import { assertClose, GPU_TEST, testGpu } from "../contracts/_harness.ts";

const scene = await loadScene(
  new URL("../../examples/bouncing_ball.yaml", import.meta.url).pathname,
);
const W = 12, H = 12, P = W * H * 3;
const bg = [0.2, 0.5, 0.9] as const;
const cam = (phiDeg: number, size = W): Camera =>
  orbitCamera({ ...REFERENCE_POSE, thetaDeg: 70, phiDeg }, { width: size, height: size });
const item = (index: number, frames = 1) => ({
  index,
  firstFrame: index * frames,
  frames,
  width: W,
  height: H,
});

Deno.test("scene targets: sizes, and the view target is the ground truth at t = 0", () => {
  const targets = new SceneTargets(scene, { width: W, height: H });
  // A 48² camera is resized to the 12² target resolution.
  const c = { cameras: [cam(60, 48)], times: [0.5], background: bg };
  const view = targets.view(c, item(0));
  const truth = renderCameraGroundTruth(scene, cam(60), { time: 0, background: [...bg] });
  assertClose(view.cond[0]!, truth.rgb, { rtol: 1e-6, atol: 1e-7, label: "view target" });
  assert.equal(view.uncond.length, 1 + FIXED_VIEWS.length);
  assert.deepEqual(view.uncond[0], view.cond[0], "the cond target is in the uncond set");
  // Cached fixed views composited over a new background equal a direct render over it.
  const fixed = targets.fixedViews(bg)[2]!;
  const direct = renderCameraGroundTruth(
    scene,
    orbitCamera(FIXED_VIEWS[2]!, { width: W, height: H }),
    {
      time: 0,
      background: [...bg],
    },
  );
  assertClose(fixed, direct.rgb, { rtol: 1e-6, atol: 1e-6, label: "composited fixed view" });
  const image = targets.image(c, item(0));
  assert.equal(image.cond.length, FIXED_VIEWS.length);
  assert.equal(image.uncond.length, 2 * FIXED_VIEWS.length + 1);
  for (const t of [...image.cond, ...image.uncond, ...view.uncond]) assert.equal(t.length, P);
  // The background-only distractor and a colour-rotated view.
  assertClose(image.uncond[FIXED_VIEWS.length]!.slice(0, 3), bg);
  assertClose([image.uncond[FIXED_VIEWS.length + 1]![0]!], [image.cond[0]![1]!]);
});

Deno.test("scene targets: video clips and frames", () => {
  const targets = new SceneTargets(scene, { width: W, height: H });
  const frames = 4;
  const cameras = [0, 10, 20, 30].map((p) => cam(p));
  const times = [0.1, 0.3, 0.5, 0.7];
  const video = targets.video({ cameras, times, background: bg }, item(0, frames));
  assert.equal(video.cond.length, 1);
  assert.equal(video.uncond.length, 3);
  for (const t of video.uncond) assert.equal(t.length, frames * P);
  const f2 = renderCameraGroundTruth(scene, cameras[2]!, { time: 0.5, background: [...bg] });
  assertClose(video.cond[0]!.slice(2 * P, 3 * P), f2.rgb, {
    rtol: 1e-6,
    atol: 1e-7,
    label: "frame 2",
  });
  const frozen = renderCameraGroundTruth(scene, cameras[3]!, { time: 0.1, background: [...bg] });
  assertClose(video.uncond[1]!.slice(3 * P), frozen.rgb, {
    rtol: 1e-6,
    atol: 1e-7,
    label: "frozen",
  });
  const frame = targets.frame({ cameras, times, background: bg }, item(1));
  const truth = renderCameraGroundTruth(scene, cameras[1]!, { time: 0.3, background: [...bg] });
  assertClose(frame.cond[0]!, truth.rgb, { rtol: 1e-6, atol: 1e-7 });
  const later = renderCameraGroundTruth(scene, cameras[1]!, { time: 0.55, background: [...bg] });
  assertClose(frame.uncond[2]!, later.rgb, { rtol: 1e-6, atol: 1e-7 });
  assert.equal(resizeCamera(cameras[0]!, { width: W, height: H }), cameras[0]);
});

Deno.test(
  "scene oracles: ~0 gradient at low noise when the render is the target",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const lowNoise = [0.02, 0.05] as const;
    const view = await createViewOracle(gpu, scene, {
      width: W,
      height: H,
      sds: { ...ZERO123_SDS, timeRange: lowNoise },
    });
    const c = { cameras: [cam(120)], times: [0], background: bg };
    const truth = Float32Array.from(
      renderCameraGroundTruth(scene, cam(120), { time: 0, background: [...bg] }).rgb,
    );
    const run = async (pixels: Float32Array<ArrayBuffer>) => {
      const images = gpu.createBuffer(pixels), grad = gpu.createBuffer(4 * pixels.length);
      view.score({
        images,
        count: 1,
        width: W,
        height: H,
        grad,
        conditioning: c,
        random: seededRandom(5),
      });
      const g = new Float32Array(await gpu.read(grad));
      return Math.sqrt(g.reduce((s, v) => s + v * v, 0));
    };
    const atTarget = await run(truth);
    const off = await run(truth.map((v, i) => Math.min(1, Math.max(0, v + 0.1 * Math.sin(i)))));
    assert.ok(atTarget < 1e-3 * off, `|g| at target ${atTarget}, off target ${off}`);
    view.destroy();
  },
);

Deno.test("scene oracles: video and frame priors score their items", GPU_TEST, async () => {
  const gpu = await testGpu();
  const frames = 4;
  const video = await createVideoOracle(gpu, scene, {
    width: W,
    height: H,
    frames,
    sds: MODELSCOPE_SDS,
  });
  const frame = await createFrameOracle(gpu, scene, { width: W, height: H });
  const cameras = [0, 10, 20, 30].map((p) => cam(p));
  const c = { cameras, times: [0, 0.2, 0.4, 0.6], background: bg };
  const images = gpu.createBuffer(new Float32Array(frames * P).fill(0.5));
  const grad = gpu.createBuffer(4 * frames * P);
  video.score({
    images,
    count: frames,
    width: W,
    height: H,
    grad,
    conditioning: c,
    random: seededRandom(1),
  });
  frame.score({
    images,
    count: 2,
    width: W,
    height: H,
    grad,
    conditioning: c,
    random: seededRandom(1),
  });
  const loss = [
    new Float32Array(await gpu.read(video.loss))[0]!,
    new Float32Array(await gpu.read(frame.loss))[0]!,
  ];
  assert.ok(loss.every((l) => Number.isFinite(l) && l > 0), `losses ${loss}`);
  assert.equal(video.timesteps.length, 1, "one t per clip");
  assert.equal(frame.timesteps.length, 2);
  video.destroy();
  frame.destroy();
});
