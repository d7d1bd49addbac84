// The register-blocked inner product shared by the VAE's tiled GEMMs (conv2d as im2col,
// attention's matmuls): a 16×16 workgroup computes a TM×TN block of C, each thread 4×4
// outputs strided by 16, from K-slices of TK staged in workgroup memory.
const TM: u32 = 64u;
const TN: u32 = 64u;
const TK: u32 = 16u;

var<workgroup> tile_a: array<f32, TK * TM>;
var<workgroup> tile_b: array<f32, TK * TN>;

// Adds the staged K-slice's contribution to this thread's 4×4 accumulators; call between
// the two barriers that bracket a slice.
fn gemm_tile_accumulate(acc: ptr<function, array<f32, 16>>, lid: vec3<u32>) {
  for (var kk = 0u; kk < TK; kk++) {
    var a: array<f32, 4>;
    var b: array<f32, 4>;
    for (var i = 0u; i < 4u; i++) {
      a[i] = tile_a[kk * TM + lid.y + 16u * i];
      b[i] = tile_b[kk * TN + lid.x + 16u * i];
    }
    for (var i = 0u; i < 4u; i++) {
      for (var j = 0u; j < 4u; j++) {
        (*acc)[i * 4u + j] = fma(a[i], b[j], (*acc)[i * 4u + j]);
      }
    }
  }
}
