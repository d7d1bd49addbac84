// normal_image_reg: TV and Gaussian-blur regularisers on the composited normal image
// (SPEC.md §5.5; Animate124 main: dnerf/utils.py:470-500), loss and gradient.
//   L_tv   = Σ (Δ_y N)² / (F·3·(H−1)·W) + Σ (Δ_x N)² / (F·3·H·(W−1))
//   L_blur = Σ D² / (F·3·H·W),  D = N − G(N),  G = 9×9 separable Gaussian, reflect pad 4
//   grad   = λ_tv ∂L_tv/∂N + λ_blur (2/n)(D − Gᵀ D)        (G(N) is not detached)
// N is [F][H][W][3]; one thread per element (frame, pixel, channel).
//
// Passes, each over all elements: blur_x (A = horizontal blur of N), blur_y (D = N −
// vertical blur of A, plus the three squared sums per workgroup into `partials`),
// adjoint_x (A = horizontal adjoint of D), finish (the gradient, using the vertical
// adjoint of A), reduce (one workgroup: partial rows → loss). The adjoint of a reflect-
// padded convolution gathers, for output q, the zero-padded convolution at every padded
// index j that reflects onto q: j = q, j = −q (1 ≤ q ≤ 4) and j = 2(n−1) − q (n−5 ≤ q ≤ n−2).
// Separable passes cost 9 taps each instead of 81, and gathers need no atomics.
//
// Tile: 256 threads per workgroup. The passes are memory-bound streams over a few MB;
// the workgroup size only sets the number of partial rows (one per workgroup).

const WG: u32 = 256u;
const TAPS: u32 = 9u;
const HALF: i32 = 4;

struct Params {
  frames: u32,
  width: u32,
  height: u32,
  // F·H·W·3, the live element count.
  elements: u32,
  // Workgroups of the blur_y pass (rows of `partials`).
  rows: u32,
  // 1: grad += g, 0: grad = g.
  accumulate: u32,
  _p0: u32,
  _p1: u32,
  tv_weight: f32,
  blur_weight: f32,
  _p2: f32,
  _p3: f32,
  // The 9 normalised Gaussian taps (torchvision's kernel), padded to 12.
  taps: array<vec4<f32>, 3>,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> normal_image: array<f32>;
@group(0) @binding(2) var<storage, read_write> scratch_a: array<f32>;
@group(0) @binding(3) var<storage, read_write> scratch_d: array<f32>;
@group(0) @binding(4) var<storage, read_write> grad: array<f32>;
@group(0) @binding(5) var<storage, read_write> partial_sums: array<f32>;
// [L_tv, L_blur, λ_tv L_tv + λ_blur L_blur] after `reduce`.
@group(0) @binding(6) var<storage, read_write> loss: array<f32>;

var<workgroup> red_y: array<f32, WG>;
var<workgroup> red_x: array<f32, WG>;
var<workgroup> red_d: array<f32, WG>;

fn tap(a: u32) -> f32 {
  return P.taps[a / 4u][a % 4u];
}

fn reflect_index(i: i32, n: i32) -> i32 {
  if (i < 0) { return -i; }
  if (i >= n) { return 2 * (n - 1) - i; }
  return i;
}

struct Elem {
  f: u32,
  y: i32,
  x: i32,
  c: u32,
}

fn elem(i: u32) -> Elem {
  var e: Elem;
  e.c = i % 3u;
  let p = i / 3u;
  e.x = i32(p % P.width);
  let q = p / P.width;
  e.y = i32(q % P.height);
  e.f = q / P.height;
  return e;
}

fn at(e: Elem, y: i32, x: i32) -> u32 {
  return ((e.f * P.height + u32(y)) * P.width + u32(x)) * 3u + e.c;
}

@compute @workgroup_size(WG)
fn blur_x(@builtin(global_invocation_id) gid: vec3<u32>,
          @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= P.elements) { return; }
  let e = elem(i);
  let w = i32(P.width);
  var acc = 0.0;
  for (var b = 0u; b < TAPS; b++) {
    acc += tap(b) * normal_image[at(e, e.y, reflect_index(e.x + i32(b) - HALF, w))];
  }
  scratch_a[i] = acc;
}

