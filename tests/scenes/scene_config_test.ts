import assert from "assert";
import { loadScene, parseScene, SceneConfigError } from "../../scenes/scene_config.ts";

const SOURCE = "scenes/test.yaml";

const VALID = `
name: demo
motion_prompt: A ball rolls and a ring spins.
static_prompt: A ball and a ring.
background: [0, 0, 0]
primitives:
  - type: sphere
    radius: 0.2
    center: [0.3, 0, 0]
    texture: { type: stripes, colors: [[1, 0, 0], [0, 0, 1]], scale: 5, axis: [0, 2, 0] }
    motion:
      scale: { keys: [{ t: 0, value: 1 }, { t: 1, value: [1.2, 0.8, 1.2] }] }
      translate: [{ t: 0, value: [0, 0, 0] }, { t: 1, value: [-0.5, 0, 0] }]
  - type: box
    size: [0.2, 0.3, 0.1]
    rounding: 0.02
    color: [0.5, 0.5, 0.5]
    motion:
      wave: { amplitude: 0.02, wavelength: 0.3, direction: [0, 0, 1], along: [1, 0, 0] }
  - type: cylinder
    radius: 0.05
    height: 0.5
    center: [0, -0.2, 0]
    texture: { type: checker, colors: [[0, 1, 0], [1, 1, 1], [0, 0, 0]], scale: 10 }
    motion:
      bend:
        axis: [0, 0, 1]
        along: [0, 1, 0]
        length: 0.5
        keys: [{ t: 0, angle: 0 }, { t: 1, angle: 30 }]
  - type: torus
    major_radius: 0.2
    minor_radius: 0.04
    orientation: { axis: [1, 0, 0], angle: 90 }
    color: [1, 1, 0]
    motion:
      rotate: { axis: [0, 0, 1], keys: [{ t: 0, angle: 0 }, { t: 0.5, angle: 90 }] }
`;

/** Parses `text` expecting a SceneConfigError whose message names file, path and expectation. */
function expectError(
  text: string,
  keyPath: string | RegExp,
  expected: RegExp,
): SceneConfigError {
  let caught: unknown;
  try {
    parseScene(text, { source: SOURCE });
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof SceneConfigError, `expected a SceneConfigError, got ${caught}`);
  assert.equal(caught.file, SOURCE);
  if (typeof keyPath === "string") assert.equal(caught.keyPath, keyPath);
  else assert.match(caught.keyPath, keyPath);
  const shown = caught.keyPath || "(document)";
  assert.ok(caught.message.startsWith(`${SOURCE}: ${shown}: expected `), caught.message);
  assert.match(caught.message, expected);
  return caught;
}

/** The valid scene with one line replaced. */
function edit(from: string, to: string): string {
  assert.ok(VALID.includes(from), `test bug: ${from} not in VALID`);
  return VALID.replace(from, to);
}

Deno.test("parseScene reads every field and fills defaults", () => {
  const scene = parseScene(VALID, { source: SOURCE });
  assert.equal(scene.name, "demo");
  assert.equal(scene.motionPrompt, "A ball rolls and a ring spins.");
  assert.equal(scene.staticPrompt, "A ball and a ring.");
  assert.deepEqual(scene.background, [0, 0, 0]);
  assert.equal(scene.source, SOURCE);
  assert.deepEqual(scene.primitives.map((p) => p.shape.type), [
    "sphere",
    "box",
    "cylinder",
    "torus",
  ]);
  const [ball, box, stem, ring] = scene.primitives;
  assert.deepEqual(ball!.material, {
    type: "stripes",
    colors: [[1, 0, 0], [0, 0, 1]],
    scale: 5,
    axis: [0, 1, 0], // normalised
  });
  assert.deepEqual(ball!.motion.scale!.keys[0]!.value, [1, 1, 1]); // scalar → uniform
  assert.deepEqual(box!.center, [0, 0, 0]);
  assert.equal(box!.motion.wave!.frequency, 1);
  assert.deepEqual(box!.motion.wave!.origin, [0, 0, 0]);
  assert.deepEqual(stem!.motion.bend!.pivot, [0, -0.2, 0]); // defaults to center
  assert.equal(ring!.orientation.angle, 90);
  assert.deepEqual(ring!.motion.rotate!.pivot, [0, 0, 0]);
});

