// Float add on a u32 atomic holding f32 bits. WGSL has no float atomics, so this is a
// compare-and-swap loop; callers pre-reduce where they can to keep contention low.
fn atomic_add_f32(p: ptr<storage, atomic<u32>, read_write>, value: f32) {
  if (value == 0.0) { return; }
  var old = atomicLoad(p);
  loop {
    let next = bitcast<u32>(bitcast<f32>(old) + value);
    let r = atomicCompareExchangeWeak(p, old, next);
    if (r.exchanged) { break; }
    old = r.old_value;
  }
}
