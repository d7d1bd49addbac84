/**
 * Float64 twin of `shade.wgsl`: density with the blob, albedo, finite-difference
 * normals and the four shading modes, forward and backward
 * (Animate124 main: dnerf/network_4dgrid.py:204, 248-302, 315-329; SPEC §2.3-2.4).
 *
 * @module
 */
import { FD_BLOCKS, FD_EPSILON, fdPoint } from "./normal_points_twin.ts";

/**
 * Shading modes, in the order of their WGSL codes 0..3.
 *
 * @example
 * ```ts
 * import { SHADING_MODES, shadeTwin } from "./shade_twin.ts";
 * // The WGSL code of a mode is its index here.
 * console.log(SHADING_MODES.indexOf("textureless")); // 2
 * // One sample on the density blob, lit head-on, in every mode.
 * const colours = SHADING_MODES.map((mode) =>
 *   shadeTwin({
 *     raw: new Float64Array(28), positions: [0.1, 0, 0], rayIndex: [0], lights: [1, 0, 0],
 *     raysPerFrame: 1, mode, ambient: 0.1,
 *   }).colour[0]!.toFixed(2)
 * );
 * console.log(colours); // [ "0.50", "0.50", "1.00", "1.00" ]
 * ```
 */
export const SHADING_MODES = ["albedo", "lambertian", "textureless", "normal"] as const;

/**
 * A shading mode (SPEC §2.4).
 *
 * @example
 * ```ts
 * import { type ShadingMode, shadeTwin } from "./shade_twin.ts";
 * // `normal` shades with the normal mapped from [−1, 1] to [0, 1].
 * const mode: ShadingMode = "normal";
 * const out = shadeTwin({
 *   raw: new Float64Array(28), positions: [0.1, 0, 0], rayIndex: [0], lights: [1, 0, 0],
 *   raysPerFrame: 1, mode, ambient: 0.1,
 * });
 * console.log(Array.from(out.colour, (c) => c.toFixed(2))); // [ "1.00", "0.50", "0.50" ]
 * ```
 */
export type ShadingMode = typeof SHADING_MODES[number];

/** Peak of the density blob (`blob_density`, Animate124 main: main.py:201-209). */
export const BLOB_DENSITY = 10;
/** Radius of the density blob (`blob_radius`). */
export const BLOB_RADIUS = 0.2;
/** trunc_exp's backward multiplies by exp(min(x, 15)) (Animate124 main: activation.py). */
export const TRUNC_EXP_MAX = 15;

/**
 * The constant density blob 10·exp(−‖x‖²/(2·0.2²)) at `[x, y, z]`
 * (Animate124 main: dnerf/network_4dgrid.py:315-329).
 *
 * @example
 * ```ts
 * import { blob } from "./shade_twin.ts";
 * console.log(blob([0, 0, 0])); // 10
 * ```
 */
export function blob(point: ArrayLike<number>): number {
  const d = point[0]! ** 2 + point[1]! ** 2 + point[2]! ** 2;
  return BLOB_DENSITY * Math.exp(-d / (2 * BLOB_RADIUS * BLOB_RADIUS));
}

/** Inputs shared by {@linkcode shadeTwin} and {@linkcode shadeBackwardTwin}. */
export interface ShadeInputs {
  /** `[7][S][4]` raw MLP outputs at the finite-difference point set. */
  raw: ArrayLike<number>;
  /** `[S][3]` sample positions. */
  positions: ArrayLike<number>;
  /** `[S]` ray index of each sample. */
  rayIndex: ArrayLike<number>;
  /** `[F][3]` normalised light direction per frame. */
  lights: ArrayLike<number>;
  /** Rays per frame (H·W): the frame of ray r is ⌊r / raysPerFrame⌋. */
  raysPerFrame: number;
  /** Shading mode. */
  mode: ShadingMode;
  /** Ambient ratio a. */
  ambient: number;
}

