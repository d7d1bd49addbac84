// Splits a point count made on the GPU into fixed-size chunks: per chunk, its count (at a
// 64-word stride so each chunk's count can be bound at a 256-byte aligned offset) and two
// sets of indirect dispatch arguments (the grid encoder runs LEVELS threads per point, the
// MLP one). One thread per chunk; chunk counts are small, so the tile is irrelevant.
override CHUNK: u32 = 65536u;
override CHUNKS: u32 = 1u;
override LEVELS: u32 = 16u;
override WORKGROUP: u32 = 64u;

@group(0) @binding(0) var<storage, read> total: array<u32>;
@group(0) @binding(1) var<storage, read_write> counts: array<u32>;
@group(0) @binding(2) var<storage, read_write> args: array<u32>;

fn write_args(at: u32, threads: u32) {
  let groups = (threads + WORKGROUP - 1u) / WORKGROUP;
  var y = 1u;
  if (groups > 65535u) { y = (groups + 65534u) / 65535u; }
  args[at] = (groups + y - 1u) / y;
  args[at + 1u] = y;
  args[at + 2u] = 1u;
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= CHUNKS) { return; }
  let start = c * CHUNK;
  var n = 0u;
  if (total[0] > start) { n = min(total[0] - start, CHUNK); }
  counts[c * 64u] = n;
  write_args(c * 6u, n * LEVELS);
  write_args(c * 6u + 3u, n);
}
