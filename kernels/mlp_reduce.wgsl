// Tiny MLP backward, second pass: grads[p] += sum over g of partials[g][p].
//
// Tile: 64 invocations, one parameter each. Each sums its G partial rows in a fixed
// order, so the result is deterministic and needs no float atomics; G (one row per tiled
// workgroup, or per invocation of the unrolled backward) is at most 8,192, so a
// sequential sum per parameter is cheaper than a tree reduction.
override GROUPS: u32 = 1u;
override PARAMS: u32 = 1u;

@group(0) @binding(0) var<storage, read> partials: array<f32>;
@group(0) @binding(1) var<storage, read_write> grads: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let p = gid.x + gid.y * nwg.x * 64u;
  if (p >= PARAMS) { return; }
  var acc = 0.0;
  for (var g = 0u; g < GROUPS; g++) { acc += partials[g * PARAMS + p]; }
  grads[p] += acc;
}
