/**
 * `deno task memory`: GPU memory the engine allocates for a configuration, measured by
 * the runtime's buffer accounting (every buffer goes through `Gpu.createBuffer`).
 *
 * Nothing is computed: the buffers are created as a run would create them, the peak is
 * read, and everything is freed.
 *
 * @module
 */
import { Adam } from "../kernels/adam.ts";
import { ClipRenderer } from "../kernels/clip_renderer.ts";
import { Field } from "../kernels/field.ts";
import { acquireGpu, type Gpu } from "../kernels/gpu.ts";
import { OccupancyUpdater } from "../kernels/occupancy_updater.ts";
import { TimeTv } from "../kernels/time_tv.ts";
import { prepareRun, releaseRun } from "../stages/animate.ts";
import { ANIMATE_PRESETS, type AnimatePresetName } from "../stages/animate_settings.ts";
import { dynamicStage } from "../stages/dynamic_stage.ts";
import { refineStage } from "../stages/refine_stage.ts";
import { staticStage } from "../stages/static_stage.ts";

/** One configuration to measure. */
export interface MemoryCase {
  name: string;
  keyframes: number;
  slices: number;
  occupancyRes: number;
  frames: number;
  size: number;
  tvPoints: number;
}

/** The SPEC.md sizes of the static and dynamic stages. */
export const MEMORY_CASES: MemoryCase[] = [
  {
    name: "static (K=1, 128² renders)",
    keyframes: 1,
    slices: 1,
    occupancyRes: 128,
    frames: 1,
    size: 128,
    tvPoints: 0,
  },
  {
    name: "dynamic (K=64, 16×128² clips)",
    keyframes: 64,
    slices: 16,
    occupancyRes: 128,
    frames: 16,
    size: 128,
    tvPoints: 100_000,
  },
];

/**
 * Creates every buffer of a training step for `c` and returns the peak bytes, split into
 * the field with its optimiser state and everything else.
 */
export async function measureMemory(
  gpu: Gpu,
  c: MemoryCase,
): Promise<{ fieldBytes: number; peakBytes: number }> {
  gpu.resetPeakMemory();
  const base = gpu.memory.liveBytes;
  const field = await Field.create(gpu, { grid: { keyframes: c.keyframes } });
  const adam = await Adam.create(gpu, {
    groups: [
      {
        name: "grid",
        params: field.grid,
        grads: field.gridGrads,
        floats: field.grid.map((b) => b.size / 4),
        lr: 1e-2,
      },
      {
        name: "mlp",
        params: [field.mlp],
        grads: [field.mlpGrads],
        floats: [field.mlpLayout.size],
        lr: 1e-3,
      },
    ],
  });
  const fieldBytes = gpu.memory.liveBytes - base;
  const occ = await OccupancyUpdater.create(gpu, field, {
    res: c.occupancyRes,
    slices: c.slices,
  });
  const renderer = await ClipRenderer.create(gpu, field, {
    width: c.size,
    height: c.size,
    maxFrames: c.frames,
    occupancy: occ.grid,
  });
  let tv: TimeTv | null = null;
  if (c.tvPoints > 0) {
    const points = gpu.createBuffer(c.tvPoints * 12, { label: "tv points" });
    tv = await TimeTv.create(gpu, field.layout, {
      params: field.grid,
      grads: field.gridGrads,
      points,
      batch: c.tvPoints,
    });
  }
  const peakBytes = gpu.memory.peakBytes - base;
  tv?.destroy();
  renderer.destroy();
  occ.destroy();
  adam.destroy();
  field.destroy();
  return { fieldBytes, peakBytes };
}

/**
 * Peak bytes of an Animate124 run at a preset: the three stages are set up as they run
 * (models, renderers, Adam, time TV, the reference step, the priors, the refinement
 * stage's frozen copy) with zero iterations, so nothing is trained.
 */
export async function measureAnimateMemory(gpu: Gpu, preset: AnimatePresetName): Promise<number> {
  gpu.resetPeakMemory();
  const base = gpu.memory.liveBytes;
  const zero = { iterations: 0 };
  let state = await prepareRun({
    scene: "examples/bouncing_ball.yaml",
    preset,
    gpu,
    config: { static: zero, dynamic: zero, refine: zero, previewEvery: 0 },
  });
  try {
    state = await staticStage(state);
    state = await dynamicStage(state);
    state = await refineStage(state);
    return gpu.memory.peakBytes - base;
  } finally {
    releaseRun(state, { gpu: false });
  }
}

if (import.meta.main) {
  const gpu = await acquireGpu();
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
  console.log(`| configuration | field + Adam | peak (all buffers) |`);
  console.log(`|---|---|---|`);
  for (const c of MEMORY_CASES) {
    const m = await measureMemory(gpu, c);
    console.log(`| ${c.name} | ${mib(m.fieldBytes)} | ${mib(m.peakBytes)} |`);
  }
  console.log(`\n| animate preset | peak over the three stages |`);
  console.log(`|---|---|`);
  for (const preset of ANIMATE_PRESETS) {
    console.log(`| ${preset} | ${mib(await measureAnimateMemory(gpu, preset))} |`);
  }
  gpu.destroy();
}
