/**
 * The ModelScope T2V prior end to end on a tiny model folder (no downloads): one clip of
 * three frames per call, one timestep per clip, the 5-D channel-major `sample` that reaches
 * ONNX Runtime, ε̂ and the CFG + w(t) arithmetic against a float64 replay of the fixtures'
 * known functions, the gradient reaching every frame's pixels against a float64 chain
 * replay, no CPU read-back during `score`, and refusals of wrong folders.
 */
import assert from "assert";
import { orbitCamera, REFERENCE_POSE } from "../../../kernels/camera.ts";
import type { Gpu } from "../../../kernels/gpu.ts";
import { seededRandom } from "../../../kernels/random.ts";
import { latentFramesTwin } from "../../../priors/latent/latent_frames_twin.ts";
import type { LatentSdsPrior } from "../../../priors/latent/latent_sds_prior.ts";
import { createModelScopePrior } from "../../../priors/latent/modelscope_prior.ts";
import type { UnetDenoiser } from "../../../priors/latent/unet_denoiser.ts";
import { MODEL_FOLDERS } from "../../../priors/models/model_folders.ts";
import { ClipTokenizer } from "../../../priors/onnx/clip_tokenizer.ts";
import type { OrtGpuFeed, OrtHostFeed } from "../../../priors/onnx/ort_model.ts";
import { OrtRuntime } from "../../../priors/onnx/ort_runtime.ts";
import type { PriorRequest } from "../../../priors/prior.ts";
import { sdsGradTwin } from "../../../priors/sds_grad_twin.ts";
import { MODELSCOPE_SDS } from "../../../priors/sds_options.ts";
import { assertClose, GPU_TEST, randomArray } from "../../contracts/_harness.ts";
import {
  encodeChainTwin,
  noiseSeed,
  pixelGradientTwin,
  readFloat64 as read,
  scoreCounted,
  webgpuRuntime,
} from "./_latent_test_utils.ts";
import { buildModelScopeFolder, type ModelScopeFolder } from "./_modelscope_folder.ts";
import { buildSdFolder } from "./_sd_folder.ts";

const W = 12;
const H = 12;
const F = 3;
const PIXELS = W * H * 3;
const LATENT = 4 * 8 * 8;
const CLIP = F * LATENT;
const SHAPE = { items: 1, frames: F, channels: 4, plane: 64 };
const PROMPT = "a cat";
const COMMAND = MODEL_FOLDERS.modelscope.exportCommand;

/** What reached the UNet session: dims, timesteps, and a GPU copy of each run's `sample`. */
interface UnetCalls {
  dims: (readonly number[])[];
  timesteps: number[][];
  samples: GPUBuffer[];
}

/** Wraps the prior's UNet session to record its feeds; copies stay on the GPU. */
function spyOnUnet(gpu: Gpu, prior: LatentSdsPrior): UnetCalls {
  const unet = (prior.sdsPrior.denoiser as UnetDenoiser).unet;
  const calls: UnetCalls = { dims: [], timesteps: [], samples: [] };
  const run = unet.runInto.bind(unet);
  unet.runInto = (feeds, targets) => {
    const sample = feeds.sample as OrtGpuFeed;
    const t = feeds.timestep as OrtHostFeed;
    const bytes = sample.dims.reduce((a, b) => a * b, 1) * (sample.dtype === "float16" ? 2 : 4);
    const copy = gpu.createBuffer(bytes);
    gpu.submit((e) => e.copyBufferToBuffer(sample.buffer, 0, copy, 0, bytes));
    calls.dims.push(sample.dims);
    calls.timesteps.push(Array.from(t.data as ArrayLike<number | bigint>, Number));
    calls.samples.push(copy);
    return run(feeds, targets);
  };
  return calls;
}

