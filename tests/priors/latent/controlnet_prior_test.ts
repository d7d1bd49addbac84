/**
 * The ControlNet-tile refinement prior end to end on a tiny model folder (no downloads):
 * `controlnet_cond` from the control renders against the twin, the ControlNet's residuals
 * and the UNet's ε̂ against float64 replays of the fixtures' known functions (so the
 * residuals and the control image provably reach ε̂), one t shared by both frames, CFG 7.5
 * and the x̂₀-target gradient scale √((1−ᾱ)/ᾱ)/B with B = 2, the textual-inversion splice
 * reaching the UNet's context (the placeholder row only), no CPU read-back during `score`,
 * and refusals that name the file, the expected shape and the export command.
 */
import assert from "assert";
import { writeSafetensors } from "../../../io/safetensors.ts";
import { orbitCamera, REFERENCE_POSE } from "../../../kernels/camera.ts";
import type { Gpu } from "../../../kernels/gpu.ts";
import { seededRandom } from "../../../kernels/random.ts";
import { controlImageTwin } from "../../../priors/latent/control_image_twin.ts";
import {
  CONTROLNET_RESIDUALS,
  ControlNetDenoiser,
} from "../../../priors/latent/controlnet_denoiser.ts";
import {
  createControlNetTilePrior,
  loadTextEncoder,
} from "../../../priors/latent/controlnet_prior.ts";
import { TextEmbeddings } from "../../../priors/latent/text_embeddings.ts";
import { MODEL_FOLDERS } from "../../../priors/models/model_folders.ts";
import { alphaBar } from "../../../priors/noise_schedule.ts";
import { ClipTokenizer } from "../../../priors/onnx/clip_tokenizer.ts";
import { OrtRuntime } from "../../../priors/onnx/ort_runtime.ts";
import type { PriorRequest } from "../../../priors/prior.ts";
import { sdsGradTwin } from "../../../priors/sds_grad_twin.ts";
import { CONTROLNET_SDS } from "../../../priors/sds_options.ts";
import { assertClose, GPU_TEST, randomArray } from "../../contracts/_harness.ts";
import {
  encodeChainTwin,
  noiseSeed,
  pixelGradientTwin,
  readFloat64 as read,
  scoreCounted,
  webgpuRuntime,
} from "./_latent_test_utils.ts";
import {
  buildControlNetFolder,
  type ControlNetFolder,
  textContext,
  TINY_RESIDUALS,
} from "./_controlnet_folder.ts";

const W = 12;
const H = 12;
const S = 16;
const PER = 256;
const PROMPT = "a cat";
const COMMAND = MODEL_FOLDERS.controlnet.exportCommand;

function request(gpu: Gpu, seed: number, control: Float32Array<ArrayBuffer>): PriorRequest {
  const cam = orbitCamera(REFERENCE_POSE, { width: W, height: H });
  return {
    images: gpu.createBuffer(Float32Array.from(randomArray(2 * W * H * 3, seed, 0, 1))),
    count: 2,
    width: W,
    height: H,
    grad: gpu.createBuffer(4 * 2 * W * H * 3),
    conditioning: { cameras: [cam, cam], times: [0, 0.5], control: gpu.createBuffer(control) },
    random: seededRandom(seed),
  };
}

/** The prompt's context for a batch of `copies` items. */
function batchContext(
  folder: ControlNetFolder,
  tokenizer: ClipTokenizer,
  prompt: string,
  copies: number,
  extra?: Float32Array,
): number[] {
  const one = Array.from(textContext(folder, tokenizer.encode(prompt), extra));
  return Array.from({ length: copies }, () => one).flat();
}

