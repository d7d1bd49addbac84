/**
 * Orbit cameras of SPEC.md §3.1, shared by the ray-generation kernel and its float64
 * twin. Plain TypeScript: no GPU needed.
 *
 * Conventions (`Animate124 main: nerf/provider.py`):
 * - y is up and the camera looks at the origin;
 * - θ is polar (90° = equator), φ is azimuth (0° = +z, the reference side);
 * - the camera-to-world rotation has columns [right | up | f] with f pointing from the
 *   origin to the camera. This basis has determinant −1 (a mirror of a right-handed
 *   look-at); it is kept on purpose because Zero123's sin(−Δφ) belongs with it (§9).
 *
 * @module
 */
import { requireFinite, requireInt } from "./validate.ts";

/**
 * A camera on the orbit around the origin, in degrees.
 *
 * @example
 * ```ts
 * import { cameraCentre, orbitCamera, type OrbitPose, REFERENCE_POSE } from "./camera.ts";
 * // A quarter turn of azimuth moves the camera from +z to +x.
 * const side: OrbitPose = { ...REFERENCE_POSE, phiDeg: 90 };
 * const cam = orbitCamera(side, { width: 8, height: 8 });
 * console.log(cameraCentre(cam).map((v) => Math.abs(v).toFixed(2))); // [ "1.80", "0.00", "0.00" ]
 * ```
 */
export interface OrbitPose {
  /** Distance from the origin r. */
  radius: number;
  /** Polar angle θ in degrees, 90 = equator, 0 = straight above. */
  thetaDeg: number;
  /** Azimuth φ in degrees, 0 = +z. */
  phiDeg: number;
  /** Vertical field of view in degrees. */
  fovyDeg: number;
}

/**
 * A pinhole camera ready for ray generation.
 *
 * `c2w` is the 3×4 camera-to-world matrix, row-major: `c2w[4·row + col]`, columns 0–2
 * the rotation [right | up | f], column 3 the camera centre.
 *
 * @example
 * ```ts
 * import { type Camera, orbitCamera, pixelDirection, REFERENCE_POSE } from "./camera.ts";
 * const cam: Camera = orbitCamera(REFERENCE_POSE, { width: 128, height: 128 });
 * console.log(cam.c2w.length, cam.cx, cam.focal.toFixed(1)); // 12 64 175.8
 * // The basis is mirrored (right = −x here), so the top-left pixel looks towards +x, +y.
 * const [x, y, z] = pixelDirection(cam, { i: 0, j: 0 });
 * console.log(x > 0, y > 0, z); // true true -1
 * ```
 */
export interface Camera {
  /** Row-major 3×4 camera-to-world matrix (12 numbers). */
  c2w: Float64Array;
  /** Focal length in pixels, focal = H / (2·tan(fovy/2)). */
  focal: number;
  /** Principal point offset subtracted from the column coordinate i + 0.5 (H/2). */
  cx: number;
  /** Principal point offset subtracted from the row coordinate j + 0.5 (W/2). */
  cy: number;
  /** Image width W in pixels (column index i in [0, W)). */
  width: number;
  /** Image height H in pixels (row index j in [0, H)). */
  height: number;
}

/**
 * Image size options for {@linkcode orbitCamera}.
 *
 * @example Non-square images swap the principal point
 * ```ts
 * import { type CameraSizeOptions, orbitCamera, REFERENCE_POSE } from "./camera.ts";
 * const size: CameraSizeOptions = { width: 64, height: 32 };
 * const cam = orbitCamera(REFERENCE_POSE, size);
 * console.log(cam.cx, cam.cy); // 16 32
 * ```
 */
export interface CameraSizeOptions {
  /** Image width W in pixels. */
  width: number;
  /** Image height H in pixels. */
  height: number;
}

/**
 * The reference view: r = 1.8, θ = 90°, φ = 0°, fovy = 40°
 * (`Animate124 main: main.py:270-277`).
 *
 * @example Build the reference camera at 128²
 * ```ts
 * import { orbitCamera, REFERENCE_POSE } from "./camera.ts";
 * const cam = orbitCamera(REFERENCE_POSE, { width: 128, height: 128 });
 * console.log(cam.focal.toFixed(1)); // 175.8
 * ```
 */
export const REFERENCE_POSE: Readonly<OrbitPose> = Object.freeze({
  radius: 1.8,
  thetaDeg: 90,
  phiDeg: 0,
  fovyDeg: 40,
});

const DEG = Math.PI / 180;

// torch-ngp's safe_normalize divides by sqrt(max(|v|², 1e-20)), so a zero vector stays
// zero instead of becoming NaN. At θ = 0 the look-at degenerates (right = 0); the
// original does not guard it (SPEC.md §9) and neither do we.
function safeNormalize(v: [number, number, number]): [number, number, number] {
  const n = Math.sqrt(Math.max(v[0] * v[0] + v[1] * v[1] + v[2] * v[2], 1e-20));
  return [v[0] / n, v[1] / n, v[2] / n];
}

function cross(
  a: [number, number, number],
  b: [number, number, number],
): [number, number, number] {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}

