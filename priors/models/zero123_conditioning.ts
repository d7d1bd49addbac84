/**
 * Zero-1-to-3's cross-attention context (SPEC.md §4): the pose vector
 * T = [Δθ (rad), sin(−Δφ), cos(Δφ), Δr] of the first camera relative to the reference, and
 * `cc_projection`, a Linear 772 → 768 applied to concat(CLIP image embedding, T), giving the
 * `[B, 1, 768]` `encoder_hidden_states`; the unconditional branch is all zeros
 * (`Animate124 main: guidance/zero123_diffusers_utils.py:182-194`).
 *
 * It runs on the CPU, on purpose: the image embedding is fixed per scene, so W·clip + b is
 * computed once ({@linkcode CcProjection.forImage}) and each call only adds the four pose
 * columns, 3072 multiply-adds per item; the 3 KB result is uploaded with `writeBuffer`, which
 * is not a read-back. A WGSL kernel would cost a dispatch and a uniform upload for less work.
 *
 * @example
 * ```ts
 * import { CcProjection, zero123PoseVector } from "./zero123_conditioning.ts";
 * const T = zero123PoseVector({ dTheta: 0, dPhi: 90, dRadius: 0 });
 * console.log(T.map((v) => Math.round(v * 1e6) / 1e6)); // [ 0, -1, 0, 0 ]
 * const weight = new Float32Array(2 * 6); // out 2, in 2 + 4
 * weight.set([1, 0, 0, 1, 0, 0], 0); // row 0: clip[0] + T[1]
 * weight.set([0, 1, 0, 0, 1, 0], 6); // row 1: clip[1] + T[2]
 * const projection = new CcProjection(weight, new Float32Array([0.5, 0]));
 * console.log(projection.forImage(new Float32Array([2, 3])).context(T)); // Float32Array(2) [ 1.5, 3 ]
 * ```
 *
 * @module
 */
import { readSafetensors } from "../../io/safetensors.ts";
import type { RelativePose } from "../prior.ts";

/**
 * Width of the pose vector.
 *
 * @example
 * ```ts
 * import { ZERO123_POSE_DIM, zero123PoseVector } from "./zero123_conditioning.ts";
 * const T = zero123PoseVector({ dTheta: 10, dPhi: 20, dRadius: 0 });
 * console.log(T.length === ZERO123_POSE_DIM, 768 + ZERO123_POSE_DIM); // true 772
 * ```
 */
export const ZERO123_POSE_DIM = 4;

/**
 * The pose vector T = [Δθ (rad), sin(−Δφ), cos(Δφ), Δr]. The sin(−Δφ) belongs with the
 * mirrored camera basis of SPEC.md §3.1/§9; do not change one without the other.
 *
 * @param pose offsets of the camera from the reference (degrees, Δφ wrapped)
 * @returns the four numbers cc_projection appends to the image embedding
 *
 * @example
 * ```ts
 * import { zero123PoseVector } from "./zero123_conditioning.ts";
 * const [theta, s, c, r] = zero123PoseVector({ dTheta: -30, dPhi: -45, dRadius: 0.2 });
 * console.log(theta.toFixed(4), s.toFixed(4), c.toFixed(4), r); // -0.5236 0.7071 0.7071 0.2
 * ```
 */
export function zero123PoseVector(pose: RelativePose): [number, number, number, number] {
  for (const key of ["dTheta", "dPhi", "dRadius"] as const) {
    if (!Number.isFinite(pose[key])) {
      throw new Error(`Invalid relativePose.${key}: expected a finite number, got ${pose[key]}`);
    }
  }
  const rad = Math.PI / 180;
  return [
    pose.dTheta * rad,
    Math.sin(-pose.dPhi * rad),
    Math.cos(pose.dPhi * rad),
    pose.dRadius,
  ];
}

/**
 * The context for one reference image: W·clip + b precomputed, the pose added per call.
 *
 * @example
 * ```ts
 * import { CcProjection } from "./zero123_conditioning.ts";
 * const p = new CcProjection(new Float32Array([1, 1, 1, 1, 1]), new Float32Array([0]));
 * const ctx = p.forImage(new Float32Array([1]));
 * console.log(ctx.context([1, 0, 1, 0])); // Float32Array(1) [ 3 ]
 * ```
 */
export class Zero123ImageContext {
  readonly #base: Float64Array;
  readonly #poseColumns: Float64Array;

  /**
   * Holds the precomputed image part and the pose columns.
   *
   * @param base W[:, :d]·clip + b, one per output
   * @param poseColumns W[:, d:d+4], row-major `[out][4]`
   */
  constructor(base: Float64Array, poseColumns: Float64Array) {
    this.#base = base;
    this.#poseColumns = poseColumns;
  }

