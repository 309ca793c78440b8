/**
 * The fixed-seed sweep CI runs: each seed is one randomized simulation (random_run.ts) of 3
 * or 5 replicas under a random fault mix, with every safety checker after every event and a
 * liveness phase at the end. A failing seed prints the command that replays it.
 */

import { FIXED_SEEDS } from "./fixed_seeds.ts";
import { randomRun } from "./random_run.ts";

Deno.test("sim: every fixed seed keeps safety under faults and regains liveness after healing", () => {
  const failures: string[] = [];
  for (const seed of FIXED_SEEDS) {
    try {
      randomRun(seed);
    } catch (error) {
      failures.push(error instanceof Error ? error.message : String(error));
    }
  }
  if (failures.length > 0) {
    throw new Error(`${failures.length} seeds failed:\n${failures.join("\n")}`);
  }
});
