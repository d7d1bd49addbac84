// viewer_present: draws the viewer's packed RGBA8 pixel buffer (viewer.wgsl composite_main)
// onto the canvas with one full-screen triangle, nearest-neighbour upscaled.

struct Size {
  width: u32,
  height: u32,
}

@group(0) @binding(0) var<uniform> S: Size;
@group(0) @binding(1) var<storage, read> pixels: array<u32>;

struct VertexOut {
  @builtin(position) position: vec4<f32>,
  @location(0) uv: vec2<f32>,
}

@vertex
fn vertex_main(@builtin(vertex_index) i: u32) -> VertexOut {
  let xy = vec2<f32>(f32((i << 1u) & 2u), f32(i & 2u));
  var out: VertexOut;
  out.position = vec4<f32>(xy * 2.0 - vec2<f32>(1.0), 0.0, 1.0);
  out.uv = vec2<f32>(xy.x, 1.0 - xy.y);
  return out;
}

@fragment
fn fragment_main(v: VertexOut) -> @location(0) vec4<f32> {
  let x = min(u32(v.uv.x * f32(S.width)), S.width - 1u);
  let y = min(u32(v.uv.y * f32(S.height)), S.height - 1u);
  return unpack4x8unorm(pixels[y * S.width + x]);
}
