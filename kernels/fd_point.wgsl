// Point `block` of the finite-difference set of p: block 0 is p, then +x, −x, +y, −y, +z, −z
// shifted by EPS (declared by the including kernel), clamped to the box as the original's
// `(x + offset).clamp(-bound, bound)` does. Shared by normal_points and shade so both agree.
fn fd_point(p: vec3<f32>, block: u32) -> vec3<f32> {
  if (block == 0u) { return p; }
  let axis = (block - 1u) / 2u;
  var offset = vec3<f32>(0.0);
  offset[axis] = select(-EPS, EPS, ((block - 1u) & 1u) == 0u);
  return clamp(p + offset, vec3<f32>(-1.0), vec3<f32>(1.0));
}
