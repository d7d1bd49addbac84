/**
 * `deno task test`: the unit and contract tests, then the JSDoc examples, each in its own
 * `deno test` process.
 *
 * Mesa's lavapipe sometimes aborts while the process exits ("double free or corruption",
 * status 134), after every test has finished and the summary is printed. Such a run is
 * counted as passed only when its summary line says "0 failed" and no test failed; the
 * abort is reported loudly. Any other non-zero status fails the task.
 *
 * @module
 */

const RUNS: string[][] = [
  ["test", "-A", "--parallel=false", "tests/"],
  [
    "test",
    "-A",
    "--parallel=false",
    "--doc",
    "kernels/",
    "io/",
    "scenes/",
    "stages/",
    "priors/",
    "server/",
    "mod.ts",
  ],
];

// deno test's summary line, e.g. "ok | 168 passed | 0 failed (32s)", after colour codes.
const SUMMARY = /^ok \| (\d+) passed \| 0 failed(?: \| \d+ ignored)?/m;

async function run(args: string[]): Promise<boolean> {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const decoder = new TextDecoder();
  const pump = async (stream: ReadableStream<Uint8Array>, out: typeof Deno.stdout) => {
    for await (const chunk of stream) {
      text += decoder.decode(chunk, { stream: true });
      await out.write(chunk);
    }
  };
  const [status] = await Promise.all([
    child.status,
    pump(child.stdout, Deno.stdout),
    pump(child.stderr, Deno.stderr),
  ]);
  if (status.success) return true;
  // deno-lint-ignore no-control-regex
  const plain = text.replace(/\x1b\[[0-9;]*m/g, "");
  if (status.code === 134 && SUMMARY.test(plain) && !/\bFAILED\b/.test(plain)) {
    console.error(
      "WARNING: every test passed, then the process aborted while exiting (status 134, a known Mesa lavapipe teardown crash); counting the run as passed",
    );
    return true;
  }
  return false;
}

if (import.meta.main) {
  let ok = true;
  for (const args of RUNS) ok = (await run(args)) && ok;
  Deno.exit(ok ? 0 : 1);
}
