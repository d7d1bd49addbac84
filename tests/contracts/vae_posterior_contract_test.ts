/**
 * Contract: the WGSL posterior sample against its float64 twin, z and dL/dmoments, with
 * logvars inside, on and beyond both clamp bounds.
 */
import { posteriorOnce } from "../../kernels/vae_ops/posterior.ts";
import {
  LOGVAR_MAX,
  LOGVAR_MIN,
  posteriorBackwardTwin,
  type PosteriorShape,
  posteriorTwin,
} from "../../kernels/vae_ops/posterior_twin.ts";
import { seededNormal } from "../../kernels/random.ts";
import { assertClose, GPU_TEST, randomArray, testGpu } from "./_harness.ts";

Deno.test("VAE posterior: sample and gradients, clamp bounds included", GPU_TEST, async () => {
  const gpu = await testGpu();
  const shape: PosteriorShape = { batch: 2, channels: 4, height: 5, width: 6 };
  const count = 2 * 4 * 30;
  const moments = Float32Array.from(randomArray(2 * count, 1, -3, 3));
  // Logvars of image 0, channel 0: beyond, on and just inside each bound.
  [LOGVAR_MIN - 5, LOGVAR_MIN, LOGVAR_MIN + 0.5, LOGVAR_MAX - 0.5, LOGVAR_MAX, LOGVAR_MAX + 3]
    .forEach((v, p) => moments[4 * 30 + p] = v);
  const normal = seededNormal(2);
  const noise = Float32Array.from({ length: count }, () => normal());
  const gradLatent = Float32Array.from(randomArray(count, 3));
  const got = await posteriorOnce(gpu, shape, { moments, noise, gradLatent });
  // exp(½·20) ≈ 2.2e4 makes some latents large; the tolerance is relative there.
  assertClose(got.latent, posteriorTwin(shape, { moments, noise }), { label: "z" });
  assertClose(
    got.gradMoments,
    posteriorBackwardTwin(shape, { moments, noise, gradOutput: gradLatent }),
    { label: "dL/dmoments" },
  );
});