  /** Output width (768). */
  get width(): number {
    return this.#base.length;
  }

  /**
   * The projected context for one pose vector.
   *
   * @param pose T from {@linkcode zero123PoseVector}
   * @param out optional destination (`width` floats at `offset`)
   * @param offset first element written in `out`
   * @returns `out`, or a new array
   *
   * @example Several items into one `[B, 1, 768]`-shaped array
   * ```ts
   * import { CcProjection, zero123PoseVector } from "./zero123_conditioning.ts";
   * const p = new CcProjection(new Float32Array([0, 0, 0, 0, 1]), new Float32Array([0]));
   * const ctx = p.forImage(new Float32Array([5]));
   * const batch = new Float32Array(2);
   * ctx.context(zero123PoseVector({ dTheta: 0, dPhi: 0, dRadius: 0.1 }), batch, 0);
   * ctx.context(zero123PoseVector({ dTheta: 0, dPhi: 0, dRadius: -0.1 }), batch, 1);
   * console.log(batch); // Float32Array(2) [ 0.10000000149011612, -0.10000000149011612 ]
   * ```
   */
  context(
    pose: readonly number[],
    out: Float32Array = new Float32Array(this.width),
    offset = 0,
  ): Float32Array {
    if (pose.length !== ZERO123_POSE_DIM) {
      throw new Error(
        `Invalid pose vector: expected ${ZERO123_POSE_DIM} values, got ${pose.length}`,
      );
    }
    if (offset < 0 || offset + this.width > out.length) {
      throw new Error(
        `Invalid option offset: ${this.width} values at ${offset} do not fit ${out.length}`,
      );
    }
    const [a, b, c, d] = pose as [number, number, number, number];
    const w = this.#poseColumns;
    for (let o = 0; o < this.width; o++) {
      const k = 4 * o;
      out[offset + o] = this.#base[o]! + w[k]! * a + w[k + 1]! * b + w[k + 2]! * c +
        w[k + 3]! * d;
    }
    return out;
  }
}

