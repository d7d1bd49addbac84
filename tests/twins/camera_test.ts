import assert from "assert";
import {
  cameraCentre,
  cameraDeterminant,
  orbitCamera,
  pixelDirection,
  REFERENCE_POSE,
} from "../../kernels/camera.ts";
import { generateRaysTwin } from "../../kernels/rays_twin.ts";

Deno.test("reference pose: f = +z, mirrored basis, focal 175.8 at 128²", () => {
  const cam = orbitCamera(REFERENCE_POSE, { width: 128, height: 128 });
  const m = cam.c2w;
  // Columns [right | up | f]: right = f × y = −x, up = +y, f = +z.
  const expected = [-1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1.8];
  expected.forEach((v, k) => assert.ok(Math.abs(m[k]! - v) < 1e-12, `c2w[${k}] = ${m[k]}`));
  assert.ok(Math.abs(cameraDeterminant(cam) + 1) < 1e-12);
  assert.equal(cam.focal.toFixed(1), "175.8");
  assert.equal(cam.cx, 64);
  assert.equal(cam.cy, 64);
  assert.equal(orbitCamera(REFERENCE_POSE, { width: 192, height: 192 }).focal.toFixed(1), "263.8");
  assert.equal(orbitCamera(REFERENCE_POSE, { width: 400, height: 400 }).focal.toFixed(1), "549.5");
});

Deno.test("every orbit camera is a det −1 frame centred at radius r", () => {
  for (const [theta, phi] of [[30, 45], [120, -170], [90, 90], [60, 200]] as const) {
    const cam = orbitCamera({ radius: 2.5, thetaDeg: theta, phiDeg: phi, fovyDeg: 40 }, {
      width: 8,
      height: 8,
    });
    assert.ok(Math.abs(cameraDeterminant(cam) + 1) < 1e-12);
    const c = cameraCentre(cam);
    assert.ok(Math.abs(Math.hypot(...c) - 2.5) < 1e-12);
    const t = theta * Math.PI / 180;
    const p = phi * Math.PI / 180;
    const want = [Math.sin(t) * Math.sin(p), Math.cos(t), Math.sin(t) * Math.cos(p)];
    want.forEach((v, a) => assert.ok(Math.abs(c[a]! - 2.5 * v) < 1e-12));
  }
});

Deno.test("the image-centre ray of any orbit camera points at the origin", () => {
  for (const [theta, phi] of [[90, 0], [45, 30], [135, -120]] as const) {
    const cam = orbitCamera({ radius: 1.8, thetaDeg: theta, phiDeg: phi, fovyDeg: 40 }, {
      width: 16,
      height: 16,
    });
    const d = pixelDirection(cam, { i: 7.5, j: 7.5 });
    const c = cameraCentre(cam);
    // Unnormalised: the centre ray has length 1 (d_cam = (0, 0, −1)) and o + r·d = 0.
    for (let a = 0; a < 3; a++) assert.ok(Math.abs(c[a]! + 1.8 * d[a]!) < 1e-12);
  }
  // The four pixels around the centre of the reference view are symmetric about −z.
  const cam = orbitCamera(REFERENCE_POSE, { width: 16, height: 16 });
  const rays = generateRaysTwin([cam]);
  const at = (i: number, j: number) =>
    rays.directions.subarray(3 * (j * 16 + i), 3 * (j * 16 + i) + 3);
  assert.ok(Math.abs(at(7, 7)[0]! + at(8, 8)[0]!) < 1e-12);
  assert.ok(Math.abs(at(7, 7)[1]! + at(8, 8)[1]!) < 1e-12);
  assert.equal(at(7, 7)[2], -1);
  // Mirror: a pixel right of centre (larger i) looks towards −x in world space.
  assert.ok(at(15, 8)[0]! < 0);
  // Rows go down the image: a larger j looks towards −y.
  assert.ok(at(8, 15)[1]! < 0);
});

Deno.test("validation names the field", () => {
  const size = { width: 8, height: 8 };
  assert.throws(() => orbitCamera({ ...REFERENCE_POSE, radius: NaN }, size), /radius/);
  assert.throws(() => orbitCamera({ ...REFERENCE_POSE, radius: 0 }, size), /radius/);
  assert.throws(() => orbitCamera({ ...REFERENCE_POSE, thetaDeg: Infinity }, size), /thetaDeg/);
  assert.throws(() => orbitCamera({ ...REFERENCE_POSE, fovyDeg: 180 }, size), /fovyDeg/);
  assert.throws(() => orbitCamera(REFERENCE_POSE, { width: 0, height: 8 }), /width/);
  assert.throws(() => orbitCamera(REFERENCE_POSE, { width: 8, height: 1.5 }), /height/);
});

Deno.test("the degenerate look-at at θ = 0 is not guarded (SPEC §9)", () => {
  const cam = orbitCamera({ ...REFERENCE_POSE, thetaDeg: 0 }, { width: 8, height: 8 });
  // safe_normalize keeps right and up at zero instead of NaN.
  assert.ok(Array.from(cam.c2w).every(Number.isFinite));
  assert.equal(cameraDeterminant(cam), 0);
});
