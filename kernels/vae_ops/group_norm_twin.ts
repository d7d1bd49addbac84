/**
 * Plain float64 twin of the VAE encoder's GroupNorm (`group_norm.wgsl`), optionally
 * followed by SiLU, as every GroupNorm of the SD VAE encoder but the attention's is.
 *
 * Layout: NCHW. Group g of image n is the contiguous block of channels
 * [g·C/G, (g+1)·C/G), normalised with its biased variance (torch.nn.GroupNorm).
 *
 * @module
 */
import { requireFinite, requireInt } from "../validate.ts";
import { siluGradTwin, siluTwin } from "./silu_twin.ts";

/**
 * Geometry and settings of one GroupNorm.
 *
 * @example
 * ```ts
 * import { type GroupNormShape, groupNormGeometry } from "./group_norm_twin.ts";
 * const shape: GroupNormShape = { batch: 1, channels: 128, height: 8, width: 8, groups: 32 };
 * console.log(groupNormGeometry(shape).groupSize); // 256 = 4 channels · 64 pixels
 * ```
 */
export interface GroupNormShape {
  /** N. */
  batch: number;
  /** C, a multiple of `groups`. */
  channels: number;
  /** H. */
  height: number;
  /** W. */
  width: number;
  /** G (SD VAE: 32). */
  groups: number;
  /** ε added to the variance; defaults to 1e-6 (the SD VAE's). */
  eps?: number;
  /** Apply SiLU to the normalised output; defaults to false. */
  silu?: boolean;
}

/** A checked {@linkcode GroupNormShape} with defaults and derived sizes. */
export interface GroupNormGeometry {
  /** N. */
  batch: number;
  /** C. */
  channels: number;
  /** G. */
  groups: number;
  /** ε. */
  eps: number;
  /** Whether SiLU follows. */
  silu: boolean;
  /** H·W. */
  pixels: number;
  /** C/G·H·W, the elements one mean and variance run over. */
  groupSize: number;
}

/**
 * Checks a shape and fills in its defaults.
 *
 * @example
 * ```ts
 * import { groupNormGeometry } from "./group_norm_twin.ts";
 * const g = groupNormGeometry({ batch: 2, channels: 8, height: 3, width: 3, groups: 4 });
 * console.log(g.eps, g.silu, g.pixels); // 0.000001 false 9
 * ```
 */
export function groupNormGeometry(shape: GroupNormShape): GroupNormGeometry {
  const channels = requireInt("channels", shape.channels, { min: 1 });
  const groups = requireInt("groups", shape.groups, { min: 1, max: channels });
  if (channels % groups !== 0) {
    throw new RangeError(
      `Invalid option groups: expected a divisor of channels ${channels}, got ${groups}`,
    );
  }
  const pixels = requireInt("height", shape.height, { min: 1 }) *
    requireInt("width", shape.width, { min: 1 });
  return {
    batch: requireInt("batch", shape.batch, { min: 1 }),
    channels,
    groups,
    eps: requireFinite("eps", shape.eps ?? 1e-6, { min: 0 }),
    silu: shape.silu ?? false,
    pixels,
    groupSize: (channels / groups) * pixels,
  };
}

/** Inputs of the GroupNorm twins. */
export interface GroupNormTwinInputs {
  /** x `[N][C][H][W]`. */
  input: ArrayLike<number>;
  /** γ `[C]`. */
  gamma: ArrayLike<number>;
  /** β `[C]`. */
  beta: ArrayLike<number>;
}

// Mean and 1/√(var + ε) of every (image, group), `[N·G][2]`.
function stats(g: GroupNormGeometry, x: ArrayLike<number>): Float64Array {
  const out = new Float64Array(2 * g.batch * g.groups);
  for (let ng = 0; ng < g.batch * g.groups; ng++) {
    const base = ng * g.groupSize;
    let mean = 0;
    for (let i = 0; i < g.groupSize; i++) mean += x[base + i]!;
    mean /= g.groupSize;
    let v = 0;
    for (let i = 0; i < g.groupSize; i++) v += (x[base + i]! - mean) ** 2;
    out[2 * ng] = mean;
    out[2 * ng + 1] = 1 / Math.sqrt(v / g.groupSize + g.eps);
  }
  return out;
}