Deno.test("minimal scene: white background, no static prompt", () => {
  const scene = parseScene(
    "name: m\nmotion_prompt: It sits.\nprimitives: [{ type: sphere, radius: 0.1, color: [1, 0, 0] }]",
  );
  assert.deepEqual(scene.background, [1, 1, 1]);
  assert.equal(scene.staticPrompt, undefined);
  assert.equal(scene.source, "<scene>");
});

Deno.test("unknown keys are errors, at the top level and nested", () => {
  expectError(
    VALID + "colour: red\n",
    "colour",
    /one of the keys name, motion_prompt.*unknown key "colour"/,
  );
  expectError(
    edit("    radius: 0.2\n", "    radius: 0.2\n    height: 1\n"),
    "primitives[0].height",
    /unknown key "height"/,
  );
  expectError(
    edit("keys: [{ t: 0, angle: 0 }, { t: 0.5", "speed: 2, keys: [{ t: 0, angle: 0 }, { t: 0.5"),
    "primitives[3].motion.rotate.speed",
    /one of the keys axis, pivot, keys/,
  );
  expectError(
    edit("motion:\n      wave", "motion:\n      twist: 1\n      wave"),
    "primitives[1].motion.twist",
    /unknown key/,
  );
});

Deno.test("missing fields are errors", () => {
  expectError(
    VALID.replace("motion_prompt: A ball rolls and a ring spins.\n", ""),
    "motion_prompt",
    /a sentence describing the motion, but the field is missing/,
  );
  expectError(
    edit("    radius: 0.2\n", ""),
    "primitives[0].radius",
    /a radius > 0, but the field is missing/,
  );
  expectError(
    edit("    color: [0.5, 0.5, 0.5]\n", ""),
    "primitives[1].color",
    /exactly one of color or texture, but neither/,
  );
  expectError(
    edit("      bend:\n        axis: [0, 0, 1]\n", "      bend:\n"),
    "primitives[2].motion.bend.axis",
    /the axis to bend about, but the field is missing/,
  );
  expectError("name: x\nmotion_prompt: y\n", "primitives", /a list of primitives/);
});

Deno.test("unknown primitive types are errors", () => {
  expectError(
    edit("  - type: torus", "  - type: cone"),
    "primitives[3].type",
    /one of sphere, box, cylinder, torus, got "cone"/,
  );
  expectError(
    edit("texture: { type: checker", "texture: { type: marble"),
    "primitives[2].texture.type",
    /checker or stripes/,
  );
});

