// Temporal occupancy grid (SPEC.md §3.2, `Animate124 main: dnerf/renderer.py:270-328`):
// S slices of res³ cells, each holding an EMA of the density σ, and a bitfield of the
// cells whose EMA exceeds min(mean, density_thresh). The field itself is not called
// here: `points` writes where to evaluate σ, the caller runs the field, `ema` folds the
// result in, then `reduce_partial` + `reduce_final` + `pack` rebuild the bitfield
// without any read-back.
//
// Layouts (shared with occupancy_twin.ts and march.wgsl):
// - cell index inside a slice: c = (ix·res + iy)·res + iz; grid[slice·res³ + c];
// - bitfield: words_per_slice = ceil(res³/32) u32 per slice; cell c of slice s is bit
//   (c & 31) of word s·words_per_slice + (c >> 5).
//
// Tiles: the 1-D kernels use 64 invocations (bandwidth-bound, one cell or one word per
// invocation). The mean uses a fixed two-level tree: 256 workgroups × 256 invocations
// each sum a strided slice of the grid sequentially, then one workgroup adds the 256
// partial sums, so the float32 summation order is fixed and repeatable.
const WG: u32 = 64u;
const RED: u32 = 256u;

struct Config {
  res: u32,
  slices: u32,
  cells: u32, // res³
  words_per_slice: u32,
  total: u32, // slices · res³
  seed: u32,
  step: u32,
  sigma_stride: u32,
  decay: f32,
  density_thresh: f32,
  _pad0: u32,
  _pad1: u32,
}

struct Chunk {
  start: u32, // first grid cell (slice-major) of this chunk
  count: u32, // cells in this chunk
  _pad0: u32,
  _pad1: u32,
}

@group(0) @binding(0) var<uniform> config: Config;
@group(0) @binding(1) var<uniform> chunk: Chunk;
@group(0) @binding(2) var<storage, read> slice_times: array<f32>;
@group(0) @binding(3) var<storage, read_write> points: array<f32>;
@group(0) @binding(4) var<storage, read_write> times: array<f32>;
@group(0) @binding(5) var<storage, read> sigma: array<f32>;
@group(0) @binding(6) var<storage, read_write> grid: array<f32>;
@group(0) @binding(7) var<storage, read_write> partials: array<f32>;
@group(0) @binding(8) var<storage, read_write> stats: array<f32>; // mean, threshold
@group(0) @binding(9) var<storage, read_write> bits: array<u32>;

#include "hash_uniform"

fn linear(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

// Sample position of every cell: x = (2c/(res−1) − 1)(1 − 1/res) + U(±1/res) per axis,
// time = the slice's host-drawn (k+0.5)/S + U(±0.5/S) (`Animate124 main:
// dnerf/renderer.py:270-328`). Output i of the chunk is grid cell chunk.start + i.
@compute @workgroup_size(WG)
fn points_main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear(gid, nwg);
  if (i >= chunk.count) { return; }
  let g = chunk.start + i;
  let slice = g / config.cells;
  let c = g - slice * config.cells;
  let res = config.res;
  let idx = vec3<u32>(c / (res * res), (c / res) % res, c % res);
  let rf = f32(res);
  for (var a = 0u; a < 3u; a++) {
    let u = hash_uniform(config.seed, config.step, slice, 3u * c + a);
    let x = (2.0 * f32(idx[a]) / (rf - 1.0) - 1.0) * (1.0 - 1.0 / rf) + (2.0 * u - 1.0) / rf;
    points[3u * i + a] = x;
  }
  times[i] = slice_times[slice];
}

// grid ← max(decay·grid, σ) over one chunk (`Animate124 main: dnerf/renderer.py:270-328`).
@compute @workgroup_size(WG)
fn ema_main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear(gid, nwg);
  if (i >= chunk.count) { return; }
  let g = chunk.start + i;
  grid[g] = max(config.decay * grid[g], sigma[i * config.sigma_stride]);
}

var<workgroup> scratch: array<f32, RED>;

fn tree_sum(lid: u32) {
  for (var s = RED / 2u; s > 0u; s = s / 2u) {
    workgroupBarrier();
    if (lid < s) { scratch[lid] = scratch[lid] + scratch[lid + s]; }
  }
  workgroupBarrier();
}

// Partial sums of max(grid, 0) (the original clamps before the mean); dispatched as
// exactly RED workgroups.
@compute @workgroup_size(RED)
fn reduce_partial(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  var acc = 0.0;
  for (var i = wid.x * RED + lid; i < config.total; i += RED * RED) {
    acc += max(grid[i], 0.0);
  }
  scratch[lid] = acc;
  tree_sum(lid);
  if (lid == 0u) { partials[wid.x] = scratch[0]; }
}

// Mean over every cell of every slice, and threshold = min(mean, density_thresh).
@compute @workgroup_size(RED)
fn reduce_final(@builtin(local_invocation_index) lid: u32) {
  scratch[lid] = partials[lid];
  tree_sum(lid);
  if (lid == 0u) {
    let mean = scratch[0] / f32(config.total);
    stats[0] = mean;
    stats[1] = min(mean, config.density_thresh);
  }
}

// One invocation per bitfield word: bit set where grid > threshold.
@compute @workgroup_size(WG)
fn pack_main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let w = linear(gid, nwg);
  if (w >= config.slices * config.words_per_slice) { return; }
  let slice = w / config.words_per_slice;
  let first = (w - slice * config.words_per_slice) * 32u;
  let thr = stats[1];
  var word = 0u;
  for (var b = 0u; b < 32u; b++) {
    let c = first + b;
    if (c < config.cells && grid[slice * config.cells + c] > thr) { word |= 1u << b; }
  }
  bits[w] = word;
}
