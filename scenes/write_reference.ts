/**
 * Writes the reference image of a scene: the ground-truth render at the reference pose
 * (r 1.8, θ 90°, φ 0°, fovy 40°), t = 0, as a 256×256 RGBA PNG next to the YAML file.
 * This plays the part of the matted `rgba.png` the original pipeline starts from.
 *
 * ```sh
 * deno run -A scenes/write_reference.ts examples/bouncing_ball.yaml   # → examples/bouncing_ball.png
 * ```
 *
 * @module
 */
import { encode } from "fast-png";
import { orbitCamera, REFERENCE_POSE } from "../kernels/camera.ts";
import { renderCameraGroundTruth } from "./ground_truth.ts";
import { loadScene, type Scene } from "./scene_config.ts";

/** Side of the reference image in pixels. */
export const REFERENCE_SIZE = 256;

/** Anti-aliasing of the reference image: 3×3 sub-rays per pixel. */
export const REFERENCE_SUBSAMPLES = 3;

/** Options of {@linkcode referenceRgba}. */
export interface ReferenceRgbaOptions {
  /** Image side in pixels (default {@linkcode REFERENCE_SIZE}). */
  size?: number;
  /** Sub-rays per pixel side (default {@linkcode REFERENCE_SUBSAMPLES}). */
  subsamples?: number;
}

/**
 * Renders `scene` at the reference pose and t = 0 as 8-bit RGBA, row-major. Alpha is
 * pixel coverage; colour is straight (not premultiplied), as in a matted photo, so that
 * compositing it over white reproduces the white-background render. Empty pixels hold
 * the scene background.
 *
 * @example
 * ```ts
 * import { parseScene } from "./scene_config.ts";
 * import { referenceRgba } from "./write_reference.ts";
 * const scene = parseScene(
 *   "name: a\nmotion_prompt: A ball.\nprimitives: [{ type: sphere, radius: 0.5, color: [1, 0, 0] }]",
 * );
 * const rgba = referenceRgba(scene, { size: 8, subsamples: 1 });
 * console.log(rgba.length, rgba[(4 * 8 + 4) * 4 + 3]); // 256 255
 * ```
 */
export function referenceRgba(scene: Scene, options: ReferenceRgbaOptions = {}): Uint8Array {
  const size = options.size ?? REFERENCE_SIZE;
  const camera = orbitCamera(REFERENCE_POSE, { width: size, height: size });
  const bg = scene.background;
  const img = renderCameraGroundTruth(scene, camera, {
    time: 0,
    subsamples: options.subsamples ?? REFERENCE_SUBSAMPLES,
  });
  const out = new Uint8Array(4 * size * size);
  const byte = (v: number) => Math.round(Math.min(Math.max(v, 0), 1) * 255);
  for (let i = 0; i < size * size; i++) {
    const a = img.alpha[i]!;
    for (let c = 0; c < 3; c++) {
      // Undo the compositing: C = A·c + (1 − A)·bg  ⇒  c = (C − (1 − A)·bg) / A.
      const v = a > 0 ? (img.rgb[3 * i + c]! - (1 - a) * bg[c]!) / a : bg[c]!;
      out[4 * i + c] = byte(v);
    }
    out[4 * i + 3] = byte(a);
  }
  return out;
}

/**
 * Path of the reference PNG of a scene file: the same path with `.png` for `.yaml`/`.yml`.
 *
 * @example
 * ```ts
 * import { referencePngPath } from "./write_reference.ts";
 * console.log(referencePngPath("examples/windmill.yaml")); // examples/windmill.png
 * ```
 */
export function referencePngPath(scenePath: string): string {
  return scenePath.replace(/\.ya?ml$/i, "") + ".png";
}

/**
 * Loads the scene at `scenePath`, renders its reference image and writes it next to it.
 *
 * @returns the path written
 *
 * @example
 * ```ts ignore
 * import { writeReference } from "./write_reference.ts";
 * await writeReference("examples/windmill.yaml");
 * ```
 */
export async function writeReference(scenePath: string): Promise<string> {
  const scene = await loadScene(scenePath);
  const data = referenceRgba(scene);
  const png = encode({ width: REFERENCE_SIZE, height: REFERENCE_SIZE, data, channels: 4 });
  const out = referencePngPath(scenePath);
  await Deno.writeFile(out, png);
  return out;
}

if (import.meta.main) {
  if (Deno.args.length === 0) {
    console.error("usage: deno run -A scenes/write_reference.ts SCENE.yaml [SCENE.yaml ...]");
    Deno.exit(2);
  }
  for (const path of Deno.args) {
    const t0 = performance.now();
    const out = await writeReference(path);
    console.log(`wrote ${out} (${(performance.now() - t0).toFixed(0)} ms)`);
  }
}
