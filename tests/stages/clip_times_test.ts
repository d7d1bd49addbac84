import assert from "assert";
import { sampleClipTimes, testTimes } from "../../stages/clip_times.ts";
import { RngStream } from "../../stages/rng_stream.ts";

const F = 16;
const P = 256;
const BINS = 8;

interface Stats {
  contains0: number;
  contains1: number;
  startsAtZero: number;
  stride: number[]; // index k = 1..16
  coverage: number[]; // share of frame times per eighth of [0, 1]
}

function emptyStats(): Stats {
  return {
    contains0: 0,
    contains1: 0,
    startsAtZero: 0,
    stride: new Array(P / F + 1).fill(0),
    coverage: new Array(BINS).fill(0),
  };
}

function bin(t: number): number {
  return Math.min(BINS - 1, Math.floor(t * BINS));
}

// The exact distribution of SPEC.md §6, enumerated independently of the sampler: anchor
// (0.2), v uniform on 16..256, start uniform on 0..256−16k unless anchored, mirror (0.5).
function exactStats(): Stats {
  const s = emptyStats();
  for (const anchored of [true, false]) {
    const pa = anchored ? 0.2 : 0.8;
    for (let v = F; v <= P; v++) {
      const k = Math.floor(v / F);
      const starts = anchored ? 1 : P - F * k + 1;
      for (let start = 0; start < starts; start++) {
        for (const mirrored of [false, true]) {
          const p = (pa * 0.5) / (P - F + 1) / starts;
          let ticks = Array.from({ length: F }, (_, i) => start + i * k);
          if (mirrored) ticks = ticks.map((t) => P - t).reverse();
          if (ticks.includes(0)) s.contains0 += p;
          if (ticks.includes(P)) s.contains1 += p;
          if (anchored && !mirrored) s.startsAtZero += p;
          s.stride[k]! += p;
          for (const t of ticks) s.coverage[bin(t / P)]! += p / F;
        }
      }
    }
  }
  return s;
}

function sampledStats(n: number, seed: number): Stats {
  const rng = new RngStream(seed);
  const s = emptyStats();
  for (let j = 0; j < n; j++) {
    const clip = sampleClipTimes(rng);
    const { times } = clip;
    if (times[0] === 0) s.contains0++;
    if (times[F - 1] === 1) s.contains1++;
    if (clip.startsAtZero) s.startsAtZero++;
    s.stride[clip.stride]!++;
    for (const t of times) s.coverage[bin(t)]! += 1 / F;
  }
  s.contains0 /= n;
  s.contains1 /= n;
  s.startsAtZero /= n;
  s.stride = s.stride.map((c) => c / n);
  s.coverage = s.coverage.map((c) => c / n);
  return s;
}

// Five standard errors of a mean of n draws in [0, 1] with mean p: var ≤ p(1 − p).
function tol(p: number, n: number): number {
  return 5 * Math.sqrt((p * (1 - p)) / n);
}

Deno.test("exact clip statistics match the probabilities quoted in SPEC §6", () => {
  const s = exactStats();
  assert.ok(s.contains0 > 0.106 && s.contains0 < 0.1075, `P(t=0) ${s.contains0}`);
  assert.ok(Math.abs(s.contains1 - 0.107) < 0.001, `P(t=1) ${s.contains1}`);
  assert.ok(Math.abs(s.startsAtZero - 0.1) < 1e-12, `P(startsAtZero) ${s.startsAtZero}`);
  for (let k = 1; k <= 15; k++) assert.ok(Math.abs(s.stride[k]! - 16 / 241) < 1e-12);
  assert.ok(Math.abs(s.stride[16]! - 1 / 241) < 1e-12);
  const quoted = [0.081, 0.118, 0.142, 0.156, 0.156, 0.143, 0.119, 0.085];
  s.coverage.forEach((c, i) => {
    assert.ok(Math.abs(c - quoted[i]!) < 0.0015, `eighth ${i}: exact ${c}, SPEC ${quoted[i]}`);
  });
});

Deno.test("200k sampled clips match the exact distribution within 5 standard errors", () => {
  const n = 200_000;
  const exact = exactStats();
  const got = sampledStats(n, 20240607);
  const near = (name: string, a: number, e: number) =>
    assert.ok(Math.abs(a - e) < tol(e, n), `${name}: sampled ${a}, exact ${e}, tol ${tol(e, n)}`);
  near("P(t=0)", got.contains0, exact.contains0);
  near("P(t=1)", got.contains1, exact.contains1);
  near("P(startsAtZero)", got.startsAtZero, exact.startsAtZero);
  for (let k = 1; k <= 16; k++) near(`P(k=${k})`, got.stride[k]!, exact.stride[k]!);
  for (let b = 0; b < BINS; b++) near(`eighth ${b}`, got.coverage[b]!, exact.coverage[b]!);
  assert.equal(got.stride[0], 0);
});

