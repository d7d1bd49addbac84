// normal_points: the finite-difference point set that the normals of
// Animate124 main: dnerf/network_4dgrid.py:248-302 evaluate the field at.
// Output [7][S][3]: block 0 the samples, then +x, -x, +y, -y, +z, -z shifted by
// EPS = 0.01; a shifted point is clamped to [-1, 1]^3 as a whole, as the original's
// `(x + offset).clamp(-bound, bound)` does. The block stride is the live sample
// count S = count[0], so the 7*S points are packed and the encoder that follows can
// run over them as one flat batch whose size lands in out_count[0].
//
// Tile: 64 threads per workgroup, one thread per output point (block b, sample i):
// neighbouring threads write neighbouring points of one block, so the stores stay
// contiguous, and there is no shared memory to size.

const WG: u32 = 64u;
const EPS: f32 = 0.01;
const BLOCKS: u32 = 7u;

// Whether per-sample times come in; when false the time bindings get 4-byte dummies.
override HAS_TIMES: bool = false;
// Blocks emitted and counted: 7, or 1 (the samples only) for renders that need no
// normals (albedo shading), which then evaluate the field 7 times less.
override EVAL_BLOCKS: u32 = 7u;

@group(0) @binding(0) var<storage, read> count: array<u32>;
@group(0) @binding(1) var<storage, read> positions: array<f32>;
@group(0) @binding(2) var<storage, read> times_in: array<f32>;
@group(0) @binding(3) var<storage, read_write> points: array<f32>;
@group(0) @binding(4) var<storage, read_write> times_out: array<f32>;
@group(0) @binding(5) var<storage, read_write> out_count: array<u32>;

#include "fd_point"

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let j = gid.x + gid.y * nwg.x * WG;
  let s = count[0];
  // Thread 0 publishes 7*S even when S is zero (callers dispatch at least one group).
  if (j == 0u) { out_count[0] = s * EVAL_BLOCKS; }
  if (j >= s * EVAL_BLOCKS) { return; }
  let block = j / s;
  let i = j - block * s;
  let p = vec3<f32>(positions[3u * i], positions[3u * i + 1u], positions[3u * i + 2u]);
  let q = fd_point(p, block);
  points[3u * j] = q.x;
  points[3u * j + 1u] = q.y;
  points[3u * j + 2u] = q.z;
  if (HAS_TIMES) { times_out[j] = times_in[i]; }
}
