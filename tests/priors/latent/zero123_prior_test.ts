/**
 * The Zero123 prior end to end on a tiny model folder (no downloads): the 8-channel sample
 * layout (cond [z_t, c_concat], uncond [z_t, 0]), the context from the pose and the CLIP
 * embedding against float64, the zero uncond context, c_concat = the unscaled posterior
 * mean of the reference, Zero123's CFG and the angle scale against the SDS twin, the pixel
 * gradient against a float64 chain, no read-back per score, and the refusals.
 */
import assert from "assert";
import { type ReferenceImage, resizeReference } from "../../../io/reference_image.ts";
import { cameraCentre, orbitCamera, REFERENCE_POSE } from "../../../kernels/camera.ts";
import type { Gpu } from "../../../kernels/gpu.ts";
import { seededRandom } from "../../../kernels/random.ts";
import { vaeEncoderPlan, vaeEncoderTwin } from "../../../kernels/vae_ops/vae_encoder_twin.ts";
import { createZero123Prior } from "../../../priors/latent/zero123_prior.ts";
import { clipImageInput } from "../../../priors/models/clip_image_input.ts";
import { zero123PoseVector } from "../../../priors/models/zero123_conditioning.ts";
import type { PriorRequest, RelativePose } from "../../../priors/prior.ts";
import { sdsGradTwin } from "../../../priors/sds_grad_twin.ts";
import { ZERO123_SDS } from "../../../priors/sds_options.ts";
import { zero123AngleScale } from "../../../priors/zero123_angle_scale.ts";
import { assertClose, GPU_TEST, randomArray } from "../../contracts/_harness.ts";
import {
  encodeChainTwin,
  noiseSeed,
  pixelGradientTwin,
  readFloat64 as read,
  scoreCounted,
  webgpuRuntime,
} from "./_latent_test_utils.ts";
import { TINY_VAE } from "./_sd_folder.ts";
import { buildZero123Folder, type Zero123Folder } from "./_zero123_folder.ts";

const W = 12;
const H = 12;
const N = 256; // 4 × 8 × 8 latent values
const PLAN = vaeEncoderPlan(TINY_VAE, { height: 16, width: 16 });
const POSE = { ...REFERENCE_POSE, thetaDeg: REFERENCE_POSE.thetaDeg - 20, phiDeg: 100 };
const RELATIVE: RelativePose = { dTheta: -20, dPhi: 100, dRadius: 0 };

/** A 16² reference on white (the VAE input size, so only CLIP's path resizes it). */
function reference(size = 16): ReferenceImage {
  const rgb = Float32Array.from(randomArray(size * size * 3, 401, 0, 1));
  return {
    size,
    rgb,
    alpha: new Float32Array(size * size).fill(1),
    mask: new Uint8Array(size * size).fill(1),
  };
}

/** cc_projection(concat(embedding, T)) in float64. */
function contextTwin(folder: Zero123Folder, embedding: Float64Array, pose: RelativePose) {
  const { weight, bias } = folder.projection;
  const x = [...embedding, ...zero123PoseVector(pose)];
  return Float64Array.from(bias, (b, o) => {
    let s = b;
    for (let i = 0; i < x.length; i++) s += weight[o * x.length + i]! * x[i]!;
    return s;
  });
}

/**
 * c_concat (μ of the 16² reference, unscaled), the CLIP embedding of the reference
 * area-resized to 256², and the cond context for {@linkcode RELATIVE}, in float64.
 */
function conditioningTwin(folder: Zero123Folder, ref: ReferenceImage) {
  const refX = new Float64Array(3 * 256);
  for (let p = 0; p < 256; p++) {
    for (let c = 0; c < 3; c++) refX[c * 256 + p] = 2 * ref.rgb[3 * p + c]! - 1;
  }
  const cConcat = vaeEncoderTwin(PLAN, folder.weights, refX).slice(0, N);
  const ref256 = resizeReference(ref, 256);
  const embedding = folder.imageEmbeds(clipImageInput(ref256.rgb, { width: 256, height: 256 }));
  return { cConcat, embedding, context: contextTwin(folder, embedding, RELATIVE) };
}

function request(gpu: Gpu, images: Float32Array, grad: GPUBuffer, seed: number): PriorRequest {
  return {
    images: gpu.createBuffer(new Float32Array(images)),
    count: 1,
    width: W,
    height: H,
    grad,
    conditioning: {
      cameras: [orbitCamera(POSE, { width: W, height: H })],
      times: [0],
      relativePose: RELATIVE,
    },
    random: seededRandom(seed),
  };
}

