/**
 * The tiny MLP head (SPEC.md §2.3): Linear(In→H) → ReLU → Linear(H→Out), with biases
 * and no output activation. Forward, backward (input and parameter gradients) and the
 * parameter layout shared with the float64 twin.
 *
 * @module
 */
import type { BufferRange, Gpu } from "./gpu.ts";
import { requireInt } from "./validate.ts";

/**
 * Widths of the MLP.
 *
 * @example
 * ```ts
 * import { type MlpConfig, mlpLayout } from "./mlp.ts";
 * const config: MlpConfig = { input: 8, hidden: 16, output: 4 };
 * // 16·8 + 16 weights and biases into the hidden layer, 4·16 + 4 out of it.
 * console.log(mlpLayout(config).size); // 212
 * ```
 */
export interface MlpConfig {
  /** Input width In (the grid's L·F, 32). */
  input: number;
  /** Hidden width H (64). */
  hidden: number;
  /** Output width Out (4: density logit and three albedo logits). */
  output: number;
}

/**
 * The SPEC.md widths 32 → 64 → 4.
 *
 * @example
 * ```ts
 * import { DEFAULT_MLP, mlpLayout } from "./mlp.ts";
 * console.log(DEFAULT_MLP.hidden, mlpLayout(DEFAULT_MLP).size); // 64 2372
 * ```
 */
export const DEFAULT_MLP: Readonly<MlpConfig> = Object.freeze({ input: 32, hidden: 64, output: 4 });

/** Largest width accepted for any layer. */
export const MAX_MLP_WIDTH = 256;

/** Workgroup size of the forward kernel; pass it to `IndirectArgs` for indirect dispatch. */
export const MLP_FORWARD_WORKGROUP = 64;

/**
 * Largest parameter count for which straight-line (unrolled) kernels are generated; wider
 * MLPs use the loop kernels, whose source does not grow with the widths. The unrolled
 * backward keeps two values per parameter live across its sample loop, and LLVM's compile
 * time has a cliff there: on llvmpipe (LLVM 15) 1,780 parameters compiled in 2 s, 1,817
 * did not finish in 40 s, 2,372 (32→64→4) not in 12 min.
 */
export const MLP_UNROLL_LIMIT = 1024;

/** Invocations per workgroup of the unrolled backward kernel: one 256-bit vector of f32. */
const UNROLLED_BACKWARD_WORKGROUP = 8;

/**
 * Validates a partial MLP config and fills in the defaults.
 *
 * @example
 * ```ts
 * import { resolveMlpConfig } from "./mlp.ts";
 * console.log(resolveMlpConfig({ hidden: 16 })); // { input: 32, hidden: 16, output: 4 }
 * ```
 */
export function resolveMlpConfig(partial: Partial<MlpConfig> = {}): MlpConfig {
  const known = Object.keys(DEFAULT_MLP);
  for (const key of Object.keys(partial)) {
    if (!known.includes(key)) {
      throw new RangeError(`Unknown mlp option ${key}: expected one of ${known.join(", ")}`);
    }
  }
  const c = { ...DEFAULT_MLP, ...partial };
  const range = { min: 1, max: MAX_MLP_WIDTH };
  requireInt("mlp.input", c.input, range);
  requireInt("mlp.hidden", c.hidden, range);
  requireInt("mlp.output", c.output, range);
  return c;
}

/**
 * Offsets (in floats) of each tensor inside the flat parameter buffer.
 *
 * @example
 * ```ts
 * import { type MlpLayout, mlpLayout } from "./mlp.ts";
 * const layout: MlpLayout = mlpLayout({ input: 8, hidden: 16 });
 * console.log(layout.b1, layout.w2, layout.b2, layout.size); // 128 144 208 212
 * ```
 */
export interface MlpLayout {
  /** The resolved widths. */
  config: Readonly<MlpConfig>;
  /** `W1 [H][In]` starts here (0). */
  w1: number;
  /** `b1 [H]`. */
  b1: number;
  /** `W2 [Out][H]`. */
  w2: number;
  /** `b2 [Out]`. */
  b2: number;
  /** Total number of parameters. */
  size: number;
}

/**
 * The flat parameter layout `W1 [H][In]`, `b1 [H]`, `W2 [Out][H]`, `b2 [Out]`.
 *
 * @example
 * ```ts
 * import { mlpLayout } from "./mlp.ts";
 * console.log(mlpLayout({}).size); // 2372
 * ```
 */
