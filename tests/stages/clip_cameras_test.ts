import assert from "assert";
import { cameraCentre, orbitCamera, type OrbitPose, REFERENCE_POSE } from "../../kernels/camera.ts";
import {
  cameraAngleToReference,
  referenceOffsets,
  sampleClipCameras,
  wrapAzimuthDeg,
} from "../../stages/clip_cameras.ts";
import { RngStream } from "../../stages/rng_stream.ts";
import { sampleTrainingPose } from "../../stages/training_cameras.ts";

function close(a: number, b: number, eps = 1e-9, what = "") {
  assert.ok(Math.abs(a - b) <= eps, `${what} ${a} vs ${b}`);
}

Deno.test("about 90 % of clips move; sweeps stay within ±45° and ±90° and are linear", () => {
  const n = 20_000;
  const rng = new RngStream(4242);
  let moving = 0;
  let absTheta = 0;
  let absPhi = 0;
  let leftPolarRange = 0;
  for (let j = 0; j < n; j++) {
    const clip = sampleClipCameras(rng);
    assert.equal(clip.poses.length, 16);
    const p0 = clip.poses[0]!;
    for (const p of clip.poses) {
      assert.equal(p.radius, 1.8);
      assert.equal(p.fovyDeg, 40);
    }
    if (!clip.moving) {
      assert.deepEqual(clip.sweepDeg, { theta: 0, phi: 0 });
      for (const p of clip.poses) assert.deepEqual(p, p0);
      continue;
    }
    moving++;
    const { theta, phi } = clip.sweepDeg;
    assert.ok(Math.abs(theta) <= 45 && Math.abs(phi) <= 90, `sweep ${theta}, ${phi}`);
    absTheta += Math.abs(theta);
    absPhi += Math.abs(phi);
    clip.poses.forEach((p, i) => {
      close(p.thetaDeg - p0.thetaDeg, (i / 16) * theta, 1e-9, `θ frame ${i}`);
      close(p.phiDeg - p0.phiDeg, (i / 16) * phi, 1e-9, `φ frame ${i}`);
      if (p.thetaDeg < 0 || p.thetaDeg > 180) leftPolarRange++;
    });
  }
  const rate = moving / n;
  // 5 standard errors of a Bernoulli(0.9) mean over n draws.
  assert.ok(Math.abs(rate - 0.9) < 5 * Math.sqrt(0.09 / n), `moving rate ${rate}`);
  // |U(−a, a)| has mean a/2 and standard deviation a/√12.
  const tolMean = (a: number) => (5 * a) / Math.sqrt(12 * moving);
  assert.ok(Math.abs(absTheta / moving - 22.5) < tolMean(45), `E|Δθ| ${absTheta / moving}`);
  assert.ok(Math.abs(absPhi / moving - 45) < tolMean(90), `E|Δφ| ${absPhi / moving}`);
  // Unclamped: starts near the pole plus a negative sweep cross it.
  assert.ok(leftPolarRange > 0, "no frame left [0°, 180°]: the sweep looks clamped");
});

Deno.test("frame 0 is the drawn start, drawn after the moving coin as in the original", () => {
  for (let seed = 1; seed <= 200; seed++) {
    const rng = new RngStream(seed);
    const replay = new RngStream(0);
    replay.state = rng.state;
    const clip = sampleClipCameras(rng);
    const coin = replay.next();
    assert.equal(clip.moving, coin < 0.9);
    const start: OrbitPose = sampleTrainingPose(replay);
    assert.deepEqual(clip.poses[0], start);
    if (clip.moving) {
      assert.equal(clip.sweepDeg.theta, replay.uniform(-45, 45));
      assert.equal(clip.sweepDeg.phi, replay.uniform(-90, 90));
    }
    // Both streams consumed the same draws.
    assert.equal(replay.state, rng.state);
  }
});

