import assert from "assert";
import { OrtRuntime } from "../../../priors/onnx/ort_runtime.ts";
import { externalDataLocations } from "../../../priors/onnx/onnx_external_data.ts";
import { assertClose, GPU_TEST, randomArray } from "../../contracts/_harness.ts";
import { imageEncoderFixture, textEncoderFixture, unetFixture } from "./_fixtures.ts";

const USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;

function gpuBuffer(
  device: GPUDevice,
  data: Float32Array<ArrayBuffer> | Float16Array<ArrayBuffer>,
): GPUBuffer {
  const buffer = device.createBuffer({ size: Math.ceil(data.byteLength / 16) * 16, usage: USAGE });
  device.queue.writeBuffer(buffer, 0, data);
  return buffer;
}

Deno.test(
  "webgpu: float32 UNet stand-in takes GPU buffers and returns GPU buffers",
  GPU_TEST,
  async () => {
    const runtime = await OrtRuntime.create();
    const device = runtime.device!;
    assert.ok(device instanceof GPUDevice);
    const fixture = unetFixture({ dtype: "float32", timestep: "float32" });
    const model = await runtime.createModel(fixture.model, { name: "unet" });
    assert.deepEqual(model.inputs.map((i) => [i.name, i.dtype, i.shape.length]), [
      ["sample", "float32", 4],
      ["timestep", "float32", 1],
      ["encoder_hidden_states", "float32", 3],
    ]);
    const sample = new Float32Array(randomArray(256, 1));
    const context = new Float32Array(randomArray(77 * 32, 2, 0, 1));
    const timestep = new Float32Array([0.35]);
    const out = await model.run({
      sample: { buffer: gpuBuffer(device, sample), dtype: "float32", dims: [1, 4, 8, 8] },
      timestep: { data: timestep, dtype: "float32", dims: [1] },
      encoder_hidden_states: {
        buffer: gpuBuffer(device, context),
        dtype: "float32",
        dims: [1, 77, 32],
      },
    });
    const y = out.out_sample!;
    assert.equal(y.location, "gpu-buffer");
    assert.ok(y.gpuBuffer instanceof GPUBuffer);
    const expected = fixture.evaluate({ sample, timestep, encoder_hidden_states: context });
    assertClose(await y.getData() as Float32Array, expected.out_sample!, { label: "out_sample" });
    y.dispose();
    await model.release();
  },
);

