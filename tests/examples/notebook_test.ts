/**
 * Executes `examples/animate.ipynb` headless on the Deno kernel (Jupyter's nbconvert, as
 * Debian packages it) and checks what it recorded: every code cell ran without error, the
 * reference image, the previews, the turntable and the loss curves are image outputs, and
 * the final scores are present.
 *
 * Without Jupyter the test is skipped with a warning, and fails when `CI` is set.
 *
 * @module
 */
import assert from "assert";

const NOTEBOOK = new URL("../../examples/animate.ipynb", import.meta.url).pathname;
const ROOT = new URL("../../", import.meta.url).pathname;

interface Output {
  output_type: string;
  data?: Record<string, unknown>;
  text?: string | string[];
  ename?: string;
  evalue?: string;
}
interface Cell {
  cell_type: string;
  execution_count?: number | null;
  outputs?: Output[];
  source: string | string[];
}

/** Why Jupyter cannot run here, or null when `jupyter nbconvert` answers. */
async function jupyterMissing(): Promise<string | null> {
  try {
    const r = await new Deno.Command("jupyter", { args: ["nbconvert", "--version"] }).output();
    return r.success ? null : `jupyter nbconvert --version exited with ${r.code}`;
  } catch (error) {
    return `jupyter is not on PATH (${(error as Error).message})`;
  }
}

const missing = await jupyterMissing();
if (missing !== null) {
  const why = `${missing}; install Debian's jupyter-nbconvert and python3-nbclient`;
  if (Deno.env.get("CI")) throw new Error(`The notebook test cannot run: ${why}`);
  console.warn(`\n!!! SKIPPING the notebook test: ${why} !!!\n`);
}

/** A kernelspec like `deno jupyter --install` writes, for the Deno running this test. */
async function kernelDir(folder: string): Promise<string> {
  const dir = `${folder}/kernels/deno`;
  await Deno.mkdir(dir, { recursive: true });
  const spec = {
    argv: [Deno.execPath(), "jupyter", "--kernel", "--conn", "{connection_file}"],
    display_name: "Deno",
    language: "typescript",
  };
  await Deno.writeTextFile(`${dir}/kernel.json`, JSON.stringify(spec, null, 2));
  return folder;
}

function outputsOf(cells: Cell[]): Output[] {
  return cells.flatMap((c) => c.outputs ?? []);
}

function withMime(outputs: Output[], mime: string): string[] {
  return outputs.flatMap((o) => {
    const v = o.data?.[mime];
    if (v === undefined) return [];
    return [Array.isArray(v) ? v.join("") : typeof v === "string" ? v : JSON.stringify(v)];
  });
}

Deno.test({
  name: "examples/animate.ipynb runs headless: no cell errors, inline images, final metrics",
  ignore: missing !== null,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "animate124_notebook_" });
    try {
      const started = performance.now();
      const r = await new Deno.Command("jupyter", {
        args: [
          "nbconvert",
          "--to",
          "notebook",
          "--execute",
          "--ExecutePreprocessor.kernel_name=deno",
          "--ExecutePreprocessor.timeout=1200",
          "--output-dir",
          tmp,
          "--output",
          "executed.ipynb",
          NOTEBOOK,
        ],
        cwd: ROOT,
        env: {
          // Our kernelspec first, so the kernel is the Deno under test.
          JUPYTER_PATH: await kernelDir(`${tmp}/jupyter`),
          ANIMATE124_NOTEBOOK_OUT: `${tmp}/runs`,
        },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const seconds = (performance.now() - started) / 1000;
      const log = new TextDecoder().decode(r.stderr);
      assert.ok(r.success, `nbconvert failed (status ${r.code}):\n${log.slice(-4000)}`);
      console.log(`notebook executed in ${seconds.toFixed(1)} s`);

      const nb = JSON.parse(await Deno.readTextFile(`${tmp}/executed.ipynb`)) as {
        cells: Cell[];
      };
      const code = nb.cells.filter((c) => c.cell_type === "code");
      assert.ok(code.length >= 8, `expected at least 8 code cells, got ${code.length}`);
      code.forEach((c, i) => {
        assert.equal(typeof c.execution_count, "number", `code cell ${i} did not run`);
        const errors = (c.outputs ?? []).filter((o) => o.output_type === "error");
        assert.deepEqual(
          errors.map((e) => `${e.ename}: ${e.evalue}`),
          [],
          `code cell ${i} raised`,
        );
      });

      const outputs = outputsOf(code);
      const pngs = withMime(outputs, "image/png");
      // The reference image, the static preview and the refinement preview.
      assert.ok(pngs.length >= 3, `expected ≥ 3 PNG outputs, got ${pngs.length}`);
      for (const p of pngs) assert.ok(p.startsWith("iVBORw0KGgo"), "a PNG output is not a PNG");
      const gifs = withMime(outputs, "image/gif");
      assert.equal(gifs.length, 1, "expected the turntable as one GIF output");
      assert.ok(atob(gifs[0]!.slice(0, 8)).startsWith("GIF89a"), "the turntable is not a GIF");
      const svgs = withMime(outputs, "image/svg+xml");
      assert.equal(svgs.length, 1, "expected the loss curves as one SVG output");
      assert.ok((svgs[0]!.match(/<polyline /g) ?? []).length >= 3, "fewer than 3 loss curves");

      const urls = withMime(outputs, "text/plain").filter((t) => t.startsWith("http://"));
      assert.equal(urls.length, 1, "expected the progress server's URL");

      const metrics = withMime(outputs, "application/json").map((j) => JSON.parse(j));
      const final = metrics.find((m) => m.final !== undefined)?.final;
      assert.ok(final !== undefined, "the final metrics are missing");
      assert.ok(Number.isFinite(final.psnr) && final.psnr > 5, `final PSNR ${final.psnr}`);
      assert.ok(final.ssim > 0 && final.ssim <= 1, `final SSIM ${final.ssim}`);
      const saved = JSON.parse(await Deno.readTextFile(`${tmp}/runs/notebook/metrics.json`));
      assert.equal(saved.psnr, final.psnr);
      assert.deepEqual(saved.completed, ["static", "dynamic", "refine"]);
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
