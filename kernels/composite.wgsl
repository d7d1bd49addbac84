// composite: front-to-back alpha compositing of packed samples, forward and backward
// (Animate124 main: raymarching/src/raymarching.cu:543-558; SPEC §3.3).
//   alpha_i = 1 - exp(-sigma_i dt_i), w_i = alpha_i T_i, T_{i+1} = T_i (1 - alpha_i),
//   T_0 = 1; the walk stops after the sample where T < 1e-4 and later samples get
//   weight 0 (the original leaves them at their zero initialisation).
//   image = sum w c + (1 - A) bg, A = sum w, depth = sum w t (t the ts column "t after
//   the step"), normal image = sum w (n + 1)/2 with the weights detached.
// Backward: with g_j = dI.(c_j - bg) + dA + dD t_j + dw_j (the sensitivity of the loss
// to w_j; the bg term because A enters the image through (1 - A) bg),
//   dL/dsigma_i = dt_i (T_{i+1} g_i - sum_{j>i} w_j g_j),
//   dL/dc_i = w_i dI, dL/dn_i = w_i dN / 2 (the normal image adds nothing to sigma).
// The suffix sum is the total minus the running prefix, as the original's
// composite_rays_train_backward does with its final sums.
//
// Tile: 64 threads per workgroup, one thread per ray. Rays own disjoint sample ranges,
// so there are no atomics; the walk is sequential along a ray anyway, and rays have
// up to 1024 samples, which one thread handles well at 128^2-192^2 rays per frame.

const WG: u32 = 64u;
const T_THRESH: f32 = 1e-4;

struct Params {
  bg: vec3<f32>,
  rays: u32,
  has_grad_weights: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> ray_info: array<u32>;
@group(0) @binding(2) var<storage, read> ts: array<f32>;
@group(0) @binding(3) var<storage, read> sigma: array<f32>;
@group(0) @binding(4) var<storage, read> colour: array<f32>;
@group(0) @binding(5) var<storage, read> normal: array<f32>;
// forward outputs
@group(0) @binding(6) var<storage, read_write> image: array<f32>;
@group(0) @binding(7) var<storage, read_write> alpha_out: array<f32>;
@group(0) @binding(8) var<storage, read_write> depth: array<f32>;
@group(0) @binding(9) var<storage, read_write> normal_image: array<f32>;
@group(0) @binding(10) var<storage, read_write> weights: array<f32>;
// backward inputs and outputs
@group(0) @binding(11) var<storage, read> grad_image: array<f32>;
@group(0) @binding(12) var<storage, read> grad_alpha: array<f32>;
@group(0) @binding(13) var<storage, read> grad_depth: array<f32>;
@group(0) @binding(14) var<storage, read> grad_normal_image: array<f32>;
@group(0) @binding(15) var<storage, read> grad_weights: array<f32>;
@group(0) @binding(16) var<storage, read_write> grad_sigma: array<f32>;
@group(0) @binding(17) var<storage, read_write> grad_colour: array<f32>;
@group(0) @binding(18) var<storage, read_write> grad_normal: array<f32>;

fn load3(i: u32, which: u32) -> vec3<f32> {
  if (which == 0u) { return vec3<f32>(colour[3u * i], colour[3u * i + 1u], colour[3u * i + 2u]); }
  return vec3<f32>(normal[3u * i], normal[3u * i + 1u], normal[3u * i + 2u]);
}

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>,
           @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = gid.x + gid.y * nwg.x * WG;
  if (r >= params.rays) { return; }
  let first = ray_info[2u * r];
  let n = ray_info[2u * r + 1u];
  var t_acc = 1.0;
  var rgb = vec3<f32>(0.0);
  var nrm = vec3<f32>(0.0);
  var acc = 0.0;
  var d = 0.0;
  var done = false;
  for (var k = 0u; k < n; k++) {
    let i = first + k;
    if (done) { weights[i] = 0.0; continue; }
    let a = 1.0 - exp(-sigma[i] * ts[2u * i + 1u]);
    let w = a * t_acc;
    rgb += w * load3(i, 0u);
    nrm += w * (load3(i, 1u) + 1.0) * 0.5;
    acc += w;
    d += w * ts[2u * i];
    weights[i] = w;
    t_acc *= 1.0 - a;
    if (t_acc < T_THRESH) { done = true; }
  }
  let c = rgb + (1.0 - acc) * params.bg;
  for (var k = 0u; k < 3u; k++) {
    image[3u * r + k] = c[k];
    normal_image[3u * r + k] = nrm[k];
  }
  alpha_out[r] = acc;
  depth[r] = d;
}

@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) gid: vec3<u32>,
            @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = gid.x + gid.y * nwg.x * WG;
  if (r >= params.rays) { return; }
  let first = ray_info[2u * r];
  let n = ray_info[2u * r + 1u];
  let di = vec3<f32>(grad_image[3u * r], grad_image[3u * r + 1u], grad_image[3u * r + 2u]);
  let dn = vec3<f32>(grad_normal_image[3u * r], grad_normal_image[3u * r + 1u],
                     grad_normal_image[3u * r + 2u]) * 0.5;
  let da = grad_alpha[r] - dot(di, params.bg);
  let dd = grad_depth[r];
  // Pass 1: the total sum_j w_j g_j over the samples the forward used.
  var t_acc = 1.0;
  var total = 0.0;
  var used = 0u;
  for (var k = 0u; k < n; k++) {
    let i = first + k;
    let a = 1.0 - exp(-sigma[i] * ts[2u * i + 1u]);
    let w = a * t_acc;
    var g = dot(di, load3(i, 0u)) + da + dd * ts[2u * i];
    if (params.has_grad_weights != 0u) { g += grad_weights[i]; }
    total += w * g;
    t_acc *= 1.0 - a;
    used = k + 1u;
    if (t_acc < T_THRESH) { break; }
  }
  // Pass 2: walk again with the running prefix; samples past the stop get zeros.
  t_acc = 1.0;
  var prefix = 0.0;
  for (var k = 0u; k < n; k++) {
    let i = first + k;
    if (k >= used) {
      grad_sigma[i] = 0.0;
      for (var c = 0u; c < 3u; c++) {
        grad_colour[3u * i + c] = 0.0;
        grad_normal[3u * i + c] = 0.0;
      }
      continue;
    }
    let dt = ts[2u * i + 1u];
    let a = 1.0 - exp(-sigma[i] * dt);
    let w = a * t_acc;
    var g = dot(di, load3(i, 0u)) + da + dd * ts[2u * i];
    if (params.has_grad_weights != 0u) { g += grad_weights[i]; }
    prefix += w * g;
    t_acc *= 1.0 - a;
    grad_sigma[i] = dt * (t_acc * g - (total - prefix));
    for (var c = 0u; c < 3u; c++) {
      grad_colour[3u * i + c] = w * di[c];
      grad_normal[3u * i + c] = w * dn[c];
    }
  }
}
