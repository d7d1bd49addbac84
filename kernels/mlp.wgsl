// Tiny MLP forward: features [N][IN] -> raw [N][OUT] through Linear -> ReLU -> Linear.
//
// Tile: 64 invocations, one sample each, so the kernel needs no cross-thread reductions.
// The per-sample body `forward_sample` comes from the generated `mlp_forward_body`
// fragment (mlp.ts), in one of two shapes:
// - Unrolled (software adapters, small MLPs): straight-line code with every weight read
//   from `params` at a constant index. llvmpipe runs a workgroup on one CPU thread, eight
//   invocations to a 256-bit vector; there, a constant index is one scalar load broadcast
//   to the lanes, and plain `let` values stay in registers, whereas loops over private
//   arrays become per-lane stack gathers and a barrier is a coroutine switch.
// - Loops (`forward_loop` below; GPUs and wide MLPs): 64 threads amortise a cooperative
//   copy of the parameters into workgroup memory (9.3 KiB at 32/64/4), which every thread
//   then reads at the same address (a broadcast). When the parameters do not fit the
//   device's workgroup storage, the generated `mlp_dims` fragment reads them from the
//   storage buffer instead.
//
// N is read from count[0] so the kernel can be dispatched for an upper bound or
// indirectly (IndirectArgs with workgroupSize 64); the index spills into y past 65535
// workgroups. Layout constants (IN, HID, OUT, offsets) come from the generated fragment.
#include "mlp_dims"
#include "mlp_forward_body"

const WG: u32 = 64u;

@group(0) @binding(0) var<storage, read> params: array<f32, NPARAMS>;
@group(0) @binding(1) var<storage, read> features: array<f32>;
@group(0) @binding(2) var<storage, read_write> raw: array<f32>;
@group(0) @binding(3) var<storage, read> count: array<u32>;

fn forward_loop(i: u32) {
  var x: array<f32, IN>;
  for (var k = 0u; k < IN; k++) { x[k] = features[i * IN + k]; }
  var o: array<f32, OUT>;
  for (var c = 0u; c < OUT; c++) { o[c] = wt(B2_AT + c); }
  for (var j = 0u; j < HID; j++) {
    var z = wt(B1_AT + j);
    let row = W1_AT + j * IN;
    for (var k = 0u; k < IN; k++) { z = fma(wt(row + k), x[k], z); }
    let h = max(z, 0.0);
    for (var c = 0u; c < OUT; c++) { o[c] = fma(wt(W2_AT + c * HID + j), h, o[c]); }
  }
  for (var c = 0u; c < OUT; c++) { raw[i * OUT + c] = o[c]; }
}

@compute @workgroup_size(WG)
fn main(
  @builtin(global_invocation_id) gid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  // Every invocation takes part in the copy and barrier (if any) before any of them leaves.
  load_weights(lid, WG);
  forward_sample(gid.x + gid.y * nwg.x * WG, count[0]);
}
