import assert from "assert";
import { orbitCamera, REFERENCE_POSE } from "../../kernels/camera.ts";
import { seededRandom } from "../../kernels/random.ts";
import { renderCameraGroundTruth } from "../../scenes/ground_truth.ts";
import { materialColor } from "../../scenes/material_color.ts";
import {
  conservativeDistance,
  interpolateKeys,
  posePrimitive,
  warpToRest,
  warpToWorld,
} from "../../scenes/motion_warp.ts";
import { parseScene } from "../../scenes/scene_config.ts";

function one(primitive: string) {
  return parseScene(`name: m\nmotion_prompt: It moves.\nprimitives:\n  - ${primitive}\n`)
    .primitives[0]!;
}

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-9): void {
  for (let i = 0; i < 3; i++) {
    assert.ok(Math.abs(a[i]! - b[i]!) < tol, `${[...Array.from(a)]} vs ${[...Array.from(b)]}`);
  }
}

Deno.test("translate keyframes interpolate linearly and hold outside their range", () => {
  const keys = [{ t: 0.2, value: [0, 0, 0] as const }, { t: 0.6, value: [0.4, -0.2, 0] as const }, {
    t: 1,
    value: [0.4, 0.2, 0] as const,
  }];
  close(interpolateKeys(keys, 0), [0, 0, 0]);
  close(interpolateKeys(keys, 0.3), [0.1, -0.05, 0]);
  close(interpolateKeys(keys, 0.8), [0.4, 0, 0]);
  const ball = one(
    "{ type: sphere, radius: 0.1, color: [1, 0, 0], motion: { translate: [{ t: 0, value: [-0.3, 0, 0] }, { t: 1, value: [0.3, 0, 0] }] } }",
  );
  for (const t of [0, 0.25, 0.5, 1]) {
    const centre = new Float64Array([0, 0, 0]);
    warpToWorld(posePrimitive(ball, { time: t }), centre);
    close(centre, [-0.3 + 0.6 * t, 0, 0]);
    // The renderer's view agrees: the ball's silhouette centre moves (mirrored: −x is right).
    const W = 48;
    const img = renderCameraGroundTruth(
      parseScene(
        "name: m\nmotion_prompt: It moves.\nprimitives:\n  - { type: sphere, radius: 0.1, color: [1, 0, 0], motion: { translate: [{ t: 0, value: [-0.3, 0, 0] }, { t: 1, value: [0.3, 0, 0] }] } }",
      ),
      orbitCamera(REFERENCE_POSE, { width: W, height: W }),
      { time: t },
    );
    let sum = 0, n = 0;
    img.alpha.forEach((a, k) => {
      sum += a * (k % W + 0.5);
      n += a;
    });
    const expected = W / 2 - (-0.3 + 0.6 * t) * (W / (2 * Math.tan(Math.PI / 9))) / 1.8;
    assert.ok(Math.abs(sum / n - expected) < 0.6, `t=${t}: ${sum / n} vs ${expected}`);
  }
});

Deno.test("rotate carries a textured point about its axis and pivot", () => {
  const top = one(
    "{ type: box, size: [0.4, 0.4, 0.4], center: [0.1, 0, 0], texture: { type: stripes, colors: [[1, 0, 0], [0, 0, 1]], scale: 2.5, axis: [1, 0, 0] }, motion: { rotate: { axis: [0, 1, 0], keys: [{ t: 0, angle: 0 }, { t: 1, angle: 180 }] } } }",
  );
  // The rest point (0.15, 0, 0) is red (stripe 0); at t = 1 it sits mirrored about the pivot.
  const rest = new Float64Array([0.15, 0, 0]);
  assert.deepEqual(materialColor(top.material, rest), [1, 0, 0]);
  const world = new Float64Array(rest);
  warpToWorld(posePrimitive(top, { time: 1 }), world);
  close(world, [0.1 - 0.15, 0, 0]);
  const halfway = new Float64Array(rest);
  warpToWorld(posePrimitive(top, { time: 0.5 }), halfway);
  close(halfway, [0.1, 0, -0.15]); // +90° about +y takes +x to −z
  // The world point (0.25, 0, 0) shows rest x = 0.15 (red) at t = 0 and, half a turn
  // later, rest x = −0.05 (blue).
  const probe = (t: number) => {
    const p = new Float64Array([0.25, 0, 0]);
    warpToRest(posePrimitive(top, { time: t }), p);
    return materialColor(top.material, p);
  };
  assert.deepEqual(probe(0), [1, 0, 0]);
  assert.deepEqual(probe(1), [0, 0, 1]);
});

Deno.test("scale squashes about its pivot", () => {
  const ball = one(
    "{ type: sphere, radius: 0.2, color: [1, 0, 0], motion: { scale: { pivot: [0, -0.2, 0], keys: [{ t: 0, value: 1 }, { t: 1, value: [1.5, 0.5, 1.5] }] } } }",
  );
  const posed = posePrimitive(ball, { time: 1 });
  const bottom = new Float64Array([0, -0.2, 0]), top = new Float64Array([0, 0.2, 0]);
  warpToWorld(posed, bottom);
  warpToWorld(posed, top);
  close(bottom, [0, -0.2, 0]);
  close(top, [0, 0, 0]);
  // The distance bound is exact along the squashed axis (factor = smallest scale).
  assert.ok(Math.abs(conservativeDistance(posed, new Float64Array([0, 0.3, 0])) - 0.3) < 1e-12);
});