Deno.test(
  "ControlNet prior (f32, cond and uncond apart): controlnet_cond, residuals, ε̂, shared t, CFG 7.5 and the x̂₀ gradient match float64 replays",
  GPU_TEST,
  async () => {
    const folder = await buildControlNetFolder({ dtype: "float32", timestep: "int64", batch: 2 });
    const { runtime, gpu } = await webgpuRuntime();
    const prior = await createControlNetTilePrior(runtime, {
      gpu,
      model: folder.dir,
      width: W,
      height: H,
      prompt: PROMPT,
    });
    const denoiser = prior.sdsPrior.denoiser as ControlNetDenoiser;
    assert.ok(denoiser instanceof ControlNetDenoiser);
    assert.equal(denoiser.batching, "separate");
    assert.deepEqual(prior.encoder.latentShape, { channels: 4, height: 8, width: 8 });
    assert.deepEqual(prior.sdsPrior.sds, CONTROLNET_SDS);
    assert.deepEqual(denoiser.residualShapes, TINY_RESIDUALS);

    const control = Float32Array.from(randomArray(2 * W * H * 3, 21, 0, 1));
    const req = request(gpu, 7, control);
    assert.equal(await scoreCounted(prior, req), 0, "mapAsync calls during score");

    // controlnet_cond: the control renders resized to the VAE input, NCHW, in [0, 1].
    const cond = controlImageTwin(
      { inWidth: W, inHeight: H, outWidth: S, outHeight: S },
      control,
      2,
    );
    assertClose(await read(gpu, denoiser.controlImage, cond.length), cond, {
      label: "controlnet_cond",
    });

    // One t in [200, 800] for both frames.
    const sds = prior.sdsPrior;
    const [t0, t1] = sds.timesteps;
    assert.equal(sds.timesteps.length, 2);
    assert.equal(t0, t1, "shared timestep");
    assert.ok(t0! >= 200 && t0! <= 800, `t ${t0}`);

    // The ControlNet sees its own prompt (cond) or "" (uncond), the control image in both.
    const tokenizer = await ClipTokenizer.load(`${folder.dir}/tokenizer`);
    const noisy = await read(gpu, sds.noisy, 2 * PER);
    const noise = await read(gpu, sds.noise, 2 * PER);
    const timestep = [BigInt(t0!), BigInt(t0!)];
    const ctx = (p: string) => batchContext(folder, tokenizer, p, 2);
    const residuals = ["best quality, high resolution", ""].map((p) =>
      folder.controlnet.evaluate({
        sample: noisy,
        encoder_hidden_states: ctx(p),
        controlnet_cond: cond,
        timestep,
      })
    );
    for (const [run, want] of residuals.entries()) {
      for (const [k, name] of CONTROLNET_RESIDUALS.entries()) {
        const got = await read(gpu, denoiser.residuals[run]![k]!, want[name]!.length);
        assertClose(got, want[name]!, { rtol: 1e-4, atol: 1e-3, label: `${name} run ${run}` });
      }
    }
    // The UNet sees the main prompt (cond) or "" (uncond) and the residuals of its half.
    const eps = (p: string, res: Record<string, ArrayLike<number>>) =>
      folder.unet.evaluate({ sample: noisy, encoder_hidden_states: ctx(p), timestep, ...res })
        .out_sample!;
    const ec = eps(PROMPT, residuals[0]!);
    const eu = eps("", residuals[1]!);
    assertClose(await read(gpu, sds.epsCond, 2 * PER), ec, {
      rtol: 1e-4,
      atol: 1e-3,
      label: "ε̂_c",
    });
    assertClose(await read(gpu, sds.epsUncond, 2 * PER), eu, {
      rtol: 1e-4,
      atol: 1e-3,
      label: "ε̂_u",
    });
    const zeros = Object.fromEntries(
      CONTROLNET_RESIDUALS.map((n) => [n, new Array(residuals[0]![n]!.length).fill(0)]),
    );
    assert.ok(Math.abs(ec[0]! - eps(PROMPT, zeros)[0]!) > 0.1, "the residuals move ε̂");
    assert.ok(Math.abs(ec[0]! - eu[0]!) > 1e-3, "the prompts differ, so CFG is exercised");
    assert.ok(ec.every((v) => Math.abs(v) < 100), `ε̂ of moderate size: ${ec[0]}`);

    // x̂₀ target: ∂L/∂z = √((1−ᾱ)/ᾱ)·(ε̂ − ε)/2 with ε̂ = ε_c + 7.5(ε_c − ε_u); λ not applied.
    const ab = alphaBar(t0!);
    const dLdzWant = ec.map((c, i) =>
      Math.sqrt((1 - ab) / ab) * (c + 7.5 * (c - eu[i]!) - noise[i]!) / 2
    );
    const dLdz = await read(gpu, prior.encoder.gradLatents, 2 * PER);
    assertClose(dLdz, dLdzWant, { rtol: 1e-3, atol: 2e-3, label: "dL/dz" });
    const twin = sdsGradTwin({
      image: await read(gpu, prior.encoder.latents, 2 * PER),
      noise,
      epsCond: ec,
      epsUncond: eu,
      timesteps: sds.timesteps,
      lambdas: [1, 1],
      perItem: PER,
      weight: 1,
      sds: CONTROLNET_SDS,
      space: "latent",
    });
    assertClose(dLdz, twin.dLdz, { rtol: 1e-3, atol: 2e-3, label: "dL/dz vs z − x̂₀" });
    const loss = new Float32Array(await gpu.read(prior.loss))[0]!;
    // ½‖z − x̂₀‖²/B with z − x̂₀ = B·∂L/∂z.
    const lossWant = dLdzWant.reduce((s, g) => s + 0.5 * (2 * g) ** 2 / 2, 0);
    assertClose([twin.loss], [lossWant], { rtol: 1e-9, label: "twin loss" });
    assertClose([loss], [lossWant], { rtol: 1e-3, label: "loss" });

    // dL/dz of each frame back through the posterior, the VAE, the ×2 and the resize.
    const seed = noiseSeed(seededRandom(7));
    const images = randomArray(2 * W * H * 3, 7, 0, 1);
    const g = await read(gpu, req.grad, 2 * W * H * 3);
    for (const f of [0, 1]) {
      const chain = encodeChainTwin(folder.weights, images, {
        width: W,
        height: H,
        seed,
        frame: f,
      });
      const want = pixelGradientTwin(folder.weights, chain, {
        width: W,
        height: H,
        gradLatents: dLdz.subarray(f * PER, (f + 1) * PER),
      });
      const scale = Math.max(...want.map(Math.abs));
      assert.ok(scale > 1e-3, `frame ${f} pixel gradient magnitude ${scale}`);
      const got = g.subarray(f * W * H * 3, (f + 1) * W * H * 3);
      assertClose(got, want, { rtol: 1e-3, atol: 1e-4 * scale, label: `dL/dpixels frame ${f}` });
    }

    // A darker control image (same seed, so the same t and noise) changes ε̂; a second call
    // still reads nothing back.
    const other = request(gpu, 7, control.map((v) => 0.2 * v));
    assert.equal(await scoreCounted(prior, other), 0);
    const ec2 = await read(gpu, sds.epsCond, 2 * PER);
    assert.ok(Math.abs(ec2[0]! - ec[0]!) > 1e-3, "controlnet_cond reaches ε̂");

    await assert.rejects(
      async () => {
        const bad = request(gpu, 8, control);
        delete bad.conditioning.control;
        await prior.score(bad);
      },
      /Missing conditioning\.control: .* needs the frozen model's renders, 2 frames of 12×12 RGB/,
    );
    prior.destroy();
    await Deno.remove(folder.dir, { recursive: true });
  },
);

