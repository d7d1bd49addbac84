import assert from "assert";
import { formatDuration, formatProgress, ProgressBar } from "../../io/progress_bar.ts";

Deno.test("durations are h:mm:ss with unbounded hours", () => {
  assert.equal(formatDuration(0), "0:00:00");
  assert.equal(formatDuration(59.4), "0:00:59");
  assert.equal(formatDuration(59.6), "0:01:00");
  assert.equal(formatDuration(3599), "0:59:59");
  assert.equal(formatDuration(3600), "1:00:00");
  assert.equal(formatDuration(100 * 3600 + 61), "100:01:01");
  assert.equal(formatDuration(NaN), "-:--:--");
  assert.equal(formatDuration(Infinity), "-:--:--");
});

Deno.test("the line shows count, percentage, losses, speed and ETA", () => {
  const line = formatProgress({
    label: "static",
    iteration: 1200,
    total: 5000,
    loss: { rgb: 0.012345, sds: 1.5e-6, total: 2.5 },
    elapsedMs: 60_000,
    barWidth: 10,
  });
  // 20 it/s; 3800 left -> 190 s.
  assert.equal(
    line,
    "static 1200/5000   24.0%  |██        |  rgb 0.01235 sds 1.50e-6 total 2.5  20.0 it/s  elapsed 0:01:00  ETA 0:03:10",
  );
});

Deno.test("ETA math: slow runs show s/it, unknown speed shows dashes, done shows zero", () => {
  const slow = formatProgress({
    label: "x",
    iteration: 4,
    total: 1004,
    loss: {},
    elapsedMs: 10_000,
    barWidth: 0,
  });
  // 2.5 s/it, 1000 left -> 2500 s = 0:41:40.
  assert.match(slow, /2\.50 s\/it/);
  assert.match(slow, /ETA 0:41:40$/);
  const start = formatProgress({ label: "x", iteration: 0, total: 10, loss: {}, elapsedMs: 0 });
  assert.match(start, /-- it\/s .*ETA -:--:--$/);
  const fast = formatProgress({
    label: "x",
    iteration: 10,
    total: 10,
    loss: { l: NaN },
    elapsedMs: 20,
  });
  assert.match(fast, /100\.0%/);
  assert.match(fast, /l NaN/);
  assert.match(fast, /500 it\/s/);
  assert.match(fast, /ETA 0:00:00$/);
  // Iteration is padded to the width of the total so the line does not jitter.
  assert.match(
    formatProgress({ label: "x", iteration: 7, total: 1000, loss: {}, elapsedMs: 1 }),
    /^x {4}7\/1000/,
  );
});

function capture(tty: boolean) {
  const chunks: string[] = [];
  let t = 0;
  const writer = {
    writeSync: (p: Uint8Array) => (chunks.push(new TextDecoder().decode(p)), p.length),
    isTerminal: () => tty,
  };
  return { chunks, writer, now: () => t, advance: (ms: number) => (t += ms) };
}

Deno.test("on a terminal the line is redrawn in place, throttled", () => {
  const c = capture(true);
  const bar = new ProgressBar(c.writer, { label: "fit", total: 100, now: c.now, redrawMs: 100 });
  bar.update(1, { l: 1 });
  c.advance(50);
  bar.update(2, { l: 1 }); // throttled
  c.advance(60);
  bar.update(3, { l: 1 });
  bar.done();
  assert.equal(c.chunks.length, 3);
  assert.ok(c.chunks.every((s) => s.startsWith("\r") && s.includes("\x1b[K")));
  assert.ok(c.chunks[1]!.includes("  3/100"));
  assert.ok(c.chunks[2]!.endsWith("\n"));
});

Deno.test("off a terminal one full line is printed per interval", () => {
  const c = capture(false);
  const bar = new ProgressBar(c.writer, {
    label: "fit",
    total: 100,
    now: c.now,
    logIntervalMs: 1000,
  });
  for (let i = 1; i <= 100; i++) {
    c.advance(45);
    bar.update(i);
  }
  bar.done();
  // 4.5 s of updates: the first update, then at >= 1 s spacing (4 more), then the final line.
  assert.equal(c.chunks.length, 6);
  assert.ok(c.chunks.every((s) => !s.includes("\r") && s.endsWith("\n")));
  assert.match(c.chunks.at(-1)!, /^fit 100\/100/);
});
