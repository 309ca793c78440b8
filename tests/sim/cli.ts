/**
 * `deno task sim`: replay one seed or sweep many.
 *
 *   deno task sim --seed=S [--nodes=N] [--verbose]   replay seed S exactly
 *   deno task sim --seeds=K [--start=S] [--nodes=N]  sweep K seeds from S (default: from the clock)
 *   deno task sim --sharded=NAME|all --seeds=K       the shardkv scenarios instead of Raft runs
 *
 * A failure prints its seed and the command that replays it, and the exit code is 1.
 */

import { parseArgs } from "node:util";
import { FIXED_SEEDS } from "./fixed_seeds.ts";
import { randomRun, type RunReport } from "./random_run.ts";
import { SHARDKV_SCENARIOS } from "./shardkv_scenarios.ts";

const USAGE =
  `Usage: deno task sim [--seed=S | --seeds=K [--start=S] | --fixed] [--nodes=N] [--duration-ms=MS] [--verbose]

  --seed=S         replay seed S exactly (prints the fault log with --verbose)
  --seeds=K        sweep K consecutive seeds starting at --start (default: a clock-derived seed)
  --fixed          run the fixed regression seeds that CI runs
  --nodes=N        force the cluster size (default: 3 or 5, drawn from the seed)
  --duration-ms=MS virtual duration of the faulty phase (default: 20-40 s, drawn from the seed)
  --sharded=NAME   run a shardkv scenario (or "all" of them) for each seed instead of the
                   random Raft run: ${Object.keys(SHARDKV_SCENARIOS).join(", ")}
  --verbose        print every injected fault`;

function parsePositive(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new Error(`--${name} must be a non-negative integer, got "${text}"`);
  }
  return value;
}

function summary(report: RunReport): string {
  return `seed ${report.seed}: ok  nodes=${report.nodes} virtual=${
    (report.virtualMs / 1000).toFixed(1)
  }s events=${report.events} ` +
    `proposals=${report.proposals} lastIndex=${report.committed} faults=${report.faults} reads=${report.reads} maxTerm=${report.maxTerm}`;
}

/** One runner per named shardkv scenario ("all": every one), each printing a summary line. */
function shardedRuns(name: string): ((seed: number) => string)[] {
  const names = name === "all" ? Object.keys(SHARDKV_SCENARIOS) : [name];
  return names.map((scenarioName) => {
    const scenario = SHARDKV_SCENARIOS[scenarioName as keyof typeof SHARDKV_SCENARIOS];
    if (scenario === undefined) throw new Error(`--sharded: no scenario "${scenarioName}"`);
    return (seed: number) => {
      const report = scenario(seed);
      return `seed ${seed}: ok  ${scenarioName} ops=${report.operations} virtual=${
        (report.virtualMs / 1000).toFixed(1)
      }s ${JSON.stringify(report.figures)}`;
    };
  });
}

function main(args: string[]): number {
  const { values } = parseArgs({
    args,
    options: {
      seed: { type: "string" },
      seeds: { type: "string" },
      start: { type: "string" },
      fixed: { type: "boolean", default: false },
      nodes: { type: "string" },
      "duration-ms": { type: "string" },
      verbose: { type: "boolean", default: false },
      sharded: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const nodes = parsePositive("nodes", values.nodes);
  const durationMs = parsePositive("duration-ms", values["duration-ms"]);
  const log = values.verbose ? (line: string) => console.log(`  ${line}`) : undefined;
  const options = {
    ...(nodes !== undefined ? { nodes } : {}),
    ...(durationMs !== undefined ? { durationMs } : {}),
    ...(log ? { log } : {}),
  };
  let seeds: number[];
  if (values.seed !== undefined) {
    seeds = [parsePositive("seed", values.seed)!];
  } else if (values.fixed) {
    seeds = [...FIXED_SEEDS];
  } else {
    const count = parsePositive("seeds", values.seeds) ?? 20;
    const start = parsePositive("start", values.start) ?? Date.now() % 1_000_000_000;
    seeds = Array.from({ length: count }, (_, k) => start + k);
  }
  const runs = values.sharded === undefined
    ? [(seed: number) => summary(randomRun(seed, options))]
    : shardedRuns(values.sharded);
  const began = performance.now();
  const failed: number[] = [];
  for (const seed of seeds) {
    try {
      for (const run of runs) console.log(run(seed));
    } catch (error) {
      failed.push(seed);
      console.log(
        `seed ${seed}: FAILED\n${error instanceof Error ? error.message : String(error)}`,
      );
      if (values.verbose && error instanceof Error && error.cause instanceof Error) {
        console.log(error.cause.stack);
      }
    }
  }
  const seconds = ((performance.now() - began) / 1000).toFixed(1);
  console.log(
    `${
      seeds.length - failed.length
    } passed, ${failed.length} failed (${seeds.length} seeds in ${seconds} s)`,
  );
  if (failed.length > 0) console.log(`failing seeds: ${failed.join(" ")}`);
  return failed.length > 0 ? 1 : 0;
}

try {
  Deno.exit(main(Deno.args));
} catch (error) {
  console.error(`sim: ${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
  Deno.exit(2);
}
