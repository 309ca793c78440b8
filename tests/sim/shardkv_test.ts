/**
 * The classic shardkv tests on the deterministic simulator (scenarios in shardkv_scenarios.ts).
 * Each runs under fixed seeds; a failure names its seed, and `SIM_SEED=S` replays just that one.
 */

import { SHARDKV_SCENARIOS } from "./shardkv_scenarios.ts";

const SEEDS = Deno.env.get("SIM_SEED") !== undefined ? [Number(Deno.env.get("SIM_SEED"))] : [1];
const verbose = Deno.env.get("SIM_VERBOSE") !== undefined;

for (const [name, scenario] of Object.entries(SHARDKV_SCENARIOS)) {
  for (const seed of SEEDS) {
    Deno.test(`shardkv sim: ${name} (seed ${seed})`, () => {
      const report = scenario(seed);
      if (verbose) {
        console.log(
          `  ${name} seed ${seed}: ${report.operations} ops, ${
            (report.virtualMs / 1000).toFixed(1)
          } s virtual`,
          report.figures,
        );
      }
    });
  }
}
