// The two source taps of one output index of a bilinear resize with torch's
// F.interpolate(mode="bilinear", align_corners=False), shared by the render-to-VAE resize and
// the ControlNet control image:
//   src = max(0, s·(dst + 0.5) − 0.5), s = in/out, i0 = ⌊src⌋, i1 = min(i0 + 1, in − 1),
//   λ = src − i0 (weights 1 − λ on i0 and λ on i1).
struct Taps {
  i0: u32,
  i1: u32,
  lambda: f32,
}

fn taps(dst: u32, scale: f32, size: u32) -> Taps {
  let src = max(scale * (f32(dst) + 0.5) - 0.5, 0.0);
  let i0 = min(u32(floor(src)), size - 1u);
  let i1 = min(i0 + 1u, size - 1u);
  return Taps(i0, i1, src - f32(i0));
}