Deno.test("every clip is an ascending lattice in [0, 1] consistent with its flags", () => {
  const rng = new RngStream(11);
  for (let j = 0; j < 20_000; j++) {
    const c = sampleClipTimes(rng);
    assert.equal(c.times.length, F);
    assert.ok(c.stride >= 1 && c.stride <= 16 && Number.isInteger(c.stride));
    for (let i = 0; i < F; i++) {
      const t = c.times[i]!;
      assert.ok(t >= 0 && t <= 1, `time ${t}`);
      assert.ok(Number.isInteger(t * P), `time ${t} is not on the 1/256 grid`);
      if (i > 0) assert.equal(Math.round((t - c.times[i - 1]!) * P), c.stride);
    }
    if (c.startsAtZero) {
      assert.equal(c.times[0], 0);
      assert.equal(c.mirrored, false);
    }
    // Unmirrored clips end at most at 1 − k/256; only mirrored ones can reach t = 1.
    if (!c.mirrored) assert.ok(c.times[F - 1]! <= 1 - c.stride / P);
    else assert.ok(c.times[0]! >= c.stride / P);
  }
});

Deno.test("the same seed gives the same clips; the stream state continues them", () => {
  const a = new RngStream(99);
  const b = new RngStream(99);
  for (let j = 0; j < 50; j++) assert.deepEqual(sampleClipTimes(a), sampleClipTimes(b));
  const c = new RngStream(0);
  c.state = a.state;
  assert.deepEqual(sampleClipTimes(c), sampleClipTimes(a));
});

Deno.test("options change frames, precision and the anchor rate", () => {
  const rng = new RngStream(5);
  let anchoredStarts = 0;
  for (let j = 0; j < 2000; j++) {
    const c = sampleClipTimes(rng, { frames: 4, precision: 8, zeroRate: 1 });
    assert.equal(c.times.length, 4);
    assert.ok(c.stride === 1 || c.stride === 2, `stride ${c.stride}`);
    // Every clip is anchored, so it either starts at 0 or (mirrored) ends at 1.
    assert.ok(c.mirrored ? c.times[3] === 1 : c.times[0] === 0 && c.startsAtZero);
    if (c.startsAtZero) anchoredStarts++;
  }
  assert.ok(Math.abs(anchoredStarts / 2000 - 0.5) < tol(0.5, 2000));
  for (let j = 0; j < 500; j++) {
    assert.equal(sampleClipTimes(rng, { zeroRate: 0 }).startsAtZero, false);
  }
  // F = P forces k = 1 and s = 0: the full lattice 0..15/16 or its mirror 1/16..1.
  const full = sampleClipTimes(rng, { frames: 16, precision: 16 });
  assert.deepEqual(
    full.times.map((t) => t * 16),
    Array.from({ length: 16 }, (_, i) => (full.mirrored ? i + 1 : i)),
  );
});

Deno.test("bad options are rejected with the option, expectation and value", () => {
  const rng = new RngStream(1);
  assert.throws(
    () => sampleClipTimes(rng, { frames: 0 }),
    /Invalid option frames: expected an integer >= 1, got 0/,
  );
  assert.throws(
    () => sampleClipTimes(rng, { frames: 16, precision: 8 }),
    /Invalid option precision: expected an integer >= 16, got 8/,
  );
  assert.throws(
    () => sampleClipTimes(rng, { zeroRate: 1.5 }),
    /Invalid option zeroRate: expected a finite number >= 0 and <= 1, got 1.5/,
  );
  assert.throws(() => sampleClipTimes(rng, { zeroRate: NaN }), /zeroRate.*NaN/);
  assert.throws(() => testTimes(0), /Invalid option count: expected an integer >= 1, got 0/);
});

Deno.test("test times are k/64 and never reach 1", () => {
  const t = testTimes();
  assert.equal(t.length, 64);
  t.forEach((v, k) => assert.equal(v, k / 64));
  assert.ok(!t.includes(1));
  assert.deepEqual(testTimes(4), [0, 0.25, 0.5, 0.75]);
});
