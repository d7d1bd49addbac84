// shade: density, albedo, finite-difference normals and shading of packed samples
// (Animate124 main: dnerf/network_4dgrid.py:204, 248-302, 315-329; SPEC §2.3-2.4).
//
// raw [7][S][4] holds the MLP outputs at the finite-difference point set of
// normal_points.wgsl (block 0 the samples, then +x, -x, +y, -y, +z, -z), with the
// block stride S = count[0]. Only channel 0 of the shifted blocks is read.
//   sigma_b = exp(raw_b0 + blob(q_b)), q_b the (clamped) point of block b; the blob is
//     a constant without gradient, and the backward of exp multiplies by
//     exp(min(raw + blob, 15)) (trunc_exp, Animate124 main: activation.py).
//   grad_i = (sigma(x + eps e_i) - sigma(x - eps e_i)) / (2 eps), always divided by
//     2 eps even where the clamp shortened the step, as the original does.
//   n = nan_to_num(-grad / sqrt(max(|grad|^2, 1e-20))).
//   albedo = sigmoid(raw_0[1..3]).
// Modes: 0 albedo, 1 lambertian, 2 textureless, 3 normal. Light of a sample: lights[f]
// with f = rayIndex / raysPerFrame clamped to the last frame.
//
// Tile: 64 threads per workgroup, one thread per sample for both entry points. A
// sample needs its 7 densities together (normal, then its backward into all 7
// blocks), and one thread owning them avoids shared memory and atomics; the backward
// writes every element of grad_raw for its sample, so no zeroing pass is needed.

const WG: u32 = 64u;
const EPS: f32 = 0.01;
const BLOB_DENSITY: f32 = 10.0;
const BLOB_RADIUS: f32 = 0.2;
const TRUNC_EXP_MAX: f32 = 15.0;

struct Params {
  mode: u32,
  rays_per_frame: u32,
  frames: u32,
  ambient: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> count: array<u32>;
@group(0) @binding(2) var<storage, read> raw: array<f32>;
@group(0) @binding(3) var<storage, read> positions: array<f32>;
@group(0) @binding(4) var<storage, read> ray_index: array<u32>;
@group(0) @binding(5) var<storage, read> lights: array<f32>;
// forward outputs
@group(0) @binding(6) var<storage, read_write> sigma_out: array<f32>;
@group(0) @binding(7) var<storage, read_write> colour_out: array<f32>;
@group(0) @binding(8) var<storage, read_write> normal_out: array<f32>;
// backward inputs and output
@group(0) @binding(9) var<storage, read> grad_sigma: array<f32>;
@group(0) @binding(10) var<storage, read> grad_colour: array<f32>;
@group(0) @binding(11) var<storage, read> grad_normal: array<f32>;
@group(0) @binding(12) var<storage, read_write> grad_raw: array<f32>;

#include "fd_point"

fn blob(q: vec3<f32>) -> f32 {
  return BLOB_DENSITY * exp(-dot(q, q) / (2.0 * BLOB_RADIUS * BLOB_RADIUS));
}

fn sigmoid(x: f32) -> f32 {
  return 1.0 / (1.0 + exp(-x));
}

// NaN and inf tests on the bits: compilers may fold `x != x` away.
fn is_finite(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}

// Everything the forward computes for one sample; the backward recomputes it.
struct Sample {
  logit: array<f32, 7>,   // raw_b0 + blob(q_b)
  v: vec3<f32>,           // -grad sigma
  n: vec3<f32>,           // normal after nan_to_num
  finite: vec3<bool>,     // components of v / |v| that were finite
  albedo: vec3<f32>,
  light: vec3<f32>,
  n_dot_l: f32,
  sigma0: f32,
}

fn load_sample(i: u32, s: u32) -> Sample {
  var out: Sample;
  let p = vec3<f32>(positions[3u * i], positions[3u * i + 1u], positions[3u * i + 2u]);
  var sig: array<f32, 7>;
  for (var b = 0u; b < 7u; b++) {
    let x = raw[4u * (b * s + i)] + blob(fd_point(p, b));
    out.logit[b] = x;
    sig[b] = exp(x);
  }
  out.sigma0 = sig[0];
  let grad = vec3<f32>(sig[1] - sig[2], sig[3] - sig[4], sig[5] - sig[6]) / (2.0 * EPS);
  out.v = -grad;
  let u = out.v / sqrt(max(dot(out.v, out.v), 1e-20));
  out.finite = vec3<bool>(is_finite(u.x), is_finite(u.y), is_finite(u.z));
  out.n = select(vec3<f32>(0.0), u, out.finite);
  out.albedo = vec3<f32>(sigmoid(raw[4u * i + 1u]), sigmoid(raw[4u * i + 2u]),
                         sigmoid(raw[4u * i + 3u]));
  let frame = min(ray_index[i] / max(params.rays_per_frame, 1u), max(params.frames, 1u) - 1u);
  out.light = vec3<f32>(lights[3u * frame], lights[3u * frame + 1u], lights[3u * frame + 2u]);
  out.n_dot_l = dot(out.n, out.light);
  return out;
}

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>,
           @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  let s = count[0];
  if (i >= s) { return; }
  let d = load_sample(i, s);
  let a = params.ambient;
  let lam = a + (1.0 - a) * max(0.0, d.n_dot_l);
  var c = d.albedo;
  switch params.mode {
    case 1u: { c = d.albedo * lam; }
    case 2u: { c = vec3<f32>(lam); }
    case 3u: { c = (d.n + 1.0) * 0.5; }
    default: {}
  }
  sigma_out[i] = d.sigma0;
  for (var k = 0u; k < 3u; k++) {
    colour_out[3u * i + k] = c[k];
    normal_out[3u * i + k] = d.n[k];
  }
}

