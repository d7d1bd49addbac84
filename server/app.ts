/**
 * The progress server's Hono app: the run list, each run's events as Server-Sent Events
 * (replay from `Last-Event-ID`, then live), a run's files read-only, the 4D viewer's
 * checkpoint description, and the page itself.
 *
 * | Route                               | Answer                                              |
 * | ----------------------------------- | --------------------------------------------------- |
 * | `GET /`                             | the page (`server/static/index.html`)               |
 * | `GET /static/:name`                 | the page's script, style and the viewer             |
 * | `GET /api/runs`                     | `{ runs: RunSummary[] }`                            |
 * | `GET /api/runs/:id`                 | `{ run, config }`                                   |
 * | `GET /api/runs/:id/events`          | `text/event-stream`; `Last-Event-ID` or `?after=N`  |
 * | `GET /api/runs/:id/files/*`         | a file of the run, with Range support               |
 * | `GET /api/runs/:id/viewer`          | {@linkcode ViewerSpec} of the latest checkpoint     |
 *
 * Malformed ids and paths answer 400, unknown runs and files 404, with `{ error }`.
 *
 * @module
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { contentType } from "./content_type.ts";
import { FeedHub } from "./event_feed.ts";
import { resolveRunFile, runFolder, RunPathError, summariseRun } from "./run_folder.ts";
import { listRuns } from "./run_folder.ts";
import { resumeId, sseResponse } from "./sse.ts";
import { type ViewerSpec, viewerSpec } from "./viewer_spec.ts";

/**
 * A running process's own events, to wake the feed of its run at once (optional).
 *
 * @example With a 60 s poll, an appended line still reaches the feed as soon as it is announced
 * ```ts
 * import { createApp, type LiveRun } from "./app.ts";
 * const root = await Deno.makeTempDir();
 * const log = `${root}/live/events.jsonl`;
 * await Deno.mkdir(`${root}/live`);
 * await Deno.writeTextFile(log, "");
 * const listeners = new Set<(event: unknown) => void>();
 * const live: LiveRun = {
 *   runId: "live",
 *   subscribe(listener) {
 *     listeners.add(listener);
 *     return () => listeners.delete(listener);
 *   },
 * };
 * const { hub, close } = createApp({ root, live, pollMs: 60_000 });
 * const seen: string[] = [];
 * const stop = await hub.feed(log).subscribe(0, (e) => seen.push(e.type));
 * const event = { time: 0, type: "progress", iteration: 1, total: 10 };
 * await Deno.writeTextFile(log, JSON.stringify(event) + "\n", { append: true });
 * for (const l of listeners) l(event);
 * await new Promise((r) => setTimeout(r, 50));
 * console.log(seen); // [ "progress" ]
 * stop();
 * close();
 * console.log(listeners.size); // 0
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export interface LiveRun {
  /** The run's folder name under the root. */
  runId: string;
  /** Registers a listener called on every event; returns an unsubscribe function. */
  subscribe(listener: (event: unknown) => void): () => void;
}

/**
 * Options of {@linkcode createApp}.
 *
 * @example
 * ```ts
 * import { type AppOptions, createApp } from "./app.ts";
 * const root = await Deno.makeTempDir();
 * await Deno.mkdir(`${root}/r1`);
 * await Deno.writeTextFile(`${root}/r1/config.json`, '{"preset":"tiny","stages":["static"]}');
 * const options: AppOptions = { root, pollMs: 50, heartbeatMs: 1000 };
 * const { app, close } = createApp(options);
 * const { run, config } = await (await app.request("/api/runs/r1")).json();
 * console.log(run.preset, config.stages); // tiny [ "static" ]
 * close();
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export interface AppOptions {
  /** Folder holding the run folders (default `out`). */
  root?: string;
  /** The run this process is training, if any. */
  live?: LiveRun;
  /** How often event logs are checked for new lines (ms, default 200). */
  pollMs?: number;
  /** SSE heartbeat interval (ms, default 15000). */
  heartbeatMs?: number;
  /** Aborting it ends every open event stream (server shutdown). */
  signal?: AbortSignal;
}