Deno.test(
  "ControlNet prior (f16, one batch of 4): both CFG halves get the control image, ε̂ through the f16 casts",
  GPU_TEST,
  async () => {
    const folder = await buildControlNetFolder({ dtype: "float16", timestep: "float32", batch: 4 });
    const { runtime, gpu } = await webgpuRuntime();
    const prior = await createControlNetTilePrior(runtime, {
      gpu,
      model: folder.dir,
      width: W,
      height: H,
    });
    const denoiser = prior.sdsPrior.denoiser as ControlNetDenoiser;
    assert.equal(denoiser.batching, "joint");
    assert.equal(denoiser.dtype, "float16");
    const control = Float32Array.from(randomArray(2 * W * H * 3, 31, 0, 1));
    const req = request(gpu, 9, control);
    req.conditioning.prompt = "cat";
    assert.equal(await scoreCounted(prior, req), 0, "mapAsync calls during score");
    const cond = controlImageTwin(
      { inWidth: W, inHeight: H, outWidth: S, outHeight: S },
      control,
      2,
    );
    const both = await read(gpu, denoiser.controlImage, 2 * cond.length);
    assertClose(both.subarray(0, cond.length), cond, { label: "controlnet_cond, cond half" });
    assertClose(both.subarray(cond.length), cond, { label: "controlnet_cond, uncond half" });

    const sds = prior.sdsPrior;
    const t = sds.timesteps[0]!;
    const f16 = (a: ArrayLike<number>) => Array.from(a, Math.f16round);
    const noisy = f16(await read(gpu, sds.noisy, 2 * PER));
    const tokenizer = await ClipTokenizer.load(`${folder.dir}/tokenizer`);
    const ctx = (a: string, b: string) =>
      f16([...batchContext(folder, tokenizer, a, 2), ...batchContext(folder, tokenizer, b, 2)]);
    const sample = [...noisy, ...noisy];
    const timestep = [t, t, t, t];
    const res = folder.controlnet.evaluate({
      sample,
      encoder_hidden_states: ctx("best quality, high resolution", ""),
      controlnet_cond: f16([...cond, ...cond]),
      timestep,
    });
    const out = folder.unet.evaluate({
      sample,
      encoder_hidden_states: ctx("cat", ""),
      timestep,
      ...Object.fromEntries(Object.entries(res).map(([k, v]) => [k, f16(v)])),
    }).out_sample!;
    // f16 storage and f16 reductions inside ORT: about three significant digits.
    const tol = { rtol: 2e-2, atol: 5e-2 };
    assertClose(await read(gpu, sds.epsCond, 2 * PER), out.slice(0, 2 * PER), {
      ...tol,
      label: "ε̂_c",
    });
    assertClose(await read(gpu, sds.epsUncond, 2 * PER), out.slice(2 * PER), {
      ...tol,
      label: "ε̂_u",
    });
    const g = await read(gpu, req.grad, 2 * W * H * 3);
    assert.ok(g.every(Number.isFinite) && g.some((v) => v !== 0), "pixel gradient");
    prior.destroy();
    await Deno.remove(folder.dir, { recursive: true });
  },
);