function clipRequest(gpu: Gpu, seed: number, grad: GPUBuffer, images: Float32Array): PriorRequest {
  const camera = orbitCamera(REFERENCE_POSE, { width: W, height: H });
  return {
    images: gpu.createBuffer(new Float32Array(images)),
    count: F,
    width: W,
    height: H,
    grad,
    conditioning: {
      cameras: new Array(F).fill(camera),
      times: Array.from({ length: F }, (_, f) => f / (F - 1)),
    },
    random: seededRandom(seed),
  };
}

function textContext(folder: ModelScopeFolder, tokenizer: ClipTokenizer, prompt: string) {
  return folder.textEncoder.evaluate({ input_ids: tokenizer.encode(prompt) }).last_hidden_state!;
}

Deno.test(
  "ModelScope prior (f32 UNet3D, cond and uncond run apart): 5-D channel-major sample, one t per clip, ε̂, CFG and pixel gradient match a float64 replay",
  GPU_TEST,
  async () => {
    const folder = await buildModelScopeFolder({ dtype: "float32", timestep: "int64", batch: 1 });
    const { runtime, gpu } = await webgpuRuntime();
    const prior = await createModelScopePrior(runtime, {
      gpu,
      model: folder.dir,
      width: W,
      height: H,
      frames: F,
      prompt: PROMPT,
    });
    const sds = prior.sdsPrior;
    assert.deepEqual(prior.encoder.latentShape, { channels: 4, height: 8, width: 8 });
    assert.deepEqual(prior.encoder.vae.plan.input, { channels: 3, height: 16, width: 16 });
    assert.equal(prior.framesPerItem, F);
    assert.equal(sds.framesPerItem, F);
    assert.equal(sds.perItem, CLIP);
    assert.equal(sds.sds, MODELSCOPE_SDS);
    assert.equal((sds.denoiser as UnetDenoiser).frames, F);
    const calls = spyOnUnet(gpu, prior);

    const images = Float32Array.from(randomArray(F * PIXELS, 81, 0, 1));
    const grad0 = Float32Array.from(randomArray(F * PIXELS, 82, -0.01, 0.01));
    const grad = gpu.createBuffer(new Float32Array(grad0));
    const request = clipRequest(gpu, 5, grad, images);
    assert.equal(await scoreCounted(prior, request), 0, "mapAsync calls during score");
    const seed = noiseSeed(seededRandom(5));

    // One timestep for the clip, in 20–980, fed to both runs (cond, then uncond).
    assert.equal(sds.timesteps.length, 1);
    const t = sds.timesteps[0]!;
    assert.ok(t >= 20 && t <= 980, `t ${t}`);
    assert.deepEqual(calls.timesteps, [[t], [t]]);
    assert.deepEqual(calls.dims, [[1, 4, F, 8, 8], [1, 4, F, 8, 8]]);

    // The VAE's frame-major z_t reaches the UNet channel-major.
    const noisy = await read(gpu, sds.noisy, CLIP);
    const channelMajor = latentFramesTwin(noisy, { shape: SHAPE, to: "channelMajor" });
    for (const sample of calls.samples) {
      assertClose(await read(gpu, sample, CLIP), channelMajor, {
        rtol: 0,
        atol: 0,
        label: "sample",
      });
    }

    // ε̂ of each branch: the fixture on the channel-major sample, back to frame-major.
    const tokenizer = await ClipTokenizer.load(`${folder.dir}/tokenizer`);
    const eps = (prompt: string) => {
      const out = folder.unet.evaluate({
        sample: channelMajor,
        timestep: [BigInt(t)],
        encoder_hidden_states: textContext(folder, tokenizer, prompt),
      }).out_sample!;
      return latentFramesTwin(out, { shape: SHAPE, to: "frameMajor" });
    };
    const [ec, eu] = [eps(PROMPT), eps("")];
    assertClose(await read(gpu, sds.epsCond, CLIP), ec, { rtol: 1e-4, atol: 1e-4, label: "ε̂_c" });
    assertClose(await read(gpu, sds.epsUncond, CLIP), eu, { rtol: 1e-4, atol: 1e-4, label: "ε̂_u" });
    assert.ok(Math.abs(ec[0]! - eu[0]!) > 1e-3, "the prompt changes ε̂, so CFG is exercised");

    // Standard CFG with s = 100 and w(t) = 1 − ᾱ_t over the whole clip (B = 1), no ×2.
    const noise = await read(gpu, sds.noise, CLIP);
    const z = await read(gpu, prior.encoder.latents, CLIP);
    const twin = sdsGradTwin({
      image: z,
      noise,
      epsCond: ec,
      epsUncond: eu,
      timesteps: [t],
      lambdas: [1],
      perItem: CLIP,
      weight: 1,
      sds: MODELSCOPE_SDS,
      space: "latent",
    });
    const dLdz = await read(gpu, prior.encoder.gradLatents, CLIP);
    assertClose(dLdz, twin.dLdz, { rtol: 1e-3, atol: 2e-3, label: "dL/dz" });
    const loss = new Float32Array(await gpu.read(prior.loss))[0]!;
    assertClose([loss], [twin.loss], { rtol: 1e-3, atol: 1e-3, label: "loss" });

    // Every frame: resize → VAE → posterior (its own noise) forward, dL/dz back to pixels.
    const want = new Float64Array(F * PIXELS);
    for (let f = 0; f < F; f++) {
      const chain = encodeChainTwin(folder.weights, images, {
        width: W,
        height: H,
        seed,
        frame: f,
      });
      assertClose(z.subarray(f * LATENT, (f + 1) * LATENT), chain.z, {
        rtol: 1e-3,
        atol: 2e-4,
        label: `z frame ${f}`,
      });
      const gradLatents = dLdz.subarray(f * LATENT, (f + 1) * LATENT);
      want.set(
        pixelGradientTwin(folder.weights, chain, { width: W, height: H, gradLatents }),
        f * PIXELS,
      );
    }
    const dImage = want.slice();
    want.forEach((g, i) => want[i] = g + grad0[i]!);
    const got = await read(gpu, grad, F * PIXELS);
    const scale = Math.max(...dImage.map(Math.abs));
    assert.ok(scale > 1e-3, `pixel gradient magnitude ${scale}`);
    for (let f = 0; f < F; f++) {
      const frame = dImage.subarray(f * PIXELS, (f + 1) * PIXELS);
      assert.ok(frame.some((g) => Math.abs(g) > 1e-6 * scale), `frame ${f} gets a gradient`);
    }
    assertClose(got, want, { rtol: 1e-3, atol: 1e-4 * scale, label: "dL/dpixels" });

    // A second clip reuses the cached embeddings and still reads nothing back; a partial
    // clip is refused before any work.
    assert.equal(await scoreCounted(prior, { ...request, random: seededRandom(6) }), 0);
    await assert.rejects(
      () => prior.score({ ...request, count: F - 1 }),
      /Invalid option count: prior modelscope scores clips of 3 frames, got 2 frames/,
    );
    for (const b of calls.samples) b.destroy();
    prior.destroy();
    await Deno.remove(folder.dir, { recursive: true });
  },
);