/**
 * The two methods of the Hono app that callers use, so the public API does not expose
 * Hono's own types.
 *
 * @example Requests through `fetch` (as `Deno.serve` calls it) and `request`
 * ```ts
 * import { createApp, type FetchApp } from "./app.ts";
 * const root = await Deno.makeTempDir();
 * const app: FetchApp = createApp({ root }).app;
 * const listed = await app.fetch(new Request("http://localhost/api/runs"));
 * const missing = await app.request("/api/runs/nope");
 * console.log(listed.status, (await listed.json()).runs, missing.status); // 200 [] 404
 * console.log((await missing.json()).error); // Unknown run nope
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export interface FetchApp {
  /** Answers a request (what `Deno.serve` takes). */
  fetch(request: Request, env?: unknown): Response | Promise<Response>;
  /** Answers a path or request without a network (tests). */
  request(input: string | Request | URL, init?: RequestInit): Response | Promise<Response>;
}

/**
 * The app plus what tests and the server inspect.
 *
 * @example The hub counts the listeners of every feed
 * ```ts
 * import { createApp, type ProgressApp } from "./app.ts";
 * const root = await Deno.makeTempDir();
 * const progress: ProgressApp = createApp({ root });
 * const stop = await progress.hub.feed(`${root}/a/events.jsonl`).subscribe(0, () => {});
 * console.log(progress.hub.listeners); // 1
 * stop();
 * console.log(progress.hub.listeners); // 0
 * progress.close();
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export interface ProgressApp {
  /** The Hono app (`app.fetch` for `Deno.serve`, `app.request` in tests). */
  app: FetchApp;
  /** The shared event feeds; `hub.listeners` counts open event streams. */
  hub: FeedHub;
  /** Stops listening to the live run. */
  close(): void;
}

const STATIC = new URL("./static/", import.meta.url);
const STATIC_NAME = /^[a-z0-9_-]+\.(html|js|css|svg)$/;

function fail(c: Context, error: unknown): Response {
  if (error instanceof RunPathError) return c.json({ error: error.message }, error.status);
  return c.json({ error: (error as Error).message }, 500);
}

async function readJson(path: string): Promise<unknown> {
  try {
    return JSON.parse(await Deno.readTextFile(path));
  } catch {
    return null;
  }
}

/** Parses `bytes=a-b` against a file size; null for none or an unsatisfiable one. */
function parseRange(header: string | undefined, size: number): [number, number] | null | "bad" {
  if (header === undefined) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (m === null || (m[1] === "" && m[2] === "")) return "bad";
  let start: number, end: number;
  if (m[1] === "") {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  return start > end || start >= size ? "bad" : [start, end];
}

async function serveFile(c: Context, path: string, name: string): Promise<Response> {
  const file = await Deno.open(path, { read: true });
  const size = (await file.stat()).size;
  const headers: Record<string, string> = {
    "content-type": contentType(name),
    "accept-ranges": "bytes",
    // Files change while a run goes on (checkpoints, videos): always revalidate.
    "cache-control": "no-cache",
    "x-content-type-options": "nosniff",
  };
  const range = parseRange(c.req.header("range"), size);
  if (range === "bad") {
    file.close();
    return new Response(null, { status: 416, headers: { "content-range": `bytes */${size}` } });
  }
  if (c.req.method === "HEAD") {
    file.close();
    return new Response(null, { headers: { ...headers, "content-length": String(size) } });
  }
  if (range === null) {
    return new Response(file.readable, {
      headers: { ...headers, "content-length": String(size) },
    });
  }
  const [start, end] = range;
  await file.seek(start, Deno.SeekMode.Start);
  let left = end - start + 1;
  const reader = file.readable.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { value, done } = await reader.read();
      if (done || left <= 0) {
        controller.close();
        await reader.cancel();
        return;
      }
      const part = value.subarray(0, Math.min(value.length, left));
      left -= part.length;
      controller.enqueue(part);
      if (left <= 0) {
        controller.close();
        await reader.cancel();
      }
    },
    async cancel() {
      await reader.cancel();
    },
  });
  return new Response(body, {
    status: 206,
    headers: {
      ...headers,
      "content-length": String(end - start + 1),
      "content-range": `bytes ${start}-${end}/${size}`,
    },
  });
}