Deno.test("rate 0 and 1 give static and moving clips; frames and rate are validated", () => {
  const rng = new RngStream(3);
  for (let j = 0; j < 100; j++) {
    assert.equal(sampleClipCameras(rng, { dynamicCamRate: 0 }).moving, false);
    assert.equal(sampleClipCameras(rng, { dynamicCamRate: 1 }).moving, true);
  }
  assert.equal(sampleClipCameras(rng, { frames: 4 }).poses.length, 4);
  assert.throws(
    () => sampleClipCameras(rng, { dynamicCamRate: 1.2 }),
    /Invalid option dynamicCamRate: expected a finite number >= 0 and <= 1, got 1.2/,
  );
  assert.throws(
    () => sampleClipCameras(rng, { frames: 0 }),
    /Invalid option frames: expected an integer >= 1, got 0/,
  );
});

Deno.test("azimuths wrap into (−180°, 180°] as the original's +360/−360 does", () => {
  const cases: [number, number][] = [
    [0, 0],
    [180, 180],
    [-180, 180],
    [181, -179],
    [359, -1],
    [360, 0],
    [720, 0],
    [-540, 180],
    [-190, 170],
    [90.5, 90.5],
  ];
  for (const [phi, want] of cases) close(wrapAzimuthDeg(phi), want, 1e-9, `wrap(${phi})`);
  for (let phi = -1000; phi <= 1000; phi += 7.25) {
    const w = wrapAzimuthDeg(phi);
    assert.ok(w > -180 && w <= 180, `wrap(${phi}) = ${w}`);
    const turns = (w - phi) / 360;
    close(turns, Math.round(turns), 1e-9, `wrap(${phi}) is a multiple of 360° away`);
  }
});

Deno.test("reference offsets are (θ − 90°, wrapped φ, r − 1.8)", () => {
  assert.deepEqual(referenceOffsets(REFERENCE_POSE), { polarDeg: 0, azimuthDeg: 0, radius: 0 });
  const o = referenceOffsets({ radius: 2.3, thetaDeg: 45, phiDeg: 350, fovyDeg: 40 });
  close(o.polarDeg, -45);
  close(o.azimuthDeg, -10);
  close(o.radius, 0.5);
  assert.equal(referenceOffsets({ ...REFERENCE_POSE, phiDeg: -180 }).azimuthDeg, 180);
  assert.throws(
    () => referenceOffsets({ ...REFERENCE_POSE, thetaDeg: NaN }),
    /Invalid option thetaDeg: expected a finite number, got NaN/,
  );
});

Deno.test("angle to the reference: 0 at it, 180 opposite, and the angle between centres", () => {
  close(cameraAngleToReference(REFERENCE_POSE), 0, 1e-6);
  close(cameraAngleToReference({ ...REFERENCE_POSE, phiDeg: 180 }), 180, 1e-6);
  close(cameraAngleToReference({ ...REFERENCE_POSE, phiDeg: -90 }), 90, 1e-9);
  close(cameraAngleToReference({ ...REFERENCE_POSE, thetaDeg: 0 }), 90, 1e-9);
  close(cameraAngleToReference({ ...REFERENCE_POSE, thetaDeg: 180 }), 90, 1e-9);
  close(cameraAngleToReference({ ...REFERENCE_POSE, thetaDeg: 60, radius: 5 }), 30, 1e-9);
  // Against the angle between the orbit cameras' centres, for random and swept poses.
  const rng = new RngStream(8);
  const ref = cameraCentre(orbitCamera(REFERENCE_POSE, { width: 1, height: 1 }));
  for (let j = 0; j < 300; j++) {
    const clip = sampleClipCameras(rng);
    const pose = clip.poses[j % 16]!;
    const c = cameraCentre(orbitCamera(pose, { width: 1, height: 1 }));
    const cos = (c[0] * ref[0] + c[1] * ref[1] + c[2] * ref[2]) /
      (Math.hypot(...c) * Math.hypot(...ref));
    const want = (Math.acos(Math.min(1, Math.max(-1, cos))) * 180) / Math.PI;
    close(cameraAngleToReference(pose), want, 1e-6, `pose ${JSON.stringify(pose)}`);
  }
});
