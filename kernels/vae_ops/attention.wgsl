// attention: single-head spatial self-attention of the SD VAE mid block, forward and
// backward, built from batched GEMMs over q, k, v [N][C][T] (channel-major, T = H·W):
//   forward   S = Qᵀ·K/√C → P = softmax rows (in place) → O = V·Pᵀ
//   backward  dV = dO·P;  dP = dOᵀ·V → dS = P∘(dP − rowsum(P∘dP)) (in place);
//             dQ = K·dSᵀ/√C;  dK = Q·dS/√C
// `matmul` computes C[b] = α·op(A[b])·op(B[b]) (+ C[b] when accumulating), with op a
// transpose chosen by the TRANS_A / TRANS_B override constants, batch b = workgroup z.
// P and dS are materialised, [N][T][T]: 64 MiB each at T = 64² (a 512² input), inside one
// storage binding; larger inputs need query chunking (not done yet).
//
// Tile (matmul): 16×16 threads own a 64×64 block of C, 4×4 each, K in slices of 16 staged
// in 8 KiB of workgroup memory, as in conv2d.wgsl. Rows (softmax, softmax_backward): one
// 256-thread workgroup per row, fixed-order tree reductions (max, then Σ exp; or Σ P·dP).

override TRANS_A: bool = false;
override TRANS_B: bool = false;

#include "gemm_tile"
const WG: u32 = 256u;

struct MatmulUniforms {
  // Rows of C (softmax: rows of S in all images).
  m: u32,
  // Columns of C (softmax: the row length T).
  n: u32,
  k: u32,
  alpha: f32,
  accumulate: u32,
  // Per-batch strides of A, B and C in floats.
  stride_a: u32,
  stride_b: u32,
  stride_c: u32,
}

@group(0) @binding(0) var<storage, read> mat_a: array<f32>;
@group(0) @binding(1) var<storage, read> mat_b: array<f32>;
@group(0) @binding(2) var<storage, read_write> mat_c: array<f32>;
@group(0) @binding(3) var<uniform> U: MatmulUniforms;
// softmax_backward: P, read beside dP (in mat_c).
@group(0) @binding(4) var<storage, read> probs: array<f32>;

var<workgroup> red: array<f32, WG>;

fn load_a(base: u32, m: u32, k: u32) -> f32 {
  if (TRANS_A) { return mat_a[base + k * U.m + m]; }
  return mat_a[base + m * U.k + k];
}

fn load_b(base: u32, k: u32, n: u32) -> f32 {
  if (TRANS_B) { return mat_b[base + n * U.k + k]; }
  return mat_b[base + k * U.n + n];
}

@compute @workgroup_size(16, 16)
fn matmul(
  @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
  @builtin(workgroup_id) wid: vec3<u32>,
) {
  let base_a = wid.z * U.stride_a;
  let base_b = wid.z * U.stride_b;
  let base_c = wid.z * U.stride_c;
  let row0 = wid.y * TM;
  let col0 = wid.x * TN;
  var acc: array<f32, 16>;
  for (var k0 = 0u; k0 < U.k; k0 += TK) {
    for (var e = 0u; e < 4u; e++) {
      let s = t + e * WG;
      // Threads walk whichever index is contiguous in memory.
      var am: u32;
      var ak: u32;
      if (TRANS_A) {
        ak = s / TM;
        am = s - ak * TM;
      } else {
        am = s / TK;
        ak = s - am * TK;
      }
      var va = 0.0;
      if (row0 + am < U.m && k0 + ak < U.k) { va = load_a(base_a, row0 + am, k0 + ak); }
      tile_a[ak * TM + am] = va;
      var bk: u32;
      var bn: u32;
      if (TRANS_B) {
        bn = s / TK;
        bk = s - bn * TK;
      } else {
        bk = s / TN;
        bn = s - bk * TN;
      }
      var vb = 0.0;
      if (col0 + bn < U.n && k0 + bk < U.k) { vb = load_b(base_b, k0 + bk, col0 + bn); }
      tile_b[bk * TN + bn] = vb;
    }
    workgroupBarrier();
    gemm_tile_accumulate(&acc, lid);
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    for (var j = 0u; j < 4u; j++) {
      let m = row0 + lid.y + 16u * i;
      let n = col0 + lid.x + 16u * j;
      if (m < U.m && n < U.n) {
        let idx = base_c + m * U.n + n;
        var v = U.alpha * acc[i * 4u + j];
        if (U.accumulate != 0u) { v += mat_c[idx]; }
        mat_c[idx] = v;
      }
    }
  }
}

// Sums (or maxes, when `is_max`) red[] into red[0]. Uniform control flow only.
fn reduce_row(t: u32, is_max: bool) {
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    if (t < half) {
      if (is_max) {
        red[t] = max(red[t], red[t + half]);
      } else {
        red[t] += red[t + half];
      }
    }
    workgroupBarrier();
  }
}

fn row_index(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return wid.x + wid.y * nwg.x;
}

// Rows of mat_c (scores, already scaled) become probabilities, in place.
@compute @workgroup_size(WG)
fn softmax(
  @builtin(local_invocation_index) t: u32,
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
) {
  let row = row_index(wid, nwg);
  if (row >= U.m) { return; }
  let base = row * U.n;
  var mx = -3.4e38;
  for (var j = t; j < U.n; j += WG) { mx = max(mx, mat_c[base + j]); }
  red[t] = mx;
  reduce_row(t, true);
  let row_max = red[0];
  workgroupBarrier();
  var s = 0.0;
  for (var j = t; j < U.n; j += WG) { s += exp(mat_c[base + j] - row_max); }
  red[t] = s;
  reduce_row(t, false);
  let inv = 1.0 / red[0];
  for (var j = t; j < U.n; j += WG) { mat_c[base + j] = exp(mat_c[base + j] - row_max) * inv; }
}

// Rows of mat_c (dP) become dS = P∘(dP − Σⱼ P·dP), in place.
@compute @workgroup_size(WG)
fn softmax_backward(
  @builtin(local_invocation_index) t: u32,
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
) {
  let row = row_index(wid, nwg);
  if (row >= U.m) { return; }
  let base = row * U.n;
  var s = 0.0;
  for (var j = t; j < U.n; j += WG) { s = fma(probs[base + j], mat_c[base + j], s); }
  red[t] = s;
  reduce_row(t, false);
  let d = red[0];
  for (var j = t; j < U.n; j += WG) {
    mat_c[base + j] = probs[base + j] * (mat_c[base + j] - d);
  }
}
