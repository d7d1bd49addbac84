/**
 * The VAE attention twin: dL/dq, dL/dk, dL/dv against central finite differences of
 * L = Σ do·attention(q, k, v), and a hand value.
 */
import assert from "assert";
import {
  attentionBackwardTwin,
  type AttentionShape,
  attentionTwin,
} from "../../kernels/vae_ops/attention_twin.ts";
import { assertClose, finiteDifference, randomArray } from "../contracts/_harness.ts";

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};

Deno.test("VAE attention twin: gradients match finite differences", () => {
  const shape: AttentionShape = { batch: 2, channels: 3, tokens: 5 };
  const size = 30;
  const query = randomArray(size, 1, -2, 2);
  const key = randomArray(size, 2, -2, 2);
  const value = randomArray(size, 3);
  const gradOutput = randomArray(size, 4);
  const analytic = attentionBackwardTwin(shape, { query, key, value, gradOutput });
  const loss = (q: Float64Array, k: Float64Array, v: Float64Array) =>
    dot(gradOutput, attentionTwin(shape, { query: q, key: k, value: v }));
  const all = Array.from({ length: size }, (_, i) => i);
  const tol = { rtol: 1e-6, atol: 1e-8 };
  const fq = finiteDifference((q) => loss(q, key, value), query, all);
  assertClose([...fq.values()], analytic.gradQuery, { ...tol, label: "dL/dq" });
  const fk = finiteDifference((k) => loss(query, k, value), key, all);
  assertClose([...fk.values()], analytic.gradKey, { ...tol, label: "dL/dk" });
  const fv = finiteDifference((v) => loss(query, key, v), value, all);
  assertClose([...fv.values()], analytic.gradValue, { ...tol, label: "dL/dv" });
});

Deno.test("VAE attention twin: hand value with two tokens", () => {
  // C = 1, q = [0, 1], k = [0, 2]: query 0 sees equal scores, query 1 scores 0 and 2.
  const o = attentionTwin({ batch: 1, channels: 1, tokens: 2 }, {
    query: [0, 1],
    key: [0, 2],
    value: [1, 3],
  });
  const p = 1 / (1 + Math.exp(2));
  assert.ok(Math.abs(o[0]! - 2) < 1e-12);
  assert.ok(Math.abs(o[1]! - (p * 1 + (1 - p) * 3)) < 1e-12);
});
