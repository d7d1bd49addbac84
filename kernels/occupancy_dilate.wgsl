// occupancy_dilate: grows the occupancy bitfield by one cell in every direction (the
// 3×3×3 neighbourhood, per time slice): bits[c] = OR of src[n] over the neighbours n of c.
//
// Used by the dynamic stages so that motion can leave the cells the static object filled:
// only occupied cells are sampled, and density can only grow where there are samples.
//
// One invocation per output word (32 cells), like occupancy's `pack_main`; `src` is a copy
// of the bitfield taken before the pass, so neighbours read the undilated state.

const WG: u32 = 64u;

struct Dims {
  res: u32,
  slices: u32,
  words_per_slice: u32,
  cells: u32,
}

@group(0) @binding(0) var<storage, read> src: array<u32>;
@group(0) @binding(1) var<storage, read_write> bits: array<u32>;
@group(0) @binding(2) var<uniform> D: Dims;

fn occupied(word0: u32, x: i32, y: i32, z: i32) -> bool {
  let r = i32(D.res);
  if (x < 0 || y < 0 || z < 0 || x >= r || y >= r || z >= r) { return false; }
  let idx = (u32(x) * D.res + u32(y)) * D.res + u32(z);
  return ((src[word0 + (idx >> 5u)] >> (idx & 31u)) & 1u) != 0u;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let w = gid.x + gid.y * nwg.x * WG;
  if (w >= D.slices * D.words_per_slice) { return; }
  let slice = w / D.words_per_slice;
  let word0 = slice * D.words_per_slice;
  let first = (w - word0) * 32u;
  var word = src[w];
  for (var b = 0u; b < 32u; b++) {
    let c = first + b;
    if (c >= D.cells || ((word >> b) & 1u) != 0u) { continue; }
    let x = i32(c / (D.res * D.res));
    let y = i32((c / D.res) % D.res);
    let z = i32(c % D.res);
    var hit = false;
    for (var dx = -1; dx <= 1 && !hit; dx++) {
      for (var dy = -1; dy <= 1 && !hit; dy++) {
        for (var dz = -1; dz <= 1 && !hit; dz++) {
          hit = occupied(word0, x + dx, y + dy, z + dz);
        }
      }
    }
    if (hit) { word |= 1u << b; }
  }
  bits[w] = word;
}
