// Training ray marcher over the temporal occupancy grid (SPEC.md §3.2,
// `Animate124 main: raymarching/src/raymarching.cu:385-402`, `dnerf/renderer.py:93-163`).
//
// Per ray: slab near/far against [−1, 1]³ with near ≥ min_near; t0 = near + dt·U[0,1)
// (perturb); then at t = t0 + k·dt, clamp the point to the box and look up its cell in
// the frame's occupancy slice. Occupied: emit a sample at position clamp(o + t·d) with
// ts = (t + dt, dt), k += 1. Empty: jump to the first lattice t at or past the cell's exit
// boundary (the original's `do t += dt while (t < tt)`), so samples stay on t0 + k·dt.
// t is rebuilt as t0 + k·dt instead of accumulated, so float32 drift cannot move it off
// the lattice. At most max_steps samples per ray.
//
// Compaction (deterministic content, arbitrary ray order in the packed buffer):
// reset_main → count_main (march, count, atomically allocate a contiguous range) →
// write_main (march again, write the range, clamp to capacity) → finish_main.
// count[0] = emitted samples (≤ capacity), count[1] = requested samples,
// count[2] = 1 when the capacity overflowed, count[3] = 0.
//
// Tile: 64 invocations, one ray each. Rays vary a lot in length, so small workgroups
// keep divergence cheap; 64 is a multiple of every common subgroup size.
const WG: u32 = 64u;

struct Params {
  rays: u32,
  rays_per_frame: u32,
  res: u32,
  words_per_slice: u32,
  max_steps: u32,
  capacity: u32,
  perturb: u32,
  seed: u32,
  step: u32,
  _p0: u32,
  _p1: u32,
  _p2: u32,
  dt: f32,
  min_near: f32,
  _p3: f32,
  _p4: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> origins: array<f32>;
@group(0) @binding(2) var<storage, read> directions: array<f32>;
@group(0) @binding(3) var<storage, read> frame_slices: array<u32>;
@group(0) @binding(4) var<storage, read> bits: array<u32>;
@group(0) @binding(5) var<storage, read_write> ray_ranges: array<u32>; // [R][2] first, count
@group(0) @binding(6) var<storage, read_write> count: array<atomic<u32>>;
@group(0) @binding(7) var<storage, read_write> positions: array<f32>;
@group(0) @binding(8) var<storage, read_write> ts: array<f32>;
@group(0) @binding(9) var<storage, read_write> ray_index: array<u32>;

#include "hash_uniform"

const PERTURB_STREAM: u32 = 0x9e3779b9u;
const TINY: f32 = 1e-9;

// Keeps 1/d finite: CUDA relies on IEEE infinities, which WGSL does not guarantee.
fn safe_dir(d: f32) -> f32 {
  if (abs(d) >= TINY) { return d; }
  return select(-TINY, TINY, d >= 0.0);
}

// Marches ray r. With write, sample n goes to base + n while n < limit. Returns the
// number of samples the ray has.
fn march(r: u32, write: bool, base: u32, limit: u32) -> u32 {
  let o = vec3<f32>(origins[3u * r], origins[3u * r + 1u], origins[3u * r + 2u]);
  let d = vec3<f32>(
    safe_dir(directions[3u * r]),
    safe_dir(directions[3u * r + 1u]),
    safe_dir(directions[3u * r + 2u]),
  );
  let rd = 1.0 / d;
  let ta = (vec3<f32>(-1.0) - o) * rd;
  let tb = (vec3<f32>(1.0) - o) * rd;
  let tmin = min(ta, tb);
  let tmax = max(ta, tb);
  let far = min(min(tmax.x, tmax.y), tmax.z);
  var near = max(max(tmin.x, tmin.y), tmin.z);
  if (far < near) { return 0u; }
  near = max(near, params.min_near);
  let dt = params.dt;
  var t0 = near;
  if (params.perturb != 0u) {
    t0 = near + dt * hash_uniform(params.seed, params.step, PERTURB_STREAM, r);
  }
  let slice = frame_slices[r / params.rays_per_frame];
  let res = params.res;
  let rf = f32(res);
  let word0 = slice * params.words_per_slice;
  let sgn = select(vec3<f32>(-1.0), vec3<f32>(1.0), d >= vec3<f32>(0.0));
  var k = 0u;
  var n = 0u;
  loop {
    let t = t0 + f32(k) * dt;
    if (!(t < far) || n >= params.max_steps) { break; }
    let x = clamp(o + t * d, vec3<f32>(-1.0), vec3<f32>(1.0));
    let cf = clamp(floor((x + 1.0) * 0.5 * rf), vec3<f32>(0.0), vec3<f32>(rf - 1.0));
    let c = vec3<u32>(cf);
    let idx = (c.x * res + c.y) * res + c.z;
    let occupied = ((bits[word0 + (idx >> 5u)] >> (idx & 31u)) & 1u) != 0u;
    if (occupied) {
      if (write && n < limit) {
        let s = base + n;
        positions[3u * s] = x.x;
        positions[3u * s + 1u] = x.y;
        positions[3u * s + 2u] = x.z;
        ts[2u * s] = t + dt;
        ts[2u * s + 1u] = dt;
        ray_index[s] = r;
      }
      n += 1u;
      k += 1u;
    } else {
      let bound = ((cf + 0.5 + 0.5 * sgn) / rf) * 2.0 - 1.0;
      let tx = (bound - x) * rd;
      let tt = t + max(0.0, min(min(tx.x, tx.y), tx.z));
      k = max(k + 1u, u32(ceil((tt - t0) / dt)));
    }
  }
  return n;
}

@compute @workgroup_size(1)
fn reset_main() {
  atomicStore(&count[0], 0u);
  atomicStore(&count[1], 0u);
  atomicStore(&count[2], 0u);
  atomicStore(&count[3], 0u);
}

@compute @workgroup_size(WG)
fn count_main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = gid.x + gid.y * nwg.x * WG;
  if (r >= params.rays) { return; }
  let n = march(r, false, 0u, 0u);
  var first = 0u;
  if (n > 0u) { first = atomicAdd(&count[1], n); }
  ray_ranges[2u * r] = first;
  ray_ranges[2u * r + 1u] = n;
}

@compute @workgroup_size(WG)
fn write_main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = gid.x + gid.y * nwg.x * WG;
  if (r >= params.rays) { return; }
  let first = min(ray_ranges[2u * r], params.capacity);
  let n = ray_ranges[2u * r + 1u];
  let kept = min(n, params.capacity - first);
  if (kept > 0u) { march(r, true, first, kept); }
  ray_ranges[2u * r] = first;
  ray_ranges[2u * r + 1u] = kept;
}

@compute @workgroup_size(1)
fn finish_main() {
  let requested = atomicLoad(&count[1]);
  atomicStore(&count[0], min(requested, params.capacity));
  atomicStore(&count[2], select(0u, 1u, requested > params.capacity));
}
