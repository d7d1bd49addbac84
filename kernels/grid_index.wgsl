// Shared corner lookup of the multi-resolution grid (SPEC.md §2.1), included by
// grid_encode.wgsl and time_tv.wgsl so that both address the tables identically.
// Needs GRID_HASH from the generated "grid_access" fragment.
// Reproduces Animate124 main: gridencoder/src/gridencoder.cu:66-84, 137-191.

// The 8 corners of one level around one point: entry indices inside one keyframe
// grid (level offset included) and trilinear weights.
struct GridCorners {
  entry: array<u32, 8>,
  weight: array<f32, 8>,
}

// Table index of integer corner c at a level of resolution `res` and size `size`.
// The stride loop stops as soon as stride > size, so levels with (R+1)^2 > size never
// add z (the z-drop of levels 9-15) and levels with (R+1)^3 > size wrap mod size
// (levels 3-8). Products wrap in u32 as in the CUDA original.
fn grid_corner_index(c: vec3<u32>, res: u32, size: u32) -> u32 {
  var idx = 0u;
  var stride = 1u;
  for (var d = 0u; d < 3u && stride <= size; d++) {
    idx += c[d] * stride;
    stride *= res + 1u;
  }
  if (GRID_HASH && stride > size) {
    // fast_hash of instant-NGP: primes 1, 2654435761, 805459861 with wrapping products.
    idx = c.x ^ (c.y * 2654435761u) ^ (c.z * 805459861u);
  }
  return idx % size;
}

// True when u = (x+1)/2 lies in [0,1]^3; outside, every level gives zero features.
fn grid_in_box(x: vec3<f32>) -> bool {
  let u = (x + vec3<f32>(1.0)) * 0.5;
  return all(u >= vec3<f32>(0.0)) && all(u <= vec3<f32>(1.0));
}

// Corners and weights of point x (in the box) at a level with scale s_l (float32 from
// the host, never recomputed here), resolution R_l, table size T_l and entry offset.
fn grid_corners(x: vec3<f32>, scale: f32, res: u32, size: u32, offset: u32) -> GridCorners {
  let u = (x + vec3<f32>(1.0)) * 0.5;
  // align_corners off: p = u*s + 0.5; plain linear weights (no smoothstep).
  let p = u * scale + vec3<f32>(0.5);
  let cf = floor(p);
  let f = p - cf;
  let c = vec3<u32>(cf);
  var out: GridCorners;
  for (var i = 0u; i < 8u; i++) {
    let bit = vec3<u32>(i & 1u, (i >> 1u) & 1u, (i >> 2u) & 1u);
    let w3 = select(vec3<f32>(1.0) - f, f, bit == vec3<u32>(1u));
    out.weight[i] = w3.x * w3.y * w3.z;
    out.entry[i] = offset + grid_corner_index(c + bit, res, size);
  }
  return out;
}
