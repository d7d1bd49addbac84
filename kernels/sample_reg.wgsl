// sample_reg: the per-sample regularisers of one frame (SPEC.md §5.5; Animate124 main:
// dnerf/utils.py:470-500, dnerf/renderer.py run_cuda), with S = count[0] samples and the
// mean divided by F·S (F frames in the clip; see sample_reg_twin.ts for why).
//   entropy:     h(w) = −c log2 c − (1 − c) log2(1 − c), c = clamp(w, 1e-5, 1 − 1e-5)
//                dL/dw = λ_e log2((1 − w)/w) / (F S) inside the clamp, else 0
//   orientation: o = max(0, n·d̂), term sg(w) o², dL/dn = λ_o 2 w o d̂ / (F S)
// Entry points, in the order the renderer records them:
//   main     before composite's backward: writes dL/dw (composite's grad_weights input)
//            and one row of partial loss sums per workgroup;
//   reduce   one workgroup: adds the frame's two loss shares into `loss` (the renderer
//            clears it once per backward pass, so it sums over the clip's frames);
//   normals_main  after composite's backward, before shade's: adds dL/dn into grad_normal,
//                 which composite writes (not accumulates).
//
// Tile: 64 threads per workgroup, one thread per sample, so the renderer's indirect
// dispatch arguments (sized for 64) drive main and normals. Partial rows and a fixed-
// order reduce keep the loss deterministic without float atomics.

const WG: u32 = 64u;
const REDUCE_WG: u32 = 256u;
const CLAMP: f32 = 1e-5;

struct Params {
  // F, the clip's frame count.
  frames: u32,
  // Bit 0: entropy on, bit 1: orientation on.
  flags: u32,
  entropy_weight: f32,
  orientation_weight: f32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> count: array<u32>;
@group(0) @binding(2) var<storage, read> weights: array<f32>;
@group(0) @binding(3) var<storage, read> normals: array<f32>;
@group(0) @binding(4) var<storage, read> ray_index: array<u32>;
@group(0) @binding(5) var<storage, read> directions: array<f32>;
@group(0) @binding(6) var<storage, read_write> grad_weights: array<f32>;
@group(0) @binding(7) var<storage, read_write> grad_normal: array<f32>;
@group(0) @binding(8) var<storage, read_write> partial_sums: array<f32>;
// [L_entropy, L_orient], unweighted, summed over the frames since the last clear.
@group(0) @binding(9) var<storage, read_write> loss: array<f32>;

var<workgroup> red_e: array<f32, REDUCE_WG>;
var<workgroup> red_o: array<f32, REDUCE_WG>;

fn inv_mean(s: u32) -> f32 {
  return 1.0 / (f32(max(P.frames, 1u)) * f32(max(s, 1u)));
}

// o = max(0, n·d̂) and d̂, with d̂ = d / √max(‖d‖², 1e-20) (safe_normalize).
fn orient(i: u32) -> vec4<f32> {
  let r = ray_index[i];
  let d = vec3<f32>(directions[3u * r], directions[3u * r + 1u], directions[3u * r + 2u]);
  let dh = d / sqrt(max(dot(d, d), 1e-20));
  let n = vec3<f32>(normals[3u * i], normals[3u * i + 1u], normals[3u * i + 2u]);
  return vec4<f32>(dh, max(0.0, dot(n, dh)));
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = gid.x + gid.y * nwg.x * WG;
  let s = count[0];
  var h = 0.0;
  var orientation = 0.0;
  if (i < s) {
    let w = weights[i];
    if ((P.flags & 1u) != 0u) {
      let c = clamp(w, CLAMP, 1.0 - CLAMP);
      h = -c * log2(c) - (1.0 - c) * log2(1.0 - c);
      var g = 0.0;
      if (w >= CLAMP && w <= 1.0 - CLAMP) {
        g = P.entropy_weight * inv_mean(s) * log2((1.0 - w) / w);
      }
      grad_weights[i] = g;
    }
    if ((P.flags & 2u) != 0u) {
      let o = orient(i).w;
      orientation = w * o * o;
    }
  }
  red_e[lid] = h;
  red_o[lid] = orientation;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    if (lid < half) {
      red_e[lid] += red_e[lid + half];
      red_o[lid] += red_o[lid + half];
    }
    workgroupBarrier();
  }
  let row = wid.x + wid.y * nwg.x;
  if (lid == 0u && row * WG < s) {
    partial_sums[2u * row] = red_e[0];
    partial_sums[2u * row + 1u] = red_o[0];
  }
}

@compute @workgroup_size(REDUCE_WG)
fn reduce(@builtin(local_invocation_index) lid: u32) {
  let s = count[0];
  let rows = (s + WG - 1u) / WG;
  var e = 0.0;
  var o = 0.0;
  for (var r = lid; r < rows; r += REDUCE_WG) {
    e += partial_sums[2u * r];
    o += partial_sums[2u * r + 1u];
  }
  red_e[lid] = e;
  red_o[lid] = o;
  workgroupBarrier();
  for (var half = REDUCE_WG / 2u; half > 0u; half /= 2u) {
    if (lid < half) {
      red_e[lid] += red_e[lid + half];
      red_o[lid] += red_o[lid + half];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let m = inv_mean(s);
    loss[0] += red_e[0] * m;
    loss[1] += red_o[0] * m;
  }
}

@compute @workgroup_size(WG)
fn normals_main(@builtin(global_invocation_id) gid: vec3<u32>,
                @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  let s = count[0];
  if (i >= s) { return; }
  let od = orient(i);
  let g = P.orientation_weight * inv_mean(s) * 2.0 * weights[i] * od.w;
  for (var k = 0u; k < 3u; k++) {
    grad_normal[3u * i + k] += g * od[k];
  }
}
