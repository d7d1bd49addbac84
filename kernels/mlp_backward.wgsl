// Tiny MLP backward, first pass: dL/draw [N][OUT] -> dL/dfeatures [N][IN] (written) and
// one row of per-workgroup parameter-gradient partial sums (partials [G][NPARAMS]).
//
// Tile: TILE samples per workgroup step, TILE invocations (TILE is 32 at 32/64/4 on a
// 32 KiB device; the wrapper picks the largest power of two up to 64 whose tile fits
// workgroup storage, see planMlpBackward in mlp.ts). Why this shape:
// - Per-sample phase: invocation s owns sample s of the tile, recomputes the hidden
//   pre-activations (cheaper than storing them from the forward pass), writes
//   dL/dfeatures directly and leaves x, relu(z), dL/dz and dL/draw in workgroup memory.
// - Parameter phase: invocation s owns parameters s, s + TILE, ... and sums their
//   gradient over the TILE samples from workgroup memory, so no float atomics are
//   needed and every sum runs in a fixed order (deterministic).
// - The grid is a fixed G workgroups (sized at setup from the max batch); workgroup g
//   walks tiles g, g + G, ... up to count[0] and keeps its running sums in row g of
//   `partials`, which only its own invocations touch. mlp_reduce.wgsl then adds the G
//   rows into the gradient buffer. Because G does not depend on N, N can stay on the GPU.
#include "mlp_dims"
#include "mlp_backward_body"

@group(0) @binding(0) var<storage, read> params: array<f32, NPARAMS>;
@group(0) @binding(1) var<storage, read> features: array<f32>;
@group(0) @binding(2) var<storage, read> d_raw: array<f32>;
@group(0) @binding(3) var<storage, read_write> d_features: array<f32>;
@group(0) @binding(4) var<storage, read_write> partials: array<f32>;
@group(0) @binding(5) var<storage, read> count: array<u32>;

var<workgroup> xs: array<f32, TILE * IN>;
var<workgroup> hs: array<f32, TILE * HID>;
var<workgroup> dzs: array<f32, TILE * HID>;
var<workgroup> dos: array<f32, TILE * OUT>;
var<workgroup> wg_n: u32;

@compute @workgroup_size(TILE)
fn main(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  load_weights(lid, TILE);
  if (lid == 0u) { wg_n = count[0]; }
  // The tile loop holds barriers, so its bound must be provably workgroup-uniform.
  let n = workgroupUniformLoad(&wg_n);
  let row = wid.x * NPARAMS;
  for (var p = lid; p < NPARAMS; p += TILE) { partials[row + p] = 0.0; }
  let tiles = (n + TILE - 1u) / TILE;
  for (var t = wid.x; t < tiles; t += nwg.x) {
    let s = lid;
    let i = t * TILE + s;
    if (i < n) {
      for (var k = 0u; k < IN; k++) { xs[s * IN + k] = features[i * IN + k]; }
      for (var c = 0u; c < OUT; c++) { dos[s * OUT + c] = d_raw[i * OUT + c]; }
      for (var j = 0u; j < HID; j++) {
        var z = wt(B1_AT + j);
        let w_row = W1_AT + j * IN;
        for (var k = 0u; k < IN; k++) { z = fma(wt(w_row + k), xs[s * IN + k], z); }
        var dh = 0.0;
        for (var c = 0u; c < OUT; c++) { dh = fma(wt(W2_AT + c * HID + j), dos[s * OUT + c], dh); }
        // ReLU passes the gradient only where z > 0, as torch's threshold_backward.
        hs[s * HID + j] = max(z, 0.0);
        dzs[s * HID + j] = select(0.0, dh, z > 0.0);
      }
      for (var k = 0u; k < IN; k++) {
        var dx = 0.0;
        for (var j = 0u; j < HID; j++) { dx = fma(wt(W1_AT + j * IN + k), dzs[s * HID + j], dx); }
        d_features[i * IN + k] = dx;
      }
    } else {
      // Samples past N contribute zeros to the parameter sums.
      for (var k = 0u; k < IN; k++) { xs[s * IN + k] = 0.0; }
      for (var c = 0u; c < OUT; c++) { dos[s * OUT + c] = 0.0; }
      for (var j = 0u; j < HID; j++) {
        hs[s * HID + j] = 0.0;
        dzs[s * HID + j] = 0.0;
      }
    }
    workgroupBarrier();
    for (var p = lid; p < NPARAMS; p += TILE) {
      var acc = 0.0;
      if (p < B1_AT) {
        let j = p / IN;
        let k = p - j * IN;
        for (var q = 0u; q < TILE; q++) { acc = fma(dzs[q * HID + j], xs[q * IN + k], acc); }
      } else if (p < W2_AT) {
        let j = p - B1_AT;
        for (var q = 0u; q < TILE; q++) { acc += dzs[q * HID + j]; }
      } else if (p < B2_AT) {
        let c = (p - W2_AT) / HID;
        let j = (p - W2_AT) - c * HID;
        for (var q = 0u; q < TILE; q++) { acc = fma(dos[q * OUT + c], hs[q * HID + j], acc); }
      } else {
        let c = p - B2_AT;
        for (var q = 0u; q < TILE; q++) { acc += dos[q * OUT + c]; }
      }
      partials[row + p] += acc;
    }
    // The next tile overwrites the workgroup arrays the sums above read.
    workgroupBarrier();
  }
}

// Unrolled variant (software adapters, small MLPs): no tiles and no barriers. Invocation r
// of the whole grid walks samples r, r + R, ... (R invocations in all) through the
// generated straight-line `backward_samples`, which keeps every parameter's gradient sum
// in its own register-resident value, and writes them once as row r of `partials`;
// mlp_reduce.wgsl adds the R rows. Each row is summed in sample order, so the result is
// deterministic too.
@compute @workgroup_size(UNROLLED_WG)
fn main_unrolled(
  @builtin(global_invocation_id) gid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
) {
  backward_samples(gid.x, nwg.x * UNROLLED_WG, count[0], gid.x);
}