Deno.test(
  "ModelScope prior (f16 UNet3D, float32 timestep, one batch of 2): 5-D dims, ε̂ through the f16 casts, finite pixel gradient",
  GPU_TEST,
  async () => {
    const folder = await buildModelScopeFolder({ dtype: "float16", timestep: "float32", batch: 2 });
    const { runtime, gpu } = await webgpuRuntime();
    const prior = await createModelScopePrior(runtime, {
      gpu,
      model: folder.dir,
      width: W,
      height: H,
      frames: F,
    });
    const calls = spyOnUnet(gpu, prior);
    const grad = gpu.createBuffer(4 * F * PIXELS);
    const request = clipRequest(gpu, 9, grad, Float32Array.from(randomArray(F * PIXELS, 91, 0, 1)));
    request.conditioning.prompt = "cat";
    assert.equal(await scoreCounted(prior, request), 0, "mapAsync calls during score");
    const sds = prior.sdsPrior;
    const t = sds.timesteps[0]!;
    assert.deepEqual(calls.dims, [[2, 4, F, 8, 8]]);
    assert.deepEqual(calls.timesteps, [[t, t]]);
    const noisy = Array.from(await read(gpu, sds.noisy, CLIP), Math.f16round);
    const channelMajor = Array.from(
      latentFramesTwin(noisy, { shape: SHAPE, to: "channelMajor" }),
    );
    // Both halves of the f16 batch hold the channel-major clip.
    const fed = new Float16Array(await gpu.read(calls.samples[0]!));
    assertClose(fed, [...channelMajor, ...channelMajor], { rtol: 0, atol: 0, label: "sample" });
    const tokenizer = await ClipTokenizer.load(`${folder.dir}/tokenizer`);
    const ctx = (p: string) => Array.from(textContext(folder, tokenizer, p), Math.f16round);
    const out = folder.unet.evaluate({
      sample: [...channelMajor, ...channelMajor],
      timestep: [t, t],
      encoder_hidden_states: [...ctx("cat"), ...ctx("")],
    }).out_sample!;
    const back = (k: number) =>
      latentFramesTwin(out.subarray(k * CLIP, (k + 1) * CLIP), { shape: SHAPE, to: "frameMajor" });
    // f16 storage and f16 reductions inside ORT: about three significant digits.
    const tol = { rtol: 2e-2, atol: 2e-2 };
    assertClose(await read(gpu, sds.epsCond, CLIP), back(0), { ...tol, label: "ε̂_c" });
    assertClose(await read(gpu, sds.epsUncond, CLIP), back(1), { ...tol, label: "ε̂_u" });
    const g = await read(gpu, grad, F * PIXELS);
    assert.ok(g.every(Number.isFinite) && g.some((v) => v !== 0), "pixel gradient");
    for (const b of calls.samples) b.destroy();
    prior.destroy();
    await Deno.remove(folder.dir, { recursive: true });
  },
);

