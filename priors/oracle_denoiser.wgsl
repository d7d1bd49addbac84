// oracle_denoiser: the exact denoiser of a finite target set {y_k} (SPEC.md §10.4), for a
// conditional and an unconditional set per item, in z = 2y − 1 space:
//   logit_k = −‖z_t − √ᾱ·y_k‖² / (2(1 − ᾱ))      over the whole item (image or clip)
//   x̂₀     = Σ_k softmax_k(logit)·y_k
//   ε̂      = (z_t − √ᾱ·x̂₀) / √(1 − ᾱ)
//
// Three entry points:
// - `distances`: one 256-thread workgroup per (target k, set, item), dispatched as
//   (max_targets, 2, items); threads stride over the item's elements and tree-reduce.
//   Workgroups with k ≥ the set's count still run the barriers and write nothing.
// - `softmax`: one workgroup per (set, item); target k is thread k (≤ 256 targets),
//   subtracts the max logit, and overwrites the logits with normalised weights.
// - `denoise`: one thread per element, x̂₀ as the weighted sum of both sets, then ε̂.

const WG: u32 = 256u;

struct OracleItem {
  sqrt_ab: f32,
  sqrt_one_minus_ab: f32,
  n_cond: u32,
  n_uncond: u32,
}

struct OracleUniforms {
  // Elements per item.
  per_item: u32,
  max_targets: u32,
  // Live items × per_item.
  elements: u32,
  _pad: u32,
}

@group(0) @binding(0) var<storage, read> noisy: array<f32>;
// [max_items][max_targets][per_item], z space.
@group(0) @binding(1) var<storage, read> cond_targets: array<f32>;
@group(0) @binding(2) var<storage, read> uncond_targets: array<f32>;
@group(0) @binding(3) var<storage, read> items: array<OracleItem>;
// [items][2][max_targets]: logits after `distances`, weights after `softmax`.
@group(0) @binding(4) var<storage, read_write> weights: array<f32>;
@group(0) @binding(5) var<storage, read_write> eps_cond: array<f32>;
@group(0) @binding(6) var<storage, read_write> eps_uncond: array<f32>;
@group(0) @binding(7) var<uniform> U: OracleUniforms;

var<workgroup> red: array<f32, WG>;

fn target_value(which: u32, index: u32) -> f32 {
  if (which == 0u) {
    return cond_targets[index];
  }
  return uncond_targets[index];
}

fn set_count(p: OracleItem, which: u32) -> u32 {
  return select(p.n_uncond, p.n_cond, which == 0u);
}

@compute @workgroup_size(WG)
fn distances(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let k = wid.x;
  let which = wid.y;
  let item = wid.z;
  let p = items[item];
  let live = k < set_count(p, which);
  let base = (item * U.max_targets + k) * U.per_item;
  let first = item * U.per_item;
  var s = 0.0;
  if (live) {
    for (var e = lid; e < U.per_item; e += WG) {
      let d = noisy[first + e] - p.sqrt_ab * target_value(which, base + e);
      s = fma(d, d, s);
    }
  }
  red[lid] = s;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    if (lid < half) {
      red[lid] += red[lid + half];
    }
    workgroupBarrier();
  }
  if (lid == 0u && live) {
    let var_t = p.sqrt_one_minus_ab * p.sqrt_one_minus_ab;
    weights[(item * 2u + which) * U.max_targets + k] = -red[0] / (2.0 * var_t);
  }
}

@compute @workgroup_size(WG)
fn softmax(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let which = wid.x;
  let item = wid.y;
  let n = set_count(items[item], which);
  let slot = (item * 2u + which) * U.max_targets + lid;
  let live = lid < n;
  var logit = -3.0e38;
  if (live) {
    logit = weights[slot];
  }
  red[lid] = logit;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    if (lid < half) {
      red[lid] = max(red[lid], red[lid + half]);
    }
    workgroupBarrier();
  }
  let m = red[0];
  workgroupBarrier();
  var w = 0.0;
  if (live) {
    w = exp(logit - m);
  }
  red[lid] = w;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    if (lid < half) {
      red[lid] += red[lid + half];
    }
    workgroupBarrier();
  }
  if (live) {
    weights[slot] = w / red[0];
  }
}

@compute @workgroup_size(WG)
fn denoise(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= U.elements) {
    return;
  }
  let item = i / U.per_item;
  let e = i - item * U.per_item;
  let p = items[item];
  let zt = noisy[i];
  var x0c = 0.0;
  for (var k = 0u; k < p.n_cond; k++) {
    let w = weights[(item * 2u) * U.max_targets + k];
    x0c = fma(w, cond_targets[(item * U.max_targets + k) * U.per_item + e], x0c);
  }
  var x0u = 0.0;
  for (var k = 0u; k < p.n_uncond; k++) {
    let w = weights[(item * 2u + 1u) * U.max_targets + k];
    x0u = fma(w, uncond_targets[(item * U.max_targets + k) * U.per_item + e], x0u);
  }
  eps_cond[i] = (zt - p.sqrt_ab * x0c) / p.sqrt_one_minus_ab;
  eps_uncond[i] = (zt - p.sqrt_ab * x0u) / p.sqrt_one_minus_ab;
}