export function mlpLayout(config: Partial<MlpConfig> = {}): MlpLayout {
  const c = resolveMlpConfig(config);
  const w1 = 0;
  const b1 = w1 + c.hidden * c.input;
  const w2 = b1 + c.hidden;
  const b2 = w2 + c.output * c.hidden;
  return { config: Object.freeze(c), w1, b1, w2, b2, size: b2 + c.output };
}

/**
 * PyTorch's default `nn.Linear` init: weights and biases U(±1/√fan_in), drawn in the
 * order W1, b1, W2, b2 from a seeded generator.
 *
 * @param config MLP widths (defaults filled in)
 * @param random uniform [0, 1) generator, e.g. `seededRandom(seed)`
 * @returns the flat parameters
 *
 * @example
 * ```ts
 * import { initMlpParams } from "./mlp.ts";
 * import { seededRandom } from "./random.ts";
 * const params = initMlpParams({}, seededRandom(0));
 * console.log(params.length, Math.abs(params[0]!) <= 1 / Math.sqrt(32)); // 2372 true
 * ```
 */
export function initMlpParams(
  config: Partial<MlpConfig>,
  random: () => number,
): Float32Array<ArrayBuffer> {
  const layout = mlpLayout(config);
  const { input, hidden } = layout.config;
  const out = new Float32Array(layout.size);
  const fill = (from: number, to: number, fanIn: number) => {
    const bound = 1 / Math.sqrt(fanIn);
    for (let i = from; i < to; i++) out[i] = (random() * 2 - 1) * bound;
  };
  fill(layout.w1, layout.b1, input);
  fill(layout.b1, layout.w2, input);
  fill(layout.w2, layout.b2, hidden);
  fill(layout.b2, layout.size, hidden);
  return out;
}

/**
 * How the backward kernel is shaped for a device.
 *
 * @example A 16 KiB workgroup fits 16 samples and no weight cache
 * ```ts
 * import { type MlpBackwardPlan, planMlpBackward } from "./mlp.ts";
 * const plan: MlpBackwardPlan = planMlpBackward({}, { workgroupBytes: 16384 });
 * console.log(plan); // { tile: 16, cacheWeights: false }
 * ```
 */
export interface MlpBackwardPlan {
  /** Samples (and invocations) per workgroup tile: a power of two in [1, 64]. */
  tile: number;
  /** Whether the parameters are copied into workgroup memory. */
  cacheWeights: boolean;
}

/**
 * Picks the backward tile: the largest power of two up to 64 whose per-sample arrays
 * (x, relu(z), dL/dz, dL/draw: In + 2H + Out floats) fit `workgroupBytes`, then caches
 * the parameters in workgroup memory too if they still fit beside that tile.
 *
 * @example
 * ```ts
 * import { planMlpBackward } from "./mlp.ts";
 * console.log(planMlpBackward({}, { workgroupBytes: 32768 })); // { tile: 32, cacheWeights: true }
 * ```
 */
export function planMlpBackward(
  config: Partial<MlpConfig>,
  options: { workgroupBytes: number },
): MlpBackwardPlan {
  const layout = mlpLayout(config);
  const { input, hidden, output } = layout.config;
  // Four bytes of slack for the workgroup-uniform copy of N.
  const budget = options.workgroupBytes - 4;
  const perSample = (input + 2 * hidden + output) * 4;
  let tile = 64;
  while (tile > 1 && tile * perSample > budget) tile /= 2;
  if (tile * perSample > budget) {
    throw new RangeError(
      `Invalid MLP for this device: one sample of the backward tile needs ${perSample} bytes of workgroup memory, over the limit of ${options.workgroupBytes}`,
    );
  }
  const cacheWeights = tile * perSample + layout.size * 4 <= budget;
  return { tile, cacheWeights };
}

/**
 * Straight-line `forward_sample(i, n)` for mlp.wgsl. Rows past N read the last valid row
 * rather than returning early: llvmpipe only loads a uniform address once (and broadcasts
 * it) outside control flow, so the weight loads must come before the `if` that guards the
 * stores.
 */
