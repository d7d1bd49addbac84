// group_norm: GroupNorm of NCHW activations (torch.nn.GroupNorm: biased variance, affine
// γ, β per channel), with SiLU fused on the output when SILU is set, and its backward.
// Group g of image n is one contiguous block of C/G·H·W floats.
//
// Entry points, in the order a step runs them:
//   stats        one workgroup per (n, g): mean, then Σ(x − mean)² (two passes over the
//                block, so the variance never suffers E[x²] − E[x]² cancellation).
//   apply        one thread per element: h = x̂·γ + β, y = SILU ? h·σ(h) : h.
//   grad_stats   one workgroup per (n, g): mean_g(d) and mean_g(d·x̂), d = dh·γ, where
//                dh = dy·SiLU′(h), h recomputed from x and the saved statistics.
//   grad_in      one thread per element: dx = r·(d − mean(d) − x̂·mean(d·x̂)), written or added.
//   grad_params  one workgroup per channel: dγ += Σ dh·x̂, dβ += Σ dh over images and pixels.
// Tile: 256 threads; the reductions tree-reduce in workgroup memory in a fixed order, so
// results are deterministic and need no float atomics.

override SILU: bool = false;

const WG: u32 = 256u;

struct NormUniforms {
  batch: u32,
  channels: u32,
  pixels: u32,
  groups: u32,
  // C/G.
  group_channels: u32,
  eps: f32,
  // 1: add dL/dx into grad_input.
  accumulate: u32,
  _pad: u32,
}

@group(0) @binding(0) var<storage, read> input: array<f32>;
@group(0) @binding(1) var<storage, read> gamma: array<f32>;
@group(0) @binding(2) var<storage, read> beta: array<f32>;
@group(0) @binding(3) var<storage, read_write> output: array<f32>;
// [N·G][2]: mean, 1/√(var + ε).
@group(0) @binding(4) var<storage, read_write> stats_buf: array<f32>;
@group(0) @binding(5) var<storage, read> grad_output: array<f32>;
@group(0) @binding(6) var<storage, read_write> grad_input: array<f32>;
// [N·G][2]: mean_g(d), mean_g(d·x̂).
@group(0) @binding(7) var<storage, read_write> grad_moments: array<f32>;
@group(0) @binding(8) var<storage, read_write> grad_gamma: array<f32>;
@group(0) @binding(9) var<storage, read_write> grad_beta: array<f32>;
@group(0) @binding(10) var<uniform> U: NormUniforms;

var<workgroup> red_a: array<f32, WG>;
var<workgroup> red_b: array<f32, WG>;

fn sigmoid(h: f32) -> f32 {
  return 1.0 / (1.0 + exp(-h));
}

// Tree-reduces red_a and red_b; the sums end in slot 0. Uniform control flow only.
fn reduce_pair(t: u32) {
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    if (t < half) {
      red_a[t] += red_a[t + half];
      red_b[t] += red_b[t + half];
    }
    workgroupBarrier();
  }
}

fn element_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

// (channel, image·G + group) of flat element i.
fn channel_group(i: u32) -> vec2<u32> {
  let nc = i / U.pixels;
  let c = nc % U.channels;
  return vec2<u32>(c, nc / U.group_channels);
}

@compute @workgroup_size(WG)
fn stats(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let ng = wid.x;
  let size = U.group_channels * U.pixels;
  let base = ng * size;
  var s = 0.0;
  for (var i = t; i < size; i += WG) { s += input[base + i]; }
  red_a[t] = s;
  red_b[t] = 0.0;
  reduce_pair(t);
  let mean = red_a[0] / f32(size);
  workgroupBarrier();
  var v = 0.0;
  for (var i = t; i < size; i += WG) {
    let d = input[base + i] - mean;
    v = fma(d, d, v);
  }
  red_a[t] = v;
  reduce_pair(t);
  if (t == 0u) {
    stats_buf[2u * ng] = mean;
    stats_buf[2u * ng + 1u] = inverseSqrt(red_a[0] / f32(size) + U.eps);
  }
}

@compute @workgroup_size(WG)
fn apply(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = element_index(gid, nwg);
  if (i >= U.batch * U.channels * U.pixels) { return; }
  let cg = channel_group(i);
  let h = (input[i] - stats_buf[2u * cg.y]) * stats_buf[2u * cg.y + 1u] * gamma[cg.x] + beta[cg.x];
  if (SILU) {
    output[i] = h * sigmoid(h);
  } else {
    output[i] = h;
  }
}

struct Back {
  xhat: f32,
  dh: f32,
}

// x̂ and dL/dh of element i (dh = dy·SiLU′(h) when SILU).
fn back_at(i: u32, c: u32, ng: u32) -> Back {
  var b: Back;
  b.xhat = (input[i] - stats_buf[2u * ng]) * stats_buf[2u * ng + 1u];
  b.dh = grad_output[i];
  if (SILU) {
    let h = b.xhat * gamma[c] + beta[c];
    let s = sigmoid(h);
    b.dh *= s * (1.0 + h * (1.0 - s));
  }
  return b;
}

@compute @workgroup_size(WG)
fn grad_stats(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let ng = wid.x;
  let size = U.group_channels * U.pixels;
  let base = ng * size;
  let c0 = (ng % U.groups) * U.group_channels;
  var sa = 0.0;
  var sb = 0.0;
  for (var i = t; i < size; i += WG) {
    let c = c0 + i / U.pixels;
    let b = back_at(base + i, c, ng);
    let d = b.dh * gamma[c];
    sa += d;
    sb = fma(d, b.xhat, sb);
  }
  red_a[t] = sa;
  red_b[t] = sb;
  reduce_pair(t);
  if (t == 0u) {
    grad_moments[2u * ng] = red_a[0] / f32(size);
    grad_moments[2u * ng + 1u] = red_b[0] / f32(size);
  }
}

@compute @workgroup_size(WG)
fn grad_in(
  @builtin(global_invocation_id) gid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
) {
  let i = element_index(gid, nwg);
  if (i >= U.batch * U.channels * U.pixels) { return; }
  let cg = channel_group(i);
  let b = back_at(i, cg.x, cg.y);
  let d = b.dh * gamma[cg.x];
  var dx = stats_buf[2u * cg.y + 1u] *
    (d - grad_moments[2u * cg.y] - b.xhat * grad_moments[2u * cg.y + 1u]);
  if (U.accumulate != 0u) { dx += grad_input[i]; }
  grad_input[i] = dx;
}

@compute @workgroup_size(WG)
fn grad_params(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let c = wid.x;
  let g = c / U.group_channels;
  var sa = 0.0;
  var sb = 0.0;
  for (var n = 0u; n < U.batch; n++) {
    let ng = n * U.groups + g;
    let base = (n * U.channels + c) * U.pixels;
    for (var p = t; p < U.pixels; p += WG) {
      let b = back_at(base + p, c, ng);
      sa = fma(b.dh, b.xhat, sa);
      sb += b.dh;
    }
  }
  red_a[t] = sa;
  red_b[t] = sb;
  reduce_pair(t);
  if (t == 0u) {
    grad_gamma[c] += red_a[0];
    grad_beta[c] += red_b[0];
  }
}
