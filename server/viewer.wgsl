// viewer: the browser viewer's ray sampling and compositing around the shared grid
// encoder and MLP (kernels/grid_encode.wgsl, kernels/mlp.wgsl), forward only.
//
// points_main: thread per (ray, sample). Rays of the orbit camera (kernels/camera.ts:
// d = R((i+0.5-cx)/f, -(j+0.5-cy)/f, -1), unnormalised, t in camera-z units) are cut by
// the slab test against [-1, 1]^3 with near >= MIN_NEAR; SAMPLES points sit at the
// midpoints of equal steps dt = (far - near)/SAMPLES, clamped into the box as the
// marcher clamps them. No occupancy grid: a viewer frame is small, and skipping the
// bitfield keeps the viewer independent of the occupancy layout.
// composite_main: thread per ray, the shade/composite formulas of training in albedo
// mode: sigma = exp(raw0 + blob(q)), albedo = sigmoid(raw1..3), alpha = 1 - exp(-sigma dt),
// front to back until T < 1e-4, then over the background; packed to RGBA8.
//
// Tile: 64 threads. Both kernels are memory-bound and branch little; 64 is a multiple
// of every common subgroup size. Rays of one pass are [first_ray, first_ray + rays).

const WG: u32 = 64u;
const MIN_NEAR: f32 = 0.05;
const T_THRESH: f32 = 1e-4;
const BLOB_DENSITY: f32 = 10.0;
const BLOB_RADIUS: f32 = 0.2;

struct View {
  // Rows of the 3x4 camera-to-world matrix (kernels/camera.ts c2w, row-major).
  c2w: array<vec4<f32>, 3>,
  width: u32,
  height: u32,
  samples: u32,
  first_ray: u32,
  rays: u32,
  _p0: u32,
  _p1: u32,
  _p2: u32,
  focal: f32,
  cx: f32,
  cy: f32,
  time: f32,
  bg: vec4<f32>,
}

@group(0) @binding(0) var<uniform> V: View;
@group(0) @binding(1) var<storage, read_write> points: array<f32>;
@group(0) @binding(2) var<storage, read_write> times: array<f32>;
// Per ray of the pass: dt (0 for a ray that misses the box).
@group(0) @binding(3) var<storage, read_write> steps: array<f32>;
@group(0) @binding(4) var<storage, read> raw: array<f32>;
@group(0) @binding(5) var<storage, read_write> pixels: array<u32>;

struct Ray {
  o: vec3<f32>,
  d: vec3<f32>,
  near: f32,
  far: f32,
}

fn camera_ray(pixel: u32) -> Ray {
  let i = f32(pixel % V.width);
  let j = f32(pixel / V.width);
  let x = (i + 0.5 - V.cx) / V.focal;
  let y = -(j + 0.5 - V.cy) / V.focal;
  var r: Ray;
  r.d = vec3<f32>(
    dot(V.c2w[0].xyz, vec3<f32>(x, y, -1.0)),
    dot(V.c2w[1].xyz, vec3<f32>(x, y, -1.0)),
    dot(V.c2w[2].xyz, vec3<f32>(x, y, -1.0)),
  );
  r.o = vec3<f32>(V.c2w[0].w, V.c2w[1].w, V.c2w[2].w);
  // Slab test; a zero direction component gives +-inf, which min/max handle.
  let inv = vec3<f32>(1.0) / r.d;
  let t0 = (vec3<f32>(-1.0) - r.o) * inv;
  let t1 = (vec3<f32>(1.0) - r.o) * inv;
  let lo = min(t0, t1);
  let hi = max(t0, t1);
  r.near = max(max(max(lo.x, lo.y), lo.z), MIN_NEAR);
  r.far = min(min(hi.x, hi.y), hi.z);
  return r;
}

@compute @workgroup_size(WG)
fn points_main(
  @builtin(global_invocation_id) gid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
) {
  let t = gid.x + gid.y * nwg.x * WG;
  let r = t / V.samples;
  let k = t - r * V.samples;
  if (r >= V.rays) { return; }
  let ray = camera_ray(V.first_ray + r);
  var dt = 0.0;
  if (ray.far > ray.near) { dt = (ray.far - ray.near) / f32(V.samples); }
  let p = clamp(ray.o + (ray.near + (f32(k) + 0.5) * dt) * ray.d, vec3<f32>(-1.0), vec3<f32>(1.0));
  points[3u * t] = p.x;
  points[3u * t + 1u] = p.y;
  points[3u * t + 2u] = p.z;
  times[t] = V.time;
  if (k == 0u) { steps[r] = dt; }
}

fn blob(q: vec3<f32>) -> f32 {
  return BLOB_DENSITY * exp(-dot(q, q) / (2.0 * BLOB_RADIUS * BLOB_RADIUS));
}

fn sigmoid(x: f32) -> f32 {
  return 1.0 / (1.0 + exp(-x));
}

fn to_byte(v: f32) -> u32 {
  return u32(round(clamp(v, 0.0, 1.0) * 255.0));
}

@compute @workgroup_size(WG)
fn composite_main(
  @builtin(global_invocation_id) gid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
) {
  let r = gid.x + gid.y * nwg.x * WG;
  if (r >= V.rays) { return; }
  let dt = steps[r];
  var trans = 1.0;
  var colour = vec3<f32>(0.0);
  if (dt > 0.0) {
    for (var k = 0u; k < V.samples; k++) {
      let s = r * V.samples + k;
      let q = vec3<f32>(points[3u * s], points[3u * s + 1u], points[3u * s + 2u]);
      let sigma = exp(raw[4u * s] + blob(q));
      let alpha = 1.0 - exp(-sigma * dt);
      let albedo = vec3<f32>(sigmoid(raw[4u * s + 1u]), sigmoid(raw[4u * s + 2u]), sigmoid(raw[4u * s + 3u]));
      colour += alpha * trans * albedo;
      trans *= 1.0 - alpha;
      if (trans < T_THRESH) { break; }
    }
  }
  let c = colour + trans * V.bg.xyz;
  pixels[V.first_ray + r] = to_byte(c.x) | (to_byte(c.y) << 8u) | (to_byte(c.z) << 16u) | (255u << 24u);
}