Deno.test("wave displaces the surface sinusoidally over time, perpendicular to along", () => {
  const flag = one(
    "{ type: box, size: [0.6, 0.4, 0.02], texture: { type: checker, colors: [[1, 1, 0], [0, 0, 1]], scale: 5 }, motion: { wave: { amplitude: 0.05, wavelength: 0.4, frequency: 1, direction: [0, 0, 1], along: [1, 0, 0], origin: [-0.3, 0, 0], ramp: 0.2 } } }",
  );
  const rest = [0.2, 0.1, 0];
  const zs: number[] = [];
  for (const t of [0, 0.25, 0.5, 0.75]) {
    const p = new Float64Array(rest);
    warpToWorld(posePrimitive(flag, { time: t }), p);
    const s = 0.2 + 0.3; // distance from the origin along x, past the ramp
    const expected = 0.05 * Math.sin(2 * Math.PI * (s / 0.4 - t));
    close(p, [0.2, 0.1, expected], 1e-12);
    zs.push(p[2]!);
  }
  assert.ok(Math.max(...zs) - Math.min(...zs) > 0.05, "the wave must move the point");
  // At the origin the ramp pins the cloth.
  const pinned = new Float64Array([-0.3, 0, 0]);
  warpToWorld(posePrimitive(flag, { time: 0.3 }), pinned);
  close(pinned, [-0.3, 0, 0]);
});

Deno.test("bend puts the member on an arc and inverts exactly", () => {
  const stem = one(
    "{ type: cylinder, radius: 0.05, height: 0.6, center: [0, 0.3, 0], color: [0, 1, 0], motion: { bend: { axis: [0, 0, 1], along: [0, 1, 0], pivot: [0, 0, 0], length: 0.6, keys: [{ t: 0, angle: 0 }, { t: 1, angle: 60 }] } } }",
  );
  const posed = posePrimitive(stem, { time: 1 });
  // The tip (0.6 along the member) turns by 60°: an arc of radius ρ = 0.6/(π/3).
  const tip = new Float64Array([0, 0.3, 0]); // local: top of the cylinder
  warpToWorld(posed, tip);
  const rho = 0.6 / (Math.PI / 3);
  // +60° about +z turns +y towards −x.
  close(tip, [-rho * (1 - Math.cos(Math.PI / 3)), rho * Math.sin(Math.PI / 3), 0], 1e-12);
  // Below the pivot nothing moves.
  const foot = new Float64Array([0.02, -0.3, 0]);
  warpToWorld(posed, foot);
  close(foot, [0.02, 0, 0]);
  // Round trips for random points near the member, for wave + bend + rotate + scale.
  const busy = one(
    "{ type: cylinder, radius: 0.05, height: 0.6, center: [0, 0.1, 0], color: [0, 1, 0], motion: { scale: { keys: [{ t: 0, value: [1, 1.2, 1] }] }, wave: { amplitude: 0.03, wavelength: 0.3, direction: [1, 0, 0], along: [0, 1, 0] }, bend: { axis: [1, 0, 0], along: [0, 1, 0], pivot: [0, -0.2, 0], length: 0.5, keys: [{ t: 0, angle: -30 }] }, rotate: { axis: [0, 1, 0], keys: [{ t: 0, angle: 40 }] }, translate: [{ t: 0, value: [0.1, 0, 0] }] } }",
  );
  const pb = posePrimitive(busy, { time: 0.4 });
  const rand = seededRandom(5);
  for (let i = 0; i < 200; i++) {
    const p = new Float64Array([0.1 * (rand() - 0.5), 0.7 * (rand() - 0.5), 0.1 * (rand() - 0.5)]);
    const q = new Float64Array(p);
    warpToWorld(pb, q);
    warpToRest(pb, q);
    close(q, p, 1e-10);
  }
});

Deno.test("conservativeDistance never exceeds the true distance under non-rigid warps", () => {
  // True distance by brute force: the nearest of many warped surface samples.
  const stem = one(
    "{ type: box, size: [0.1, 0.6, 0.1], center: [0, 0.3, 0], color: [0, 1, 0], motion: { wave: { amplitude: 0.04, wavelength: 0.3, direction: [0, 0, 1], along: [0, 1, 0] }, bend: { axis: [0, 0, 1], along: [0, 1, 0], pivot: [0, 0, 0], length: 0.6, keys: [{ t: 0, angle: 70 }] } } }",
  );
  const posed = posePrimitive(stem, { time: 0.3 });
  const surface: number[] = [];
  const n = 24;
  for (let a = 0; a <= n; a++) {
    for (let b = 0; b <= 4 * n; b++) {
      for (const face of [0, 1, 2]) {
        for (const side of [-1, 1]) {
          const u = -0.05 + 0.1 * a / n, v = -0.3 + 0.6 * b / (4 * n);
          const p = face === 0
            ? [side * 0.05, v, u]
            : face === 1
            ? [u, side * 0.3, -0.05 + 0.1 * (b % (n + 1)) / n]
            : [u, v, side * 0.05];
          const q = new Float64Array(p);
          warpToWorld(posed, q);
          surface.push(q[0]!, q[1]!, q[2]!);
        }
      }
    }
  }
  const rand = seededRandom(9);
  for (let i = 0; i < 150; i++) {
    const x = [rand() - 0.5, rand() * 0.9 - 0.1, rand() - 0.5];
    const bound = conservativeDistance(posed, new Float64Array(x));
    if (bound <= 0) continue;
    let best = Infinity;
    for (let s = 0; s < surface.length; s += 3) {
      best = Math.min(
        best,
        Math.hypot(surface[s]! - x[0]!, surface[s + 1]! - x[1]!, surface[s + 2]! - x[2]!),
      );
    }
    assert.ok(bound <= best + 1e-9, `bound ${bound} > distance ${best} at ${x}`);
  }
});