/**
 * Builds the progress server's app over the runs under `options.root`.
 *
 * @param options root folder, live run, poll and heartbeat intervals
 * @returns the Hono app, its feed hub and a close function
 *
 * @example List the runs of a folder through `app.request`
 * ```ts
 * import { createApp } from "./app.ts";
 * const root = await Deno.makeTempDir();
 * await Deno.mkdir(`${root}/demo`);
 * await Deno.writeTextFile(`${root}/demo/config.json`, '{"preset":"tiny"}');
 * const { app } = createApp({ root });
 * const body = await (await app.request("/api/runs")).json();
 * console.log(body.runs.map((r: { id: string }) => r.id)); // [ "demo" ]
 * console.log((await app.request("/api/runs/..%2Fetc/files/passwd")).status); // 400
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export function createApp(options: AppOptions = {}): ProgressApp {
  const root = (options.root ?? "out").replace(/\/+$/, "") || ".";
  const hub = new FeedHub(options.pollMs === undefined ? {} : { pollMs: options.pollMs });
  const app = new Hono();
  let stopLive = () => {};
  if (options.live !== undefined) {
    const live = options.live;
    // The log on disk stays the one source of events (ids are its line numbers); the
    // live hook only makes the feed read it now instead of at its next poll.
    stopLive = live.subscribe(() => {
      queueMicrotask(() => void hub.feed(`${root}/${live.runId}/events.jsonl`).poll());
    });
  }

  app.get("/", async (c) => {
    const html = await Deno.readTextFile(new URL("index.html", STATIC));
    return c.body(html, 200, { "content-type": contentType("index.html") });
  });

  app.get("/static/:name", async (c) => {
    const name = c.req.param("name");
    if (!STATIC_NAME.test(name)) return c.json({ error: `Unknown static file ${name}` }, 404);
    try {
      const text = await Deno.readTextFile(new URL(name, STATIC));
      return c.body(text, 200, { "content-type": contentType(name), "cache-control": "no-cache" });
    } catch {
      return c.json({ error: `Unknown static file ${name}` }, 404);
    }
  });

  app.get("/api/runs", async (c) => c.json({ root, runs: await listRuns(root) }));

  app.get("/api/runs/:id", async (c) => {
    try {
      const id = c.req.param("id");
      const run = await summariseRun(root, id);
      const folder = await runFolder(root, id);
      return c.json({
        run,
        config: await readJson(`${folder}/config.json`),
        metrics: await readJson(`${folder}/metrics.json`),
      });
    } catch (error) {
      return fail(c, error);
    }
  });

  app.get("/api/runs/:id/events", async (c) => {
    try {
      const folder = await runFolder(root, c.req.param("id"));
      const after = Math.max(
        resumeId(c.req.header("last-event-id")),
        resumeId(c.req.query("after")),
      );
      return sseResponse(hub.feed(`${folder}/events.jsonl`), {
        after,
        // Not the request's signal: Deno aborts it once a response starts. A client that
        // leaves cancels the body instead, which unsubscribes it.
        ...(options.signal === undefined ? {} : { signal: options.signal }),
        ...(options.heartbeatMs === undefined ? {} : { heartbeatMs: options.heartbeatMs }),
      });
    } catch (error) {
      return fail(c, error);
    }
  });

  app.on(["GET", "HEAD"], "/api/runs/:id/files/*", async (c) => {
    const id = c.req.param("id");
    const rawPath = new URL(c.req.url).pathname;
    // The id segment cannot hold "/", so the file path starts after the next "/files/".
    const after = rawPath.indexOf("/", "/api/runs/".length) + "/files/".length;
    let rel: string;
    try {
      // Decoded once: %2F and %2E%2E then meet the same segment checks as / and ..
      rel = decodeURIComponent(rawPath.slice(after));
    } catch {
      return c.json({ error: `Invalid file path in ${rawPath}` }, 400);
    }
    try {
      const path = await resolveRunFile(root, id, rel);
      return await serveFile(c, path, rel);
    } catch (error) {
      return fail(c, error);
    }
  });

  app.get("/api/runs/:id/viewer", async (c) => {
    try {
      const spec: ViewerSpec | null = await viewerSpec(root, c.req.param("id"));
      if (spec === null) return c.json({ error: "No checkpoint yet" }, 404);
      return c.json(spec);
    } catch (error) {
      return fail(c, error);
    }
  });

  app.notFound((c) => c.json({ error: `Unknown route ${c.req.method} ${c.req.path}` }, 404));
  return { app, hub, close: () => stopLive() };
}
