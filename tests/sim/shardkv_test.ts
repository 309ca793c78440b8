/**
 * The classic shardkv tests on the deterministic simulator (scenarios in shardkv_scenarios.ts),
 * and the random bug-hunting run over a range of seeds. A failure names its seed; `SIM_SEED=S`
 * replays just that one, and `deno task sim --sharded=NAME --seed=S` replays it from the CLI.
 * Seeds that once failed are kept in SHARDED_REGRESSION_SEEDS with what they found.
 */

import { SHARDKV_SCENARIOS } from "./shardkv_scenarios.ts";

/** Seeds that found a bug, with a note of what it was (empty so far). */
const SHARDED_REGRESSION_SEEDS: readonly number[] = [];

const replay = Deno.env.get("SIM_SEED");
const CLASSIC_SEEDS = replay !== undefined ? [Number(replay)] : [1, 2];
const RANDOM_SEEDS = replay !== undefined
  ? [Number(replay)]
  : [...Array.from({ length: 12 }, (_, k) => k + 1), ...SHARDED_REGRESSION_SEEDS];
const verbose = Deno.env.get("SIM_VERBOSE") !== undefined;

for (const [name, scenario] of Object.entries(SHARDKV_SCENARIOS)) {
  const seeds = name === "randomFaults" ? RANDOM_SEEDS : CLASSIC_SEEDS;
  for (const seed of seeds) {
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
