/**
 * Plain float64 twin of the VAE encoder's 2-D convolution (`conv2d.wgsl`), and the
 * shape type and checks both implementations share.
 *
 * Layout: every activation is NCHW, `[batch][channels][height][width]`, flat; weights are
 * PyTorch's `[C_out][C_in][k][k]`, so diffusers' safetensors load without reordering.
 *
 * @module
 */
import { requireInt } from "../validate.ts";

/**
 * Geometry of one convolution.
 *
 * @example
 * ```ts
 * import { type Conv2dShape, conv2dOutputSize } from "./conv2d_twin.ts";
 * // Downsample2D of the SD VAE: pad right and bottom by one, 3x3 stride 2.
 * const shape: Conv2dShape = {
 *   batch: 1, inChannels: 128, outChannels: 128, height: 64, width: 64,
 *   kernel: 3, stride: 2, padding: { top: 0, left: 0, bottom: 1, right: 1 },
 * };
 * console.log(conv2dOutputSize(shape)); // { height: 32, width: 32 }
 * ```
 */
export interface Conv2dShape {
  /** N, images in the batch. */
  batch: number;
  /** C_in. */
  inChannels: number;
  /** C_out. */
  outChannels: number;
  /** Input height H. */
  height: number;
  /** Input width W. */
  width: number;
  /** Kernel size k: 1 or 3. */
  kernel: number;
  /** Stride: 1 or 2; defaults to 1. */
  stride?: number;
  /** Zero padding per side; defaults to ⌊k/2⌋ on every side. */
  padding?: { top: number; left: number; bottom: number; right: number };
}

/** A {@linkcode Conv2dShape} with every default filled in and checked. */
export interface Conv2dGeometry {
  /** N. */
  batch: number;
  /** C_in. */
  inChannels: number;
  /** C_out. */
  outChannels: number;
  /** Input height H. */
  height: number;
  /** Input width W. */
  width: number;
  /** Kernel size k. */
  kernel: number;
  /** Stride. */
  stride: number;
  /** Zero rows above. */
  padTop: number;
  /** Zero columns on the left. */
  padLeft: number;
  /** Zero rows below. */
  padBottom: number;
  /** Zero columns on the right. */
  padRight: number;
  /** Output height H_o = ⌊(H + top + bottom − k)/stride⌋ + 1. */
  outHeight: number;
  /** Output width W_o. */
  outWidth: number;
}

/**
 * Checks a shape and fills in its defaults.
 *
 * @example
 * ```ts
 * import { conv2dGeometry } from "./conv2d_twin.ts";
 * const g = conv2dGeometry({ batch: 1, inChannels: 3, outChannels: 8, height: 5, width: 7, kernel: 3 });
 * console.log(g.padTop, g.outHeight, g.outWidth); // 1 5 7
 * ```
 */
export function conv2dGeometry(shape: Conv2dShape): Conv2dGeometry {
  const kernel = requireInt("kernel", shape.kernel, { min: 1, max: 3 });
  if (kernel === 2) throw new RangeError("Invalid option kernel: expected 1 or 3, got 2");
  const stride = requireInt("stride", shape.stride ?? 1, { min: 1, max: 2 });
  const half = (kernel - 1) / 2;
  const pad = shape.padding ?? { top: half, left: half, bottom: half, right: half };
  const g = {
    batch: requireInt("batch", shape.batch, { min: 1 }),
    inChannels: requireInt("inChannels", shape.inChannels, { min: 1 }),
    outChannels: requireInt("outChannels", shape.outChannels, { min: 1 }),
    height: requireInt("height", shape.height, { min: 1 }),
    width: requireInt("width", shape.width, { min: 1 }),
    kernel,
    stride,
    padTop: requireInt("padding.top", pad.top, { min: 0, max: kernel - 1 }),
    padLeft: requireInt("padding.left", pad.left, { min: 0, max: kernel - 1 }),
    padBottom: requireInt("padding.bottom", pad.bottom, { min: 0, max: kernel - 1 }),
    padRight: requireInt("padding.right", pad.right, { min: 0, max: kernel - 1 }),
  };
  const outHeight = Math.floor((g.height + g.padTop + g.padBottom - kernel) / stride) + 1;
  const outWidth = Math.floor((g.width + g.padLeft + g.padRight - kernel) / stride) + 1;
  if (outHeight < 1 || outWidth < 1) {
    throw new RangeError(
      `Invalid conv2d shape: a ${g.height}x${g.width} input gives an empty output for kernel ${kernel}`,
    );
  }
  return { ...g, outHeight, outWidth };
}

/**
 * Output size of a convolution.
 *
 * @example
 * ```ts
 * import { conv2dOutputSize } from "./conv2d_twin.ts";
 * console.log(conv2dOutputSize({ batch: 1, inChannels: 1, outChannels: 1, height: 9, width: 9, kernel: 3, stride: 2 }));
 * // { height: 5, width: 5 }
 * ```
 */
export function conv2dOutputSize(shape: Conv2dShape): { height: number; width: number } {
  const g = conv2dGeometry(shape);
  return { height: g.outHeight, width: g.outWidth };
}

