import assert from "assert";

const ROOT = new URL("../../", import.meta.url).pathname;

async function runTask(args: string[]): Promise<{ code: number; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "tasks/fit.ts", ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test("fit task: an unknown option is named", async () => {
  const r = await runTask(["--scene", "examples/windmill.yaml", "--out", "/tmp/x", "--bogus"]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /Unknown option '--bogus'/);
  assert.match(r.stderr, /Usage: deno task fit/);
});

Deno.test("fit task: a bad preset names the option and the choices", async () => {
  const r = await runTask([
    "--scene",
    "examples/windmill.yaml",
    "--out",
    "/tmp/x",
    "--preset",
    "huge",
  ]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /Invalid option --preset: expected one of tiny, default, got "huge"/);
});

Deno.test("fit task: a missing scene file is named", async () => {
  const r = await runTask(["--scene", "examples/nope.yaml", "--out", "/tmp/x"]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /Invalid option --scene: scene file examples\/nope.yaml does not exist/);
});

Deno.test("fit task: bad --iters and missing --out are reported", async () => {
  let r = await runTask(["--scene", "examples/windmill.yaml", "--out", "/tmp/x", "--iters", "ten"]);
  assert.match(r.stderr, /Invalid option --iters: expected a whole number >= 0, got "ten"/);
  r = await runTask(["--scene", "examples/windmill.yaml"]);
  assert.match(r.stderr, /Missing option --out/);
});

Deno.test("fit task: an unwritable output folder is reported before any work", async () => {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/not_a_folder`;
  await Deno.writeTextFile(file, "");
  const t0 = performance.now();
  const r = await runTask(["--scene", "examples/windmill.yaml", "--out", `${file}/out`]);
  const ms = performance.now() - t0;
  await Deno.remove(dir, { recursive: true });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Invalid option --out: expected a writable folder/);
  // Nothing was fitted: no adapter line, no progress.
  assert.doesNotMatch(r.stderr, /Fitting|WebGPU adapter/);
  assert.ok(ms < 30_000);
});
