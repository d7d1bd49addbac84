// Turns an element count produced on the GPU into dispatchWorkgroupsIndirect arguments,
// so kernels after the ray marcher run over exactly the samples it emitted without a
// read-back. Counts over 65535 workgroups spill into y, as Gpu.dispatch does.
override WORKGROUP: u32 = 64u;
override MULTIPLIER: u32 = 1u;

@group(0) @binding(0) var<storage, read> count: array<u32>;
@group(0) @binding(1) var<storage, read_write> args: array<u32>;
@group(0) @binding(2) var<storage, read_write> scaled: array<u32>;

@compute @workgroup_size(1)
fn main() {
  let n = count[0] * MULTIPLIER;
  scaled[0] = n;
  let groups = (n + WORKGROUP - 1u) / WORKGROUP;
  var y = 1u;
  if (groups > 65535u) { y = (groups + 65534u) / 65535u; }
  args[0] = (groups + y - 1u) / y;
  args[1] = y;
  args[2] = 1u;
}
