/**
 * The VAE posterior twin: dL/dmoments against central finite differences of
 * L = Σ dz·z(moments), with logvars clamped on both sides.
 */
import assert from "assert";
import {
  LOGVAR_MAX,
  LOGVAR_MIN,
  posteriorBackwardTwin,
  posteriorTwin,
  SD_VAE_SCALE,
} from "../../kernels/vae_ops/posterior_twin.ts";
import { assertClose, finiteDifference, randomArray } from "../contracts/_harness.ts";

Deno.test("VAE posterior twin: gradients match finite differences, zero past the clamp", () => {
  const shape = { batch: 2, channels: 2, height: 2, width: 3 };
  const moments = randomArray(48, 1, -3, 3);
  moments[12] = LOGVAR_MIN - 1; // image 0, logvar channel 0, pixel 0
  moments[13] = LOGVAR_MAX + 1;
  const noise = randomArray(24, 2);
  // Keep z = O(1) beside the large clamped σ = e^10, so the finite differences stay precise.
  noise[1] = 1e-4;
  const gradOutput = randomArray(24, 3);
  const loss = (m: Float64Array) => {
    const z = posteriorTwin(shape, { moments: m, noise });
    return z.reduce((s, v, i) => s + v * gradOutput[i]!, 0);
  };
  const fd = finiteDifference(loss, moments, Array.from({ length: 48 }, (_, i) => i));
  const analytic = posteriorBackwardTwin(shape, { moments, noise, gradOutput });
  assertClose([...fd.values()], analytic, { rtol: 1e-6, atol: 1e-8, label: "dL/dmoments" });
  assert.equal(analytic[12], 0);
  assert.equal(analytic[13], 0);
  assert.equal(analytic[0], SD_VAE_SCALE * gradOutput[0]!);
});

Deno.test("VAE posterior twin: clamped logvar caps the standard deviation", () => {
  const z = posteriorTwin({ batch: 1, channels: 1, height: 1, width: 1, scale: 1 }, {
    moments: [0, 1000],
    noise: [1],
  });
  assert.equal(z[0], Math.exp(LOGVAR_MAX / 2));
});
