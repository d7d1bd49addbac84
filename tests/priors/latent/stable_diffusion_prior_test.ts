/**
 * The Stable Diffusion prior end to end on a tiny model folder (no downloads): shapes,
 * the posterior's 0.18215 scaling, the UNet's ε̂ and the CFG + w(t) arithmetic against a
 * float64 replay of the fixtures' known functions, the gradient reaching the rendered
 * pixels against a float64 chain replay, and no CPU read-back during `score`.
 */
import assert from "assert";
import { orbitCamera, REFERENCE_POSE } from "../../../kernels/camera.ts";
import { seededRandom } from "../../../kernels/random.ts";
import { posteriorTwin } from "../../../kernels/vae_ops/posterior_twin.ts";
import { createStableDiffusionPrior } from "../../../priors/latent/stable_diffusion_prior.ts";
import { ClipTokenizer } from "../../../priors/onnx/clip_tokenizer.ts";
import { OrtRuntime } from "../../../priors/onnx/ort_runtime.ts";
import type { PriorRequest } from "../../../priors/prior.ts";
import { sdsGradTwin } from "../../../priors/sds_grad_twin.ts";
import { SD_SDS } from "../../../priors/sds_options.ts";
import { assertClose, GPU_TEST, randomArray } from "../../contracts/_harness.ts";
import {
  encodeChainTwin,
  noiseSeed,
  pixelGradientTwin,
  readFloat64 as read,
  scoreCounted,
  webgpuRuntime,
} from "./_latent_test_utils.ts";
import { buildSdFolder, type SdFolder } from "./_sd_folder.ts";

const W = 12;
const H = 12;
const PROMPT = "a cat";
const POSTERIOR = { batch: 1, channels: 4, height: 8, width: 8 };

function textContext(folder: SdFolder, tokenizer: ClipTokenizer, prompt: string): Float64Array {
  return folder.textEncoder.evaluate({ input_ids: tokenizer.encode(prompt) }).last_hidden_state!;
}

Deno.test(
  "SD prior (f32 UNet, float32 timestep, cond and uncond run apart): ε̂, CFG, scaling and pixel gradient match a float64 replay",
  GPU_TEST,
  async () => {
    const folder = await buildSdFolder({ dtype: "float32", timestep: "float32", batch: 1 });
    const { runtime, gpu } = await webgpuRuntime();
    const prior = await createStableDiffusionPrior(runtime, {
      gpu,
      model: folder.dir,
      width: W,
      height: H,
      prompt: PROMPT,
    });
    const enc = prior.encoder;
    assert.deepEqual(enc.latentShape, { channels: 4, height: 8, width: 8 });
    assert.deepEqual(enc.vae.plan.input, { channels: 3, height: 16, width: 16 });
    assert.equal(prior.sdsPrior.perItem, 256);
    assert.equal(prior.sdsPrior.space, "latent");

    const images = Float32Array.from(randomArray(W * H * 3, 81, 0, 1));
    const grad0 = Float32Array.from(randomArray(W * H * 3, 82, -0.01, 0.01));
    const grad = gpu.createBuffer(new Float32Array(grad0));
    const request: PriorRequest = {
      images: gpu.createBuffer(new Float32Array(images)),
      count: 1,
      width: W,
      height: H,
      grad,
      conditioning: {
        cameras: [orbitCamera(REFERENCE_POSE, { width: W, height: H })],
        times: [0],
      },
      random: seededRandom(5),
    };
    const maps = await scoreCounted(prior, request);
    assert.equal(maps, 0, "mapAsync calls during score (text encoder included)");
    const seed = noiseSeed(seededRandom(5));

    // Encode: resize → VAE → posterior sample, scaled by 0.18215.
    const chain = encodeChainTwin(folder.weights, images, { width: W, height: H, seed });
    const z = await read(gpu, enc.latents, 256);
    assertClose(z, chain.z, { rtol: 1e-3, atol: 2e-4, label: "z" });
    const unscaled = posteriorTwin({ ...POSTERIOR, scale: 1 }, chain);
    const ratio = z.reduce((s, v) => s + v * v, 0) / unscaled.reduce((s, v) => s + v * v, 0);
    assert.ok(Math.abs(Math.sqrt(ratio) - 0.18215) < 1e-4, `‖z‖/‖μ + σn‖ = ${Math.sqrt(ratio)}`);

    // The UNet's two branches on the fixture's known function.
    const sds = prior.sdsPrior;
    const [t] = sds.timesteps;
    assert.ok(t! >= 200 && t! <= 600, `t ${t}`);
    const noisy = await read(gpu, sds.noisy, 256);
    const noise = await read(gpu, sds.noise, 256);
    const tokenizer = await ClipTokenizer.load(`${folder.dir}/tokenizer`);
    const eps = (prompt: string) =>
      folder.unet.evaluate({
        sample: noisy,
        timestep: [t!],
        encoder_hidden_states: textContext(folder, tokenizer, prompt),
      }).out_sample!;
    const [ec, eu] = [eps(PROMPT), eps("")];
    assertClose(await read(gpu, sds.epsCond, 256), ec, { rtol: 1e-4, atol: 1e-4, label: "ε̂_c" });
    assertClose(await read(gpu, sds.epsUncond, 256), eu, { rtol: 1e-4, atol: 1e-4, label: "ε̂_u" });
    assert.ok(Math.abs(ec[0]! - eu[0]!) > 1e-3, "the prompt changes ε̂, so CFG is exercised");

    // CFG (standard, s = 100) and w(t) = 1 − ᾱ_t in latent space, no ×2.
    const twin = sdsGradTwin({
      image: z,
      noise,
      epsCond: ec,
      epsUncond: eu,
      timesteps: [t!],
      lambdas: [1],
      perItem: 256,
      weight: 1,
      sds: SD_SDS,
      space: "latent",
    });
    const dLdz = await read(gpu, enc.gradLatents, 256);
    assertClose(dLdz, twin.dLdz, { rtol: 1e-3, atol: 2e-3, label: "dL/dz" });
    const loss = new Float32Array(await gpu.read(prior.loss))[0]!;
    assertClose([loss], [twin.loss], { rtol: 1e-3, atol: 1e-3, label: "loss" });

    // dL/dz through the posterior, the VAE, the ×2 and the resize, added to the old gradient.
    const dImage = pixelGradientTwin(folder.weights, chain, {
      width: W,
      height: H,
      gradLatents: dLdz,
    });
    const want = dImage.map((g, i) => g + grad0[i]!);
    const got = await read(gpu, grad, W * H * 3);
    const scale = Math.max(...dImage.map(Math.abs));
    assert.ok(scale > 1e-3, `pixel gradient magnitude ${scale}`);
    assertClose(got, want, { rtol: 1e-3, atol: 1e-4 * scale, label: "dL/dpixels" });

    // A second call reuses the cached embeddings and still reads nothing back.
    assert.equal(await scoreCounted(prior, { ...request, random: seededRandom(6) }), 0);
    prior.destroy();
    await Deno.remove(folder.dir, { recursive: true });
  },
);