/** Outputs of {@linkcode shadeTwin}. */
export interface ShadeOutputs {
  /** `[S]` density. */
  sigma: Float64Array;
  /** `[S][3]` shaded colour. */
  colour: Float64Array;
  /** `[S][3]` normal. */
  normal: Float64Array;
}

/** Upstream gradients for {@linkcode shadeBackwardTwin}. */
export interface ShadeGrads {
  /** `[S]` dL/dσ. */
  sigma: ArrayLike<number>;
  /** `[S][3]` dL/dcolour. */
  colour: ArrayLike<number>;
  /** `[S][3]` dL/dnormal. */
  normal: ArrayLike<number>;
}

interface SampleState {
  logit: Float64Array;
  v: number[];
  n: number[];
  finite: boolean[];
  albedo: number[];
  light: number[];
  nDotL: number;
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

function sampleState(inputs: ShadeInputs, i: number, s: number): SampleState {
  const q = new Float64Array(3);
  const logit = new Float64Array(FD_BLOCKS);
  for (let b = 0; b < FD_BLOCKS; b++) {
    fdPoint(inputs.positions, { index: i, block: b, out: q });
    logit[b] = inputs.raw[4 * (b * s + i)]! + blob(q);
  }
  const sig = Array.from(logit, Math.exp);
  const v = [0, 1, 2].map((k) => -(sig[2 * k + 1]! - sig[2 * k + 2]!) / (2 * FD_EPSILON));
  const norm = Math.sqrt(Math.max(v[0]! ** 2 + v[1]! ** 2 + v[2]! ** 2, 1e-20));
  const u = v.map((x) => x / norm);
  const finite = u.map(Number.isFinite);
  const n = u.map((x, k) => finite[k] ? x : 0);
  const albedo = [1, 2, 3].map((k) => sigmoid(inputs.raw[4 * i + k]!));
  const frames = Math.max(1, Math.floor(inputs.lights.length / 3));
  const frame = Math.min(Math.floor(inputs.rayIndex[i]! / inputs.raysPerFrame), frames - 1);
  const light = [0, 1, 2].map((k) => inputs.lights[3 * frame + k]!);
  const nDotL = n[0]! * light[0]! + n[1]! * light[1]! + n[2]! * light[2]!;
  return { logit, v, n, finite, albedo, light, nDotL };
}

/**
 * Forward: σ, shaded colour and normal of every sample.
 *
 * @param inputs raw outputs, positions, ray indices, lights and shading
 * @returns per-sample σ, colour and normal
 *
 * @example
 * ```ts
 * import { shadeTwin } from "./shade_twin.ts";
 * const out = shadeTwin({
 *   raw: new Float64Array(28), positions: [0.5, 0, 0], rayIndex: [0], lights: [1, 0, 0],
 *   raysPerFrame: 1, mode: "albedo", ambient: 0.1,
 * });
 * console.log(out.colour[0]); // 0.5
 * ```
 */
export function shadeTwin(inputs: ShadeInputs): ShadeOutputs {
  const s = Math.floor(inputs.positions.length / 3);
  const sigma = new Float64Array(s);
  const colour = new Float64Array(3 * s);
  const normal = new Float64Array(3 * s);
  const a = inputs.ambient;
  for (let i = 0; i < s; i++) {
    const d = sampleState(inputs, i, s);
    sigma[i] = Math.exp(d.logit[0]!);
    const lam = a + (1 - a) * Math.max(0, d.nDotL);
    for (let k = 0; k < 3; k++) {
      normal[3 * i + k] = d.n[k]!;
      colour[3 * i + k] = inputs.mode === "albedo"
        ? d.albedo[k]!
        : inputs.mode === "lambertian"
        ? d.albedo[k]! * lam
        : inputs.mode === "textureless"
        ? lam
        : (d.n[k]! + 1) / 2;
    }
  }
  return { sigma, colour, normal };
}

/**
 * Backward: dL/draw `[7][S][4]` from dL/dσ, dL/dcolour and dL/dnormal. Gradients flow
 * through all six shifted densities of the normals; channels 1..3 of the shifted
 * blocks are zero.
 *
 * @param inputs the forward's inputs
 * @param grads upstream gradients
 * @returns dL/draw `[7][S][4]`
 *
 * @example
 * ```ts
 * import { shadeBackwardTwin } from "./shade_twin.ts";
 * const g = shadeBackwardTwin({
 *   raw: new Float64Array(28), positions: [0.5, 0, 0], rayIndex: [0], lights: [1, 0, 0],
 *   raysPerFrame: 1, mode: "albedo", ambient: 0.1,
 * }, { sigma: [1], colour: [0, 0, 0], normal: [0, 0, 0] });
 * console.log(g[0]! > 0); // true: dσ/draw = σ
 * ```
 */
export function shadeBackwardTwin(inputs: ShadeInputs, grads: ShadeGrads): Float64Array {
  const s = Math.floor(inputs.positions.length / 3);
  const out = new Float64Array(FD_BLOCKS * s * 4);
  const a = inputs.ambient;
  for (let i = 0; i < s; i++) {
    const d = sampleState(inputs, i, s);
    const dc = [0, 1, 2].map((k) => grads.colour[3 * i + k]!);
    const dn = [0, 1, 2].map((k) => grads.normal[3 * i + k]!);
    let dalb = [0, 0, 0];
    let dlam = 0;
    if (inputs.mode === "albedo") dalb = dc;
    if (inputs.mode === "lambertian") {
      const lam = a + (1 - a) * Math.max(0, d.nDotL);
      dalb = dc.map((g) => g * lam);
      dlam = dc[0]! * d.albedo[0]! + dc[1]! * d.albedo[1]! + dc[2]! * d.albedo[2]!;
    }
    if (inputs.mode === "textureless") dlam = dc[0]! + dc[1]! + dc[2]!;
    if (inputs.mode === "normal") { for (let k = 0; k < 3; k++) dn[k] = dn[k]! + dc[k]! / 2; }
    // torch's clamp(min=0) lets the gradient through at exactly 0.
    if (d.nDotL >= 0) { for (let k = 0; k < 3; k++) dn[k] = dn[k]! + (1 - a) * dlam * d.light[k]!; }
    // nan_to_num passes the gradient only where its input was finite.
    for (let k = 0; k < 3; k++) if (!d.finite[k]) dn[k] = 0;
    // n = v·r, r = 1/√max(‖v‖², 1e-20): dv = r·dn − r³(v·dn)·v while the max is inactive.
    const vv = d.v[0]! ** 2 + d.v[1]! ** 2 + d.v[2]! ** 2;
    const r = 1 / Math.sqrt(Math.max(vv, 1e-20));
    const vdn = d.v[0]! * dn[0]! + d.v[1]! * dn[1]! + d.v[2]! * dn[2]!;
    const dv = [0, 1, 2].map((k) => r * dn[k]! - (vv >= 1e-20 ? r ** 3 * vdn * d.v[k]! : 0));
    // v = −∇σ, ∇σ_k = (σ_{2k+1} − σ_{2k+2})/(2ε).
    const dsig = new Float64Array(FD_BLOCKS);
    dsig[0] = grads.sigma[i]!;
    for (let k = 0; k < 3; k++) {
      dsig[2 * k + 1] = -dv[k]! / (2 * FD_EPSILON);
      dsig[2 * k + 2] = dv[k]! / (2 * FD_EPSILON);
    }
    for (let b = 0; b < FD_BLOCKS; b++) {
      out[4 * (b * s + i)] = dsig[b]! * Math.exp(Math.min(d.logit[b]!, TRUNC_EXP_MAX));
    }
    for (let k = 0; k < 3; k++) {
      out[4 * i + 1 + k] = dalb[k]! * d.albedo[k]! * (1 - d.albedo[k]!);
    }
  }
  return out;
}
