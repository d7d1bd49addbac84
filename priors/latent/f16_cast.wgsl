// f16_cast: float32 ↔ float16 for the ONNX models exported in fp16 (UNet `sample`,
// `encoder_hidden_states`, `out_sample`), with pack2x16float/unpack2x16float so the
// kernel needs no `shader-f16` feature. f16 values travel as u32 words of two halves,
// low half first, which is the little-endian byte layout ORT reads.
//   to_f16: dst_half[dst_offset + i] = f16(src[src_offset + i])
//   to_f32: dst[dst_offset + i] = f32(src_half[src_offset + i])
// Offsets in halves must be even (whole words).
//
// Tile: 256 threads per workgroup, one thread per word (two elements).

const WG: u32 = 256u;

struct CastUniforms {
  count: u32,
  src_offset: u32,
  dst_offset: u32,
  _pad: u32,
}

@group(0) @binding(0) var<storage, read> src_f32: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst_half: array<u32>;
@group(0) @binding(2) var<storage, read> src_half: array<u32>;
@group(0) @binding(3) var<storage, read_write> dst_f32: array<f32>;
@group(0) @binding(4) var<uniform> U: CastUniforms;

@compute @workgroup_size(WG)
fn to_f16(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let w = gid.x + gid.y * nwg.x * WG;
  let i = 2u * w;
  if (i >= U.count) {
    return;
  }
  let a = src_f32[U.src_offset + i];
  var b = 0.0;
  if (i + 1u < U.count) {
    b = src_f32[U.src_offset + i + 1u];
  }
  let word = pack2x16float(vec2<f32>(a, b));
  if (i + 1u < U.count) {
    dst_half[U.dst_offset / 2u + w] = word;
  } else {
    // An odd tail keeps the high half that was there.
    let old = dst_half[U.dst_offset / 2u + w];
    dst_half[U.dst_offset / 2u + w] = (old & 0xffff0000u) | (word & 0xffffu);
  }
}

@compute @workgroup_size(WG)
fn to_f32(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let w = gid.x + gid.y * nwg.x * WG;
  let i = 2u * w;
  if (i >= U.count) {
    return;
  }
  let v = unpack2x16float(src_half[U.src_offset / 2u + w]);
  dst_f32[U.dst_offset + i] = v.x;
  if (i + 1u < U.count) {
    dst_f32[U.dst_offset + i + 1u] = v.y;
  }
}
