// posterior: the VAE's posterior sample (SPEC.md §4 "Encode"), forward and backward.
// moments [N][2c][h][w] (μ, then logvar), noise and z [N][c][h][w]:
//   z = s·(μ + exp(½·clamp(logvar, −30, 20))·n)
//   dμ = s·dz;  dlogvar = s·dz·n·½·exp(½·logvar) inside [−30, 20] (bounds included, as
//   torch's clamp backward), else 0.
// Tile: 256 threads, one thread per latent element; each backward thread writes both of
// its moments, so no two threads touch one address.

const WG: u32 = 256u;
const LOGVAR_MIN: f32 = -30.0;
const LOGVAR_MAX: f32 = 20.0;

struct PosteriorUniforms {
  // N·c·h·w.
  count: u32,
  channels: u32,
  pixels: u32,
  scale: f32,
}

@group(0) @binding(0) var<storage, read> moments: array<f32>;
@group(0) @binding(1) var<storage, read> noise: array<f32>;
@group(0) @binding(2) var<storage, read_write> latent: array<f32>;
@group(0) @binding(3) var<storage, read> grad_latent: array<f32>;
@group(0) @binding(4) var<storage, read_write> grad_moments: array<f32>;
@group(0) @binding(5) var<uniform> U: PosteriorUniforms;

// Index of μ for latent element i; logvar sits c·h·w further on.
fn mean_index(i: u32) -> u32 {
  let nc = i / U.pixels;
  let p = i - nc * U.pixels;
  let n = nc / U.channels;
  let c = nc - n * U.channels;
  return (n * 2u * U.channels + c) * U.pixels + p;
}

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= U.count) { return; }
  let m = mean_index(i);
  let lv = clamp(moments[m + U.channels * U.pixels], LOGVAR_MIN, LOGVAR_MAX);
  latent[i] = U.scale * (moments[m] + exp(0.5 * lv) * noise[i]);
}

@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= U.count) { return; }
  let m = mean_index(i);
  let l = m + U.channels * U.pixels;
  let dz = U.scale * grad_latent[i];
  let lv = moments[l];
  grad_moments[m] = dz;
  var dlv = 0.0;
  if (lv >= LOGVAR_MIN && lv <= LOGVAR_MAX) { dlv = dz * noise[i] * 0.5 * exp(0.5 * lv); }
  grad_moments[l] = dlv;
}
