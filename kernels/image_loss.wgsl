// image_loss: mean squared error of a rendered clip against target images, with its
// gradient written for the renderer's backward pass and the loss reduced on the GPU.
//   L_rgb   = Σ (image − target)² / (3N)        over N pixels, 3 channels
//   L_alpha = Σ (alpha − target_alpha)² / N
//   L       = v·L_rgb + w·L_alpha
//   dL/dimage = 2v(image − target)/(3N),  dL/dalpha = 2w(alpha − target_alpha)/N
//
// Tile: 256 threads per workgroup, one thread per pixel. Each workgroup tree-reduces its
// squared errors in workgroup memory into one row of `partials` ([G][2]); `reduce` (one
// workgroup) then adds the rows in a fixed strided order and tree-reduces again, so the
// loss is deterministic (no float atomics) and never leaves the GPU.

const WG: u32 = 256u;

struct LossUniforms {
  // N, the live pixel count (frames × H × W).
  pixels: u32,
  // Workgroups the main pass ran (rows of `partials`).
  partials: u32,
  // w, the weight of the alpha term (0 turns it off; its gradient is then zero).
  alpha_weight: f32,
  // v, the weight of the colour term (the reference step's λ_rgb).
  rgb_weight: f32,
}

@group(0) @binding(0) var<storage, read> image: array<f32>;
@group(0) @binding(1) var<storage, read> alpha: array<f32>;
@group(0) @binding(2) var<storage, read> target_image: array<f32>;
@group(0) @binding(3) var<storage, read> target_alpha: array<f32>;
@group(0) @binding(4) var<storage, read_write> grad_image: array<f32>;
@group(0) @binding(5) var<storage, read_write> grad_alpha: array<f32>;
@group(0) @binding(6) var<storage, read_write> partial_sums: array<f32>;
// [L_rgb, L_alpha, L] after `reduce`.
@group(0) @binding(7) var<storage, read_write> loss: array<f32>;
@group(0) @binding(8) var<uniform> U: LossUniforms;

var<workgroup> red_rgb: array<f32, WG>;
var<workgroup> red_alpha: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(
  @builtin(global_invocation_id) gid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = gid.x + gid.y * nwg.x * WG;
  let n = U.pixels;
  var se_rgb = 0.0;
  var se_alpha = 0.0;
  if (i < n) {
    let inv_rgb = 2.0 * U.rgb_weight / (3.0 * f32(n));
    for (var c = 0u; c < 3u; c++) {
      let d = image[3u * i + c] - target_image[3u * i + c];
      se_rgb = fma(d, d, se_rgb);
      grad_image[3u * i + c] = inv_rgb * d;
    }
    let da = alpha[i] - target_alpha[i];
    se_alpha = da * da;
    grad_alpha[i] = 2.0 * U.alpha_weight * da / f32(n);
  }
  red_rgb[lid] = se_rgb;
  red_alpha[lid] = se_alpha;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    if (lid < half) {
      red_rgb[lid] += red_rgb[lid + half];
      red_alpha[lid] += red_alpha[lid + half];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let row = wid.x + wid.y * nwg.x;
    partial_sums[2u * row] = red_rgb[0];
    partial_sums[2u * row + 1u] = red_alpha[0];
  }
}

@compute @workgroup_size(WG)
fn reduce(@builtin(local_invocation_index) lid: u32) {
  var s_rgb = 0.0;
  var s_alpha = 0.0;
  for (var r = lid; r < U.partials; r += WG) {
    s_rgb += partial_sums[2u * r];
    s_alpha += partial_sums[2u * r + 1u];
  }
  red_rgb[lid] = s_rgb;
  red_alpha[lid] = s_alpha;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    if (lid < half) {
      red_rgb[lid] += red_rgb[lid + half];
      red_alpha[lid] += red_alpha[lid + half];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let n = f32(max(U.pixels, 1u));
    let l_rgb = red_rgb[0] / (3.0 * n);
    let l_alpha = red_alpha[0] / n;
    loss[0] = l_rgb;
    loss[1] = l_alpha;
    loss[2] = U.rgb_weight * l_rgb + U.alpha_weight * l_alpha;
  }
}
