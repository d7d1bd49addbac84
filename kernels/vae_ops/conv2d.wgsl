// conv2d: zero-padded 2-D convolution of NCHW activations with PyTorch-ordered weights
// [C_out][C_in][k][k], forward and backward, each pass one implicit GEMM C[M][N] = A·B:
//   MODE 0, forward:     M = C_out, N = batch·H_o·W_o, K = C_in·k²;  A = W,  B = im2col(x)
//   MODE 1, dL/dx:       M = C_in,  N = batch·H·W,     K = C_out·k²; A = Wᵀ, B = col2im-gather(dy)
//   MODE 2, dL/dW:       M = C_out, N = C_in·k²,       K = batch·H_o·W_o; A = dy, B = im2col(x)ᵀ
// No matrix is materialised: load_a / load_b gather straight from the activations, with
// zeros for the padding (and, in MODE 1 at stride 2, for taps that hit no output pixel).
//
// Tile: 16×16 threads own a 64×64 block of C, 4×4 outputs each, strided by 16 so that
// neighbouring threads read neighbouring workgroup-memory words. K advances in slices of
// 16: each thread stages 4 values of A and 4 of B per slice (8 KiB of workgroup memory in
// all, inside lavapipe's 32 KiB). 64 is the largest square tile whose 16 accumulators stay
// in registers on common GPUs; the hot 512-channel convolutions fill it in M and N.
// MODE, KS and STRIDE are override constants so the index arithmetic divides by constants.
// `bias_grad` sums dy per output channel (one workgroup per channel, fixed order).

override MODE: u32 = 0u;
override KS: u32 = 3u;
override STRIDE: u32 = 1u;

#include "gemm_tile"
const WG: u32 = 256u;

struct ConvUniforms {
  batch: u32,
  c_in: u32,
  c_out: u32,
  height: u32,
  width: u32,
  out_height: u32,
  out_width: u32,
  pad_top: u32,
  pad_left: u32,
  // 1: add into dst instead of overwriting it (weight gradients, residual branches).
  accumulate: u32,
  _pad0: u32,
  _pad1: u32,
}

// MODE 0: W; MODE 1: W; MODE 2: dy.
@group(0) @binding(0) var<storage, read> src_a: array<f32>;
// MODE 0: x; MODE 1: dy; MODE 2: x.
@group(0) @binding(1) var<storage, read> src_b: array<f32>;
// MODE 0: y; MODE 1: dL/dx; MODE 2: dL/dW.
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<uniform> U: ConvUniforms;
@group(0) @binding(5) var<storage, read_write> grad_bias: array<f32>;

var<workgroup> red: array<f32, WG>;

fn gemm_rows() -> u32 {
  if (MODE == 1u) { return U.c_in; }
  return U.c_out;
}

fn gemm_cols() -> u32 {
  if (MODE == 0u) { return U.batch * U.out_height * U.out_width; }
  if (MODE == 1u) { return U.batch * U.height * U.width; }
  return U.c_in * KS * KS;
}

fn gemm_depth() -> u32 {
  if (MODE == 0u) { return U.c_in * KS * KS; }
  if (MODE == 1u) { return U.c_out * KS * KS; }
  return U.batch * U.out_height * U.out_width;
}

// x[n][c] at output pixel p through tap r = ky·k + kx, or 0 in the padding.
fn im2col(n: u32, c: u32, p: u32, r: u32) -> f32 {
  let oy = p / U.out_width;
  let ox = p - oy * U.out_width;
  let ky = r / KS;
  let kx = r - ky * KS;
  let iy = i32(oy * STRIDE + ky) - i32(U.pad_top);
  let ix = i32(ox * STRIDE + kx) - i32(U.pad_left);
  if (iy < 0 || ix < 0 || iy >= i32(U.height) || ix >= i32(U.width)) { return 0.0; }
  return src_b[((n * U.c_in + c) * U.height + u32(iy)) * U.width + u32(ix)];
}

fn load_a(m: u32, k: u32) -> f32 {
  if (MODE == 0u) { return src_a[m * U.c_in * KS * KS + k]; }
  if (MODE == 1u) {
    let co = k / (KS * KS);
    let r = k - co * KS * KS;
    return src_a[(co * U.c_in + m) * KS * KS + r];
  }
  return src_a[k % (U.out_height * U.out_width) +
    (k / (U.out_height * U.out_width) * U.c_out + m) * U.out_height * U.out_width];
}

