import assert from "assert";
import { startServer } from "../../server/start_server.ts";
import { GPU_TEST, testGpu } from "../contracts/_harness.ts";
import { tinyRun } from "./_tiny_run.ts";

interface Message {
  id: number;
  event: string;
  data: Record<string, unknown>;
}

/** Collects SSE messages from `url` until `until` says stop; returns them in arrival order. */
async function collect(
  url: string,
  init: RequestInit,
  until: (m: Message, all: Message[]) => boolean,
): Promise<Message[]> {
  const response = await fetch(url, init);
  assert.equal(response.status, 200);
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  const out: Message[] = [];
  let text = "";
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) return out;
      text += value;
      let cut;
      while ((cut = text.indexOf("\n\n")) >= 0) {
        const block = text.slice(0, cut).split("\n");
        text = text.slice(cut + 2);
        const field = (k: string) => block.find((l) => l.startsWith(`${k}: `))?.slice(k.length + 2);
        if (field("id") === undefined) continue;
        const m = {
          id: Number(field("id")),
          event: field("event")!,
          data: JSON.parse(field("data")!),
        };
        out.push(m);
        if (until(m, out)) return out;
      }
    }
  } finally {
    await reader.cancel();
  }
}

Deno.test(
  "server: the SSE stream of a real run arrives in order, live, and replays from Last-Event-ID",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const root = await Deno.makeTempDir();
    const server = await startServer({ root, port: 0, pollMs: 50 });
    const run = tinyRun(gpu, `${root}/run1`, { iterations: 12, previewEvery: 4 });
    // Wait for the run folder to exist, then follow it from the start.
    while (!(await Deno.stat(`${root}/run1/events.jsonl`).then(() => true, () => false))) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const url = `${server.url}api/runs/run1/events`;
    const arrivals: number[] = [];
    const live = await collect(url, {}, (m) => {
      arrivals.push(Date.now());
      return m.event === "eval" && m.data.stage === "final";
    });
    await run;
    // Ids are consecutive line numbers from 1; within a stage iterations only grow.
    assert.deepEqual(live.map((m) => m.id), live.map((_, i) => i + 1));
    const stages = live.filter((m) => m.event === "stage-start").map((m) => m.data.stage);
    assert.deepEqual(stages, ["static", "dynamic", "refine"]);
    let last = { stage: "", iteration: -1 };
    for (const m of live.filter((m) => m.event === "progress")) {
      const { stage, iteration, total, loss, lr, itPerSec, secondsLeft } = m.data as {
        stage: string;
        iteration: number;
        total: number;
        loss: Record<string, number>;
        lr: { grid: number; mlp: number };
        itPerSec: number;
        secondsLeft: number;
      };
      if (stage === last.stage) assert.ok(iteration > last.iteration, `${stage} ${iteration}`);
      assert.ok(iteration <= total && total > 0);
      assert.ok(Object.keys(loss).length > 0 && Object.values(loss).every(Number.isFinite));
      assert.ok(lr.grid > 0 && lr.mlp > 0 && itPerSec > 0 && secondsLeft >= 0);
      last = { stage, iteration };
    }
    const previews = live.filter((m) => m.event === "preview");
    assert.ok(previews.length >= 3, `${previews.length} previews`);
    for (const p of previews) {
      for (const f of p.data.files as string[]) {
        const r = await fetch(`${server.url}api/runs/run1/files/${f}`);
        assert.equal(r.status, 200, f);
        assert.equal(r.headers.get("content-type"), "image/png");
        assert.deepEqual([...new Uint8Array(await r.arrayBuffer()).subarray(1, 4)], [80, 78, 71]);
      }
    }
    // Events came while the run went on, not in one burst at the end.
    assert.ok(arrivals[arrivals.length - 1]! - arrivals[0]! > 1000);
    // Everything the stream sent is the log, line for line.
    const lines = (await Deno.readTextFile(`${root}/run1/events.jsonl`)).trim().split("\n");
    assert.deepEqual(
      live.map((m) => m.data),
      lines.slice(0, live.length).map((l) => JSON.parse(l)),
    );
    // Replay: resuming after id k gives exactly the lines after k, in order.
    const k = Math.floor(live.length / 2);
    const rest = await collect(
      url,
      { headers: { "last-event-id": String(k) } },
      (_, all) => all.length === lines.length - k,
    );
    assert.deepEqual(rest.map((m) => m.id), lines.slice(k).map((_, i) => k + 1 + i));
    assert.deepEqual(rest.map((m) => m.data), lines.slice(k).map((l) => JSON.parse(l)));
    // Disconnected clients hold nothing.
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(server.progress.hub.listeners, 0);
    const runs = await (await fetch(`${server.url}api/runs`)).json();
    assert.equal(runs.runs[0].status, "done");
    await server.close();
    await Deno.remove(root, { recursive: true });
  },
);
