// Keyframed multi-resolution grid encoding, forward and backward (SPEC.md §2.1-2.2).
// Workgroup tile: 64 threads, one thread per (point, level) pair. A level's 8 corner
// lookups are independent of the other levels, so splitting levels across threads
// gives 16x the parallelism of one thread per point while keeping the 8 corners (and
// the two keyframes of the blend, which share them) in one thread.
// Thread index t -> point n = t / GRID_L, level l = t % GRID_L.
#include "grid_access"
#include "grid_index"

const WG: u32 = 64u;

struct EncodeUniforms {
  // Levels >= active_levels give zero features and no gradient (coarse-to-fine mask).
  active_levels: u32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
  // Per level: bitcast scale s_l, resolution R_l, table size T_l, entry offset.
  level: array<vec4<u32>, 32>,
}

// Element count on the GPU (count[0] points), so the kernel can run indirectly.
@group(0) @binding(0) var<storage, read> count: array<u32>;
@group(0) @binding(1) var<uniform> U: EncodeUniforms;
@group(0) @binding(2) var<storage, read> points: array<f32>;
@group(0) @binding(3) var<storage, read> times: array<f32>;
// Forward: the features [N][L*F] it writes. Backward: dL/dfeatures, same layout.
@group(0) @binding(4) var<storage, read_write> feat: array<f32>;
// Bindings 5.. hold the parameter chunks, then the gradient chunks ("grid_access").

struct Blend {
  k0: u32,
  k1: u32,
  phi: f32,
}

// g = (K-1)t, h = phi*enc_ceil(g) + (1-phi)*enc_floor(g)
// (Animate124 main: dnerf/network_4dgrid.py:168-191). K = 1 gives k0 = k1 = 0.
fn keyframe_blend(t_in: f32) -> Blend {
  let t = clamp(t_in, 0.0, 1.0);
  let g = f32(GRID_K - 1u) * t;
  let gf = floor(g);
  var b: Blend;
  b.k0 = min(u32(gf), GRID_K - 1u);
  b.k1 = min(u32(ceil(g)), GRID_K - 1u);
  b.phi = g - gf;
  return b;
}

fn load_point(n: u32) -> vec3<f32> {
  return vec3<f32>(points[3u * n], points[3u * n + 1u], points[3u * n + 2u]);
}

fn level_corners(x: vec3<f32>, l: u32) -> GridCorners {
  let info = U.level[l];
  return grid_corners(x, bitcast<f32>(info.x), info.y, info.z, info.w);
}

@compute @workgroup_size(WG)
fn forward(
  @builtin(global_invocation_id) gid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
) {
  let t = gid.x + gid.y * nwg.x * WG;
  let n = t / GRID_L;
  let l = t - n * GRID_L;
  if (n >= count[0]) { return; }
  let base = t * GRID_F;
  let x = load_point(n);
  if (l >= U.active_levels || !grid_in_box(x)) {
    for (var f = 0u; f < GRID_F; f++) { feat[base + f] = 0.0; }
    return;
  }
  let cs = level_corners(x, l);
  let b = keyframe_blend(times[n]);
  for (var f = 0u; f < GRID_F; f++) {
    var e0 = 0.0;
    var e1 = 0.0;
    for (var i = 0u; i < 8u; i++) {
      let j = cs.entry[i] * GRID_F + f;
      e0 += cs.weight[i] * grid_read(b.k0, j);
      if (b.k1 != b.k0) { e1 += cs.weight[i] * grid_read(b.k1, j); }
    }
    if (b.k1 == b.k0) { e1 = e0; }
    feat[base + f] = b.phi * e1 + (1.0 - b.phi) * e0;
  }
}

// Scatter-adds weight * dL/dh into the corners of both blended keyframes. Aliasing
// (levels 3-8) and the z-drop (levels 9-15) make corners of different points, and
// even of one point, collide, so this always accumulates atomically.
@compute @workgroup_size(WG)
fn backward(
  @builtin(global_invocation_id) gid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
) {
  let t = gid.x + gid.y * nwg.x * WG;
  let n = t / GRID_L;
  let l = t - n * GRID_L;
  if (n >= count[0] || l >= U.active_levels) { return; }
  let x = load_point(n);
  if (!grid_in_box(x)) { return; }
  let base = t * GRID_F;
  var dh: array<f32, GRID_F>;
  var any_nonzero = false;
  for (var f = 0u; f < GRID_F; f++) {
    dh[f] = feat[base + f];
    any_nonzero = any_nonzero || dh[f] != 0.0;
  }
  if (!any_nonzero) { return; }
  let cs = level_corners(x, l);
  let b = keyframe_blend(times[n]);
  // phi = 0 exactly when k0 = k1, so the k1 scatter is skipped then.
  let w0 = 1.0 - b.phi;
  for (var i = 0u; i < 8u; i++) {
    let w = cs.weight[i];
    if (w == 0.0) { continue; }
    for (var f = 0u; f < GRID_F; f++) {
      let j = cs.entry[i] * GRID_F + f;
      grid_grad_add(b.k0, j, w0 * w * dh[f]);
      if (b.phi != 0.0) { grid_grad_add(b.k1, j, b.phi * w * dh[f]); }
    }
  }
}