@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) gid: vec3<u32>,
            @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  let s = count[0];
  if (i >= s) { return; }
  let d = load_sample(i, s);
  let a = params.ambient;
  let dc = vec3<f32>(grad_colour[3u * i], grad_colour[3u * i + 1u], grad_colour[3u * i + 2u]);
  var dn = vec3<f32>(grad_normal[3u * i], grad_normal[3u * i + 1u], grad_normal[3u * i + 2u]);
  var dalb = vec3<f32>(0.0);
  var dlam = 0.0;
  switch params.mode {
    case 1u: {
      dalb = dc * (a + (1.0 - a) * max(0.0, d.n_dot_l));
      dlam = dot(dc, d.albedo);
    }
    case 2u: { dlam = dc.x + dc.y + dc.z; }
    case 3u: { dn += 0.5 * dc; }
    default: { dalb = dc; }
  }
  // clamp(min = 0) passes the gradient at 0 too, as torch's does.
  if (d.n_dot_l >= 0.0) { dn += (1.0 - a) * dlam * d.light; }
  // nan_to_num passes the gradient only where its input was finite.
  dn = select(vec3<f32>(0.0), dn, d.finite);
  // n = v r with r = 1/sqrt(max(|v|^2, 1e-20)); the max blocks the norm's gradient.
  let vv = dot(d.v, d.v);
  let r = 1.0 / sqrt(max(vv, 1e-20));
  var dv = r * dn;
  if (vv >= 1e-20) { dv -= (r * r * r * dot(d.v, dn)) * d.v; }
  // v = -grad and grad_k = (sigma_{2k+1} - sigma_{2k+2}) / (2 eps).
  var dsig: array<f32, 7>;
  dsig[0] = grad_sigma[i];
  for (var k = 0u; k < 3u; k++) {
    dsig[2u * k + 1u] = -dv[k] / (2.0 * EPS);
    dsig[2u * k + 2u] = dv[k] / (2.0 * EPS);
  }
  for (var b = 0u; b < 7u; b++) {
    let o = 4u * (b * s + i);
    grad_raw[o] = dsig[b] * exp(min(d.logit[b], TRUNC_EXP_MAX));
    if (b == 0u) {
      for (var k = 0u; k < 3u; k++) {
        let sg = d.albedo[k];
        grad_raw[o + 1u + k] = dalb[k] * sg * (1.0 - sg);
      }
    } else {
      grad_raw[o + 1u] = 0.0;
      grad_raw[o + 2u] = 0.0;
      grad_raw[o + 3u] = 0.0;
    }
  }
}