Deno.test(
  "ControlNet prior: a textual inversion changes only the placeholder's row of the context, and reaches ε̂",
  GPU_TEST,
  async () => {
    const folder = await buildControlNetFolder();
    const { runtime, gpu } = await webgpuRuntime();
    const token = "<cat-toy>";
    const vector = Float32Array.from({ length: folder.hidden }, (_, i) => 3 + 0.25 * i);
    const tiPath = await Deno.makeTempFile({ suffix: ".safetensors" });
    await writeSafetensors(tiPath, {
      [token]: { dtype: "F32", shape: [1, folder.hidden], data: vector },
    });

    const plain = await loadTextEncoder(runtime, folder.dir);
    const learned = await loadTextEncoder(runtime, folder.dir, { textualInversion: tiPath });
    assert.equal(learned.inversion?.token, token);
    const rows = folder.table.length / folder.hidden;
    const prompt = `a ${token} cat`;
    const ids = learned.tokenizer.encode(prompt);
    const at = Array.from(ids).indexOf(rows);
    assert.ok(at > 0, "the placeholder is one new token, after the table's rows");
    const embeddingsOf = async (text: typeof plain, p: string) => {
      const e = await TextEmbeddings.create(gpu, {
        tokenizer: text.tokenizer,
        encoder: text.encoder,
      });
      const values = await read(gpu, await e.get(p), 77 * folder.hidden);
      e.destroy();
      return values;
    };
    const got = await embeddingsOf(learned, prompt);
    const D = folder.hidden;
    for (let k = 0; k < 77; k++) {
      const row = got.subarray(k * D, (k + 1) * D);
      const want = k === at ? vector : folder.table.subarray(ids[k]! * D, (ids[k]! + 1) * D);
      assert.deepEqual(Array.from(row), Array.from(want), `row ${k}`);
    }
    assert.deepEqual(
      await embeddingsOf(learned, PROMPT),
      await embeddingsOf(plain, PROMPT),
      "prompts without the placeholder encode as before",
    );
    for (const t of [plain, learned]) await t.encoder.release();

    const prior = await createControlNetTilePrior(runtime, {
      gpu,
      model: folder.dir,
      width: W,
      height: H,
      prompt,
      textualInversion: tiPath,
    });
    const control = Float32Array.from(randomArray(2 * W * H * 3, 41, 0, 1));
    assert.equal(await scoreCounted(prior, request(gpu, 11, control)), 0);
    const sds = prior.sdsPrior;
    const denoiser = sds.denoiser as ControlNetDenoiser;
    const t = BigInt(sds.timesteps[0]!);
    const noisy = await read(gpu, sds.noisy, 2 * PER);
    const residuals: Record<string, Float64Array> = {};
    for (const [k, name] of CONTROLNET_RESIDUALS.entries()) {
      const [c, h, w] = TINY_RESIDUALS[k]!;
      residuals[name] = await read(gpu, denoiser.residuals[0]![k]!, 2 * c * h * w);
    }
    const eps = (extra: Float32Array) =>
      folder.unet.evaluate({
        sample: noisy,
        encoder_hidden_states: batchContext(folder, learned.tokenizer, prompt, 2, extra),
        timestep: [t, t],
        ...residuals,
      }).out_sample!;
    const ec = await read(gpu, sds.epsCond, 2 * PER);
    assertClose(ec, eps(vector), { rtol: 1e-4, atol: 1e-3, label: "ε̂_c with the learned row" });
    const without = eps(new Float32Array(D));
    assert.ok(Math.abs(ec[0]! - without[0]!) > 1e-2, "the learned row moves ε̂_c");
    prior.destroy();
    await Deno.remove(tiPath);
    await Deno.remove(folder.dir, { recursive: true });
  },
);