/** Inputs of {@linkcode conv2dTwin}. */
export interface Conv2dTwinInputs {
  /** x `[N][C_in][H][W]`. */
  input: ArrayLike<number>;
  /** W `[C_out][C_in][k][k]`. */
  weight: ArrayLike<number>;
  /** b `[C_out]`. */
  bias: ArrayLike<number>;
}

// Input index read by output (oy, ox) through tap (ky, kx), or -1 in the zero padding.
function tap(g: Conv2dGeometry, o: { y: number; x: number; ky: number; kx: number }): number {
  const iy = o.y * g.stride + o.ky - g.padTop;
  const ix = o.x * g.stride + o.kx - g.padLeft;
  if (iy < 0 || ix < 0 || iy >= g.height || ix >= g.width) return -1;
  return iy * g.width + ix;
}

/**
 * y = b + W ⋆ x, zero padded, `[N][C_out][H_o][W_o]`.
 *
 * @example
 * ```ts
 * import { conv2dTwin } from "./conv2d_twin.ts";
 * // A 1x1 convolution is a per-pixel matrix product.
 * const y = conv2dTwin(
 *   { batch: 1, inChannels: 2, outChannels: 1, height: 1, width: 2, kernel: 1 },
 *   { input: [1, 2, 3, 4], weight: [10, 1], bias: [0.5] },
 * );
 * console.log(y); // Float64Array(2) [ 13.5, 24.5 ]
 * ```
 */
export function conv2dTwin(shape: Conv2dShape, inputs: Conv2dTwinInputs): Float64Array {
  const g = conv2dGeometry(shape);
  const { kernel: k, inChannels: ci, outChannels: co } = g;
  const hw = g.height * g.width;
  const ohw = g.outHeight * g.outWidth;
  const out = new Float64Array(g.batch * co * ohw);
  for (let n = 0; n < g.batch; n++) {
    for (let o = 0; o < co; o++) {
      for (let y = 0; y < g.outHeight; y++) {
        for (let x = 0; x < g.outWidth; x++) {
          let s = inputs.bias[o]!;
          for (let c = 0; c < ci; c++) {
            for (let ky = 0; ky < k; ky++) {
              for (let kx = 0; kx < k; kx++) {
                const p = tap(g, { y, x, ky, kx });
                if (p < 0) continue;
                s += inputs.weight[((o * ci + c) * k + ky) * k + kx]! *
                  inputs.input[(n * ci + c) * hw + p]!;
              }
            }
          }
          out[(n * co + o) * ohw + y * g.outWidth + x] = s;
        }
      }
    }
  }
  return out;
}

/** Gradients returned by {@linkcode conv2dBackwardTwin}. */
export interface Conv2dGradients {
  /** dL/dx `[N][C_in][H][W]`. */
  gradInput: Float64Array;
  /** dL/dW `[C_out][C_in][k][k]`. */
  gradWeight: Float64Array;
  /** dL/db `[C_out]`. */
  gradBias: Float64Array;
}

/**
 * The vector–Jacobian product of {@linkcode conv2dTwin} for an upstream dL/dy.
 *
 * @example
 * ```ts
 * import { conv2dBackwardTwin } from "./conv2d_twin.ts";
 * const g = conv2dBackwardTwin(
 *   { batch: 1, inChannels: 2, outChannels: 1, height: 1, width: 2, kernel: 1 },
 *   { input: [1, 2, 3, 4], weight: [10, 1], gradOutput: [1, -1] },
 * );
 * console.log(g.gradInput, g.gradBias); // Float64Array(4) [ 10, -10, 1, -1 ] Float64Array(1) [ 0 ]
 * ```
 */
export function conv2dBackwardTwin(
  shape: Conv2dShape,
  inputs: Omit<Conv2dTwinInputs, "bias"> & { gradOutput: ArrayLike<number> },
): Conv2dGradients {
  const g = conv2dGeometry(shape);
  const { kernel: k, inChannels: ci, outChannels: co } = g;
  const hw = g.height * g.width;
  const ohw = g.outHeight * g.outWidth;
  const gradInput = new Float64Array(g.batch * ci * hw);
  const gradWeight = new Float64Array(co * ci * k * k);
  const gradBias = new Float64Array(co);
  for (let n = 0; n < g.batch; n++) {
    for (let o = 0; o < co; o++) {
      for (let y = 0; y < g.outHeight; y++) {
        for (let x = 0; x < g.outWidth; x++) {
          const dy = inputs.gradOutput[(n * co + o) * ohw + y * g.outWidth + x]!;
          gradBias[o]! += dy;
          for (let c = 0; c < ci; c++) {
            for (let ky = 0; ky < k; ky++) {
              for (let kx = 0; kx < k; kx++) {
                const p = tap(g, { y, x, ky, kx });
                if (p < 0) continue;
                const w = ((o * ci + c) * k + ky) * k + kx;
                const i = (n * ci + c) * hw + p;
                gradInput[i]! += inputs.weight[w]! * dy;
                gradWeight[w]! += inputs.input[i]! * dy;
              }
            }
          }
        }
      }
    }
  }
  return { gradInput, gradWeight, gradBias };
}
