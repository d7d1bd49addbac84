import assert from "assert";
import { Gpu } from "../../../kernels/gpu.ts";
import { wgslFromString } from "../../../kernels/wgsl.ts";
import { alphaBar } from "../../../priors/noise_schedule.ts";
import { OrtRuntime } from "../../../priors/onnx/ort_runtime.ts";
import { assertClose, GPU_TEST, randomArray } from "../../contracts/_harness.ts";
import { unetFixture } from "./_fixtures.ts";

// An SDS-shaped loop on ORT's device: a toolkit kernel noises the "latent" (2x − 1 of the
// image), the UNet stand-in predicts ε through ORT, and a second kernel turns ε̂ − ε into a
// gradient and a descent step. Only ORT's own uploads of the timestep cross to the GPU.
const KERNELS = wgslFromString(
  "sds_like",
  `
struct Params { a: f32, s: f32, scale: f32, lr: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> img: array<f32>;
@group(0) @binding(2) var<storage, read> noise: array<f32>;
@group(0) @binding(3) var<storage, read_write> zt: array<f32>;
@group(0) @binding(4) var<storage, read> eps: array<f32>;
@group(0) @binding(5) var<storage, read_write> grad: array<f32>;
@compute @workgroup_size(64)
fn noisy(@builtin(global_invocation_id) id: vec3u) {
  let i = id.x;
  zt[i] = p.a * (2.0 * img[i] - 1.0) + p.s * noise[i];
}
@compute @workgroup_size(64)
fn descend(@builtin(global_invocation_id) id: vec3u) {
  let i = id.x;
  let g = 2.0 * p.scale * (eps[i] - noise[i]);
  grad[i] += g;
  img[i] -= p.lr * g;
}`,
);

Deno.test(
  "an SDS-like loop through ORT on the shared device never maps a buffer",
  GPU_TEST,
  async () => {
    const runtime = await OrtRuntime.create();
    const gpu = new Gpu(runtime.device!, runtime.adapterName, "auto");
    const fixture = unetFixture({ dtype: "float32", timestep: "float32" });
    const unet = await runtime.createModel(fixture.model, { name: "unet" });
    const n = 256;
    const image0 = new Float32Array(randomArray(n, 11, 0, 1));
    const noise = new Float32Array(randomArray(n, 12));
    const context = new Float32Array(randomArray(77 * 32, 13));
    const img = gpu.createBuffer(image0);
    const noiseBuf = gpu.createBuffer(noise);
    const zt = gpu.createBuffer(n * 4);
    const eps = gpu.createBuffer(n * 4);
    const grad = gpu.createBuffer(n * 4);
    const ctx = gpu.createBuffer(context);
    const params = gpu.createUniform(16);
    const noisy = await gpu.pipelineFromSource(KERNELS, { entryPoint: "noisy" });
    const descend = await gpu.pipelineFromSource(KERNELS, { entryPoint: "descend" });
    const noisyGroup = gpu.bindGroup(noisy, { 0: params, 1: img, 2: noiseBuf, 3: zt });
    const descendGroup = gpu.bindGroup(descend, {
      0: params,
      1: img,
      2: noiseBuf,
      4: eps,
      5: grad,
    });
    const steps = [200, 450, 600];
    const lr = 0.05;

    let maps = 0;
    let reads = 0;
    const mapAsync = GPUBuffer.prototype.mapAsync;
    const read = gpu.read;
    GPUBuffer.prototype.mapAsync = function (...args) {
      maps++;
      return mapAsync.apply(this, args);
    };
    gpu.read = (...args) => {
      reads++;
      return read.apply(gpu, args);
    };
    try {
      for (const t of steps) {
        const ab = alphaBar(t);
        gpu.upload(params, new Float32Array([Math.sqrt(ab), Math.sqrt(1 - ab), 1 - ab, lr]));
        gpu.submit((e) => {
          const pass = e.beginComputePass();
          gpu.dispatch(pass, noisy, noisyGroup, n, 64);
          pass.end();
        });
        await unet.runInto({
          sample: { buffer: zt, dtype: "float32", dims: [1, 4, 8, 8] },
          timestep: { data: new Float32Array([t]), dtype: "float32", dims: [1] },
          encoder_hidden_states: { buffer: ctx, dtype: "float32", dims: [1, 77, 32] },
        }, { out_sample: eps });
        gpu.submit((e) => {
          const pass = e.beginComputePass();
          gpu.dispatch(pass, descend, descendGroup, n, 64);
          pass.end();
        });
      }
    } finally {
      GPUBuffer.prototype.mapAsync = mapAsync;
      gpu.read = read;
    }
    assert.equal(maps, 0, "mapAsync calls during the loop");
    assert.equal(reads, 0, "gpu.read calls during the loop");

    // The same loop in float64, with the fixture's own evaluation standing in for ORT.
    const image = Float64Array.from(image0);
    const gradExpected = new Float64Array(n);
    for (const t of steps) {
      const ab = alphaBar(t);
      const z = image.map((v, i) => Math.sqrt(ab) * (2 * v - 1) + Math.sqrt(1 - ab) * noise[i]!);
      const e = fixture.evaluate({ sample: z, timestep: [t], encoder_hidden_states: context })
        .out_sample!;
      for (let i = 0; i < n; i++) {
        const g = 2 * (1 - ab) * (e[i]! - noise[i]!);
        gradExpected[i] = gradExpected[i]! + g;
        image[i] = image[i]! - lr * g;
      }
    }
    assertClose(new Float32Array(await gpu.read(grad)), gradExpected, { rtol: 1e-4, atol: 1e-4 });
    assertClose(new Float32Array(await gpu.read(img)), image, { rtol: 1e-4, atol: 1e-4 });
    await unet.release();
  },
);
