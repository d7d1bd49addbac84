/**
 * `deno task fit`: fit the 4D field to a synthetic scene's ground truth, score it on
 * held-out views, and export turntable videos.
 *
 * ```sh
 * deno task fit --scene examples/windmill.yaml --out out/windmill [--preset tiny|default]
 *   [--iters N] [--resume out/windmill/checkpoint.safetensors] [--no-export]
 * ```
 *
 * Ctrl-C stops at the next step and saves a checkpoint to `--out` before exiting.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { ProgressBar } from "../io/progress_bar.ts";
import { failWith, requireFile, requireWritableDir } from "./_cli.ts";
import { loadScene } from "../scenes/scene_config.ts";
import { exportTurntable } from "../stages/export_turntable.ts";
import { fit } from "../stages/fit.ts";
import { FIT_PRESETS, type FitPresetName } from "../stages/fit_presets.ts";

const USAGE =
  `Usage: deno task fit --scene FILE.yaml --out DIR [--preset tiny|default] [--iters N] [--resume CHECKPOINT] [--no-export]`;

const fail: (message: string) => never = failWith(USAGE);

if (import.meta.main) {
  let values;
  try {
    ({ values } = parseArgs({
      args: Deno.args,
      options: {
        scene: { type: "string" },
        out: { type: "string" },
        preset: { type: "string" },
        iters: { type: "string" },
        resume: { type: "string" },
        "no-export": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    fail((error as Error).message);
  }
  if (values.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  if (values.scene === undefined) fail("Missing option --scene: expected a scene file (.yaml)");
  if (values.out === undefined) fail("Missing option --out: expected an output folder");
  let preset: FitPresetName | undefined;
  if (values.preset !== undefined) {
    if (!(FIT_PRESETS as readonly string[]).includes(values.preset)) {
      fail(
        `Invalid option --preset: expected one of ${FIT_PRESETS.join(", ")}, got ${
          JSON.stringify(values.preset)
        }`,
      );
    }
    preset = values.preset as FitPresetName;
  }
  let iterations: number | undefined;
  if (values.iters !== undefined) {
    iterations = Number(values.iters);
    if (!/^\d+$/.test(values.iters) || !Number.isSafeInteger(iterations)) {
      fail(
        `Invalid option --iters: expected a whole number >= 0, got ${JSON.stringify(values.iters)}`,
      );
    }
  }
  await requireFile(values.scene, fail, { option: "--scene", kind: "scene" });
  if (values.resume !== undefined) {
    try {
      await Deno.stat(values.resume);
    } catch {
      fail(`Invalid option --resume: checkpoint file ${values.resume} does not exist`);
    }
  }
  const out = values.out;
  await requireWritableDir(out, fail);
  let scene;
  try {
    scene = await loadScene(values.scene);
  } catch (error) {
    console.error((error as Error).message);
    Deno.exit(2);
  }

  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) Deno.exit(130);
    console.error("\nInterrupted: finishing the current step and saving a checkpoint…");
    controller.abort();
  };
  Deno.addSignalListener("SIGINT", onSigint);
  let bar: ProgressBar | null = null;
  const started = performance.now();
  const result = await fit(scene, {
    out,
    ...(preset === undefined ? {} : { preset }),
    ...(iterations === undefined ? {} : { iterations }),
    ...(values.resume === undefined ? {} : { resume: values.resume }),
    signal: controller.signal,
    onEvent: (event) => {
      switch (event.type) {
        case "start":
          console.error(
            `Fitting ${scene.name} with preset ${event.preset} on ${event.adapter}: ${event.total} steps` +
              (event.iteration > 0 ? ` (resuming at ${event.iteration})` : ""),
          );
          bar = new ProgressBar(Deno.stderr, { label: scene.name, total: event.total });
          break;
        case "progress":
          bar?.update(event.iteration, {
            rgb: event.loss.rgb,
            alpha: event.loss.alpha,
            tv: event.loss.tv,
          });
          break;
        case "done":
          bar?.done();
          break;
        case "checkpoint":
          break;
        case "eval":
          if (event.done === event.total) console.error(`Scored ${event.total} held-out views`);
          break;
      }
    },
  });
  Deno.removeSignalListener("SIGINT", onSigint);
  if (result.interrupted) {
    console.error(`Stopped at step ${result.step}; checkpoint saved to ${result.checkpoint}`);
    result.destroy();
    Deno.exit(130);
  }
  const m = result.metrics;
  if (m !== null) {
    console.error(
      `Held-out PSNR ${m.psnr.toFixed(2)} dB, SSIM ${m.ssim.toFixed(4)} (${out}/metrics.json)`,
    );
  }
  if (!values["no-export"]) {
    const s = result.settings;
    const exportBar = new ProgressBar(Deno.stderr, {
      label: "export",
      total: s.exportViews * s.exportTimes + s.exportTimes,
    });
    const exported = await exportTurntable(result.model, {
      out: `${out}/videos`,
      size: s.exportSize,
      views: s.exportViews,
      times: s.exportTimes,
      onFrame: (done) => exportBar.update(done),
    });
    exportBar.done();
    console.error(
      `Wrote ${exported.files.length} files to ${out}/videos` +
        (exported.mp4Skipped === null ? "" : ` (no MP4: ${exported.mp4Skipped})`),
    );
  }
  console.error(
    `Done in ${
      ((performance.now() - started) / 1000).toFixed(1)
    } s; checkpoint ${result.checkpoint}`,
  );
  result.destroy();
}