for (const batch of [2, 1]) {
  Deno.test(
    `Zero123 prior (f32 UNet, batch ${batch}): 8-channel layout, context, CFG, angle scale and pixel gradient match a float64 replay`,
    GPU_TEST,
    async () => {
      const folder = await buildZero123Folder({ batch });
      const { runtime, gpu } = await webgpuRuntime();
      const ref = reference();
      const prior = await createZero123Prior(runtime, {
        gpu,
        model: folder.dir,
        width: W,
        height: H,
        reference: ref,
      });
      const enc = prior.encoder;
      assert.deepEqual(enc.latentShape, { channels: 4, height: 8, width: 8 });
      assert.deepEqual(enc.vae.plan.input, { channels: 3, height: 16, width: 16 });
      assert.equal(prior.sdsPrior.sds.cfg, "zero123");

      const images = Float32Array.from(randomArray(W * H * 3, 411, 0, 1));
      const grad0 = Float32Array.from(randomArray(W * H * 3, 412, -0.01, 0.01));
      const grad = gpu.createBuffer(new Float32Array(grad0));
      const req = request(gpu, images, grad, 7);
      assert.equal(await scoreCounted(prior, req), 0, "mapAsync calls during score");
      const seed = noiseSeed(seededRandom(7));

      // The render's latent: scaled posterior sample, as SD's.
      const chain = encodeChainTwin(folder.weights, images, { width: W, height: H, seed });
      const z = chain.z;
      assertClose(await read(gpu, enc.latents, N), z, { rtol: 1e-3, atol: 2e-4, label: "z" });

      // c_concat (the reference's posterior mean, not scaled) and the cond context.
      const { cConcat, embedding, context } = conditioningTwin(folder, ref);

      const sds = prior.sdsPrior;
      const t = sds.timesteps[0]!;
      assert.ok(t >= 200 && t <= 600, `t ${t}`);
      const noisy = await read(gpu, sds.noisy, N);
      const noise = await read(gpu, sds.noise, N);
      const ec = folder.unet([...noisy, ...cConcat], t, context);
      const eu = folder.unet([...noisy, ...new Float64Array(N)], t, new Float64Array(768));
      assertClose(await read(gpu, sds.epsCond, N), ec, { rtol: 1e-3, atol: 1e-4, label: "ε̂_c" });
      assertClose(await read(gpu, sds.epsUncond, N), eu, { rtol: 1e-3, atol: 1e-4, label: "ε̂_u" });
      // The cond branch carries c_concat and the context, the uncond branch neither.
      const cc = Math.max(...cConcat.map(Math.abs)), ctx = Math.max(...context.map(Math.abs));
      assert.ok(cc > 1e-2 && ctx > 1e-2, `c_concat ${cc}, context ${ctx}`);
      // c_concat is unscaled: 0.18215·μ would miss by far more than the tolerance.
      const scaled = folder.unet([...noisy, ...cConcat.map((v) => 0.18215 * v)], t, context);
      const got = await read(gpu, sds.epsCond, N);
      assert.ok(
        got.some((v, i) => Math.abs(v - scaled[i]!) > 1e-3),
        "ε̂_c would match a scaled c_concat",
      );
      // The pose is in the context: another Δφ changes it.
      const other = contextTwin(folder, embedding, { ...RELATIVE, dPhi: -100 });
      assert.ok(Math.max(...other.map((v, i) => Math.abs(v - context[i]!))) > 1e-2);

      // λ = 40·angle/180° and Zero123's CFG (s = 5) in latent space.
      const lambda = 40 * zero123AngleScale(cameraCentre(req.conditioning.cameras[0]!), [0, 0, 1]);
      assertClose(sds.lambdas, [lambda], { rtol: 1e-9, atol: 1e-9, label: "λ" });
      assert.ok(lambda > 10 && lambda < 40, `λ ${lambda}`);
      const twin = sdsGradTwin({
        image: z,
        noise,
        epsCond: ec,
        epsUncond: eu,
        timesteps: [t],
        lambdas: [lambda],
        perItem: N,
        weight: 1,
        sds: ZERO123_SDS,
        space: "latent",
      });
      const dLdz = await read(gpu, enc.gradLatents, N);
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
      const pixels = await read(gpu, grad, W * H * 3);
      const scale = Math.max(...dImage.map(Math.abs));
      assert.ok(scale > 1e-3, `pixel gradient magnitude ${scale}`);
      assertClose(pixels, want, { rtol: 1e-3, atol: 1e-4 * scale, label: "dL/dpixels" });

      // A second call still reads nothing back.
      assert.equal(await scoreCounted(prior, { ...req, random: seededRandom(8) }), 0);
      prior.destroy();
      await Deno.remove(folder.dir, { recursive: true });
    },
  );
}