function forwardUnrolled(layout: MlpLayout): string {
  const { input: nIn, hidden: nHid, output: nOut } = layout.config;
  const s: string[] = [
    "fn forward_sample(i: u32, n: u32) {",
    "  let xb = min(i, max(n, 1u) - 1u) * IN;",
  ];
  for (let k = 0; k < nIn; k++) s.push(`  let x${k} = features[xb + ${k}u];`);
  for (let c = 0; c < nOut; c++) s.push(`  var o${c} = params[${layout.b2 + c}u];`);
  s.push("  var z: f32;");
  for (let j = 0; j < nHid; j++) {
    s.push(`  z = params[${layout.b1 + j}u];`);
    for (let k = 0; k < nIn; k++) {
      s.push(`  z = fma(params[${layout.w1 + j * nIn + k}u], x${k}, z);`);
    }
    s.push(`  let h${j} = max(z, 0.0);`);
    for (let c = 0; c < nOut; c++) {
      s.push(`  o${c} = fma(params[${layout.w2 + c * nHid + j}u], h${j}, o${c});`);
    }
  }
  s.push("  if (i < n) {", "    let rb = i * OUT;");
  for (let c = 0; c < nOut; c++) s.push(`    raw[rb + ${c}u] = o${c};`);
  s.push("  }", "}");
  return s.join("\n");
}

/**
 * Straight-line `backward_samples(first, stride, n, row)` for mlp_backward.wgsl: every
 * weight is loaded into a `let` before the sample loop (inside it, llvmpipe would gather
 * them lane by lane), and every parameter gradient is a scalar running sum, written once
 * as row `row` of the partials. Sums run in the tiled kernel's order (fma(dz, x, acc)).
 */
function backwardUnrolled(layout: MlpLayout): string {
  const { input: nIn, hidden: nHid, output: nOut } = layout.config;
  const s: string[] = ["fn backward_samples(first: u32, stride: u32, n: u32, row: u32) {"];
  for (let p = 0; p < layout.size; p++) s.push(`  let w${p} = params[${p}u];`);
  for (let p = 0; p < layout.size; p++) s.push(`  var g${p} = 0.0;`);
  s.push(
    "  for (var i = first; i < n; i += stride) {",
    "    let xb = i * IN;",
    "    let db = i * OUT;",
  );
  for (let k = 0; k < nIn; k++) s.push(`    let x${k} = features[xb + ${k}u];`);
  for (let c = 0; c < nOut; c++) s.push(`    let d${c} = d_raw[db + ${c}u];`);
  s.push("    var z: f32;", "    var dh: f32;", "    var dx: f32;");
  for (let j = 0; j < nHid; j++) {
    s.push(`    z = w${layout.b1 + j};`);
    for (let k = 0; k < nIn; k++) s.push(`    z = fma(w${layout.w1 + j * nIn + k}, x${k}, z);`);
    s.push("    dh = 0.0;");
    for (let c = 0; c < nOut; c++) s.push(`    dh = fma(w${layout.w2 + c * nHid + j}, d${c}, dh);`);
    s.push(`    let h${j} = max(z, 0.0);`, `    let e${j} = select(0.0, dh, z > 0.0);`);
  }
  for (let k = 0; k < nIn; k++) {
    s.push("    dx = 0.0;");
    for (let j = 0; j < nHid; j++) s.push(`    dx = fma(w${layout.w1 + j * nIn + k}, e${j}, dx);`);
    s.push(`    d_features[xb + ${k}u] = dx;`);
  }
  for (let j = 0; j < nHid; j++) {
    for (let k = 0; k < nIn; k++) {
      const p = layout.w1 + j * nIn + k;
      s.push(`    g${p} = fma(e${j}, x${k}, g${p});`);
    }
    s.push(`    g${layout.b1 + j} += e${j};`);
  }
  for (let c = 0; c < nOut; c++) {
    for (let j = 0; j < nHid; j++) {
      const p = layout.w2 + c * nHid + j;
      s.push(`    g${p} = fma(d${c}, h${j}, g${p});`);
    }
    s.push(`    g${layout.b2 + c} += d${c};`);
  }
  s.push("  }", "  let pb = row * NPARAMS;");
  for (let p = 0; p < layout.size; p++) s.push(`  partials[pb + ${p}u] = g${p};`);
  s.push("}");
  return s.join("\n");
}

/**
 * Generated WGSL with the layout constants and the weight accessor `wt` for the loop
 * kernels (`mlp.wgsl`, `mlp_backward.wgsl`); other kernels that include the MLP (the
 * browser viewer) use it too.
 *
 * @param layout the MLP's parameter layout
 * @param options `cacheWeights`: copy the weights into workgroup memory first; `tile`:
 *   the backward's samples per tile (1 for the forward)
 * @returns the `mlp_dims` fragment
 *
 * @example
 * ```ts
 * import { mlpDimsFragment, mlpLayout } from "./mlp.ts";
 * const wgsl = mlpDimsFragment(mlpLayout({ input: 32, hidden: 64, output: 4 }), { cacheWeights: false, tile: 1 });
 * console.log(wgsl.split("\n")[1]); // const HID: u32 = 64u;
 * ```
 */
