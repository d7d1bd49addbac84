// Per-sample time from its ray's frame: t[s] = frameTimes[rayIndex[s] / raysPerFrame].
// The marcher emits rays, not times; the grid encoder needs a time per point.
// One thread per sample.
override WG: u32 = 64u;
override RAYS_PER_FRAME: u32 = 1u;
override FRAMES: u32 = 1u;

@group(0) @binding(0) var<storage, read> count: array<u32>;
@group(0) @binding(1) var<storage, read> ray_index: array<u32>;
@group(0) @binding(2) var<storage, read> frame_times: array<f32>;
@group(0) @binding(3) var<storage, read_write> times: array<f32>;

@compute @workgroup_size(64)
fn main(
  @builtin(global_invocation_id) gid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
) {
  let s = gid.x + gid.y * nwg.x * WG;
  if (s >= count[0]) { return; }
  let f = min(ray_index[s] / RAYS_PER_FRAME, FRAMES - 1u);
  times[s] = frame_times[f];
}
