/**
 * Buffer checks and one-shot plumbing shared by the VAE encoder ops.
 *
 * @module
 */
import type { Gpu } from "../gpu.ts";

/**
 * Throws unless `buffer` holds at least `floats` f32 values and that range fits in one
 * storage binding of the device.
 *
 * @example
 * ```ts
 * import { acquireGpu } from "../gpu.ts";
 * import { requireBuffer } from "./_buffers.ts";
 * const gpu = await acquireGpu({ log: null });
 * requireBuffer(gpu, "input", { buffer: gpu.createBuffer(16), floats: 4 });
 * gpu.destroy();
 * ```
 */
export function requireBuffer(
  gpu: Gpu,
  name: string,
  options: { buffer: GPUBuffer; floats: number },
): GPUBuffer {
  const bytes = options.floats * 4;
  const limit = gpu.limits.maxStorageBufferBindingSize;
  if (bytes > limit) {
    throw new RangeError(
      `Invalid option ${name}: needs ${bytes} bytes, above the device's storage binding limit of ${limit}; use a smaller batch or image`,
    );
  }
  if (options.buffer.size < bytes) {
    throw new RangeError(
      `Invalid option ${name}: expected a buffer of at least ${bytes} bytes, got ${options.buffer.size}`,
    );
  }
  return options.buffer;
}

/**
 * Throws unless `values` has exactly `length` entries.
 *
 * @example
 * ```ts
 * import { requireLength } from "./_buffers.ts";
 * requireLength("bias", [1, 2], 2);
 * ```
 */
export function requireLength(name: string, values: ArrayLike<number>, length: number): void {
  if (values.length !== length) {
    throw new RangeError(`Invalid option ${name}: expected ${length} values, got ${values.length}`);
  }
}

/**
 * Records `record` in one compute pass, submits it and reads every buffer of `outputs`
 * back as f32, then destroys `owned`. For the one-shot helpers only.
 *
 * @example
 * ```ts
 * import { acquireGpu } from "../gpu.ts";
 * import { runAndRead } from "./_buffers.ts";
 * const gpu = await acquireGpu({ log: null });
 * const b = gpu.createBuffer(new Float32Array([7]));
 * const out = await runAndRead(gpu, () => {}, { outputs: { b }, owned: [b] });
 * console.log(out.b); // Float32Array(1) [ 7 ]
 * gpu.destroy();
 * ```
 */
export async function runAndRead<K extends string>(
  gpu: Gpu,
  record: (pass: GPUComputePassEncoder) => void,
  options: { outputs: Record<K, GPUBuffer>; owned: GPUBuffer[] },
): Promise<Record<K, Float32Array>> {
  gpu.submit((e) => {
    const pass = e.beginComputePass();
    record(pass);
    pass.end();
  });
  const out = {} as Record<K, Float32Array>;
  for (const key of Object.keys(options.outputs) as K[]) {
    out[key] = new Float32Array(await gpu.read(options.outputs[key]));
  }
  for (const b of options.owned) b.destroy();
  return out;
}

/**
 * Uploads `values` as an f32 storage buffer (at least 4 bytes).
 *
 * @example
 * ```ts
 * import { acquireGpu } from "../gpu.ts";
 * import { upload } from "./_buffers.ts";
 * const gpu = await acquireGpu({ log: null });
 * console.log(upload(gpu, [1, 2, 3]).size); // 12
 * gpu.destroy();
 * ```
 */
export function upload(gpu: Gpu, values: ArrayLike<number>, label = "vae_ops input"): GPUBuffer {
  return gpu.createBuffer(Float32Array.from(values), { label });
}