export function mlpDimsFragment(
  layout: MlpLayout,
  options: { cacheWeights: boolean; tile: number },
): string {
  const { cacheWeights, tile } = options;
  const { input, hidden, output } = layout.config;
  const lines = [
    `const IN: u32 = ${input}u;`,
    `const HID: u32 = ${hidden}u;`,
    `const OUT: u32 = ${output}u;`,
    `const W1_AT: u32 = ${layout.w1}u;`,
    `const B1_AT: u32 = ${layout.b1}u;`,
    `const W2_AT: u32 = ${layout.w2}u;`,
    `const B2_AT: u32 = ${layout.b2}u;`,
    `const NPARAMS: u32 = ${layout.size}u;`,
    `const TILE: u32 = ${tile}u;`,
    `const UNROLLED_WG: u32 = ${UNROLLED_BACKWARD_WORKGROUP}u;`,
  ];
  if (cacheWeights) {
    lines.push(
      `var<workgroup> wcache: array<f32, ${layout.size}>;`,
      `fn load_weights(lid: u32, threads: u32) {`,
      `  for (var i = lid; i < NPARAMS; i += threads) { wcache[i] = params[i]; }`,
      `  workgroupBarrier();`,
      `}`,
      `fn wt(i: u32) -> f32 { return wcache[i]; }`,
    );
  } else {
    lines.push(
      `fn load_weights(lid: u32, threads: u32) {}`,
      `fn wt(i: u32) -> f32 { return params[i]; }`,
    );
  }
  return lines.join("\n");
}

/**
 * Buffers the backward pass reads and writes.
 *
 * @example dL/db2 equals dL/draw
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { Mlp, type MlpBackwardBuffers, mlpLayout } from "./mlp.ts";
 * const gpu = await acquireGpu({ log: null });
 * const config = { input: 4, hidden: 8, output: 2 };
 * const layout = mlpLayout(config);
 * const backward: MlpBackwardBuffers = {
 *   dRaw: gpu.createBuffer(new Float32Array([1, 0.5])),
 *   dFeatures: gpu.createBuffer(4 * 4),
 *   grads: gpu.createBuffer(layout.size * 4),
 * };
 * const mlp = await Mlp.create(gpu, {
 *   config,
 *   maxBatch: 1,
 *   params: gpu.createBuffer(new Float32Array(layout.size)),
 *   features: gpu.createBuffer(new Float32Array([0.1, 0.2, 0.3, 0.4])),
 *   raw: gpu.createBuffer(2 * 4),
 *   count: gpu.createBuffer(new Uint32Array([1])),
 *   backward,
 * });
 * gpu.submit((e) => { const p = e.beginComputePass(); mlp.encodeBackward(p); p.end(); });
 * const grads = new Float32Array(await gpu.read(backward.grads));
 * console.log(grads.slice(layout.b2)); // Float32Array(2) [ 1, 0.5 ]
 * mlp.destroy();
 * gpu.destroy();
 * ```
 */
export interface MlpBackwardBuffers {
  /** dL/draw `[N][Out]`. */
  dRaw: GPUBuffer | BufferRange;
  /** dL/dfeatures `[N][In]`, overwritten for the first N rows. */
  dFeatures: GPUBuffer | BufferRange;
  /** Parameter gradients in the parameter layout; the backward pass adds into it. */
  grads: GPUBuffer;
}

/**
 * Options for {@linkcode Mlp.create}.
 *
 * @example A 4 → 8 → 2 MLP whose output is its bias
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { Mlp, mlpLayout, type MlpOptions } from "./mlp.ts";
 * const gpu = await acquireGpu({ log: null });
 * const config = { input: 4, hidden: 8, output: 2 };
 * const layout = mlpLayout(config);
 * const params = new Float32Array(layout.size);
 * params.set([1, 2], layout.b2);
 * const raw = gpu.createBuffer(2 * 4);
 * const options: MlpOptions = {
 *   config,
 *   maxBatch: 1,
 *   params: gpu.createBuffer(params),
 *   features: gpu.createBuffer(new Float32Array([0.1, 0.2, 0.3, 0.4])),
 *   raw,
 *   count: gpu.createBuffer(new Uint32Array([1])),
 * };
 * const mlp = await Mlp.create(gpu, options);
 * gpu.submit((e) => { const p = e.beginComputePass(); mlp.encodeForward(p); p.end(); });
 * console.log(new Float32Array(await gpu.read(raw))); // Float32Array(2) [ 1, 2 ]
 * mlp.destroy();
 * gpu.destroy();
 * ```
 */