Deno.test(
  "webgpu: float16 UNet with int64 timestep and external data loads from disk",
  GPU_TEST,
  async () => {
    const runtime = await OrtRuntime.create();
    const device = runtime.device!;
    const dir = await Deno.makeTempDir();
    const fixture = unetFixture({
      dtype: "float16",
      timestep: "int64",
      latent: [1, 8, 4, 4],
      context: [1, 77, 16],
      externalData: "model.onnx_data",
    });
    await Deno.mkdir(`${dir}/unet`);
    await Deno.writeFile(`${dir}/unet/model.onnx`, fixture.model);
    await Deno.writeFile(`${dir}/unet/model.onnx_data`, fixture.externalData[0]!.data);
    assert.deepEqual(externalDataLocations(fixture.model), ["model.onnx_data"]);
    const model = await runtime.loadModel(`${dir}/unet/model.onnx`);
    assert.deepEqual(model.externalData, ["model.onnx_data"]);
    const sample = new Float16Array(randomArray(128, 3));
    const context = new Float16Array(randomArray(77 * 16, 4));
    const timestep = new BigInt64Array([601n]);
    const target = device.createBuffer({ size: 256, usage: USAGE });
    await model.runInto({
      sample: { buffer: gpuBuffer(device, sample), dtype: "float16", dims: [1, 8, 4, 4] },
      timestep: { data: timestep, dtype: "int64", dims: [1] },
      encoder_hidden_states: {
        buffer: gpuBuffer(device, context),
        dtype: "float16",
        dims: [1, 77, 16],
      },
    }, { out_sample: target });
    const staging = device.createBuffer({
      size: 256,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    const encoder = device.createCommandEncoder();
    encoder.copyBufferToBuffer(target, 0, staging, 0, 256);
    device.queue.submit([encoder.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const got = new Float16Array(staging.getMappedRange().slice(0));
    staging.unmap();
    const expected = fixture.evaluate({ sample, timestep, encoder_hidden_states: context });
    // The timestep term (~150) dominates; float16 keeps about 3 significant digits.
    assertClose(got, expected.out_sample!, { rtol: 2e-3, atol: 0.1, label: "out_sample f16" });
    await model.release();
    await Deno.remove(dir, { recursive: true });
  },
);

Deno.test(
  "webgpu: the device outlives released models and serves the next one",
  GPU_TEST,
  async () => {
    const runtime = await OrtRuntime.create();
    let lost = false;
    runtime.device!.lost.then(() => lost = true);
    const first = await runtime.createModel(imageEncoderFixture().model);
    await first.release();
    const again = await OrtRuntime.create();
    assert.equal(again.device, runtime.device);
    const pixels = new Float32Array(randomArray(3 * 16 * 16, 5, 0, 1));
    const second = await runtime.createModel(imageEncoderFixture().model);
    const out = await second.run({
      pixel_values: {
        buffer: gpuBuffer(runtime.device!, pixels),
        dtype: "float32",
        dims: [1, 3, 16, 16],
      },
    });
    const mean = pixels.reduce((s, v) => s + v, 0) / pixels.length;
    const embeds = await out.image_embeds!.getData() as Float32Array;
    assertClose(embeds, new Array(32).fill(0.5 * mean), { label: "image_embeds" });
    out.image_embeds!.dispose();
    await second.release();
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(lost, false);
  },
);

Deno.test("wasm: text encoder stand-in runs on the CPU with host feeds", GPU_TEST, async () => {
  const runtime = await OrtRuntime.create({ executionProvider: "wasm" });
  assert.equal(runtime.device, null);
  const fixture = textEncoderFixture(8);
  const model = await runtime.createModel(fixture.model, { name: "text_encoder" });
  const ids = Int32Array.from({ length: 77 }, (_, i) => (i < 5 ? 100 + i : 49407));
  const out = await model.run({ input_ids: { data: ids, dtype: "int32", dims: [1, 77] } });
  assert.equal(out.last_hidden_state!.location, "cpu");
  const expected = fixture.evaluate({ input_ids: ids });
  assertClose(out.last_hidden_state!.data as Float32Array, expected.last_hidden_state!, {
    rtol: 1e-6,
  });
  assertClose(out.pooler_output!.data as Float32Array, expected.pooler_output!, { rtol: 1e-6 });
  await assert.rejects(
    () => model.runInto({ input_ids: { data: ids, dtype: "int32", dims: [1, 77] } }, {}),
    /Cannot run text_encoder into GPU buffers: its outputs are on the CPU/,
  );
  await model.release();
});

Deno.test(
  "bad feeds and files get errors that name the input, file and expectation",
  GPU_TEST,
  async () => {
    const runtime = await OrtRuntime.create();
    const device = runtime.device!;
    const model = await runtime.createModel(
      unetFixture({ dtype: "float32", timestep: "int64" }).model,
      { name: "unet/model.onnx" },
    );
    const sample = {
      buffer: gpuBuffer(device, new Float32Array(256)),
      dtype: "float32",
      dims: [1, 4, 8, 8],
    } as const;
    const timestep = { data: new BigInt64Array([1n]), dtype: "int64", dims: [1] } as const;
    const context = {
      buffer: gpuBuffer(device, new Float32Array(77 * 32)),
      dtype: "float32",
      dims: [1, 77, 32],
    } as const;
    await assert.rejects(
      () => model.run({ sample, timestep }),
      /Missing input encoder_hidden_states for unet\/model.onnx: expected sample, timestep, encoder_hidden_states/,
    );
    await assert.rejects(
      () =>
        model.run({
          sample: { ...sample, dims: [1, 4, 4, 16] },
          timestep,
          encoder_hidden_states: context,
        }),
      /Invalid input sample for unet\/model.onnx: expected shape \[1, 4, 8, 8\], got \[1, 4, 4, 16\]/,
    );
    await assert.rejects(
      () =>
        model.run({
          sample: { ...sample, dtype: "float16" },
          timestep,
          encoder_hidden_states: context,
        }),
      /Invalid input sample for unet\/model.onnx: expected dtype float32, got float16/,
    );
    await assert.rejects(
      () =>
        model.run({
          sample: { ...sample, buffer: device.createBuffer({ size: 1000, usage: USAGE }) },
          timestep,
          encoder_hidden_states: context,
        }),
      /expected a STORAGE buffer of at least 1024 bytes, got usage \d+ and 1000 bytes/,
    );
    await assert.rejects(
      () => model.run({ sample, timestep, encoder_hidden_states: context, extra: timestep }),
      /Invalid input extra for unet\/model.onnx: the model has no such input/,
    );
    await assert.rejects(
      () =>
        model.runInto({ sample, timestep, encoder_hidden_states: context }, {
          out_sample: device.createBuffer({ size: 512, usage: USAGE }),
        }),
      /Invalid target for output out_sample of unet\/model.onnx: expected 1024 bytes/,
    );
    await model.release();

    const dir = await Deno.makeTempDir();
    const external = unetFixture({
      dtype: "float32",
      timestep: "int64",
      externalData: "weights.pb",
    });
    await Deno.writeFile(`${dir}/model.onnx`, external.model);
    await assert.rejects(
      () => runtime.loadModel(`${dir}/model.onnx`),
      /Cannot read external data weights.pb of ONNX model .*model.onnx: .*expected it next to the model/,
    );
    await assert.rejects(
      () => runtime.loadModel(`${dir}/absent.onnx`),
      /Cannot read ONNX model .*absent.onnx/,
    );
    await Deno.writeFile(`${dir}/broken.onnx`, new Uint8Array([1, 2, 3, 4]));
    await assert.rejects(
      () => runtime.loadModel(`${dir}/broken.onnx`, { externalData: [] }),
      /Cannot create ONNX Runtime session for .*broken.onnx on webgpu/,
    );
    await Deno.remove(dir, { recursive: true });
    await assert.rejects(
      () => OrtRuntime.create({ executionProvider: "webgl" as "wasm" }),
      /Invalid option executionProvider: expected one of webgpu, wasm, got "webgl"/,
    );
  },
);
