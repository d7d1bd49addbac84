import assert from "assert";
import { createApp } from "../../server/app.ts";
import { startServer } from "../../server/start_server.ts";

/** A root with run `a` (events, config, files), a non-run folder and a secret beside it. */
async function fixture() {
  const root = await Deno.makeTempDir();
  await Deno.mkdir(`${root}/a/static/previews`, { recursive: true });
  await Deno.writeTextFile(
    `${root}/a/config.json`,
    JSON.stringify({ preset: "tiny", stages: ["static"], scene: "x.yaml" }),
  );
  const lines = [1, 2, 3].map((i) =>
    JSON.stringify({ time: i, type: "progress", stage: "static", iteration: i, total: 9 })
  );
  await Deno.writeTextFile(`${root}/a/events.jsonl`, lines.join("\n") + "\n");
  await Deno.writeFile(`${root}/a/static/previews/000001_reference.png`, new Uint8Array([1, 2, 3]));
  await Deno.writeFile(`${root}/a/static/turntable.mp4`, new Uint8Array(100).map((_, i) => i));
  await Deno.mkdir(`${root}/not_a_run`);
  await Deno.writeTextFile(`${root}/secret.txt`, "do not serve");
  await Deno.symlink(`${root}/secret.txt`, `${root}/a/escape.txt`);
  return root;
}

Deno.test("app: run list, run details and the page", async () => {
  const root = await fixture();
  const { app } = createApp({ root });
  const list = await (await app.request("/api/runs")).json();
  assert.deepEqual(list.runs.map((r: { id: string }) => r.id), ["a"]);
  const run = list.runs[0];
  assert.equal(run.preset, "tiny");
  assert.equal(run.status, "running");
  assert.deepEqual(run.progress, { stage: "static", iteration: 3, total: 9 });
  const detail = await (await app.request("/api/runs/a")).json();
  assert.deepEqual(detail.config.stages, ["static"]);
  assert.equal(detail.metrics, null);
  const page = await app.request("/");
  assert.match(page.headers.get("content-type")!, /^text\/html/);
  assert.match(await page.text(), /<script type="module" src="\/static\/app.js">/);
  for (const [name, type] of [["app.js", "text/javascript"], ["style.css", "text/css"]]) {
    const r = await app.request(`/static/${name}`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get("content-type")!, new RegExp(`^${type}`));
    await r.body?.cancel();
  }
  assert.equal((await app.request("/static/..%2Fapp.ts")).status, 404);
  await Deno.remove(root, { recursive: true });
});

Deno.test("app: files are served read-only with their types, ranges included", async () => {
  const root = await fixture();
  const { app } = createApp({ root });
  const png = await app.request("/api/runs/a/files/static/previews/000001_reference.png");
  assert.equal(png.status, 200);
  assert.equal(png.headers.get("content-type"), "image/png");
  assert.deepEqual(new Uint8Array(await png.arrayBuffer()), new Uint8Array([1, 2, 3]));
  const part = await app.request("/api/runs/a/files/static/turntable.mp4", {
    headers: { range: "bytes=10-19" },
  });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get("content-type"), "video/mp4");
  assert.equal(part.headers.get("content-range"), "bytes 10-19/100");
  assert.deepEqual(
    [...new Uint8Array(await part.arrayBuffer())],
    [...Array(10).keys()].map((i) => i + 10),
  );
  const tail = await app.request("/api/runs/a/files/static/turntable.mp4", {
    headers: { range: "bytes=-5" },
  });
  assert.deepEqual([...new Uint8Array(await tail.arrayBuffer())], [95, 96, 97, 98, 99]);
  const bad = await app.request("/api/runs/a/files/static/turntable.mp4", {
    headers: { range: "bytes=200-" },
  });
  assert.equal(bad.status, 416);
  const post = await app.request("/api/runs/a/files/config.json", { method: "PUT", body: "x" });
  assert.equal(post.status, 404);
  assert.equal(
    await Deno.readTextFile(`${root}/a/config.json`).then((t) => t.includes("tiny")),
    true,
  );
  await Deno.remove(root, { recursive: true });
});

