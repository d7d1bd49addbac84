/**
 * The progress server: a page that lists the runs under a folder and follows each one's
 * `events.jsonl` live (losses, previews, scores) with a 4D viewer of its latest
 * checkpoint. A run is any subfolder holding `events.jsonl` or `config.json`, so a run
 * you compose yourself shows up as soon as you append its first event there.
 *
 * @example Serve a folder with one run on a free port and list it
 * ```ts
 * import { startServer } from "./mod.ts";
 * const root = await Deno.makeTempDir();
 * await Deno.mkdir(`${root}/mine`);
 * await Deno.writeTextFile(`${root}/mine/events.jsonl`, '{"type":"stage-start","stage":"static"}\n');
 * const server = await startServer({ root, port: 0 });
 * const { runs } = await (await fetch(`${server.url}api/runs`)).json();
 * console.log(runs.map((r: { id: string }) => r.id)); // [ "mine" ]
 * await server.close();
 * await Deno.remove(root, { recursive: true });
 * ```
 *
 * @module
 */
export {
  DEFAULT_HOST,
  DEFAULT_PORT,
  type RunningServer,
  startServer,
  type StartServerOptions,
} from "./start_server.ts";
export {
  type AppOptions,
  createApp,
  type FetchApp,
  type LiveRun,
  type ProgressApp,
} from "./app.ts";
export {
  EventFeed,
  type EventFeedOptions,
  type FeedEvent,
  FeedHub,
  type FeedListener,
} from "./event_feed.ts";
export { listRuns, type RunSummary } from "./run_folder.ts";