@compute @workgroup_size(WG)
fn blur_y(@builtin(global_invocation_id) gid: vec3<u32>,
          @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(workgroup_id) wid: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
  let i = gid.x + gid.y * nwg.x * WG;
  var sy = 0.0;
  var sx = 0.0;
  var sd = 0.0;
  if (i < P.elements) {
    let e = elem(i);
    let h = i32(P.height);
    var acc = 0.0;
    for (var a = 0u; a < TAPS; a++) {
      acc += tap(a) * scratch_a[at(e, reflect_index(e.y + i32(a) - HALF, h), e.x)];
    }
    let v = normal_image[i];
    let d = v - acc;
    scratch_d[i] = d;
    sd = d * d;
    if (e.y + 1 < h) {
      let dy = normal_image[at(e, e.y + 1, e.x)] - v;
      sy = dy * dy;
    }
    if (e.x + 1 < i32(P.width)) {
      let dx = normal_image[at(e, e.y, e.x + 1)] - v;
      sx = dx * dx;
    }
  }
  red_y[lid] = sy;
  red_x[lid] = sx;
  red_d[lid] = sd;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    if (lid < half) {
      red_y[lid] += red_y[lid + half];
      red_x[lid] += red_x[lid + half];
      red_d[lid] += red_d[lid + half];
    }
    workgroupBarrier();
  }
  let row = wid.x + wid.y * nwg.x;
  if (lid == 0u && row < P.rows) {
    partial_sums[3u * row] = red_y[0];
    partial_sums[3u * row + 1u] = red_x[0];
    partial_sums[3u * row + 2u] = red_d[0];
  }
}

// Σ_b k_b v[j − b + 4] over the in-range taps: the adjoint's zero-padded convolution at
// padded index j along x (axis 0) or y (axis 1).
fn adjoint_tap_sum(e: Elem, j: i32, axis: u32) -> f32 {
  var acc = 0.0;
  if (axis == 0u) {
    let n = i32(P.width);
    for (var b = 0u; b < TAPS; b++) {
      let s = j - i32(b) + HALF;
      if (s >= 0 && s < n) { acc += tap(b) * scratch_d[at(e, e.y, s)]; }
    }
  } else {
    let n = i32(P.height);
    for (var a = 0u; a < TAPS; a++) {
      let s = j - i32(a) + HALF;
      if (s >= 0 && s < n) { acc += tap(a) * scratch_a[at(e, s, e.x)]; }
    }
  }
  return acc;
}

// Sums the adjoint over every padded index that reflects onto q.
fn adjoint(e: Elem, q: i32, n: i32, axis: u32) -> f32 {
  var acc = adjoint_tap_sum(e, q, axis);
  if (q >= 1 && q <= HALF) { acc += adjoint_tap_sum(e, -q, axis); }
  if (q >= n - 1 - HALF && q <= n - 2) { acc += adjoint_tap_sum(e, 2 * (n - 1) - q, axis); }
  return acc;
}

@compute @workgroup_size(WG)
fn adjoint_x(@builtin(global_invocation_id) gid: vec3<u32>,
             @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= P.elements) { return; }
  let e = elem(i);
  scratch_a[i] = adjoint(e, e.x, i32(P.width), 0u);
}

@compute @workgroup_size(WG)
fn finish(@builtin(global_invocation_id) gid: vec3<u32>,
          @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= P.elements) { return; }
  let e = elem(i);
  let h = i32(P.height);
  let w = i32(P.width);
  let fw = f32(P.frames) * 3.0;
  let ny = fw * f32(P.height - 1u) * f32(P.width);
  let nx = fw * f32(P.height) * f32(P.width - 1u);
  let v = normal_image[i];
  // d/dN of Σ (N[y+1] − N[y])²: the difference above enters with +, the one below with −.
  var gy = 0.0;
  if (e.y > 0) { gy += v - normal_image[at(e, e.y - 1, e.x)]; }
  if (e.y + 1 < h) { gy -= normal_image[at(e, e.y + 1, e.x)] - v; }
  var gx = 0.0;
  if (e.x > 0) { gx += v - normal_image[at(e, e.y, e.x - 1)]; }
  if (e.x + 1 < w) { gx -= normal_image[at(e, e.y, e.x + 1)] - v; }
  let g_tv = 2.0 * (gy / ny + gx / nx);
  let g_blur = 2.0 * (scratch_d[i] - adjoint(e, e.y, h, 1u)) / f32(P.elements);
  let g = P.tv_weight * g_tv + P.blur_weight * g_blur;
  if (P.accumulate != 0u) {
    grad[i] += g;
  } else {
    grad[i] = g;
  }
}

@compute @workgroup_size(WG)
fn reduce(@builtin(local_invocation_index) lid: u32) {
  var sy = 0.0;
  var sx = 0.0;
  var sd = 0.0;
  for (var r = lid; r < P.rows; r += WG) {
    sy += partial_sums[3u * r];
    sx += partial_sums[3u * r + 1u];
    sd += partial_sums[3u * r + 2u];
  }
  red_y[lid] = sy;
  red_x[lid] = sx;
  red_d[lid] = sd;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    if (lid < half) {
      red_y[lid] += red_y[lid + half];
      red_x[lid] += red_x[lid + half];
      red_d[lid] += red_d[lid + half];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let fw = f32(P.frames) * 3.0;
    let tv = red_y[0] / (fw * f32(P.height - 1u) * f32(P.width)) +
      red_x[0] / (fw * f32(P.height) * f32(P.width - 1u));
    let blur = red_d[0] / f32(max(P.elements, 1u));
    loss[0] = tv;
    loss[1] = blur;
    loss[2] = P.tv_weight * tv + P.blur_weight * blur;
  }
}
