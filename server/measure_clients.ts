/**
 * Measures what watching costs a run: the same tiny run with no clients and with N event
 * stream clients connected over HTTP (each reading every event), timed end to end.
 *
 * ```sh
 * deno run -A server/measure_clients.ts 50
 * ```
 *
 * @module
 */
import { acquireGpu } from "../kernels/gpu.ts";
import { tinyRun } from "../tests/server/_tiny_run.ts";
import { startServer } from "./start_server.ts";

async function timedRun(clients: number): Promise<{ seconds: number; received: number }> {
  const gpu = await acquireGpu({ log: null });
  const root = await Deno.makeTempDir();
  const server = await startServer({ root, port: 0 });
  let received = 0;
  const readers: ReadableStreamDefaultReader<Uint8Array>[] = [];
  const start = performance.now();
  const run = tinyRun(gpu, `${root}/r`, { iterations: 16, previewEvery: 4 });
  if (clients > 0) {
    while (!(await Deno.stat(`${root}/r/events.jsonl`).then(() => true, () => false))) {
      await new Promise((r) => setTimeout(r, 20));
    }
    for (let i = 0; i < clients; i++) {
      const response = await fetch(`${server.url}api/runs/r/events`);
      const reader = response.body!.getReader();
      readers.push(reader);
      (async () => {
        while (true) {
          const { value, done } = await reader.read();
          if (done) break;
          received += value.length;
        }
      })().catch(() => {});
    }
  }
  await run;
  const seconds = (performance.now() - start) / 1000;
  for (const r of readers) await r.cancel();
  await new Promise((r) => setTimeout(r, 100));
  const left = server.progress.hub.listeners;
  await server.close();
  gpu.destroy();
  await Deno.remove(root, { recursive: true });
  if (left !== 0) throw new Error(`${left} listeners left after every client disconnected`);
  return { seconds, received };
}

if (import.meta.main) {
  const n = Number(Deno.args[0] ?? 50);
  const rounds = Number(Deno.args[1] ?? 2);
  for (let i = 0; i < rounds; i++) {
    for (const clients of [0, n]) {
      const r = await timedRun(clients);
      console.log(
        `clients ${clients}: run ${r.seconds.toFixed(2)} s, ${r.received} bytes streamed in all`,
      );
    }
  }
}