Deno.test(
  "SD prior (f16 UNet, int64 timestep, one batch of 2): ε̂ through the f16 casts, finite pixel gradient",
  GPU_TEST,
  async () => {
    const folder = await buildSdFolder({ dtype: "float16", timestep: "int64", batch: 2 });
    const { runtime, gpu } = await webgpuRuntime();
    const prior = await createStableDiffusionPrior(runtime, {
      gpu,
      model: folder.dir,
      width: W,
      height: H,
    });
    const grad = gpu.createBuffer(4 * W * H * 3);
    const request: PriorRequest = {
      images: gpu.createBuffer(Float32Array.from(randomArray(W * H * 3, 91, 0, 1))),
      count: 1,
      width: W,
      height: H,
      grad,
      conditioning: {
        prompt: "cat",
        cameras: [orbitCamera(REFERENCE_POSE, { width: W, height: H })],
        times: [0],
      },
      random: seededRandom(9),
    };
    assert.equal(await scoreCounted(prior, request), 0, "mapAsync calls during score");
    const sds = prior.sdsPrior;
    const t = sds.timesteps[0]!;
    const noisy = Array.from(await read(gpu, sds.noisy, 256), Math.f16round);
    const tokenizer = await ClipTokenizer.load(`${folder.dir}/tokenizer`);
    const ctx = (p: string) => Array.from(textContext(folder, tokenizer, p), Math.f16round);
    const out = folder.unet.evaluate({
      sample: [...noisy, ...noisy],
      timestep: [BigInt(t), BigInt(t)],
      encoder_hidden_states: [...ctx("cat"), ...ctx("")],
    }).out_sample!;
    // f16 storage and f16 reductions inside ORT: about three significant digits.
    assertClose(await read(gpu, sds.epsCond, 256), out.slice(0, 256), {
      rtol: 2e-2,
      atol: 2e-2,
      label: "ε̂_c",
    });
    assertClose(await read(gpu, sds.epsUncond, 256), out.slice(256), {
      rtol: 2e-2,
      atol: 2e-2,
      label: "ε̂_u",
    });
    const g = await read(gpu, grad, W * H * 3);
    assert.ok(g.every(Number.isFinite) && g.some((v) => v !== 0), "pixel gradient");
    prior.destroy();
    await Deno.remove(folder.dir, { recursive: true });
  },
);

Deno.test(
  "SD prior: missing files, wrong UNet shapes and other schedules are refused",
  GPU_TEST,
  async () => {
    const runtime = await OrtRuntime.create();
    const folder = await buildSdFolder({ dtype: "float32", timestep: "int64", batch: 1 });
    await Deno.remove(`${folder.dir}/unet/model.onnx`);
    await assert.rejects(
      () => createStableDiffusionPrior(runtime, { model: folder.dir, width: W, height: H }),
      (e: Error) =>
        e.message.includes(`${folder.dir}/unet/model.onnx is missing`) &&
        e.message.includes("optimum-cli export onnx --model runwayml/stable-diffusion-v1-5"),
    );
    const wrong = await buildSdFolder({
      dtype: "float32",
      timestep: "int64",
      batch: 1,
      sampleChannels: 3,
    });
    await assert.rejects(
      () => createStableDiffusionPrior(runtime, { model: wrong.dir, width: W, height: H }),
      (e: Error) =>
        e.message.includes("expected sample and out_sample of shape [B, 4, 8, 8]") &&
        e.message.includes("unet/model.onnx") && e.message.includes("optimum-cli export onnx"),
    );
    const schedule = await buildSdFolder({
      dtype: "float32",
      timestep: "int64",
      batch: 1,
      scheduler: { beta_end: 0.02 },
    });
    await assert.rejects(
      () => createStableDiffusionPrior(runtime, { model: schedule.dir, width: W, height: H }),
      /scheduler_config\.json: beta_end 0\.02, expected 0\.012/,
    );
    for (const f of [folder, wrong, schedule]) await Deno.remove(f.dir, { recursive: true });
  },
);