fn load_b(k: u32, col: u32) -> f32 {
  let ohw = U.out_height * U.out_width;
  if (MODE == 0u) {
    let n = col / ohw;
    let c = k / (KS * KS);
    return im2col(n, c, col - n * ohw, k - c * KS * KS);
  }
  if (MODE == 1u) {
    // Input pixel (iy, ix) receives dy at (oy, ox) through tap (ky, kx) when
    // oy·s + ky − pad_top = iy, i.e. oy = (iy + pad_top − ky)/s, exact and in range.
    let hw = U.height * U.width;
    let n = col / hw;
    let p = col - n * hw;
    let iy = p / U.width;
    let ix = p - iy * U.width;
    let co = k / (KS * KS);
    let r = k - co * KS * KS;
    let ky = r / KS;
    let kx = r - ky * KS;
    let ty = i32(iy + U.pad_top) - i32(ky);
    let tx = i32(ix + U.pad_left) - i32(kx);
    if (ty < 0 || tx < 0) { return 0.0; }
    let uy = u32(ty);
    let ux = u32(tx);
    if (uy % STRIDE != 0u || ux % STRIDE != 0u) { return 0.0; }
    let oy = uy / STRIDE;
    let ox = ux / STRIDE;
    if (oy >= U.out_height || ox >= U.out_width) { return 0.0; }
    return src_b[((n * U.c_out + co) * U.out_height + oy) * U.out_width + ox];
  }
  let n = k / ohw;
  let c = col / (KS * KS);
  return im2col(n, c, k - n * ohw, col - c * KS * KS);
}

fn store(m: u32, col: u32, v: f32) {
  var i: u32;
  var out = v;
  if (MODE == 0u) {
    let ohw = U.out_height * U.out_width;
    let n = col / ohw;
    i = (n * U.c_out + m) * ohw + col - n * ohw;
    out += bias[m];
  } else if (MODE == 1u) {
    let hw = U.height * U.width;
    let n = col / hw;
    i = (n * U.c_in + m) * hw + col - n * hw;
  } else {
    i = m * U.c_in * KS * KS + col;
  }
  if (U.accumulate != 0u) { out += dst[i]; }
  dst[i] = out;
}

@compute @workgroup_size(16, 16)
fn main(
  @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
  @builtin(workgroup_id) wid: vec3<u32>,
) {
  let rows = gemm_rows();
  let cols = gemm_cols();
  let depth = gemm_depth();
  let row0 = wid.y * TM;
  let col0 = wid.x * TN;
  var acc: array<f32, 16>;
  for (var k0 = 0u; k0 < depth; k0 += TK) {
    for (var e = 0u; e < 4u; e++) {
      let s = t + e * WG;
      // A: consecutive threads walk K (contiguous weights in MODE 0).
      let am = s / TK;
      let ak = s - am * TK;
      var va = 0.0;
      if (row0 + am < rows && k0 + ak < depth) { va = load_a(row0 + am, k0 + ak); }
      tile_a[ak * TM + am] = va;
      // B: consecutive threads walk N (contiguous pixels).
      let bk = s / TN;
      let bn = s - bk * TN;
      var vb = 0.0;
      if (col0 + bn < cols && k0 + bk < depth) { vb = load_b(k0 + bk, col0 + bn); }
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
      if (m < rows && n < cols) { store(m, n, acc[i * 4u + j]); }
    }
  }
}

// dL/db[c] += Σ_{n, p} dy[n][c][p]; src_a is dy as in MODE 2.
@compute @workgroup_size(WG)
fn bias_grad(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let c = wid.x;
  let ohw = U.out_height * U.out_width;
  var s = 0.0;
  for (var n = 0u; n < U.batch; n++) {
    let base = (n * U.c_out + c) * ohw;
    for (var p = t; p < ohw; p += WG) { s += src_a[base + p]; }
  }
  red[t] = s;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    if (t < half) { red[t] += red[t + half]; }
    workgroupBarrier();
  }
  if (t == 0u) { grad_bias[c] += red[0]; }
}
