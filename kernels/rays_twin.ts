/**
 * Float64 twin of `rays.wgsl`: rays for F frames of H×W pixels (SPEC.md §3.1).
 *
 * @module
 */
import { type Camera, cameraCentre, pixelDirection } from "./camera.ts";

/** Shared offsets added to every ray (the reference step's N(0, 1e-3) noise). */
export interface RayOffsetOptions {
  /** Added to every origin; defaults to zero. */
  originOffset?: readonly [number, number, number];
  /** Added to every (unnormalised) direction; defaults to zero. */
  directionOffset?: readonly [number, number, number];
}

/**
 * Rays in the shared layout: origins `[R][3]`, directions `[R][3]`.
 *
 * @example Two frames of one pixel each
 * ```ts
 * import { orbitCamera, REFERENCE_POSE } from "./camera.ts";
 * import { generateRaysTwin, type Rays } from "./rays_twin.ts";
 * const size = { width: 1, height: 1 };
 * const front = orbitCamera(REFERENCE_POSE, size);
 * const side = orbitCamera({ ...REFERENCE_POSE, phiDeg: 90 }, size);
 * const rays: Rays = generateRaysTwin([front, side]);
 * // Ray 1 (frame 1) starts at the side camera on +x and looks back at the origin.
 * console.log(rays.origins[3]!.toFixed(2), rays.directions[3]!.toFixed(2)); // 1.80 -1.00
 * ```
 */
export interface Rays {
  /** Ray origins, `[R][3]`. */
  origins: Float64Array;
  /** Ray directions (not normalised), `[R][3]`. */
  directions: Float64Array;
}

/**
 * Generates the rays of every frame: ray r = frame·H·W + j·W + i, origin = camera
 * centre, direction = R·d_cam not normalised (`Animate124 main: nerf/utils.py:99-160`).
 *
 * @param cameras one camera per frame, all of the same size
 * @param options shared origin and direction offsets
 * @returns origins and directions, `[F·H·W][3]` each
 *
 * @example Two pixels of the reference view
 * ```ts
 * import { orbitCamera, REFERENCE_POSE } from "./camera.ts";
 * import { generateRaysTwin } from "./rays_twin.ts";
 * const cam = orbitCamera(REFERENCE_POSE, { width: 2, height: 1 });
 * const rays = generateRaysTwin([cam]);
 * console.log(rays.origins.length, rays.directions[2]); // 6 -1
 * ```
 */
export function generateRaysTwin(
  cameras: readonly Camera[],
  options: RayOffsetOptions = {},
): Rays {
  const first = cameras[0];
  if (first === undefined) throw new RangeError("Invalid option cameras: expected at least one");
  const { width, height } = first;
  for (const cam of cameras) {
    if (cam.width !== width || cam.height !== height) {
      throw new RangeError(
        `Invalid option cameras: expected every camera to be ${width}x${height}, got ${cam.width}x${cam.height}`,
      );
    }
  }
  const oo = options.originOffset ?? [0, 0, 0];
  const od = options.directionOffset ?? [0, 0, 0];
  const count = cameras.length * width * height;
  const origins = new Float64Array(3 * count);
  const directions = new Float64Array(3 * count);
  let r = 0;
  for (const cam of cameras) {
    const c = cameraCentre(cam);
    for (let j = 0; j < height; j++) {
      for (let i = 0; i < width; i++, r++) {
        const d = pixelDirection(cam, { i, j });
        for (let a = 0; a < 3; a++) {
          origins[3 * r + a] = c[a]! + oo[a]!;
          directions[3 * r + a] = d[a]! + od[a]!;
        }
      }
    }
  }
  return { origins, directions };
}
