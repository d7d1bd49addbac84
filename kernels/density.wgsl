// Density σ = exp(raw₀ + blob(x)) at arbitrary points, for the occupancy grid update
// (Animate124 main: dnerf/network_4dgrid.py:204, 315-329). One thread per point; the
// forward of trunc_exp is a plain float32 exp. No backward: occupancy is not trained.
override BLOB_DENSITY: f32 = 10.0;
override BLOB_RADIUS: f32 = 0.2;
override WG: u32 = 64u;

@group(0) @binding(0) var<storage, read> count: array<u32>;
@group(0) @binding(1) var<storage, read> points: array<f32>;
@group(0) @binding(2) var<storage, read> raw: array<f32>;
@group(0) @binding(3) var<storage, read_write> sigma: array<f32>;

@compute @workgroup_size(64)
fn main(
  @builtin(global_invocation_id) gid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= count[0]) { return; }
  let x = vec3<f32>(points[3u * i], points[3u * i + 1u], points[3u * i + 2u]);
  let blob = BLOB_DENSITY * exp(-dot(x, x) / (2.0 * BLOB_RADIUS * BLOB_RADIUS));
  sigma[i] = exp(raw[4u * i] + blob);
}
