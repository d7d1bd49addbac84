// Time total variation between neighbouring keyframe grids (SPEC.md §2.2; Animate124
// main: dnerf/network_4dgrid.py:375-388):
//   L_tv = Σ_{k=0..K-2} mean_x ‖enc_k(x) − enc_{k+1}(x)‖² / ((K−1)·16)
// Workgroup tile: 64 threads, one thread per (point, level) pair. All K keyframe grids
// share the corner indices and weights of a point, so a thread computes them once and
// walks the keyframes, holding enc_{k−1}, enc_k and enc_{k+1} of its level. Each
// workgroup writes one partial sum; `reduce` adds them in a fixed order (deterministic,
// no float atomics on one address), and scales by norm = 1/(B·(K−1)·16).
#include "grid_access"
#include "grid_index"

const WG: u32 = 64u;
const REDUCE_WG: u32 = 256u;

struct TvUniforms {
  batch: u32,
  partials: u32,
  // 1 / (B·(K−1)·16), or 0 when K = 1.
  norm: f32,
  // λ·2·norm: dL/denc_k = 2·norm·((e_k − e_{k+1}) + (e_k − e_{k−1})).
  grad_scale: f32,
  // Per level: bitcast scale s_l, resolution R_l, table size T_l, entry offset.
  level: array<vec4<u32>, 32>,
}

@group(0) @binding(0) var<storage, read_write> loss: array<f32>;
@group(0) @binding(1) var<storage, read_write> partial_sums: array<f32>;
@group(0) @binding(2) var<uniform> U: TvUniforms;
@group(0) @binding(3) var<storage, read> points: array<f32>;
// Bindings 4.. hold the parameter chunks, then the gradient chunks ("grid_access").

var<workgroup> red: array<f32, WG>;
var<workgroup> red_final: array<f32, REDUCE_WG>;

fn enc_at(cs: GridCorners, k: u32) -> array<f32, GRID_F> {
  var e: array<f32, GRID_F>;
  for (var f = 0u; f < GRID_F; f++) {
    var acc = 0.0;
    for (var i = 0u; i < 8u; i++) {
      acc += cs.weight[i] * grid_read(k, cs.entry[i] * GRID_F + f);
    }
    e[f] = acc;
  }
  return e;
}

struct PairCorners {
  inside: bool,
  cs: GridCorners,
}

fn pair_corners(t: u32) -> PairCorners {
  let n = t / GRID_L;
  let l = t - n * GRID_L;
  let x = vec3<f32>(points[3u * n], points[3u * n + 1u], points[3u * n + 2u]);
  var out: PairCorners;
  out.inside = grid_in_box(x);
  if (out.inside) {
    let info = U.level[l];
    out.cs = grid_corners(x, bitcast<f32>(info.x), info.y, info.z, info.w);
  }
  return out;
}

// Σ_k ‖e_k − e_{k+1}‖² of one (point, level) pair.
fn tv_sum(t: u32) -> f32 {
  let pc = pair_corners(t);
  if (!pc.inside) { return 0.0; }
  var cur = enc_at(pc.cs, 0u);
  var sum = 0.0;
  for (var k = 0u; k + 1u < GRID_K; k++) {
    let nxt = enc_at(pc.cs, k + 1u);
    for (var f = 0u; f < GRID_F; f++) {
      let d = cur[f] - nxt[f];
      sum += d * d;
    }
    cur = nxt;
  }
  return sum;
}

// Like tv_sum, and scatters grad_scale·(dn − dp)·w into every corner of every keyframe.
// A separate function from tv_sum so that the forward entry point does not statically
// use (and need bindings for) the gradient chunks.
fn tv_sum_and_grad(t: u32) -> f32 {
  let pc = pair_corners(t);
  if (!pc.inside) { return 0.0; }
  let cs = pc.cs;
  var prev: array<f32, GRID_F>;
  var cur = enc_at(cs, 0u);
  var sum = 0.0;
  for (var k = 0u; k < GRID_K; k++) {
    let has_next = k + 1u < GRID_K;
    var nxt: array<f32, GRID_F>;
    if (has_next) { nxt = enc_at(cs, k + 1u); }
    var g: array<f32, GRID_F>;
    for (var f = 0u; f < GRID_F; f++) {
      let dn = select(0.0, cur[f] - nxt[f], has_next);
      let dp = select(0.0, prev[f] - cur[f], k > 0u);
      sum += dn * dn;
      g[f] = U.grad_scale * (dn - dp);
    }
    for (var i = 0u; i < 8u; i++) {
      for (var f = 0u; f < GRID_F; f++) {
        grid_grad_add(k, cs.entry[i] * GRID_F + f, cs.weight[i] * g[f]);
      }
    }
    prev = cur;
    cur = nxt;
  }
  return sum;
}

fn thread_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

// Sums `s` over the workgroup into its partial-sum slot. Called in uniform control flow.
fn workgroup_partial(s: f32, lid: u32, wid: vec3<u32>, nwg: vec3<u32>) {
  red[lid] = s;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    if (lid < half) { red[lid] += red[lid + half]; }
    workgroupBarrier();
  }
  let w = wid.x + wid.y * nwg.x;
  if (lid == 0u && w < U.partials) { partial_sums[w] = red[0]; }
}

// Partial sums of the loss only.
@compute @workgroup_size(WG)
fn forward(
  @builtin(global_invocation_id) gid: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
) {
  let t = thread_index(gid, nwg);
  var s = 0.0;
  if (t < U.batch * GRID_L) { s = tv_sum(t); }
  workgroup_partial(s, lid, wid, nwg);
}

// Partial sums of the loss and λ·dL/dθ accumulated into the gradient chunks.
@compute @workgroup_size(WG)
fn backward(
  @builtin(global_invocation_id) gid: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
) {
  let t = thread_index(gid, nwg);
  var s = 0.0;
  if (t < U.batch * GRID_L) { s = tv_sum_and_grad(t); }
  workgroup_partial(s, lid, wid, nwg);
}

// One workgroup sums the partials in a fixed order into loss[0].
@compute @workgroup_size(REDUCE_WG)
fn reduce(@builtin(local_invocation_index) lid: u32) {
  var s = 0.0;
  for (var i = lid; i < U.partials; i += REDUCE_WG) { s += partial_sums[i]; }
  red_final[lid] = s;
  workgroupBarrier();
  for (var half = REDUCE_WG / 2u; half > 0u; half /= 2u) {
    if (lid < half) { red_final[lid] += red_final[lid + half]; }
    workgroupBarrier();
  }
  if (lid == 0u) { loss[0] = red_final[0] * U.norm; }
}