Deno.test("malformed values are errors", () => {
  // Non-finite numbers.
  expectError(
    edit("radius: 0.2", "radius: .nan"),
    "primitives[0].radius",
    /a finite number > 0, got NaN/,
  );
  expectError(
    edit("amplitude: 0.02", "amplitude: .inf"),
    "primitives[1].motion.wave.amplitude",
    /finite number >= 0, got Infinity/,
  );
  // Wrong vector length.
  expectError(
    edit("rotate: { axis: [0, 0, 1]", "rotate: { axis: [0, 1]"),
    "primitives[3].motion.rotate.axis",
    /a 3-vector \[x, y, z\] of finite numbers, got \[0,1\] \(length 2\)/,
  );
  expectError(
    edit("center: [0.3, 0, 0]", "center: [0.3, 0, 0, 1]"),
    "primitives[0].center",
    /3-vector/,
  );
  expectError(
    edit("center: [0.3, 0, 0]", "center: [0.3, zero, 0]"),
    "primitives[0].center[1]",
    /finite number, got "zero"/,
  );
  // Keyframe times out of [0, 1] or not ascending.
  expectError(
    edit("{ t: 0.5, angle: 90 }", "{ t: 1.5, angle: 90 }"),
    "primitives[3].motion.rotate.keys[1].t",
    /a finite number >= 0 and <= 1, got 1.5/,
  );
  expectError(
    edit(
      "[{ t: 0, angle: 0 }, { t: 0.5, angle: 90 }]",
      "[{ t: 0.5, angle: 0 }, { t: 0.5, angle: 90 }]",
    ),
    "primitives[3].motion.rotate.keys[1].t",
    /strictly ascending order \(> 0.5\), got 0.5/,
  );
  expectError(
    edit("[{ t: 0, value: [0, 0, 0] }, { t: 1,", "[{ t: 0.6, value: [0, 0, 0] }, { t: 0.2,"),
    "primitives[0].motion.translate[1].t",
    /ascending/,
  );
  // Other malformed values.
  expectError(
    edit("color: [1, 1, 0]", "color: [1, 2, 0]"),
    "primitives[3].color[1]",
    /<= 1, got 2/,
  );
  expectError(
    edit("axis: [0, 2, 0]", "axis: [0, 0, 0]"),
    "primitives[0].texture.axis",
    /non-zero direction/,
  );
  expectError(
    edit("direction: [0, 0, 1]", "direction: [1, 0, 1]"),
    "primitives[1].motion.wave.direction",
    /perpendicular to wave.along/,
  );
  expectError(
    edit("value: [1.2, 0.8, 1.2]", "value: [1.2, 0, 1.2]"),
    "primitives[0].motion.scale.keys[1].value[1]",
    /> 0, got 0/,
  );
  expectError(edit("name: demo", "name: ''"), "name", /non-empty string/);
  expectError("- a\n- b\n", "", /a mapping/);
});

Deno.test("content leaving [-1, 1]^3 at some time is an error", () => {
  const err = expectError(
    edit("value: [-0.5, 0, 0]", "value: [-1.2, 0, 0]"),
    "primitives[0]",
    /content inside the box \[-1, 1\]\^3 at every time, but it reaches \[-1\.\d+, .*\] at t = /,
  );
  assert.match(err.message, /at t = 0\.[5-9]/);
  // A bend whose centre of curvature falls inside a wide slab.
  expectError(
    [
      "name: slab",
      "motion_prompt: A slab bends.",
      "primitives:",
      "  - type: box",
      "    size: [0.8, 0.1, 0.1]",
      "    color: [1, 0, 0]",
      "    motion:",
      "      bend: { axis: [0, 0, 1], along: [0, 1, 0], pivot: [0, -0.05, 0], length: 0.1,",
      "              keys: [{ t: 0, angle: 0 }, { t: 1, angle: 60 }] }",
    ].join("\n"),
    "primitives[0].motion.bend.keys",
    /radius of curvature exceeds the primitive's offset across it/,
  );
  // A bend that would curl the member past a half turn.
  expectError(
    edit(
      "length: 0.5\n        keys: [{ t: 0, angle: 0 }, { t: 1, angle: 30 }]",
      "length: 0.1\n        keys: [{ t: 0, angle: 0 }, { t: 1, angle: 90 }]",
    ),
    "primitives[2].motion.bend.keys",
    /less than a half turn/,
  );
});

Deno.test("YAML syntax errors name the file and line", () => {
  const err = expectError(
    "name: [unclosed\nmotion_prompt: x\n",
    /^line \d+, column \d+$/,
    /valid YAML/,
  );
  assert.equal(err.expected, "valid YAML");
});

Deno.test("loadScene names the file, for unreadable and invalid files", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const missing = `${dir}/missing.yaml`;
    await assert.rejects(loadScene(missing), (e: unknown) => {
      assert.ok(e instanceof SceneConfigError);
      assert.ok(e.message.startsWith(`${missing}: (document): expected a readable scene file`));
      return true;
    });
    const bad = `${dir}/bad.yaml`;
    await Deno.writeTextFile(bad, edit("  - type: torus", "  - type: cone"));
    await assert.rejects(loadScene(bad), (e: unknown) => {
      assert.ok(e instanceof SceneConfigError);
      assert.ok(e.message.startsWith(`${bad}: primitives[3].type: expected`), e.message);
      return true;
    });
    const good = `${dir}/good.yaml`;
    await Deno.writeTextFile(good, VALID);
    assert.equal((await loadScene(good)).source, good);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
