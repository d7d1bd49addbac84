/**
 * `deno task animate`: the Animate124 pipeline entry point (image + motion prompt → 4D).
 *
 * The three stages (static, dynamic, refine) and their priors are not built yet, so this
 * task checks its options and the WebGPU adapter, then says what exists today instead of
 * pretending to run the method.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { acquireGpu } from "../kernels/gpu.ts";

const USAGE =
  `Usage: deno task animate [--image FILE] [--prompt TEXT] [--scene FILE.yaml] [--out DIR]

The Animate124 stages are not implemented yet. What runs today:
  deno task test    the kernel contract suite (WGSL against float64 twins)
  deno task bench   kernel throughput on this machine's WebGPU adapter`;

if (import.meta.main) {
  let values;
  try {
    ({ values } = parseArgs({
      args: Deno.args,
      options: {
        image: { type: "string" },
        prompt: { type: "string" },
        scene: { type: "string" },
        out: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    Deno.exit(2);
  }
  if (values.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  const gpu = await acquireGpu();
  console.error(`Adapter ready: ${gpu.adapterName}`);
  gpu.destroy();
  console.error(USAGE);
  Deno.exit(1);
}
