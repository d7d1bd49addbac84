/**
 * Starts the progress server on a host and port (127.0.0.1:8124 by default): what
 * `deno task serve` and `deno task animate --serve` call.
 *
 * @module
 */
import { type AppOptions, createApp, type LiveRun, type ProgressApp } from "./app.ts";

/**
 * Default port of the progress server.
 *
 * @example
 * ```ts
 * import { DEFAULT_HOST, DEFAULT_PORT } from "./start_server.ts";
 * console.log(`http://${DEFAULT_HOST}:${DEFAULT_PORT}/`); // http://127.0.0.1:8124/
 * ```
 */
export const DEFAULT_PORT = 8124;
/**
 * Default host: loopback only, so a run is not visible on the network by accident.
 *
 * @example A server started without a host listens there
 * ```ts
 * import { DEFAULT_HOST, startServer } from "./start_server.ts";
 * const root = await Deno.makeTempDir();
 * const server = await startServer({ root, port: 0 });
 * console.log(server.url.startsWith(`http://${DEFAULT_HOST}:`)); // true
 * await server.close();
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export const DEFAULT_HOST = "127.0.0.1";

/**
 * Options of {@linkcode startServer}.
 *
 * @example Aborting the signal shuts the server down
 * ```ts
 * import { startServer, type StartServerOptions } from "./start_server.ts";
 * const root = await Deno.makeTempDir();
 * const stop = new AbortController();
 * const options: StartServerOptions = { root, host: "127.0.0.1", port: 0, pollMs: 50, signal: stop.signal };
 * const server = await startServer(options);
 * const response = await fetch(`${server.url}api/runs`);
 * console.log(response.status, (await response.json()).runs); // 200 []
 * stop.abort();
 * await server.finished;
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export interface StartServerOptions {
  /** Folder holding the run folders (default `out`). */
  root?: string;
  /** Interface to listen on (default 127.0.0.1). */
  host?: string;
  /** Port (default 8124; 0 picks a free one). */
  port?: number;
  /** The run this process is training, to push its events without waiting for a poll. */
  live?: LiveRun;
  /** Event-log poll interval in ms (default 200). */
  pollMs?: number;
  /** Aborting it shuts the server down. */
  signal?: AbortSignal;
}

/**
 * A started server.
 *
 * @example
 * ```ts
 * import { type RunningServer, startServer } from "./start_server.ts";
 * const root = await Deno.makeTempDir();
 * const server: RunningServer = await startServer({ root, port: 0 });
 * console.log(server.port > 0, server.url === `http://127.0.0.1:${server.port}/`); // true true
 * console.log(server.progress.hub.listeners); // 0
 * await server.close();
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export interface RunningServer {
  /** `http://host:port/`, ready to print. */
  url: string;
  /** The port actually bound. */
  port: number;
  /** The app behind it (feed hub included). */
  progress: ProgressApp;
  /** Stops accepting connections, ends open event streams and waits for the shutdown. */
  close(): Promise<void>;
  /** Resolves when the server has stopped. */
  finished: Promise<void>;
}

/**
 * Starts the server; a port in use is an error naming the port and what to do.
 *
 * @param options root folder, host, port, live run
 * @returns the running server and its URL
 * @throws {Error} `Cannot start the progress server: port P on H is already in use …`
 *
 * @example Start on a free port, ask for the run list, stop
 * ```ts
 * import { startServer } from "./start_server.ts";
 * const root = await Deno.makeTempDir();
 * const server = await startServer({ root, port: 0 });
 * const body = await (await fetch(`${server.url}api/runs`)).json();
 * console.log(body.runs); // []
 * await server.close();
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export async function startServer(options: StartServerOptions = {}): Promise<RunningServer> {
  const host = options.host ?? DEFAULT_HOST;
  const port = options.port ?? DEFAULT_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`Invalid option port: expected an integer in [0, 65535], got ${port}`);
  }
  const appOptions: AppOptions = {
    ...(options.root === undefined ? {} : { root: options.root }),
    ...(options.live === undefined ? {} : { live: options.live }),
    ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
  };
  const streams = new AbortController();
  const progress = createApp({ ...appOptions, signal: streams.signal });
  // A client that leaves cancels its response body (which unsubscribes it); shutting
  // down aborts the open event streams so that `server.shutdown()` does not wait on
  // clients that never leave.
  let server: Deno.HttpServer<Deno.NetAddr>;
  let listening = () => {};
  const listened = new Promise<void>((resolve) => (listening = resolve));
  try {
    server = Deno.serve({
      hostname: host,
      port,
      onListen: () => listening(),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    }, (request: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) => {
      return progress.app.fetch(request, { info });
    });
  } catch (error) {
    progress.close();
    if (error instanceof Deno.errors.AddrInUse) {
      throw new Error(
        `Cannot start the progress server: port ${port} on ${host} is already in use; ` +
          "stop what holds it or pass --port with another number",
      );
    }
    throw new Error(
      `Cannot start the progress server on ${host}:${port}: ${(error as Error).message}`,
    );
  }
  await listened;
  const bound = server.addr.port;
  const shown = host.includes(":") ? `[${host}]` : host;
  const finished = server.finished.then(() => progress.close());
  return {
    url: `http://${shown}:${bound}/`,
    port: bound,
    progress,
    finished,
    async close() {
      streams.abort();
      await server.shutdown();
      await finished;
    },
  };
}
