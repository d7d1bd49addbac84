/**
 * Server-Sent Events over an {@linkcode EventFeed}: replay from the client's
 * `Last-Event-ID`, then follow. A client that goes away (or falls far behind) is
 * unsubscribed at once, so nothing keeps working for it.
 *
 * @module
 */
import type { EventFeed, FeedEvent } from "./event_feed.ts";

/** Options of {@linkcode sseResponse}. */
export interface SseOptions {
  /** Replay events after this id (the `Last-Event-ID` header or `?after=`); default 0. */
  after?: number;
  /** Aborts the stream (the request's signal). */
  signal?: AbortSignal;
  /** Comment line sent when nothing else was, to keep proxies from closing (ms, default 15000). */
  heartbeatMs?: number;
  /** Events a slow client may have queued before it is dropped (default 10000). */
  maxQueued?: number;
  /** Called once when the stream ends for any reason. */
  onClose?: () => void;
}

/**
 * Formats one SSE message: `id`, `event` (the event's type) and one `data` line.
 *
 * @param event the feed event
 * @returns the message text, ending in a blank line
 *
 * @example
 * ```ts
 * import { formatSse } from "./sse.ts";
 * console.log(JSON.stringify(formatSse({ id: 3, type: "progress", data: "{}" })));
 * // "id: 3\nevent: progress\ndata: {}\n\n"
 * ```
 */
export function formatSse(event: FeedEvent): string {
  // Log lines are single-line JSON, so one data field carries each.
  return `id: ${event.id}\nevent: ${event.type}\ndata: ${event.data}\n\n`;
}

/**
 * Parses the id a client resumes after from `Last-Event-ID` or an `after` query value.
 *
 * @param value header or query text
 * @returns a non-negative integer, 0 when absent or malformed
 *
 * @example
 * ```ts
 * import { resumeId } from "./sse.ts";
 * console.log(resumeId("12"), resumeId(undefined), resumeId("x")); // 12 0 0
 * ```
 */
export function resumeId(value: string | null | undefined): number {
  if (value === null || value === undefined || !/^\d{1,15}$/.test(value.trim())) return 0;
  return Number(value.trim());
}

/**
 * A `text/event-stream` response replaying `feed` after `options.after`, then following it.
 *
 * @param feed the run's event feed
 * @param options resume point, abort signal, heartbeat
 * @returns the streaming response
 *
 * @example Read the first replayed event
 * ```ts
 * import { EventFeed } from "./event_feed.ts";
 * import { sseResponse } from "./sse.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/events.jsonl`, '{"type":"stage-start"}\n');
 * const response = sseResponse(new EventFeed(`${dir}/events.jsonl`));
 * const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
 * let text = "";
 * while (!text.includes("\n\n", text.indexOf("id:"))) text += (await reader.read()).value;
 * await reader.cancel();
 * console.log(text.slice(text.indexOf("id:")).split("\n")[1]); // event: stage-start
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function sseResponse(feed: EventFeed, options: SseOptions = {}): Response {
  const encoder = new TextEncoder();
  const maxQueued = options.maxQueued ?? 10_000;
  let cleanup: (() => void) | null = null;
  let closed = false;
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      let unsubscribe: (() => void) | null = null;
      let heartbeat: ReturnType<typeof setInterval> | null = null;
      const finish = () => {
        if (closed) return;
        closed = true;
        unsubscribe?.();
        if (heartbeat !== null) clearInterval(heartbeat);
        options.signal?.removeEventListener("abort", finish);
        try {
          controller.close();
        } catch {
          // Already closed or errored by the consumer's cancel.
        }
        options.onClose?.();
      };
      cleanup = finish;
      if (options.signal?.aborted) return finish();
      options.signal?.addEventListener("abort", finish);
      // retry: how soon EventSource reconnects (with Last-Event-ID) after a drop.
      controller.enqueue(encoder.encode("retry: 1000\n: connected\n\n"));
      let queued = 0;
      const send = (text: string) => {
        if (closed) return;
        // desiredSize goes negative by the number of unread chunks: a stalled client is
        // dropped rather than buffered without bound; it resumes from its last id.
        if ((controller.desiredSize ?? 0) < -maxQueued) return finish();
        queued++;
        controller.enqueue(encoder.encode(text));
      };
      heartbeat = setInterval(() => {
        if (queued === 0) send(": heartbeat\n\n");
        queued = 0;
      }, options.heartbeatMs ?? 15_000);
      const stop = await feed.subscribe(options.after ?? 0, (e) => send(formatSse(e)));
      if (closed) stop();
      else unsubscribe = stop;
    },
    cancel() {
      cleanup?.();
    },
  }, { highWaterMark: 1 });
  return new Response(body, {
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      "x-accel-buffering": "no",
    },
  });
}