export interface MlpOptions {
  /** Widths; defaults to 32 → 64 → 4. */
  config?: Partial<MlpConfig>;
  /** Largest N the buffers hold: bounds the direct forward dispatch and sizes the partials. */
  maxBatch: number;
  /** Flat parameters (see {@linkcode mlpLayout}). */
  params: GPUBuffer;
  /** Features `[N][In]`. */
  features: GPUBuffer | BufferRange;
  /** Raw outputs `[N][Out]`, written by the forward pass. */
  raw: GPUBuffer | BufferRange;
  /** One u32: N (`count[0]`), which may be produced on the GPU. */
  count: GPUBuffer | BufferRange;
  /** Backward buffers; without them only the forward pass is built. */
  backward?: MlpBackwardBuffers;
  /**
   * Workgroups of the backward pass. Defaults to enough for `maxBatch` in one tile each
   * (tiled kernels) or 32 samples per invocation (unrolled kernels), capped at 1024 and
   * at 16 Mi partial floats.
   */
  groups?: number;
  /**
   * Straight-line kernels without loops over private arrays or barriers (see mlp.wgsl).
   * Defaults to true on software adapters (`gpu.software`) for MLPs of at most
   * {@linkcode MLP_UNROLL_LIMIT} parameters, else false (tiled loop kernels). Both give
   * the same values up to float32 summation order.
   */
  unrolled?: boolean;
}

/**
 * Dispatch source for {@linkcode Mlp.encodeForward}.
 *
 * @example Dispatch from an indirect-arguments buffer
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { Mlp, mlpLayout, type MlpDispatchOptions } from "./mlp.ts";
 * const gpu = await acquireGpu({ log: null });
 * const config = { input: 4, hidden: 8, output: 2 };
 * const params = new Float32Array(mlpLayout(config).size);
 * params.set([3, 4], mlpLayout(config).b2);
 * const raw = gpu.createBuffer(2 * 4);
 * const mlp = await Mlp.create(gpu, {
 *   config,
 *   maxBatch: 1,
 *   params: gpu.createBuffer(params),
 *   features: gpu.createBuffer(new Float32Array(4)),
 *   raw,
 *   count: gpu.createBuffer(new Uint32Array([1])),
 * });
 * // Usually written on the GPU (IndirectArgs); here one workgroup, given directly.
 * const usage = GPUBufferUsage.INDIRECT | GPUBufferUsage.STORAGE;
 * const args = gpu.createBuffer(new Uint32Array([0, 0, 0, 1, 1, 1]), { usage });
 * const dispatch: MlpDispatchOptions = { indirect: args, indirectOffset: 12 };
 * gpu.submit((e) => { const p = e.beginComputePass(); mlp.encodeForward(p, dispatch); p.end(); });
 * console.log(new Float32Array(await gpu.read(raw))); // Float32Array(2) [ 3, 4 ]
 * mlp.destroy();
 * gpu.destroy();
 * ```
 */
export interface MlpDispatchOptions {
  /** INDIRECT buffer (e.g. `IndirectArgs.args` built with workgroupSize 64); else maxBatch bounds the grid. */
  indirect?: GPUBuffer;
  /** Byte offset of the arguments in `indirect`. */
  indirectOffset?: number;
}

interface Pass {
  pipeline: GPUComputePipeline;
  group: GPUBindGroup;
}

interface BackwardPasses {
  tiles: Pass;
  reduce: Pass;
}

/**
 * The MLP bound to fixed buffers: pipelines, bind groups and the partials buffer are
 * built once by {@linkcode Mlp.create}; the `encode…` methods only record dispatches.
 *
 * @example Forward 2 samples of the default MLP
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { initMlpParams, Mlp } from "./mlp.ts";
 * import { seededRandom } from "./random.ts";
 * const gpu = await acquireGpu({ log: null });
 * const raw = gpu.createBuffer(2 * 4 * 4);
 * const mlp = await Mlp.create(gpu, {
 *   maxBatch: 2,
 *   params: gpu.createBuffer(initMlpParams({}, seededRandom(1))),
 *   features: gpu.createBuffer(new Float32Array(64).fill(0.5)),
 *   raw,
 *   count: gpu.createBuffer(new Uint32Array([2])),
 * });
 * gpu.submit((e) => { const p = e.beginComputePass(); mlp.encodeForward(p); p.end(); });
 * console.log(new Float32Array(await gpu.read(raw)).length); // 8
 * gpu.destroy();
 * ```
 */
