import assert from "assert";

const ROOT = new URL("../../", import.meta.url).pathname;

async function runTask(args: string[]): Promise<{ code: number; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "tasks/animate.ts", ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test("animate task: a config file's unknown key is named with its file and key path", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/run.yaml`, "dynamic:\n  iters: 5\n");
  const r = await runTask(["--config", `${dir}/run.yaml`, "--out", `${dir}/out`]);
  assert.equal(r.code, 2);
  assert.match(
    r.stderr,
    /run\.yaml: dynamic\.iters: expected one of the known keys \(.*iterations.*\), got "iters"/,
  );
  await Deno.writeTextFile(`${dir}/run.yaml`, "static: { iterations: -3 }\n");
  const bad = await runTask(["--config", `${dir}/run.yaml`, "--out", `${dir}/out`]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /run\.yaml: static\.iterations: expected an integer ≥ 0, got -3/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("animate task: bad flags name the option, the value and what was expected", async () => {
  const stages = await runTask(["--stages", "static,warp"]);
  assert.equal(stages.code, 2);
  assert.match(stages.stderr, /Invalid option --stages: .*static,dynamic,refine, got "warp"/);
  const image = await runTask(["--image", "/nope/ref.png"]);
  assert.equal(image.code, 2);
  assert.match(image.stderr, /Invalid option --image: image file \/nope\/ref\.png does not exist/);
  const preset = await runTask(["--preset", "huge"]);
  assert.equal(preset.code, 2);
  assert.match(preset.stderr, /Invalid option --preset: expected one of tiny, default, got "huge"/);
  const models = await runTask(["--models", "/nope/models"]);
  assert.equal(models.code, 2);
  assert.match(
    models.stderr,
    /Invalid option --models: expected the folder of the model folders \(docs\/models\.md\), got "\/nope\/models"/,
  );
  const embedding = await runTask(["--models", ".", "--textual-inversion", "/nope/learned.bin"]);
  assert.equal(embedding.code, 2);
  assert.match(
    embedding.stderr,
    /Invalid option --textual-inversion: embedding file \/nope\/learned\.bin does not exist/,
  );
  const port = await runTask(["--serve", "--port", "99999"]);
  assert.equal(port.code, 2);
  assert.match(
    port.stderr,
    /Invalid option --port: expected a port number in \[0, 65535\], got "99999"/,
  );
});
