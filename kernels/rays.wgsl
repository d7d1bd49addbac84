// Ray generation for F frames of H×W pixels (SPEC.md §3.1, `Animate124 main:
// nerf/utils.py:99-160`). Ray r = frame·H·W + j·W + i; the direction is R·d_cam and is
// NOT normalised, so ray t (and the marcher's dt) is in camera-z units.
//
// Tile: 64 invocations, one ray each. The kernel is bandwidth-bound (24 bytes out per
// ray), and 64 is a multiple of every common subgroup size.
const WG: u32 = 64u;

struct Params {
  width: u32,
  height: u32,
  frames: u32,
  _pad: u32,
  // xyz: shared offset added to every origin (the reference step's N(0, 1e-3) noise).
  origin_offset: vec4<f32>,
  // xyz: shared offset added to every (unnormalised) direction.
  direction_offset: vec4<f32>,
}

@group(0) @binding(0) var<uniform> params: Params;
// Per frame four vec4: the three rows of the 3×4 camera-to-world matrix (rotation in
// xyz, centre in w), then (focal, cx, cy, 0).
@group(0) @binding(1) var<storage, read> cameras: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> origins: array<f32>;
@group(0) @binding(3) var<storage, read_write> directions: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = gid.x + gid.y * nwg.x * WG;
  let pixels = params.width * params.height;
  if (r >= pixels * params.frames) { return; }
  let frame = r / pixels;
  let p = r - frame * pixels;
  let j = p / params.width;
  let i = p - j * params.width;
  let row0 = cameras[frame * 4u];
  let row1 = cameras[frame * 4u + 1u];
  let row2 = cameras[frame * 4u + 2u];
  let intr = cameras[frame * 4u + 3u];
  let dc = vec3<f32>(
    (f32(i) + 0.5 - intr.y) / intr.x,
    -(f32(j) + 0.5 - intr.z) / intr.x,
    -1.0,
  );
  let d = vec3<f32>(dot(row0.xyz, dc), dot(row1.xyz, dc), dot(row2.xyz, dc)) +
    params.direction_offset.xyz;
  let o = vec3<f32>(row0.w, row1.w, row2.w) + params.origin_offset.xyz;
  origins[3u * r] = o.x;
  origins[3u * r + 1u] = o.y;
  origins[3u * r + 2u] = o.z;
  directions[3u * r] = d.x;
  directions[3u * r + 1u] = d.y;
  directions[3u * r + 2u] = d.z;
}
