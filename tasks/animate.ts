/**
 * `deno task animate`: image + motion prompt → 4D scene, the three Animate124 stages.
 *
 * ```sh
 * deno task animate                      # the bundled bouncing ball, oracle priors
 * deno task animate --scene examples/windmill.yaml --out out/windmill --preset tiny
 * deno task animate --config run.yaml --stages dynamic,refine   # resume after static
 * deno task animate --models models --image cat.png --prompt "a cat waves its paw"
 * ```
 *
 * Ctrl-C stops at the next step and saves the stage's checkpoint; running the same
 * command again continues that stage from it.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { parse as parseYaml } from "yaml";
import { ProgressBar } from "../io/progress_bar.ts";
import { animate } from "../stages/animate.ts";
import {
  ANIMATE_PRESETS,
  type AnimatePresetName,
  STAGE_NAMES,
  type StageName,
} from "../stages/animate_settings.ts";
import {
  DEFAULT_HOST,
  DEFAULT_PORT,
  type RunningServer,
  startServer,
} from "../server/start_server.ts";
import { failWith, requireFile, requireWritableDir } from "./_cli.ts";

/** The example `deno task animate` runs with no arguments. */
const DEFAULT_SCENE = "examples/bouncing_ball.yaml";

const USAGE = `Usage: deno task animate [--scene FILE.yaml] [--image FILE] [--prompt TEXT]
  [--mask FILE | --white-threshold X] [--config FILE.yaml] [--preset tiny|default]
  [--stages static,dynamic,refine] [--out DIR] [--no-export]
  [--models DIR [--textual-inversion FILE]] [--serve [--host H] [--port P]]

With no arguments it animates ${DEFAULT_SCENE} with oracle priors into out/<name>/.
--models DIR uses the real diffusion priors exported into DIR (docs/models.md) instead of
oracle priors; with --image and --prompt and no --scene, the run is not scored.
--serve also starts the progress page (127.0.0.1:${DEFAULT_PORT} unless --host/--port say otherwise).`;

const fail: (message: string) => never = failWith(USAGE);