export class Mlp {
  /** The parameter layout. */
  readonly layout: MlpLayout;
  /** The buffers the passes were built for. */
  readonly buffers: Readonly<MlpOptions>;
  /** Whether the straight-line kernels were generated (see {@linkcode MlpOptions.unrolled}). */
  readonly unrolled: boolean;
  /** Backward tile shape chosen for the device (null without backward buffers or when unrolled). */
  readonly plan: MlpBackwardPlan | null;
  /**
   * Partial gradient sums `[rows][params]`, one row per backward workgroup (tiled) or per
   * backward invocation (unrolled); null without backward buffers.
   */
  readonly partials: GPUBuffer | null;
  /** Workgroups of the backward pass. */
  readonly groups: number;
  readonly #gpu: Gpu;
  readonly #forward: Pass;
  readonly #backward: BackwardPasses | null;

  private constructor(init: {
    gpu: Gpu;
    layout: MlpLayout;
    buffers: MlpOptions;
    unrolled: boolean;
    plan: MlpBackwardPlan | null;
    partials: GPUBuffer | null;
    groups: number;
    forward: Pass;
    backward: BackwardPasses | null;
  }) {
    this.#gpu = init.gpu;
    this.layout = init.layout;
    this.buffers = init.buffers;
    this.unrolled = init.unrolled;
    this.plan = init.plan;
    this.partials = init.partials;
    this.groups = init.groups;
    this.#forward = init.forward;
    this.#backward = init.backward;
  }

  /** Compiles the kernels (cached per widths and device) and binds `options`' buffers. */
  static async create(gpu: Gpu, options: MlpOptions): Promise<Mlp> {
    const layout = mlpLayout(options.config ?? {});
    const maxBatch = requireInt("mlp.maxBatch", options.maxBatch, { min: 1 });
    const workgroupBytes = gpu.limits.maxComputeWorkgroupStorageSize;
    const unrolled = options.unrolled ?? (gpu.software && layout.size <= MLP_UNROLL_LIMIT);
    if (unrolled && layout.size > MLP_UNROLL_LIMIT) {
      throw new RangeError(
        `Invalid option mlp.unrolled: expected at most ${MLP_UNROLL_LIMIT} parameters for unrolled kernels, got ${layout.size}`,
      );
    }
    // The unrolled forward reads the weights from storage, so it skips the copy and barrier.
    const forwardCache = !unrolled && layout.size * 4 <= workgroupBytes;
    const forwardPipeline = await gpu.pipeline("mlp", {
      fragments: {
        mlp_dims: mlpDimsFragment(layout, { cacheWeights: forwardCache, tile: 1 }),
        mlp_forward_body: unrolled
          ? forwardUnrolled(layout)
          : "fn forward_sample(i: u32, n: u32) { if (i < n) { forward_loop(i); } }",
      },
    });
    const forward = {
      pipeline: forwardPipeline,
      group: gpu.bindGroup(forwardPipeline, [
        options.params,
        options.features,
        options.raw,
        options.count,
      ]),
    };
    let plan: MlpBackwardPlan | null = null;
    let partials: GPUBuffer | null = null;
    let groups = 0;
    let backward: BackwardPasses | null = null;
    if (options.backward !== undefined) {
      plan = unrolled ? null : planMlpBackward(layout.config, { workgroupBytes });
      // Samples per workgroup in the default grid.
      const perGroup = plan === null ? 32 * UNROLLED_BACKWARD_WORKGROUP : plan.tile;
      const rowsPerGroup = plan === null ? UNROLLED_BACKWARD_WORKGROUP : 1;
      const byMemory = Math.max(1, Math.floor(2 ** 24 / (layout.size * rowsPerGroup)));
      groups = options.groups === undefined
        ? Math.min(Math.ceil(maxBatch / perGroup), 1024, byMemory)
        : requireInt("mlp.groups", options.groups, { min: 1, max: 65535 });
      const rows = groups * rowsPerGroup;
      partials = gpu.createBuffer(rows * layout.size * 4, { label: "mlp partials" });
      const tilesPipeline = await gpu.pipeline("mlp_backward", {
        fragments: {
          mlp_dims: mlpDimsFragment(layout, {
            cacheWeights: plan?.cacheWeights ?? false,
            tile: plan?.tile ?? 1,
          }),
          mlp_backward_body: plan === null
            ? backwardUnrolled(layout)
            : "fn backward_samples(first: u32, stride: u32, n: u32, row: u32) {}",
        },
        entryPoint: plan === null ? "main_unrolled" : "main",
      });
      const reducePipeline = await gpu.pipeline("mlp_reduce", {
        constants: { GROUPS: rows, PARAMS: layout.size },
      });
      const b = options.backward;
      backward = {
        tiles: {
          pipeline: tilesPipeline,
          group: gpu.bindGroup(tilesPipeline, [
            options.params,
            options.features,
            b.dRaw,
            b.dFeatures,
            partials,
            options.count,
          ]),
        },
        reduce: {
          pipeline: reducePipeline,
          group: gpu.bindGroup(reducePipeline, [partials, b.grads]),
        },
      };
    }
    return new Mlp({
      gpu,
      layout,
      buffers: { ...options, maxBatch },
      unrolled,
      plan,
      partials,
      groups,
      forward,
      backward,
    });
  }

