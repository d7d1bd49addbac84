// latent_noise: the standard normal n of the VAE posterior sample z = s·(μ + σ·n)
// (SPEC.md §4 "Encode"), drawn on the GPU so no step uploads noise. Element i of frame f
// is Box–Muller over hash_uniform(seed, LATENT_STREAM, f·count + i, 0 and 1): a replayed
// frame (the backward pass re-encodes it) draws the same n.
//
// Tile: 256 threads per workgroup, one thread per element.

#include "hash_uniform"

const WG: u32 = 256u;
const PI: f32 = 3.14159265358979;
// Apart from sds_noise's stream (0x5d5) under the same seed.
const LATENT_STREAM: u32 = 0x1a7u;

struct NoiseUniforms {
  count: u32,
  frame: u32,
  seed: u32,
  _pad: u32,
}

@group(0) @binding(0) var<storage, read_write> noise: array<f32>;
@group(0) @binding(1) var<uniform> U: NoiseUniforms;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= U.count) {
    return;
  }
  let k = U.frame * U.count + i;
  let u1 = 1.0 - hash_uniform(U.seed, LATENT_STREAM, k, 0u);
  let u2 = hash_uniform(U.seed, LATENT_STREAM, k, 1u);
  noise[i] = sqrt(-2.0 * log(u1)) * cos(PI * (2.0 * u2 - 1.0));
}
