// sds_grad: classifier-free guidance, the score-distillation gradient and its logged loss
// (SPEC.md §4), added into the caller's image gradient.
//   ε̂ = ε_c + s(ε_c − ε_u)   (convention 0, standard: SD, ModelScope, ControlNet)
//   ε̂ = ε_u + s(ε_c − ε_u)   (convention 1, Zero123)
//   g = c·(ε̂ − ε), NaN → 0, with the item's c = λ·(1 − ᾱ) (SDS) or √((1 − ᾱ)/ᾱ) (x̂₀
//       target, where g = z − x̂₀ exactly)
//   ∂L/∂z = g/B,  grad_input += weight · a · ∂L/∂z   (z = a·x + b: a = 2 for pixels,
//                                                     1 for latents)
//   loss = ½‖g‖²/B   (unweighted)
//
// Tile: 256 threads per workgroup, one thread per element. Each workgroup tree-reduces its
// g² into one row of `partial_sums`; `reduce` (one workgroup) adds the rows in a fixed
// strided order, so the loss is deterministic (no float atomics) and stays on the GPU.

const WG: u32 = 256u;

struct SdsItem {
  sqrt_ab: f32,
  sqrt_one_minus_ab: f32,
  coef: f32,
  _pad: f32,
}

struct GradUniforms {
  elements: u32,
  per_item: u32,
  // 0 standard, 1 zero123.
  convention: u32,
  // Workgroups the main pass ran (rows of `partial_sums`).
  partials: u32,
  scale: f32,
  inv_batch: f32,
  weight: f32,
  // dz/dinput: 2 in pixel space, 1 in latent space.
  in_scale: f32,
}

@group(0) @binding(0) var<storage, read> noise: array<f32>;
@group(0) @binding(1) var<storage, read> eps_cond: array<f32>;
@group(0) @binding(2) var<storage, read> eps_uncond: array<f32>;
@group(0) @binding(3) var<storage, read> items: array<SdsItem>;
@group(0) @binding(4) var<storage, read_write> grad_image: array<f32>;
@group(0) @binding(5) var<storage, read_write> partial_sums: array<f32>;
@group(0) @binding(6) var<storage, read_write> loss: array<f32>;
@group(0) @binding(7) var<uniform> U: GradUniforms;

var<workgroup> red: array<f32, WG>;

// Compilers may fold x != x away under fast-math, so test the exponent bits instead.
fn is_nan(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}

@compute @workgroup_size(WG)
fn main(
  @builtin(global_invocation_id) gid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = gid.x + gid.y * nwg.x * WG;
  var sq = 0.0;
  if (i < U.elements) {
    let ec = eps_cond[i];
    let eu = eps_uncond[i];
    var e_hat: f32;
    if (U.convention == 0u) {
      e_hat = ec + U.scale * (ec - eu);
    } else {
      e_hat = eu + U.scale * (ec - eu);
    }
    var g = items[i / U.per_item].coef * (e_hat - noise[i]);
    if (is_nan(g)) {
      g = 0.0;
    }
    sq = g * g;
    grad_image[i] += U.weight * U.in_scale * U.inv_batch * g;
  }
  red[lid] = sq;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    if (lid < half) {
      red[lid] += red[lid + half];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    partial_sums[wid.x + wid.y * nwg.x] = red[0];
  }
}

@compute @workgroup_size(WG)
fn reduce(@builtin(local_invocation_index) lid: u32) {
  var s = 0.0;
  for (var r = lid; r < U.partials; r += WG) {
    s += partial_sums[r];
  }
  red[lid] = s;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    if (lid < half) {
      red[lid] += red[lid + half];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    loss[0] = 0.5 * U.inv_batch * red[0];
  }
}
