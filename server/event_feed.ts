/**
 * Follows a run's `events.jsonl` as it grows: one reader per run however many clients
 * watch it, so a hundred browser tabs cost the training process nothing more than one.
 * An event's id is its 1-based line number, which stays valid across reconnects and
 * server restarts because the log is append-only.
 *
 * @module
 */

/**
 * One line of the event log.
 *
 * @example
 * ```ts
 * import { EventFeed, type FeedEvent } from "./event_feed.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/events.jsonl`, '{"type":"progress","iteration":3}\nnot json\n');
 * const events: FeedEvent[] = [];
 * const stop = await new EventFeed(`${dir}/events.jsonl`).subscribe(0, (e) => events.push(e));
 * stop();
 * console.log(events.map((e) => `${e.id} ${e.type}`), events[0]!.data); // [ "1 progress", "2 message" ] {"type":"progress","iteration":3}
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface FeedEvent {
  /** 1-based line number in `events.jsonl`. */
  id: number;
  /** The line as written: `{time, type, ...}` JSON. */
  data: string;
  /** The event's `type` field (`message` when absent). */
  type: string;
}

/**
 * Receives events in order; replayed ones first.
 *
 * @example Resume after event 1: only the later lines are replayed
 * ```ts
 * import { EventFeed, type FeedListener } from "./event_feed.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/events.jsonl`, '{"type":"a"}\n{"type":"b"}\n{"type":"c"}\n');
 * const ids: number[] = [];
 * const listener: FeedListener = (event) => ids.push(event.id);
 * const stop = await new EventFeed(`${dir}/events.jsonl`).subscribe(1, listener);
 * stop();
 * console.log(ids); // [ 2, 3 ]
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export type FeedListener = (event: FeedEvent) => void;

/**
 * Options of {@linkcode EventFeed}.
 *
 * @example A fast poll picks up an appended line within a few tens of milliseconds
 * ```ts
 * import { type EventFeedOptions, FeedHub } from "./event_feed.ts";
 * const dir = await Deno.makeTempDir();
 * const options: EventFeedOptions = { pollMs: 10 };
 * const feed = new FeedHub(options).feed(`${dir}/events.jsonl`);
 * const seen: string[] = [];
 * const stop = await feed.subscribe(0, (e) => seen.push(e.type));
 * await Deno.writeTextFile(`${dir}/events.jsonl`, '{"type":"stage-start"}\n');
 * await new Promise((r) => setTimeout(r, 80));
 * stop();
 * console.log(seen); // [ "stage-start" ]
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface EventFeedOptions {
  /** How often the file is checked for new lines while someone listens (ms, default 200). */
  pollMs?: number;
}

