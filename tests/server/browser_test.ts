import assert from "assert";
import { chromium } from "playwright-core";
import { startServer } from "../../server/start_server.ts";
import { GPU_TEST, testGpu } from "../contracts/_harness.ts";
import { tinyRun } from "./_tiny_run.ts";

// Debian's `chromium` package; CI installs it, so there a missing browser is a failure.
const CHROMIUM = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";
const IN_CI = Deno.env.get("CI") !== undefined;
const HAVE_CHROMIUM = await Deno.stat(CHROMIUM).then((s) => s.isFile, () => false);
/** Where the screenshot goes (`TEST_OUTPUT`, default `out/test`). */
const OUTPUT = `${Deno.env.get("TEST_OUTPUT") ?? "out/test"}/server`;

if (!HAVE_CHROMIUM && !IN_CI) {
  console.error(
    `\n!!! SKIPPING the progress page browser test: no Chromium at ${CHROMIUM}.\n` +
      "!!! Install Debian's chromium (apt-get install -y chromium) or set CHROMIUM_PATH.\n",
  );
}

Deno.test({
  name: "page: headless Chromium watches a real run's iterations rise and a preview appear",
  ignore: !HAVE_CHROMIUM && !IN_CI,
  ...GPU_TEST,
  async fn() {
    assert.ok(HAVE_CHROMIUM, `Chromium is required in CI: nothing at ${CHROMIUM}`);
    const gpu = await testGpu();
    const root = await Deno.makeTempDir();
    const server = await startServer({ root, port: 0, pollMs: 50 });
    const run = tinyRun(gpu, `${root}/run1`, {
      iterations: 24,
      previewEvery: 3,
      exportVideos: true,
    });
    while (!(await Deno.stat(`${root}/run1/events.jsonl`).then(() => true, () => false))) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      // Root in containers has no user namespaces for Chromium's sandbox. The WebGPU flags
      // give headless Chromium a SwiftShader adapter, so the viewer's WebGPU path runs.
      args: [
        "--no-sandbox",
        "--enable-unsafe-webgpu",
        "--enable-features=Vulkan",
        "--use-vulkan=swiftshader",
        "--use-webgpu-adapter=swiftshader",
      ],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      // A small viewer image keeps SwiftShader (WebGPU on the CPU) quick.
      await page.goto(`${server.url}#run=run1&size=48&samples=32`);
      const step = async () => Number(await page.locator("#step").textContent());
      // Page-side predicates are strings: this file type-checks without the DOM library.
      const stepText = 'Number(document.getElementById("step").textContent)';
      await page.waitForFunction(`${stepText} > 0`, null, { timeout: 120_000 });
      const first = await step();
      await page.waitForFunction(`${stepText} > ${first}`, null, { timeout: 120_000 });
      assert.ok((await step()) > first);
      assert.match(
        await page.locator('.stage[data-stage="static"] .stage-text').textContent() ?? "",
        /\d+ \/ \d+|done/,
      );
      await page.waitForFunction(
        '(() => { const i = document.getElementById("preview-reference"); return i.complete && i.naturalWidth > 0; })()',
        null,
        { timeout: 120_000 },
      );
      assert.match(
        await page.locator("#preview-reference").getAttribute("src") ?? "",
        /^\/api\/runs\/run1\/files\/\w+\/previews\/\d+_reference\.png$/,
      );
      assert.ok(await page.locator("#loss-charts .chart").count() > 0);
      await Deno.mkdir(OUTPUT, { recursive: true });
      await page.screenshot({ path: `${OUTPUT}/progress_page_running.png`, fullPage: true });
      await run;
      // After the run: the turntable is shown and the viewer renders (WebGPU) or falls back.
      await page.waitForSelector("#video-slot video, #video-slot img", { timeout: 60_000 });
      await page.waitForFunction(
        '/WebGPU:|pre-rendered/.test(document.getElementById("viewer-status").textContent)',
        null,
        { timeout: 60_000 },
      );
      const status = await page.locator("#viewer-status").textContent();
      console.log(`viewer: ${status}`);
      // Either path is a definite state; which one ran is logged. In headless Chromium
      // with SwiftShader the device is currently lost after the first frame (see
      // docs/server.md), so the fallback is what this machine shows.
      assert.match(status ?? "", /^WebGPU: refine checkpoint|pre-rendered frames$/);
      if (await page.locator("#viewer-canvas").isVisible()) {
        // Drag to orbit and move the time slider: both redraw without page errors.
        const box = (await page.locator("#viewer-canvas").boundingBox())!;
        await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
        await page.mouse.down();
        await page.mouse.move(box.x + box.width / 2 + 80, box.y + box.height / 2 + 20);
        await page.mouse.up();
        await page.locator("#viewer-time").fill("0.8");
      } else {
        // The page swaps in each stage's turntable as its export event arrives (polled),
        // so wait for the last stage's rather than reading it once.
        await page.waitForFunction(
          '/\\/refine\\/turntable\\.gif$/.test(document.getElementById("viewer-fallback").getAttribute("src") ?? "")',
          null,
          { timeout: 30_000 },
        );
      }
      await page.screenshot({ path: `${OUTPUT}/progress_page_done.png`, fullPage: true });
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      await server.close();
      await run.catch(() => {});
      await Deno.remove(root, { recursive: true });
    }
  },
});