  /**
   * Records the forward pass over `count[0]` samples: directly for `maxBatch` invocations,
   * or through `options.indirect`.
   */
  encodeForward(pass: GPUComputePassEncoder, options: MlpDispatchOptions = {}): void {
    const { pipeline, group } = this.#forward;
    if (options.indirect !== undefined) {
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, group);
      pass.dispatchWorkgroupsIndirect(options.indirect, options.indirectOffset ?? 0);
      return;
    }
    this.#gpu.dispatch(pass, pipeline, group, this.buffers.maxBatch, MLP_FORWARD_WORKGROUP);
  }

  /**
   * Records the backward pass over `count[0]` samples: writes dL/dfeatures and adds the
   * parameter gradients into `backward.grads`. Its grid does not depend on N.
   */
  encodeBackward(pass: GPUComputePassEncoder): void {
    if (this.#backward === null) {
      throw new Error("Mlp.encodeBackward: the MLP was created without backward buffers");
    }
    const { tiles, reduce } = this.#backward;
    pass.setPipeline(tiles.pipeline);
    pass.setBindGroup(0, tiles.group);
    pass.dispatchWorkgroups(this.groups);
    this.#gpu.dispatch(pass, reduce.pipeline, reduce.group, this.layout.size, 64);
  }

  /** Frees the buffers this object owns (the partials), not the ones it was given. */
  destroy(): void {
    this.partials?.destroy();
  }
}

/** Inputs of {@linkcode mlpForwardOnce}. */
export interface MlpForwardInputs {
  /** Flat parameters. */
  params: ArrayLike<number>;
  /** Features `[N][In]`. */
  features: ArrayLike<number>;
  /** Dispatch bound (≥ N) to exercise the count buffer; defaults to N. */
  maxBatch?: number;
  /** Kernel shape (see {@linkcode MlpOptions.unrolled}); defaults by device and size. */
  unrolled?: boolean;
}

function f32(
  values: ArrayLike<number>,
  label: string,
  length: number,
): Float32Array<ArrayBuffer> {
  if (values.length !== length) {
    throw new RangeError(`Invalid ${label}: expected ${length} floats, got ${values.length}`);
  }
  return Float32Array.from(values);
}

function batchOf(features: ArrayLike<number>, input: number): number {
  const n = features.length / input;
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(
      `Invalid features: expected a positive multiple of ${input} floats, got ${features.length}`,
    );
  }
  return n;
}

/**
 * One-shot forward for tests and benchmarks: uploads, runs and reads back.
 *
 * @example
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { initMlpParams, mlpForwardOnce } from "./mlp.ts";
 * import { seededRandom } from "./random.ts";
 * const gpu = await acquireGpu({ log: null });
 * const params = initMlpParams({}, seededRandom(3));
 * const raw = await mlpForwardOnce(gpu, {}, { params, features: new Float32Array(32) });
 * console.log(raw.length); // 4
 * gpu.destroy();
 * ```
 */
export async function mlpForwardOnce(
  gpu: Gpu,
  config: Partial<MlpConfig>,
  inputs: MlpForwardInputs,
): Promise<Float32Array> {
  const layout = mlpLayout(config);
  const { input, output } = layout.config;
  const n = batchOf(inputs.features, input);
  const maxBatch = Math.max(n, inputs.maxBatch ?? n);
  const features = new Float32Array(maxBatch * input);
  features.set(inputs.features);
  const owned = [
    gpu.createBuffer(f32(inputs.params, "params", layout.size), { label: "mlp params" }),
    gpu.createBuffer(features, { label: "mlp features" }),
    gpu.createBuffer(maxBatch * output * 4, { label: "mlp raw" }),
    gpu.createBuffer(new Uint32Array([n]), { label: "mlp count" }),
  ] as const;
  const [params, featureBuf, raw, count] = owned;
  try {
    const mlp = await Mlp.create(gpu, {
      config: layout.config,
      maxBatch,
      params,
      features: featureBuf,
      raw,
      count,
      ...(inputs.unrolled === undefined ? {} : { unrolled: inputs.unrolled }),
    });
    gpu.submit((encoder) => {
      const pass = encoder.beginComputePass();
      mlp.encodeForward(pass);
      pass.end();
    });
    return new Float32Array(await gpu.read(raw, { byteLength: n * output * 4 }));
  } finally {
    for (const b of owned) b.destroy();
  }
}

