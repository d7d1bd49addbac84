/**
 * Plain float64 twin of the VAE posterior sample (`posterior.wgsl`; SPEC.md §4 "Encode"):
 * moments `[N][2·c][h][w]` split into μ (first c channels) and logvar (last c), then
 * z = s·(μ + exp(½·clamp(logvar, −30, 20))·n), as diffusers' DiagonalGaussianDistribution
 * samples and scales it.
 *
 * @module
 */
import { requireFinite, requireInt } from "../validate.ts";

/** diffusers clamps logvar to [−30, 20] before exponentiating. */
export const LOGVAR_MIN: number = -30;
/** Upper clamp of logvar. */
export const LOGVAR_MAX: number = 20;
/** SD v1.5's VAE `scaling_factor`. */
export const SD_VAE_SCALE: number = 0.18215;

/**
 * Shape and scale of one posterior sample.
 *
 * @example
 * ```ts
 * import { type PosteriorShape, SD_VAE_SCALE } from "./posterior_twin.ts";
 * const shape: PosteriorShape = { batch: 1, channels: 4, height: 64, width: 64, scale: SD_VAE_SCALE };
 * console.log(shape.channels * 2); // 8 moment channels
 * ```
 */
export interface PosteriorShape {
  /** N. */
  batch: number;
  /** Latent channels c (SD: 4); the moments hold 2c. */
  channels: number;
  /** Latent height h. */
  height: number;
  /** Latent width w. */
  width: number;
  /** s; defaults to {@linkcode SD_VAE_SCALE}. */
  scale?: number;
}

/** A checked {@linkcode PosteriorShape}. */
export interface PosteriorGeometry {
  /** N. */
  batch: number;
  /** Latent channels c. */
  channels: number;
  /** h·w. */
  pixels: number;
  /** s. */
  scale: number;
}

/**
 * Checks a shape and fills in its defaults.
 *
 * @example
 * ```ts
 * import { posteriorGeometry } from "./posterior_twin.ts";
 * console.log(posteriorGeometry({ batch: 1, channels: 4, height: 2, width: 3 }).pixels); // 6
 * ```
 */
export function posteriorGeometry(shape: PosteriorShape): PosteriorGeometry {
  return {
    batch: requireInt("batch", shape.batch, { min: 1 }),
    channels: requireInt("channels", shape.channels, { min: 1 }),
    pixels: requireInt("height", shape.height, { min: 1 }) *
      requireInt("width", shape.width, { min: 1 }),
    scale: requireFinite("scale", shape.scale ?? SD_VAE_SCALE),
  };
}

/** Inputs of the posterior twins. */
export interface PosteriorTwinInputs {
  /** Moments `[N][2c][h][w]`: μ then logvar. */
  moments: ArrayLike<number>;
  /** Standard normal noise n `[N][c][h][w]`. */
  noise: ArrayLike<number>;
}

/**
 * z = s·(μ + exp(½·clamp(logvar, −30, 20))·n), `[N][c][h][w]`.
 *
 * @example
 * ```ts
 * import { posteriorTwin } from "./posterior_twin.ts";
 * const z = posteriorTwin(
 *   { batch: 1, channels: 1, height: 1, width: 2, scale: 2 },
 *   { moments: [1, 2, 0, 100], noise: [1, 0] },
 * );
 * console.log(z); // Float64Array(2) [ 4, 4 ]
 * ```
 */
export function posteriorTwin(shape: PosteriorShape, inputs: PosteriorTwinInputs): Float64Array {
  const g = posteriorGeometry(shape);
  const out = new Float64Array(g.batch * g.channels * g.pixels);
  for (let i = 0; i < out.length; i++) {
    const { mean, logvar } = momentIndices(g, i);
    const lv = Math.min(LOGVAR_MAX, Math.max(LOGVAR_MIN, inputs.moments[logvar]!));
    out[i] = g.scale * (inputs.moments[mean]! + Math.exp(0.5 * lv) * inputs.noise[i]!);
  }
  return out;
}

function momentIndices(g: PosteriorGeometry, i: number): { mean: number; logvar: number } {
  const p = i % g.pixels;
  const nc = (i - p) / g.pixels;
  const c = nc % g.channels;
  const n = (nc - c) / g.channels;
  const mean = (n * 2 * g.channels + c) * g.pixels + p;
  return { mean, logvar: mean + g.channels * g.pixels };
}

/**
 * dL/dmoments `[N][2c][h][w]` for an upstream dL/dz: dμ = s·dz and
 * dlogvar = s·dz·n·½·exp(½·logvar) inside [−30, 20] (torch's clamp passes the gradient
 * at the bounds too), 0 outside.
 *
 * @example
 * ```ts
 * import { posteriorBackwardTwin } from "./posterior_twin.ts";
 * const g = posteriorBackwardTwin(
 *   { batch: 1, channels: 1, height: 1, width: 2, scale: 2 },
 *   { moments: [1, 2, 0, 100], noise: [1, 1], gradOutput: [1, 1] },
 * );
 * console.log(g); // Float64Array(4) [ 2, 2, 1, 0 ]
 * ```
 */
export function posteriorBackwardTwin(
  shape: PosteriorShape,
  inputs: PosteriorTwinInputs & { gradOutput: ArrayLike<number> },
): Float64Array {
  const g = posteriorGeometry(shape);
  const out = new Float64Array(2 * g.batch * g.channels * g.pixels);
  for (let i = 0; i < g.batch * g.channels * g.pixels; i++) {
    const { mean, logvar } = momentIndices(g, i);
    const dz = g.scale * inputs.gradOutput[i]!;
    const lv = inputs.moments[logvar]!;
    out[mean] = dz;
    out[logvar] = lv < LOGVAR_MIN || lv > LOGVAR_MAX
      ? 0
      : dz * inputs.noise[i]! * 0.5 * Math.exp(0.5 * lv);
  }
  return out;
}
