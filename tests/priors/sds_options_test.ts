import assert from "assert";
import {
  CONTROLNET_SDS,
  MODELSCOPE_SDS,
  SD_SDS,
  validateSdsOptions,
  ZERO123_SDS,
} from "../../priors/sds_options.ts";
import { timestepRange } from "../../priors/noise_schedule.ts";
import { zero123AngleScale } from "../../priors/zero123_angle_scale.ts";

Deno.test("sds presets follow the SPEC.md §4 table", () => {
  const row = (
    o: typeof SD_SDS,
  ) => [o.guidanceScale, o.cfg, o.lambda, ...timestepRange(o.timeRange), o.batchDivisor, o.variant];
  assert.deepEqual(row(SD_SDS), [100, "standard", 1, 200, 600, 1, "sds"]);
  assert.deepEqual(row(MODELSCOPE_SDS), [100, "standard", 1, 20, 980, 1, "sds"]);
  assert.deepEqual(row(ZERO123_SDS), [5, "zero123", 40, 200, 600, 1, "sds"]);
  assert.deepEqual(row(CONTROLNET_SDS), [7.5, "standard", 1, 200, 800, 2, "x0"]);
  assert.ok(ZERO123_SDS.angleScale && !SD_SDS.angleScale);
  assert.ok(CONTROLNET_SDS.sharedTimestep && !MODELSCOPE_SDS.sharedTimestep);
  for (const o of [SD_SDS, MODELSCOPE_SDS, ZERO123_SDS, CONTROLNET_SDS]) validateSdsOptions(o);
  assert.throws(
    () => validateSdsOptions({ ...SD_SDS, variant: "x1" as "x0" }),
    /Invalid option sds.variant/,
  );
  assert.throws(
    () => validateSdsOptions({ ...SD_SDS, batchDivisor: 0 }),
    /Invalid option sds.batchDivisor/,
  );
});

Deno.test("zero123 angle scale: angle between camera directions over 180°", () => {
  assert.equal(zero123AngleScale([0, 0, 1.8], [0, 0, 1]), 0);
  assert.ok(Math.abs(zero123AngleScale([0, 0, -2], [0, 0, 1]) - 1) < 1e-12);
  assert.ok(Math.abs(zero123AngleScale([1, 1, 0], [0, 0, 1]) - 0.5) < 1e-12);
  assert.ok(Math.abs(zero123AngleScale([0, 1, 1], [0, 0, 1]) - 0.25) < 1e-12);
  assert.throws(() => zero123AngleScale([0, 0, 0], [0, 0, 1]), /Invalid option cameraDir/);
});