Deno.test("app: traversal, unknown runs and unknown files get 400 or 404, never a file", async () => {
  const root = await fixture();
  const { app } = createApp({ root });
  const cases: [string, number][] = [
    ["/api/runs/a/files/..%2Fsecret.txt", 400],
    // The URL parser folds %2E%2E into .. and removes it: no route matches.
    ["/api/runs/a/files/%2E%2E/secret.txt", 404],
    ["/api/runs/a/files/static/..%2F..%2Fsecret.txt", 400],
    ["/api/runs/a/files/static//turntable.mp4", 400],
    ["/api/runs/a/files/%2Fetc%2Fpasswd", 400],
    ["/api/runs/a/files/static%5C..%5C..%5Csecret.txt", 400],
    ["/api/runs/..%2F/files/secret.txt", 400],
    ["/api/runs/.../files/secret.txt", 400],
    ["/api/runs/a/files/escape.txt", 404],
    ["/api/runs/a/files/missing.png", 404],
    ["/api/runs/a/files/static", 404],
    ["/api/runs/nope/files/config.json", 404],
    ["/api/runs/not_a_run", 404],
    ["/api/runs/nope/events", 404],
    ["/api/runs/nope/viewer", 404],
    ["/api/runs/a/viewer", 404],
    ["/api/nothing", 404],
  ];
  for (const [path, status] of cases) {
    const r = await app.request(path);
    const text = await r.text();
    assert.equal(r.status, status, `${path}: ${r.status} ${text}`);
    assert.ok(!text.includes("do not serve"), path);
    assert.match(r.headers.get("content-type")!, /^application\/json/, path);
  }
  await Deno.remove(root, { recursive: true });
});

/** Reads SSE messages from a response until `n` have arrived. */
async function readMessages(response: Response, n: number) {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const messages: { id: number; event: string; data: string }[] = [];
  while (messages.length < n) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
    let cut;
    while ((cut = text.indexOf("\n\n")) >= 0) {
      const block = text.slice(0, cut);
      text = text.slice(cut + 2);
      const field = (k: string) =>
        block.split("\n").find((l) => l.startsWith(`${k}: `))?.slice(k.length + 2);
      if (field("id") !== undefined) {
        messages.push({ id: Number(field("id")), event: field("event")!, data: field("data")! });
      }
    }
  }
  return { messages, reader };
}

Deno.test("app: events replay, resume from Last-Event-ID, follow, and free on disconnect", async () => {
  const root = await fixture();
  const { app, hub } = createApp({ root, pollMs: 20 });
  const all = await app.request("/api/runs/a/events");
  assert.equal(all.headers.get("content-type"), "text/event-stream; charset=utf-8");
  const first = await readMessages(all, 3);
  assert.deepEqual(first.messages.map((m) => m.id), [1, 2, 3]);
  assert.equal(first.messages[0]!.event, "progress");
  assert.equal(JSON.parse(first.messages[2]!.data).iteration, 3);
  assert.equal(hub.listeners, 1);
  await first.reader.cancel();
  assert.equal(hub.listeners, 0, "a closed stream unsubscribes");

  const resumed = await app.request("/api/runs/a/events", { headers: { "last-event-id": "2" } });
  const reader = resumed.body!.pipeThrough(new TextDecoderStream()).getReader();
  await Deno.writeTextFile(
    `${root}/a/events.jsonl`,
    JSON.stringify({ type: "stage-done", stage: "static", iteration: 9, total: 9 }) + "\n",
    { append: true },
  );
  let text = "";
  while (!text.includes("id: 4")) text += (await reader.read()).value;
  assert.ok(!text.includes("id: 2\n") && text.includes("id: 3\n"), text);
  assert.match(text, /id: 4\nevent: stage-done\n/);
  await reader.cancel();
  const query = await readMessages(await app.request("/api/runs/a/events?after=3"), 1);
  assert.deepEqual(query.messages.map((m) => m.id), [4]);
  await query.reader.cancel();
  assert.equal(hub.listeners, 0);
  await Deno.remove(root, { recursive: true });
});

Deno.test("server: binds 127.0.0.1, and a busy port is a clear error", async () => {
  const root = await Deno.makeTempDir();
  const server = await startServer({ root, port: 0 });
  assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  await assert.rejects(
    startServer({ root, port: server.port }),
    new RegExp(
      `Cannot start the progress server: port ${server.port} on 127\\.0\\.0\\.1 is already in use`,
    ),
  );
  // An open event stream does not hold up shutdown.
  await Deno.mkdir(`${root}/r`);
  await Deno.writeTextFile(`${root}/r/events.jsonl`, '{"type":"a"}\n');
  const stream = await fetch(`${server.url}api/runs/r/events`);
  const reader = stream.body!.getReader();
  await reader.read();
  await server.close();
  await reader.cancel().catch(() => {});
  // The stream's cleanup runs on its abort, a few ticks after close() resolves.
  for (let i = 0; i < 100 && server.progress.hub.listeners > 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.equal(server.progress.hub.listeners, 0);
  await Deno.remove(root, { recursive: true });
});