/** Inputs of {@linkcode mlpBackwardOnce}. */
export interface MlpBackwardInputs extends MlpForwardInputs {
  /** dL/draw `[N][Out]`. */
  dRaw: ArrayLike<number>;
  /** Existing gradients the pass adds into; defaults to zeros. */
  grads?: ArrayLike<number>;
  /** Backward workgroups (see {@linkcode MlpOptions.groups}). */
  groups?: number;
}

/** Outputs of {@linkcode mlpBackwardOnce}. */
export interface MlpBackwardResult {
  /** dL/dfeatures `[N][In]`. */
  dFeatures: Float32Array;
  /** The gradient buffer after accumulation: `grads` plus dL/dparams. */
  dParams: Float32Array;
}

/**
 * One-shot backward for tests and benchmarks: uploads, runs and reads back.
 *
 * @example
 * ```ts
 * import { acquireGpu } from "./gpu.ts";
 * import { initMlpParams, mlpBackwardOnce } from "./mlp.ts";
 * import { seededRandom } from "./random.ts";
 * const gpu = await acquireGpu({ log: null });
 * const params = initMlpParams({}, seededRandom(3));
 * const { dParams } = await mlpBackwardOnce(gpu, {}, {
 *   params,
 *   features: new Float32Array(32).fill(1),
 *   dRaw: new Float32Array([1, 0, 0, 0]),
 * });
 * console.log(dParams[2371]); // 0: dL/db2[3] is dL/draw[3]
 * gpu.destroy();
 * ```
 */
export async function mlpBackwardOnce(
  gpu: Gpu,
  config: Partial<MlpConfig>,
  inputs: MlpBackwardInputs,
): Promise<MlpBackwardResult> {
  const layout = mlpLayout(config);
  const { input, output } = layout.config;
  const n = batchOf(inputs.features, input);
  const maxBatch = Math.max(n, inputs.maxBatch ?? n);
  const features = new Float32Array(maxBatch * input);
  features.set(inputs.features);
  const dRaw = new Float32Array(maxBatch * output);
  dRaw.set(f32(inputs.dRaw, "dRaw", n * output));
  const grads = inputs.grads === undefined
    ? new Float32Array(layout.size)
    : f32(inputs.grads, "grads", layout.size);
  const owned = [
    gpu.createBuffer(f32(inputs.params, "params", layout.size), { label: "mlp params" }),
    gpu.createBuffer(features, { label: "mlp features" }),
    gpu.createBuffer(4 * output, { label: "mlp raw (unused)" }),
    gpu.createBuffer(new Uint32Array([n]), { label: "mlp count" }),
    gpu.createBuffer(dRaw, { label: "mlp dRaw" }),
    gpu.createBuffer(maxBatch * input * 4, { label: "mlp dFeatures" }),
    gpu.createBuffer(grads, { label: "mlp grads" }),
  ] as const;
  const [params, featureBuf, raw, count, dRawBuf, dFeatures, gradBuf] = owned;
  let mlp: Mlp | null = null;
  try {
    mlp = await Mlp.create(gpu, {
      config: layout.config,
      maxBatch,
      params,
      features: featureBuf,
      raw,
      count,
      backward: { dRaw: dRawBuf, dFeatures, grads: gradBuf },
      ...(inputs.groups === undefined ? {} : { groups: inputs.groups }),
      ...(inputs.unrolled === undefined ? {} : { unrolled: inputs.unrolled }),
    });
    const m = mlp;
    gpu.submit((encoder) => {
      const pass = encoder.beginComputePass();
      m.encodeBackward(pass);
      pass.end();
    });
    return {
      dFeatures: new Float32Array(await gpu.read(dFeatures, { byteLength: n * input * 4 })),
      dParams: new Float32Array(await gpu.read(gradBuf, { byteLength: layout.size * 4 })),
    };
  } finally {
    mlp?.destroy();
    for (const b of owned) b.destroy();
  }
}
