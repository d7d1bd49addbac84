// sds_noise: the forward diffusion of score distillation (SPEC.md §4).
//   z   = a·x + b                      pixel space: a = 2, b = −1 (z = 2x − 1 stands in
//                                      for the VAE latent); latent space: a = 1, b = 0
//   ε   ~ N(0, 1)                      Box–Muller over two seeded PCG uniforms per element
//   z_t = √ᾱ·z + √(1 − ᾱ)·ε           with ᾱ of the element's item
// Writes ε and z_t; the gradient kernel reads ε back, the denoiser reads z_t.
//
// Tile: 256 threads per workgroup, one thread per element; elements are independent, so
// any size works. The uniforms are exact 2⁻²⁴ lattice values, so sds_noise_twin.ts
// reproduces them bit for bit and only the float32 log/cos differ.

#include "hash_uniform"

const WG: u32 = 256u;
const PI: f32 = 3.14159265358979;
// The `step` key of hash_uniform, keeping these draws apart from the marcher's and the
// occupancy updater's streams under the same seed.
const NOISE_STREAM: u32 = 0x5d5u;

struct SdsItem {
  sqrt_ab: f32,
  sqrt_one_minus_ab: f32,
  coef: f32,
  _pad: f32,
}

struct NoiseUniforms {
  // items × elements per item.
  elements: u32,
  per_item: u32,
  seed: u32,
  _pad: u32,
  in_scale: f32,
  in_offset: f32,
  _pad1: f32,
  _pad2: f32,
}

@group(0) @binding(0) var<storage, read> image: array<f32>;
@group(0) @binding(1) var<storage, read> items: array<SdsItem>;
@group(0) @binding(2) var<storage, read_write> noise: array<f32>;
@group(0) @binding(3) var<storage, read_write> noisy: array<f32>;
@group(0) @binding(4) var<uniform> U: NoiseUniforms;

fn gaussian(seed: u32, i: u32) -> f32 {
  // 1 − u lies in (0, 1], so the log is finite; the cosine's argument stays in [−π, π)
  // where GPU cosines are most accurate.
  let u1 = 1.0 - hash_uniform(seed, NOISE_STREAM, i, 0u);
  let u2 = hash_uniform(seed, NOISE_STREAM, i, 1u);
  return sqrt(-2.0 * log(u1)) * cos(PI * (2.0 * u2 - 1.0));
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= U.elements) {
    return;
  }
  let p = items[i / U.per_item];
  let z = U.in_scale * image[i] + U.in_offset;
  let e = gaussian(U.seed, i);
  noise[i] = e;
  noisy[i] = p.sqrt_ab * z + p.sqrt_one_minus_ab * e;
}
