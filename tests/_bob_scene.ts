/** The one-sphere scene the small end-to-end tests animate: a red ball bobbing up by 0.1. */
import { parseScene } from "../scenes/scene_config.ts";

export const BOB_SCENE = parseScene(
  [
    "name: bob",
    "motion_prompt: A red ball bobs up and down.",
    "primitives:",
    "  - type: sphere",
    "    radius: 0.35",
    "    color: [0.9, 0.1, 0.1]",
    "    motion:",
    "      translate: [{ t: 0, value: [0, 0, 0] }, { t: 1, value: [0, 0.1, 0] }]",
  ].join("\n"),
);
