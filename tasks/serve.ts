/**
 * `deno task serve`: the progress page for finished and running runs under a folder.
 *
 * ```sh
 * deno task serve                       # runs under out/, http://127.0.0.1:8124/
 * deno task serve --out out --port 9000 --host 0.0.0.0
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { DEFAULT_HOST, DEFAULT_PORT, startServer } from "../server/start_server.ts";
import { failWith } from "./_cli.ts";

const USAGE = `Usage: deno task serve [--out DIR] [--host HOST] [--port PORT]

Serves the progress page for every run folder under DIR (default out/) on
http://${DEFAULT_HOST}:${DEFAULT_PORT}/ unless --host or --port say otherwise.`;

const fail = failWith(USAGE);

/**
 * Parses `--port`: an integer in [0, 65535].
 *
 * @param text the flag's value
 * @returns the port
 *
 * @example
 * ```ts
 * import { parsePort } from "./serve.ts";
 * console.log(parsePort("8124")); // 8124
 * ```
 */
export function parsePort(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535) {
    fail(`Invalid option --port: expected an integer in [0, 65535], got ${JSON.stringify(text)}`);
  }
  return port;
}

if (import.meta.main) {
  const parse = () => {
    try {
      return parseArgs({
        args: Deno.args,
        options: {
          out: { type: "string" },
          host: { type: "string" },
          port: { type: "string" },
          help: { type: "boolean", short: "h" },
        },
        strict: true,
        allowPositionals: false,
      }).values;
    } catch (error) {
      return fail((error as Error).message);
    }
  };
  const values = parse();
  if (values.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  const root = values.out ?? "out";
  try {
    if (!(await Deno.stat(root)).isDirectory) fail(`Invalid option --out: ${root} is not a folder`);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) fail(`Invalid option --out: ${root} does not exist`);
    throw error;
  }
  try {
    const server = await startServer({
      root,
      host: values.host ?? DEFAULT_HOST,
      port: values.port === undefined ? DEFAULT_PORT : parsePort(values.port),
    });
    console.log(`Serving runs under ${root}/ at ${server.url}`);
    Deno.addSignalListener("SIGINT", () => void server.close().then(() => Deno.exit(0)));
    await server.finished;
  } catch (error) {
    console.error((error as Error).message);
    Deno.exit(2);
  }
}
