import assert from "assert";
import {
  mixViewEmbeddings,
  stagePrompt,
  viewPrompts,
  viewWeights,
} from "../../stages/view_text.ts";

function closeWeights(phi: number, want: [number, number, number]) {
  const w = viewWeights(phi);
  const got = [w.front, w.side, w.back];
  got.forEach((v, i) =>
    assert.ok(Math.abs(v - want[i]!) < 1e-12, `φ ${phi}: got ${got}, want ${want}`)
  );
}

Deno.test("view weights at known azimuths", () => {
  closeWeights(0, [1, 0, 0]);
  closeWeights(30, [2 / 3, 1 / 3, 0]);
  closeWeights(-30, [2 / 3, 1 / 3, 0]);
  closeWeights(45, [0.5, 0.5, 0]);
  closeWeights(89, [1 / 90, 89 / 90, 0]);
  closeWeights(90, [0, 1, 0]);
  closeWeights(-90, [0, 1, 0]);
  closeWeights(120, [0, 2 / 3, 1 / 3]);
  closeWeights(-150, [0, 1 / 3, 2 / 3]);
  closeWeights(180, [0, 0, 1]);
  closeWeights(-180, [0, 0, 1]);
  // Angles outside (−180°, 180°] are wrapped first: 270° is −90°, 330° is −30°.
  closeWeights(270, [0, 1, 0]);
  closeWeights(330, [2 / 3, 1 / 3, 0]);
  closeWeights(360, [1, 0, 0]);
});

Deno.test("view weights sum to 1, are symmetric and continuous in φ", () => {
  let prev = viewWeights(-180);
  for (let phi = -180; phi <= 180; phi += 0.25) {
    const w = viewWeights(phi);
    const m = viewWeights(-phi);
    assert.ok(Math.abs(w.front + w.side + w.back - 1) < 1e-12);
    assert.ok(w.front >= 0 && w.side >= 0 && w.back >= 0);
    assert.ok(w.front === 0 || w.back === 0, `front and back both used at ${phi}`);
    assert.deepEqual(w, m);
    // A quarter degree moves at most 0.25/90 of weight.
    const step = Math.abs(w.front - prev.front) + Math.abs(w.side - prev.side) +
      Math.abs(w.back - prev.back);
    assert.ok(step <= (2 * 0.25) / 90 + 1e-12, `jump of ${step} at ${phi}`);
    prev = w;
  }
  assert.throws(() => viewWeights(NaN), /Invalid option phiDeg: expected a finite number, got NaN/);
});

Deno.test("view prompts and embedding mixing", () => {
  assert.deepEqual(viewPrompts("a fox playing"), {
    front: "a fox playing, front view",
    side: "a fox playing, side view",
    back: "a fox playing, back view",
  });
  const front = new Float32Array([1, 2, 3]);
  const side = new Float32Array([-1, 0, 5]);
  const back = new Float32Array([10, 20, 30]);
  const e = mixViewEmbeddings({ front, side, back }, 135);
  // |φ| = 135: side 0.5, back 0.5.
  assert.deepEqual(Array.from(e), [4.5, 10, 17.5]);
  assert.deepEqual(Array.from(mixViewEmbeddings({ front, side, back }, 0)), [1, 2, 3]);
  assert.throws(
    () => mixViewEmbeddings({ front, side: new Float32Array(2), back }, 0),
    /Invalid option embeddings: expected front, side and back of equal length, got 3, 2 and 3/,
  );
});

Deno.test("stage prompt decorations of SPEC §5.3", () => {
  assert.equal(stagePrompt("a panda", "static"), "a panda, 8k, good quality");
  assert.equal(
    stagePrompt("a panda dancing", "motion"),
    "a panda dancing, high-resolution, 8k, good quality",
  );
  assert.equal(
    stagePrompt("a <panda> dancing", "controlnet"),
    "a <panda> dancing, high-resolution, 8k, good quality",
  );
  assert.throws(
    // @ts-expect-error: checking the runtime guard
    () => stagePrompt("x", "video"),
    /Invalid option kind: expected one of static, motion, controlnet, got "video"/,
  );
});