/**
 * Builds the orbit camera of SPEC.md §3.1 for `pose` at `width`×`height` pixels.
 *
 * @param pose radius, polar and azimuth angles and vertical field of view, in degrees
 * @param options image size
 * @returns the camera with its mirrored (det −1) camera-to-world matrix and intrinsics
 * @throws {RangeError} naming the field when a value is non-finite or out of range
 *
 * @example The camera centre of the reference view sits on +z
 * ```ts
 * import { cameraCentre, orbitCamera, REFERENCE_POSE } from "./camera.ts";
 * const cam = orbitCamera(REFERENCE_POSE, { width: 16, height: 16 });
 * console.log(cameraCentre(cam)); // [0, 0, 1.8] (up to rounding)
 * ```
 */
export function orbitCamera(pose: Readonly<OrbitPose>, options: CameraSizeOptions): Camera {
  const radius = requireFinite("radius", pose.radius, { min: 0 });
  const theta = requireFinite("thetaDeg", pose.thetaDeg) * DEG;
  const phi = requireFinite("phiDeg", pose.phiDeg) * DEG;
  const fovy = requireFinite("fovyDeg", pose.fovyDeg, { min: 1e-6, max: 179.999 }) * DEG;
  const width = requireInt("width", options.width, { min: 1 });
  const height = requireInt("height", options.height, { min: 1 });
  if (radius === 0) {
    throw new RangeError("Invalid option radius: expected a finite number > 0, got 0");
  }
  const c: [number, number, number] = [
    radius * Math.sin(theta) * Math.sin(phi),
    radius * Math.cos(theta),
    radius * Math.sin(theta) * Math.cos(phi),
  ];
  const f = safeNormalize(c);
  const right = safeNormalize(cross(f, [0, 1, 0]));
  const up = safeNormalize(cross(right, f));
  // deno-fmt-ignore
  const c2w = new Float64Array([
    right[0], up[0], f[0], c[0],
    right[1], up[1], f[1], c[1],
    right[2], up[2], f[2], c[2],
  ]);
  // cx takes H and cy takes W, as the original does (`Animate124 main: nerf/provider.py`);
  // the two only differ for non-square images, which training never renders.
  const focal = height / (2 * Math.tan(fovy / 2));
  return { c2w, focal, cx: height / 2, cy: width / 2, width, height };
}

/**
 * Returns the camera centre (the translation column of `c2w`).
 *
 * @param camera a camera from {@linkcode orbitCamera}
 * @returns the centre [x, y, z]
 *
 * @example
 * ```ts
 * import { cameraCentre, orbitCamera } from "./camera.ts";
 * const cam = orbitCamera({ radius: 2, thetaDeg: 0.5, phiDeg: 0, fovyDeg: 40 }, {
 *   width: 8,
 *   height: 8,
 * });
 * console.log(cameraCentre(cam)[1] > 1.99); // true: near the north pole
 * ```
 */
export function cameraCentre(camera: Readonly<Camera>): [number, number, number] {
  const m = camera.c2w;
  return [m[3]!, m[7]!, m[11]!];
}

/**
 * Determinant of the 3×3 rotation part of `c2w`: −1 for every orbit camera (mirror).
 *
 * @param camera a camera from {@linkcode orbitCamera}
 * @returns the determinant of [right | up | f]
 *
 * @example
 * ```ts
 * import { cameraDeterminant, orbitCamera, REFERENCE_POSE } from "./camera.ts";
 * const cam = orbitCamera(REFERENCE_POSE, { width: 8, height: 8 });
 * console.log(Math.round(cameraDeterminant(cam))); // -1
 * ```
 */
export function cameraDeterminant(camera: Readonly<Camera>): number {
  const m = camera.c2w;
  const a = (r: number, c: number) => m[4 * r + c]!;
  return a(0, 0) * (a(1, 1) * a(2, 2) - a(1, 2) * a(2, 1)) -
    a(0, 1) * (a(1, 0) * a(2, 2) - a(1, 2) * a(2, 0)) +
    a(0, 2) * (a(1, 0) * a(2, 1) - a(1, 1) * a(2, 0));
}

/**
 * Direction (not normalised) of the ray through pixel column `i`, row `j`:
 * d = R·((i+0.5−cx)/focal, −(j+0.5−cy)/focal, −1) (`Animate124 main: nerf/utils.py:99-160`).
 * Ray t is therefore in camera-z units.
 *
 * @param camera the camera
 * @param pixel column `i` and row `j`
 * @returns the world-space direction
 *
 * @example The centre of an even-sized image looks at the origin
 * ```ts
 * import { orbitCamera, pixelDirection, REFERENCE_POSE } from "./camera.ts";
 * const cam = orbitCamera(REFERENCE_POSE, { width: 16, height: 16 });
 * console.log(pixelDirection(cam, { i: 7.5, j: 7.5 })); // [0, 0, -1] (-0 for x)
 * ```
 */
export function pixelDirection(
  camera: Readonly<Camera>,
  pixel: { i: number; j: number },
): [number, number, number] {
  const x = (pixel.i + 0.5 - camera.cx) / camera.focal;
  const y = -(pixel.j + 0.5 - camera.cy) / camera.focal;
  const z = -1;
  const m = camera.c2w;
  return [
    m[0]! * x + m[1]! * y + m[2]! * z,
    m[4]! * x + m[5]! * y + m[6]! * z,
    m[8]! * x + m[9]! * y + m[10]! * z,
  ];
}
