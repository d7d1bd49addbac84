// control_image: the ControlNet's `controlnet_cond` from control renders (SPEC.md §5.4 step
// 4): frames `[n][H·W][3]` RGB in [0, 1], upsampled to the VAE input size with the same
// bilinear taps as the renders (torch F.interpolate(mode="bilinear", align_corners=False),
// `image_resize.wgsl`), written NCHW `[n][3][outH][outW]` and left in [0, 1]: diffusers
// prepares ControlNet images with do_normalize=False, unlike the VAE's 2x − 1.
//   src = max(0, s·(dst + 0.5) − 0.5), s = in/out, i0 = ⌊src⌋, i1 = min(i0 + 1, in − 1),
//   λ = src − i0;  out[f][c][oy][ox] = Σ w_y·w_x·x[f][iy][ix][c]
// No backward: the control render comes from the frozen model and gets no gradient.
//
// Tile: 256 threads per workgroup, one thread per output value of one copy; every frame of
// the call in one dispatch. `repeat` copies go one after the other: WebGPU cannot copy a
// buffer into itself, and the CFG halves need the batch twice.

const WG: u32 = 256u;

struct ControlUniforms {
  in_w: u32,
  in_h: u32,
  out_w: u32,
  out_h: u32,
  frames: u32,
  // Copies of the whole batch written one after the other (the two CFG halves).
  repeat: u32,
  scale_x: f32,
  scale_y: f32,
}

@group(0) @binding(0) var<storage, read> image: array<f32>;
@group(0) @binding(1) var<storage, read_write> control: array<f32>;
@group(0) @binding(2) var<uniform> U: ControlUniforms;

#include "bilinear_taps"

fn pixel(f: u32, y: u32, x: u32, c: u32) -> f32 {
  return image[((f * U.in_h + y) * U.in_w + x) * 3u + c];
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  let plane = U.out_w * U.out_h;
  if (i >= U.frames * 3u * plane) {
    return;
  }
  let f = i / (3u * plane);
  let c = (i / plane) % 3u;
  let oy = (i % plane) / U.out_w;
  let ox = i % U.out_w;
  let ty = taps(oy, U.scale_y, U.in_h);
  let tx = taps(ox, U.scale_x, U.in_w);
  let top = (1.0 - tx.lambda) * pixel(f, ty.i0, tx.i0, c) + tx.lambda * pixel(f, ty.i0, tx.i1, c);
  let bottom = (1.0 - tx.lambda) * pixel(f, ty.i1, tx.i0, c) +
    tx.lambda * pixel(f, ty.i1, tx.i1, c);
  let value = (1.0 - ty.lambda) * top + ty.lambda * bottom;
  for (var r = 0u; r < U.repeat; r++) {
    control[r * U.frames * 3u * plane + i] = value;
  }
}
