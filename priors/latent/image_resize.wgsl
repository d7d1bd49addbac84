// image_resize: one rendered frame, HWC RGB in [0, 1], to the VAE's NCHW input in [−1, 1],
// and the adjoint (SPEC.md §4 "Encode"; torch F.interpolate(mode="bilinear",
// align_corners=False, antialias=False), as `Animate124 main: guidance/sd_utils.py` resizes
// renders to 512²):
//   src = max(0, s·(dst + 0.5) − 0.5), s = in/out, i0 = ⌊src⌋, i1 = min(i0 + 1, in − 1),
//   λ = src − i0;  out[c][oy][ox] = gain·Σ w_y·w_x·x[iy][ix][c] + offset  (gain 2, offset −1)
// `backward` ADDS gain·Σ_{oy,ox} w_y(oy, iy)·w_x(ox, ix)·dout[c][oy][ox] into the frame's
// slice of the image gradient.
//
// Tile: 256 threads per workgroup, one thread per output value (forward) or per input
// value (backward). The backward gathers over the few output rows and columns whose taps
// can reach its pixel instead of scattering, so it needs no float atomics and its sums
// are deterministic.

const WG: u32 = 256u;

struct ResizeUniforms {
  in_w: u32,
  in_h: u32,
  out_w: u32,
  out_h: u32,
  // Frame of the image buffer this dispatch reads or writes.
  frame: u32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
  scale_x: f32,
  scale_y: f32,
  gain: f32,
  offset: f32,
}

@group(0) @binding(0) var<storage, read> image: array<f32>;
@group(0) @binding(1) var<storage, read_write> resized: array<f32>;
@group(0) @binding(2) var<storage, read> grad_resized: array<f32>;
@group(0) @binding(3) var<storage, read_write> grad_image: array<f32>;
@group(0) @binding(4) var<uniform> U: ResizeUniforms;

#include "bilinear_taps"

// Weight of input index i in output dst along one axis.
fn tap_weight(t: Taps, i: u32) -> f32 {
  var w = 0.0;
  if (t.i0 == i) {
    w += 1.0 - t.lambda;
  }
  if (t.i1 == i) {
    w += t.lambda;
  }
  return w;
}

fn pixel(y: u32, x: u32, c: u32) -> f32 {
  return image[((U.frame * U.in_h + y) * U.in_w + x) * 3u + c];
}

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  let plane = U.out_w * U.out_h;
  if (i >= 3u * plane) {
    return;
  }
  let c = i / plane;
  let oy = (i % plane) / U.out_w;
  let ox = i % U.out_w;
  let ty = taps(oy, U.scale_y, U.in_h);
  let tx = taps(ox, U.scale_x, U.in_w);
  let top = (1.0 - tx.lambda) * pixel(ty.i0, tx.i0, c) + tx.lambda * pixel(ty.i0, tx.i1, c);
  let bottom = (1.0 - tx.lambda) * pixel(ty.i1, tx.i0, c) + tx.lambda * pixel(ty.i1, tx.i1, c);
  resized[i] = U.gain * ((1.0 - ty.lambda) * top + ty.lambda * bottom) + U.offset;
}

// Output indices whose two taps may include input index i: src(dst) within (i − 1, i + 1),
// widened by one on each side against rounding.
fn reach(i: u32, scale: f32, out_size: u32) -> vec2<u32> {
  let lo = floor((f32(i) - 0.5) / scale - 0.5) - 1.0;
  let hi = ceil((f32(i) + 1.5) / scale - 0.5) + 1.0;
  return vec2<u32>(u32(max(lo, 0.0)), u32(min(hi, f32(out_size - 1u))));
}

@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= 3u * U.in_w * U.in_h) {
    return;
  }
  let c = i % 3u;
  let p = i / 3u;
  let iy = p / U.in_w;
  let ix = p % U.in_w;
  let ry = reach(iy, U.scale_y, U.out_h);
  let rx = reach(ix, U.scale_x, U.out_w);
  let base = c * U.out_w * U.out_h;
  var sum = 0.0;
  for (var oy = ry.x; oy <= ry.y; oy++) {
    let wy = tap_weight(taps(oy, U.scale_y, U.in_h), iy);
    if (wy == 0.0) {
      continue;
    }
    var row = 0.0;
    for (var ox = rx.x; ox <= rx.y; ox++) {
      let wx = tap_weight(taps(ox, U.scale_x, U.in_w), ix);
      row += wx * grad_resized[base + oy * U.out_w + ox];
    }
    sum += wy * row;
  }
  let at = (U.frame * U.in_w * U.in_h + p) * 3u + c;
  grad_image[at] += U.gain * sum;
}