Deno.test(
  "ControlNet prior: missing files and mismatched residual or control shapes are refused with the export command",
  GPU_TEST,
  async () => {
    const runtime = await OrtRuntime.create();
    const missing = await buildControlNetFolder();
    await Deno.remove(`${missing.dir}/controlnet/model.onnx`);
    await assert.rejects(
      () => createControlNetTilePrior(runtime, { model: missing.dir, width: W, height: H }),
      (e: Error) =>
        e.message.includes(`${missing.dir}/controlnet/model.onnx is missing`) &&
        e.message.endsWith(COMMAND),
    );
    const residual = await buildControlNetFolder({ unetResidual4Channels: 11 });
    await assert.rejects(
      () => createControlNetTilePrior(runtime, { model: residual.dir, width: W, height: H }),
      (e: Error) =>
        e.message.includes(`${residual.dir}/unet/model.onnx`) &&
        e.message.includes("expected down_block_res_4 of dtype float32 and shape [B, 10, 4, 4]") &&
        e.message.endsWith(COMMAND),
    );
    const control = await buildControlNetFolder({ controlSize: 8 });
    await assert.rejects(
      () => createControlNetTilePrior(runtime, { model: control.dir, width: W, height: H }),
      (e: Error) =>
        e.message.includes(`${control.dir}/controlnet/model.onnx`) &&
        e.message.includes("expected controlnet_cond of dtype float32 and shape [B, 3, 16, 16]") &&
        e.message.endsWith(COMMAND),
    );
    await assert.rejects(
      () =>
        createControlNetTilePrior(runtime, {
          model: control.dir,
          width: W,
          height: H,
          textualInversion: `${control.dir}/none.bin`,
        }),
      /Invalid option textualInversion: Cannot read textual inversion .*none\.bin/,
    );
    for (const f of [missing, residual, control]) await Deno.remove(f.dir, { recursive: true });
  },
);