/**
 * y = γ·(x − μ_g)/√(σ²_g + ε) + β, then SiLU if asked, `[N][C][H][W]`.
 *
 * @example
 * ```ts
 * import { groupNormTwin } from "./group_norm_twin.ts";
 * const y = groupNormTwin(
 *   { batch: 1, channels: 2, height: 1, width: 2, groups: 1, eps: 0 },
 *   { input: [1, 2, 3, 4], gamma: [1, 2], beta: [0, 1] },
 * );
 * console.log(y.map((v) => Math.round(v * 1000) / 1000)); // Float64Array(4) [ -1.342, -0.447, 1.894, 3.683 ]
 * ```
 */
export function groupNormTwin(shape: GroupNormShape, inputs: GroupNormTwinInputs): Float64Array {
  const g = groupNormGeometry(shape);
  const s = stats(g, inputs.input);
  const out = new Float64Array(g.batch * g.channels * g.pixels);
  const perGroup = g.channels / g.groups;
  for (let i = 0; i < out.length; i++) {
    const nc = Math.floor(i / g.pixels);
    const c = nc % g.channels;
    const ng = Math.floor(nc / perGroup);
    const h = (inputs.input[i]! - s[2 * ng]!) * s[2 * ng + 1]! * inputs.gamma[c]! + inputs.beta[c]!;
    out[i] = g.silu ? siluTwin(h) : h;
  }
  return out;
}

/** Gradients returned by {@linkcode groupNormBackwardTwin}. */
export interface GroupNormGradients {
  /** dL/dx `[N][C][H][W]`. */
  gradInput: Float64Array;
  /** dL/dγ `[C]`. */
  gradGamma: Float64Array;
  /** dL/dβ `[C]`. */
  gradBeta: Float64Array;
}

/**
 * The vector–Jacobian product of {@linkcode groupNormTwin}: with x̂ = (x − μ)·r,
 * dh = dy·SiLU′(h) (or dy) and d = dh·γ,
 * dx = r·(d − mean_g(d) − x̂·mean_g(d·x̂)), dγ = Σ dh·x̂, dβ = Σ dh.
 *
 * @example
 * ```ts
 * import { groupNormBackwardTwin } from "./group_norm_twin.ts";
 * // A constant upstream gradient is orthogonal to what a normalisation can change.
 * const g = groupNormBackwardTwin(
 *   { batch: 1, channels: 2, height: 1, width: 2, groups: 1 },
 *   { input: [1, 2, 3, 4], gamma: [1, 1], beta: [0, 0], gradOutput: [1, 1, 1, 1] },
 * );
 * console.log(g.gradInput.every((v) => Math.abs(v) < 1e-12), g.gradBeta); // true Float64Array(2) [ 2, 2 ]
 * ```
 */
export function groupNormBackwardTwin(
  shape: GroupNormShape,
  inputs: GroupNormTwinInputs & { gradOutput: ArrayLike<number> },
): GroupNormGradients {
  const g = groupNormGeometry(shape);
  const s = stats(g, inputs.input);
  const perGroup = g.channels / g.groups;
  const total = g.batch * g.channels * g.pixels;
  const xhat = new Float64Array(total);
  const dh = new Float64Array(total);
  const gradGamma = new Float64Array(g.channels);
  const gradBeta = new Float64Array(g.channels);
  const m1 = new Float64Array(g.batch * g.groups);
  const m2 = new Float64Array(g.batch * g.groups);
  for (let i = 0; i < total; i++) {
    const nc = Math.floor(i / g.pixels);
    const c = nc % g.channels;
    const ng = Math.floor(nc / perGroup);
    xhat[i] = (inputs.input[i]! - s[2 * ng]!) * s[2 * ng + 1]!;
    const h = xhat[i]! * inputs.gamma[c]! + inputs.beta[c]!;
    dh[i] = inputs.gradOutput[i]! * (g.silu ? siluGradTwin(h) : 1);
    gradGamma[c]! += dh[i]! * xhat[i]!;
    gradBeta[c]! += dh[i]!;
    const d = dh[i]! * inputs.gamma[c]!;
    m1[ng]! += d / g.groupSize;
    m2[ng]! += (d * xhat[i]!) / g.groupSize;
  }
  const gradInput = new Float64Array(total);
  for (let i = 0; i < total; i++) {
    const nc = Math.floor(i / g.pixels);
    const c = nc % g.channels;
    const ng = Math.floor(nc / perGroup);
    const d = dh[i]! * inputs.gamma[c]!;
    gradInput[i] = s[2 * ng + 1]! * (d - m1[ng]! - xhat[i]! * m2[ng]!);
  }
  return { gradInput, gradGamma, gradBeta };
}