/**
 * `cc_projection`: Linear(in = d + 4, out), weight `[out][in]` row-major as PyTorch stores
 * it (768 × 772 for Zero123-XL).
 *
 * @example Load from a Zero123 folder
 * ```ts
 * import { writeSafetensors } from "../../io/safetensors.ts";
 * import { CcProjection } from "./zero123_conditioning.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.mkdir(`${dir}/cc_projection`);
 * await writeSafetensors(`${dir}/cc_projection/diffusion_pytorch_model.safetensors`, {
 *   "cc_projection.weight": { dtype: "F32", shape: [1, 5], data: new Float32Array([1, 0, 0, 0, 0]) },
 *   "cc_projection.bias": { dtype: "F32", shape: [1], data: new Float32Array([0.25]) },
 * });
 * const p = await CcProjection.load(dir, { width: 1 });
 * console.log(p.inputs, p.outputs); // 5 1
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class CcProjection {
  /** Input width (772). */
  readonly inputs: number;
  /** Output width (768). */
  readonly outputs: number;
  readonly #weight: Float32Array;
  readonly #bias: Float32Array;

  /**
   * Wraps PyTorch-layout weights.
   *
   * @param weight `[outputs][inputs]` row-major, inputs = embedding width + 4
   * @param bias `[outputs]`
   */
  constructor(weight: Float32Array, bias: Float32Array) {
    const outputs = bias.length;
    if (
      outputs < 1 || weight.length % outputs !== 0 || weight.length / outputs <= ZERO123_POSE_DIM
    ) {
      throw new Error(
        `Invalid cc_projection: weight of ${weight.length} values and bias of ${outputs} do not make a Linear(d + 4, ${outputs})`,
      );
    }
    this.outputs = outputs;
    this.inputs = weight.length / outputs;
    this.#weight = weight;
    this.#bias = bias;
  }

  /**
   * Reads `cc_projection` weights: a safetensors file, or a Zero123 folder (its
   * `cc_projection/diffusion_pytorch_model.safetensors`). Tensor names `weight`/`bias`
   * with an optional `cc_projection.` or `projection.` prefix are accepted.
   *
   * @param path folder or file
   * @param options expected output `width` (default 768)
   * @returns the projection
   *
   * @example Wrong shapes name the file and what was expected
   * ```ts
   * import { writeSafetensors } from "../../io/safetensors.ts";
   * import { CcProjection } from "./zero123_conditioning.ts";
   * const path = await Deno.makeTempFile({ suffix: ".safetensors" });
   * await writeSafetensors(path, {
   *   weight: { dtype: "F32", shape: [2, 2], data: new Float32Array(4) },
   *   bias: { dtype: "F32", shape: [2], data: new Float32Array(2) },
   * });
   * await CcProjection.load(path).catch((e) => console.log(e.message.includes("expected weight [768, 772]"))); // true
   * await Deno.remove(path);
   * ```
   */
  static async load(path: string, options: { width?: number } = {}): Promise<CcProjection> {
    const width = options.width ?? 768;
    let file = path;
    try {
      if ((await Deno.stat(path)).isDirectory) {
        file = `${path}/cc_projection/diffusion_pytorch_model.safetensors`;
      }
    } catch (error) {
      throw new Error(`Cannot load cc_projection from ${path}: ${(error as Error).message}`);
    }
    let tensors;
    try {
      tensors = (await readSafetensors(file)).tensors;
    } catch (error) {
      throw new Error(
        `Cannot load cc_projection from ${file}: ${
          (error as Error).message
        }; expected the zero123 folder's cc_projection/diffusion_pytorch_model.safetensors`,
      );
    }
    const find = (name: string) =>
      tensors[name] ?? tensors[`cc_projection.${name}`] ?? tensors[`projection.${name}`];
    const weight = find("weight"), bias = find("bias");
    const expected = `expected weight [${width}, ${width + 4}] and bias [${width}]`;
    if (
      !weight || !bias || weight.shape.join() !== `${width},${width + 4}` ||
      bias.shape.join() !== `${width}` || !(weight.data instanceof Float32Array) ||
      !(bias.data instanceof Float32Array)
    ) {
      throw new Error(
        `Invalid cc_projection in ${file}: ${expected}, got ${
          Object.entries(tensors).map(([k, t]) => `${k} ${t.dtype} [${t.shape.join(", ")}]`).join(
            ", ",
          )
        }`,
      );
    }
    return new CcProjection(weight.data, bias.data);
  }

  /**
   * Precomputes W[:, :d]·clip + b for one image embedding (the `image_embeds` of the CLIP
   * image encoder, d = 768), in float64.
   *
   * @param clipEmbedding `[d]`
   * @returns the per-image context builder
   *
   * @example
   * ```ts
   * import { CcProjection } from "./zero123_conditioning.ts";
   * const p = new CcProjection(new Float32Array([2, 0, 0, 0, 0]), new Float32Array([1]));
   * console.log(p.forImage(new Float32Array([3])).context([0, 0, 0, 0])); // Float32Array(1) [ 7 ]
   * ```
   */
  forImage(clipEmbedding: Float32Array): Zero123ImageContext {
    const d = this.inputs - ZERO123_POSE_DIM;
    if (clipEmbedding.length !== d) {
      throw new Error(
        `Invalid CLIP image embedding: expected ${d} values (cc_projection takes ${this.inputs} = ${d} + 4), got ${clipEmbedding.length}`,
      );
    }
    const base = new Float64Array(this.outputs);
    const poseColumns = new Float64Array(this.outputs * ZERO123_POSE_DIM);
    for (let o = 0; o < this.outputs; o++) {
      const row = o * this.inputs;
      let s = this.#bias[o]!;
      for (let i = 0; i < d; i++) s += this.#weight[row + i]! * clipEmbedding[i]!;
      base[o] = s;
      for (let j = 0; j < ZERO123_POSE_DIM; j++) {
        poseColumns[o * ZERO123_POSE_DIM + j] = this.#weight[row + d + j]!;
      }
    }
    return new Zero123ImageContext(base, poseColumns);
  }
}

/**
 * The `encoder_hidden_states` of one Zero123 UNet call: `[2B, 1, width]` with the
 * unconditional half (zeros) first and the conditional half after, the order of the
 * original's batch (`torch.cat([zeros, clip_emb])`).
 *
 * @param image the per-image context
 * @param poses one relative pose per item
 * @returns `2·B·width` floats
 *
 * @example
 * ```ts
 * import { CcProjection, zero123EncoderStates } from "./zero123_conditioning.ts";
 * const p = new CcProjection(new Float32Array([0, 0, 0, 1, 0]), new Float32Array([0]));
 * const states = zero123EncoderStates(p.forImage(new Float32Array([1])), [{ dTheta: 0, dPhi: 60, dRadius: 0 }]);
 * console.log(states[0], states[1]!.toFixed(3)); // 0 0.500
 * ```
 */
export function zero123EncoderStates(
  image: Zero123ImageContext,
  poses: readonly RelativePose[],
): Float32Array {
  const w = image.width, b = poses.length;
  const out = new Float32Array(2 * b * w);
  poses.forEach((pose, i) => image.context(zero123PoseVector(pose), out, (b + i) * w));
  return out;
}