/**
 * Tails one event log for any number of listeners. It reads the file only while at least
 * one listener is subscribed, and frees its memory when the last one leaves.
 *
 * @example Replay what is there, then follow appended lines
 * ```ts
 * import { EventFeed } from "./event_feed.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/events.jsonl`, '{"type":"a"}\n{"type":"b"}\n');
 * const feed = new EventFeed(`${dir}/events.jsonl`, { pollMs: 20 });
 * const seen: string[] = [];
 * const stop = await feed.subscribe(1, (e) => seen.push(`${e.id}:${e.type}`));
 * await Deno.writeTextFile(`${dir}/events.jsonl`, '{"type":"c"}\n', { append: true });
 * await new Promise((r) => setTimeout(r, 100));
 * stop();
 * console.log(seen); // [ "2:b", "3:c" ]
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class EventFeed {
  /** The file followed. */
  readonly path: string;
  readonly #pollMs: number;
  readonly #listeners = new Set<FeedListener>();
  #events: FeedEvent[] = [];
  #offset = 0;
  #partial = "";
  #timer: ReturnType<typeof setTimeout> | null = null;
  #reading: Promise<void> | null = null;
  #again = false;
  readonly #decoder = new TextDecoder();

  /**
   * Creates a feed; nothing is read until the first subscriber.
   *
   * @param path the `events.jsonl` to follow (it may not exist yet)
   * @param options poll interval
   */
  constructor(path: string, options: EventFeedOptions = {}) {
    this.path = path;
    this.#pollMs = options.pollMs ?? 200;
  }

  /** Number of subscribed listeners. */
  get listeners(): number {
    return this.#listeners.size;
  }

  /** Events read so far (empty while nobody listens). */
  get events(): readonly FeedEvent[] {
    return this.#events;
  }

  /**
   * Replays every event with id > `after`, then delivers new ones as they are appended.
   *
   * @param after the last id the client already has (0 for everything)
   * @param listener called once per event, in order
   * @returns a function that unsubscribes (idempotent)
   */
  async subscribe(after: number, listener: FeedListener): Promise<() => void> {
    await this.poll();
    // Replay and registration happen in one synchronous run, so no line falls between.
    for (const e of this.#events) if (e.id > after) listener(e);
    this.#listeners.add(listener);
    this.#schedule();
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) this.#idle();
    };
  }

  /** Reads any new complete lines now (the live hook calls this on every event). */
  poll(): Promise<void> {
    if (this.#reading !== null) {
      // A read is in flight: one more pass after it catches lines written meanwhile.
      this.#again = true;
      return this.#reading;
    }
    this.#reading = (async () => {
      do {
        this.#again = false;
        await this.#readNew();
      } while (this.#again);
    })().finally(() => (this.#reading = null));
    return this.#reading;
  }

  #schedule(): void {
    if (this.#timer !== null || this.#listeners.size === 0) return;
    this.#timer = setTimeout(async () => {
      this.#timer = null;
      try {
        await this.poll();
      } finally {
        this.#schedule();
      }
    }, this.#pollMs);
  }

  #idle(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#events = [];
    this.#offset = 0;
    this.#partial = "";
  }

  async #readNew(): Promise<void> {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(this.path, { read: true });
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return;
      throw error;
    }
    let text = "";
    try {
      const size = (await file.stat()).size;
      if (size < this.#offset) {
        // The log was replaced: start over rather than read from the middle of a line.
        this.#events = [];
        this.#offset = 0;
        this.#partial = "";
      }
      if (size === this.#offset) return;
      await file.seek(this.#offset, Deno.SeekMode.Start);
      const bytes = new Uint8Array(size - this.#offset);
      let got = 0;
      while (got < bytes.length) {
        const n = await file.read(bytes.subarray(got));
        if (n === null) break;
        got += n;
      }
      this.#offset += got;
      text = this.#decoder.decode(bytes.subarray(0, got), { stream: true });
    } finally {
      file.close();
    }
    const lines = (this.#partial + text).split("\n");
    this.#partial = lines.pop() ?? "";
    for (const line of lines) {
      const id = this.#events.length + 1;
      const event: FeedEvent = { id, data: line, type: typeOf(line) };
      this.#events.push(event);
      for (const l of [...this.#listeners]) l(event);
    }
  }
}

function typeOf(line: string): string {
  try {
    const t = JSON.parse(line)?.type;
    return typeof t === "string" && /^[a-z-]+$/.test(t) ? t : "message";
  } catch {
    return "message";
  }
}

/**
 * One {@linkcode EventFeed} per event log, created on first use and dropped when idle.
 *
 * @example
 * ```ts
 * import { FeedHub } from "./event_feed.ts";
 * const hub = new FeedHub();
 * console.log(hub.feed("out/a/events.jsonl") === hub.feed("out/a/events.jsonl")); // true
 * ```
 */
export class FeedHub {
  readonly #feeds = new Map<string, EventFeed>();
  readonly #options: EventFeedOptions;

  /**
   * Creates an empty hub.
   *
   * @param options passed to every feed
   */
  constructor(options: EventFeedOptions = {}) {
    this.#options = options;
  }

  /**
   * The feed of `path`, shared by every caller.
   *
   * @param path an `events.jsonl` path
   * @returns its feed
   */
  feed(path: string): EventFeed {
    let f = this.#feeds.get(path);
    if (f === undefined) {
      f = new EventFeed(path, this.#options);
      this.#feeds.set(path, f);
    }
    return f;
  }

  /** Total listeners over all feeds (the resource test counts on it). */
  get listeners(): number {
    let n = 0;
    for (const f of this.#feeds.values()) n += f.listeners;
    return n;
  }
}