async function readConfig(path: string): Promise<Record<string, unknown>> {
  await requireFile(path, fail, { option: "--config", kind: "config" });
  let parsed: unknown;
  try {
    parsed = parseYaml(await Deno.readTextFile(path));
  } catch (error) {
    fail(`Invalid config ${path}: not valid YAML (${(error as Error).message})`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== "object" || Array.isArray(parsed)) {
    fail(`Invalid config ${path}: expected a mapping of options at the top level`);
  }
  return parsed as Record<string, unknown>;
}

function parseStages(text: string): StageName[] {
  const names = text.split(",").map((s) => s.trim()).filter((s) => s !== "");
  for (const n of names) {
    if (!(STAGE_NAMES as readonly string[]).includes(n)) {
      fail(
        `Invalid option --stages: expected a comma-separated subset of ${
          STAGE_NAMES.join(",")
        }, got ${JSON.stringify(n)}`,
      );
    }
  }
  return names as StageName[];
}

const OPTIONS = {
  scene: { type: "string" },
  image: { type: "string" },
  prompt: { type: "string" },
  mask: { type: "string" },
  "white-threshold": { type: "string" },
  config: { type: "string" },
  preset: { type: "string" },
  stages: { type: "string" },
  out: { type: "string" },
  models: { type: "string" },
  "textual-inversion": { type: "string" },
  "no-export": { type: "boolean" },
  serve: { type: "boolean" },
  host: { type: "string" },
  port: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

function parseFlags() {
  try {
    return parseArgs({ args: Deno.args, options: OPTIONS, strict: true, allowPositionals: false })
      .values;
  } catch (error) {
    return fail((error as Error).message);
  }
}

if (import.meta.main) {
  const values = parseFlags();
  if (values.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  const config = values.config === undefined ? {} : await readConfig(values.config);
  // A config file may name the scene, image, prompt and preset too; flags win.
  const configName = values.config;
  const fromConfig = (key: string): string | undefined => {
    const v = config[key];
    if (v === undefined) return undefined;
    if (typeof v !== "string") {
      return fail(
        `Invalid config ${configName}: ${key}: expected a string, got ${JSON.stringify(v)}`,
      );
    }
    delete config[key];
    return v;
  };
  const image = values.image ?? fromConfig("image");
  const modelSettings = (config.models ?? {}) as Record<string, unknown>;
  if (values.models !== undefined) {
    const info = await Deno.stat(values.models).catch(() => null);
    if (info === null || !info.isDirectory) {
      fail(
        `Invalid option --models: expected the folder of the model folders (docs/models.md), got ${
          JSON.stringify(values.models)
        }`,
      );
    }
    modelSettings.dir = values.models;
  }
  if (values["textual-inversion"] !== undefined) {
    const path = values["textual-inversion"];
    await requireFile(path, fail, { option: "--textual-inversion", kind: "embedding" });
    modelSettings.textualInversion = path;
  }
  if (Object.keys(modelSettings).length > 0) config.models = modelSettings;
  const realPriors = typeof modelSettings.dir === "string";
  // Real priors animate a photo with no scene; oracle priors need one.
  const scenePath = values.scene ?? fromConfig("scene") ??
    (realPriors && image !== undefined ? undefined : DEFAULT_SCENE);
  const prompt = values.prompt ?? fromConfig("prompt");
  const presetText = values.preset ?? fromConfig("preset");
  if (scenePath !== undefined) {
    await requireFile(scenePath, fail, { option: "--scene", kind: "scene" });
  }
  if (image !== undefined) await requireFile(image, fail, { option: "--image", kind: "image" });
  if (values.mask !== undefined) {
    await requireFile(values.mask, fail, { option: "--mask", kind: "mask" });
  }
  let whiteThreshold: number | undefined;
  if (values["white-threshold"] !== undefined) {
    whiteThreshold = Number(values["white-threshold"]);
    if (!(whiteThreshold >= 0 && whiteThreshold <= 1)) {
      fail(
        `Invalid option --white-threshold: expected a number in [0, 1], got ${
          JSON.stringify(values["white-threshold"])
        }`,
      );
    }
  }
  let preset: AnimatePresetName | undefined;
  if (presetText !== undefined) {
    if (!(ANIMATE_PRESETS as readonly string[]).includes(presetText)) {
      fail(
        `Invalid option --preset: expected one of ${ANIMATE_PRESETS.join(", ")}, got ${
          JSON.stringify(presetText)
        }`,
      );
    }
    preset = presetText as AnimatePresetName;
  }
  const stages = values.stages === undefined ? undefined : parseStages(values.stages);
  const name = (scenePath ?? image!).replace(/^.*\//, "").replace(/\.[a-z]+$/i, "");
  const out = values.out ?? `out/${name}`;
  await requireWritableDir(out, fail);

  let port = DEFAULT_PORT;
  if (values.port !== undefined) {
    port = Number(values.port);
    if (!/^\d+$/.test(values.port) || port > 65535) {
      fail(
        `Invalid option --port: expected a port number in [0, 65535], got ${
          JSON.stringify(values.port)
        }`,
      );
    }
  }
  const listeners = new Set<(event: unknown) => void>();
  let server: RunningServer | null = null;
  if (values.serve) {
    const trimmed = out.replace(/\/+$/, "");
    const slash = trimmed.lastIndexOf("/");
    const runId = trimmed.slice(slash + 1);
    try {
      const started = await startServer({
        root: slash < 0 ? "." : trimmed.slice(0, slash) || "/",
        host: values.host ?? DEFAULT_HOST,
        port,
        live: {
          runId,
          subscribe: (listener) => {
            listeners.add(listener);
            return () => listeners.delete(listener);
          },
        },
      });
      server = started;
      console.error(`Watch the run at ${started.url}#run=${encodeURIComponent(runId)}`);
    } catch (error) {
      fail((error as Error).message);
    }
  }

  const controller = new AbortController();
  let training = true;
  Deno.addSignalListener("SIGINT", () => {
    if (!training) return;
    if (controller.signal.aborted) Deno.exit(130);
    console.error("\nInterrupted: finishing the current step and saving a checkpoint…");
    controller.abort();
  });
  let bar: ProgressBar | null = null;
  let result;
  try {
    result = await animate({
      ...(scenePath === undefined ? {} : { scene: scenePath }),
      out,
      config,
      ...(values.config === undefined ? {} : { configSource: values.config }),
      ...(image === undefined ? {} : { image }),
      ...(prompt === undefined ? {} : { prompt }),
      ...(values.mask === undefined ? {} : { mask: values.mask }),
      ...(whiteThreshold === undefined ? {} : { whiteThreshold }),
      ...(preset === undefined ? {} : { preset }),
      ...(stages === undefined ? {} : { stages }),
      export: !values["no-export"],
      signal: controller.signal,
      onEvent: (event) => {
        for (const listener of listeners) listener(event);
        switch (event.type) {
          case "stage-start":
            console.error(
              `Stage ${event.stage} on ${event.adapter}: ${event.total} steps` +
                (event.iteration > 0 ? ` (resuming at ${event.iteration})` : ""),
            );
            bar = new ProgressBar(Deno.stderr, { label: event.stage, total: event.total });
            break;
          case "progress":
            bar?.update(event.iteration, event.loss);
            break;
          case "stage-done":
            bar?.done();
            break;
          case "eval":
            console.error(
              `Held-out score (${event.stage}): PSNR ${event.psnr.toFixed(2)} dB, SSIM ${
                event.ssim.toFixed(3)
              }`,
            );
            break;
          case "export":
            console.error(`Wrote ${event.files.length} files for ${event.stage}`);
            break;
        }
      },
    });
  } catch (error) {
    console.error((error as Error).message);
    await server?.close();
    Deno.exit(2);
  }
  training = false;
  if (server !== null && !result.interrupted) {
    console.error(`Done; the page stays up at ${server.url} until Ctrl-C.`);
    await new Promise<void>((resolve) => {
      Deno.addSignalListener("SIGINT", () => resolve());
    });
    await server.close();
  }
  if (result.interrupted) {
    console.error(`Stopped early; run the same command again to continue. Output: ${out}/`);
    Deno.exit(130);
  }
  console.error(`Done: ${result.completed.join(", ")}. Output: ${out}/`);
}
