// Seeded uniforms shared by the marcher's start jitter and the occupancy cell jitter.
// PCG hash (O'Neill), reproduced bit for bit by occupancy_twin.ts `pcgHash`.
fn pcg(x: u32) -> u32 {
  let state = x * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

// Uniform in [0, 1) on a 2^-24 lattice, exact in float32 and float64 alike.
fn hash_uniform(seed: u32, step: u32, a: u32, b: u32) -> f32 {
  let h = pcg(pcg(pcg(pcg(b) ^ a) ^ step) ^ seed);
  return f32(h >> 8u) * (1.0 / 16777216.0);
}
