/**
 * Shared pieces of the kernel contract suite: one GPU per test process, seeded
 * inputs and the one tolerance function every WGSL-versus-twin comparison uses.
 */
import { acquireGpu, type Gpu } from "../../kernels/gpu.ts";
import { seededRandom } from "../../kernels/random.ts";

let shared: Promise<Gpu> | null = null;

/** The process-wide test device (llvmpipe or lavapipe on CI, whatever ANIMATE124_BACKEND picks). */
export function testGpu(): Promise<Gpu> {
  shared ??= acquireGpu();
  return shared;
}

/** Options for deno tests that hold the shared device across tests. */
export const GPU_TEST = { sanitizeResources: false, sanitizeOps: false } as const;

/** Uniform random array in [lo, hi) from a seed. */
export function randomArray(n: number, seed: number, lo = -1, hi = 1): Float64Array {
  const r = seededRandom(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * r();
  return out;
}

/** Default tolerances for float32 WGSL against a float64 twin. */
export const TOL = { rtol: 1e-4, atol: 1e-5 } as const;

type Numbers = ArrayLike<number>;

/**
 * Asserts |a − e| ≤ atol + rtol·|e| elementwise, and reports the worst element
 * with its index when it fails. NaN anywhere fails.
 */
export function assertClose(
  actual: Numbers,
  expected: Numbers,
  options: { rtol?: number; atol?: number; label?: string } = {},
): void {
  const rtol = options.rtol ?? TOL.rtol;
  const atol = options.atol ?? TOL.atol;
  const label = options.label ?? "values";
  if (actual.length !== expected.length) {
    throw new Error(`${label}: length ${actual.length}, expected ${expected.length}`);
  }
  let worst = -1;
  let worstExcess = 0;
  let failures = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const err = Math.abs(a - e);
    const allowed = atol + rtol * Math.abs(e);
    if (!(err <= allowed)) {
      failures++;
      const excess = Number.isNaN(err) ? Infinity : err / allowed;
      if (excess > worstExcess || worst < 0) {
        worst = i;
        worstExcess = excess;
      }
    }
  }
  if (failures > 0) {
    throw new Error(
      `${label}: ${failures}/${actual.length} elements out of tolerance (rtol ${rtol}, atol ${atol}); worst at ${worst}: got ${
        actual[worst]
      }, expected ${expected[worst]}`,
    );
  }
}

/** Central finite difference of a scalar function of a vector, at every coordinate listed. */
export function finiteDifference(
  f: (x: Float64Array) => number,
  x: Float64Array,
  indices: Iterable<number>,
  h = 1e-6,
): Map<number, number> {
  const out = new Map<number, number>();
  for (const i of indices) {
    const old = x[i]!;
    x[i] = old + h;
    const up = f(x);
    x[i] = old - h;
    const down = f(x);
    x[i] = old;
    out.set(i, (up - down) / (2 * h));
  }
  return out;
}