Deno.test(
  "Zero123 prior (f16 UNet, float32 timestep): ε̂ through the f16 casts, finite pixel gradient",
  GPU_TEST,
  async () => {
    const folder = await buildZero123Folder({ dtype: "float16", timestep: "float32" });
    const { runtime, gpu } = await webgpuRuntime();
    const ref = reference();
    const prior = await createZero123Prior(runtime, {
      gpu,
      model: folder.dir,
      width: W,
      height: H,
      reference: ref,
    });
    const grad = gpu.createBuffer(4 * W * H * 3);
    const req = request(gpu, Float32Array.from(randomArray(W * H * 3, 421, 0, 1)), grad, 9);
    assert.equal(await scoreCounted(prior, req), 0, "mapAsync calls during score");
    const sds = prior.sdsPrior;
    const noisy = Array.from(await read(gpu, sds.noisy, N), Math.f16round);
    const eu = folder.unet(
      [...noisy, ...new Float64Array(N)],
      sds.timesteps[0]!,
      new Float64Array(768),
    );
    assertClose(await read(gpu, sds.epsUncond, N), eu, { rtol: 2e-2, atol: 2e-2, label: "ε̂_u" });
    const { cConcat, context } = conditioningTwin(folder, ref);
    const ec = folder.unet(
      [...noisy, ...Array.from(cConcat, Math.f16round)],
      sds.timesteps[0]!,
      Array.from(context, Math.f16round),
    );
    assertClose(await read(gpu, sds.epsCond, N), ec, { rtol: 2e-2, atol: 2e-2, label: "ε̂_c" });
    assert.ok(ec.some((v, i) => Math.abs(v - eu[i]!) > 1e-1), "the cond branch differs");
    const g = await read(gpu, grad, W * H * 3);
    assert.ok(g.every(Number.isFinite) && g.some((v) => v !== 0), "pixel gradient");
    prior.destroy();
    await Deno.remove(folder.dir, { recursive: true });
  },
);

Deno.test(
  "Zero123 prior: no relativePose, a 4-channel UNet and a missing cc_projection are refused",
  GPU_TEST,
  async () => {
    const { runtime, gpu } = await webgpuRuntime();
    const ref = reference();
    const folder = await buildZero123Folder();
    const prior = await createZero123Prior(runtime, {
      gpu,
      model: folder.dir,
      width: W,
      height: H,
      reference: ref,
    });
    const req = request(
      gpu,
      new Float32Array(W * H * 3).fill(0.5),
      gpu.createBuffer(4 * W * H * 3),
      3,
    );
    const { relativePose: _, ...bare } = req.conditioning;
    await assert.rejects(
      async () => await prior.score({ ...req, conditioning: bare }),
      /relativePose is missing/,
    );
    prior.destroy();

    const four = await buildZero123Folder({ sampleChannels: 4 });
    await assert.rejects(
      () => createZero123Prior(runtime, { model: four.dir, width: W, height: H, reference: ref }),
      (e: Error) =>
        e.message.includes(`${four.dir}/unet/model.onnx`) &&
        e.message.includes("expected inputs sample [B, 8, 32, 32]") &&
        e.message.includes("export_zero123.py"),
    );
    await Deno.remove(`${folder.dir}/cc_projection/diffusion_pytorch_model.safetensors`);
    await assert.rejects(
      () => createZero123Prior(runtime, { model: folder.dir, width: W, height: H, reference: ref }),
      (e: Error) =>
        e.message.includes(
          `${folder.dir}/cc_projection/diffusion_pytorch_model.safetensors is missing`,
        ) &&
        e.message.includes("export_zero123.py"),
    );
    await Deno.writeFile(
      `${folder.dir}/cc_projection/diffusion_pytorch_model.safetensors`,
      new Uint8Array(8),
    );
    await assert.rejects(
      () => createZero123Prior(runtime, { model: folder.dir, width: W, height: H, reference: ref }),
      (e: Error) => e.message.includes("cc_projection") && e.message.includes("export_zero123.py"),
    );
    for (const f of [folder, four]) await Deno.remove(f.dir, { recursive: true });
  },
);
