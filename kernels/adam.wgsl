// Adam step (PyTorch semantics, no weight decay) over one parameter buffer, with optional
// clip-by-value of the gradient before the moments and optional zeroing of the gradient.
//
// Tile: 256 invocations, one float each. The update is purely elementwise and memory
// bound, so the widest common workgroup keeps the grid small (a 128 MiB grid chunk is
// 131072 workgroups, spilling into y past 65535). Step-dependent scalars (lr / (1 − β1^t)
// and √(1 − β2^t)) are computed in float64 on the host and written to the uniform each
// step, so the kernel never evaluates powers.
struct Step {
  count: u32,
  clip: f32,
  beta1: f32,
  beta2: f32,
  eps: f32,
  // lr / (1 − β1^t)
  step_size: f32,
  // √(1 − β2^t)
  bc2_sqrt: f32,
  zero_grads: u32,
}

const WG: u32 = 256u;

@group(0) @binding(0) var<storage, read_write> params: array<f32>;
// Other kernels may bind this buffer as array<atomic<u32>> holding f32 bits; the bits
// are the same, and Adam runs in its own dispatch after they finish.
@group(0) @binding(1) var<storage, read_write> grads: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<uniform> u: Step;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= u.count) { return; }
  var g = grads[i];
  if (u.clip > 0.0) { g = clamp(g, -u.clip, u.clip); }
  if (u.zero_grads != 0u) { grads[i] = 0.0; }
  let mi = u.beta1 * m[i] + (1.0 - u.beta1) * g;
  let vi = u.beta2 * v[i] + (1.0 - u.beta2) * g * g;
  m[i] = mi;
  v[i] = vi;
  // torch: denom = sqrt(v) / sqrt(bc2) + eps; p += -(lr / bc1) * m / denom
  let denom = sqrt(vi) / u.bc2_sqrt + u.eps;
  params[i] = params[i] - u.step_size * (mi / denom);
}