Deno.test(
  "ModelScope prior: missing files, wrong frame counts, channels and 4-D UNets are refused with the export command",
  GPU_TEST,
  async () => {
    const runtime = await OrtRuntime.create();
    const options = { width: W, height: H, frames: F };
    const missing = await buildModelScopeFolder();
    await Deno.remove(`${missing.dir}/text_encoder/model.onnx`);
    await assert.rejects(
      () => createModelScopePrior(runtime, { ...options, model: missing.dir }),
      (e: Error) =>
        e.message.includes(`${missing.dir}/text_encoder/model.onnx is missing`) &&
        e.message.endsWith(COMMAND),
    );
    const frames = await buildModelScopeFolder({ frames: 5 });
    await assert.rejects(
      () => createModelScopePrior(runtime, { ...options, model: frames.dir }),
      (e: Error) =>
        e.message.includes(`${frames.dir}/unet/model.onnx`) &&
        e.message.includes("holds 5 frames, option frames is 3") &&
        e.message.includes("expected shape [B, 4, 3, 32, 32]") && e.message.endsWith(COMMAND),
    );
    const channels = await buildModelScopeFolder({ sampleChannels: 3 });
    await assert.rejects(
      () => createModelScopePrior(runtime, { ...options, model: channels.dir }),
      (e: Error) =>
        e.message.includes("unet/model.onnx") &&
        e.message.includes("expected sample and out_sample of shape [B, 4, 3, 8, 8]") &&
        e.message.endsWith(COMMAND),
    );
    const image = await buildSdFolder({ dtype: "float32", timestep: "int64", batch: 1 });
    await assert.rejects(
      () => createModelScopePrior(runtime, { ...options, model: image.dir }),
      (e: Error) =>
        e.message.includes(`${image.dir}/unet/model.onnx`) &&
        e.message.includes("expected the UNet3D input sample of shape [B, 4, 3, 32, 32]") &&
        e.message.includes("sample [1,4,8,8]") && e.message.endsWith(COMMAND),
    );
    for (const f of [missing, frames, channels, image]) {
      await Deno.remove(f.dir, { recursive: true });
    }
  },
);
