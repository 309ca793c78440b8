/**
 * Shared plumbing for the Raft scenario tests (election_test.ts, agreement_test.ts): a
 * `Deno.test` wrapper that runs a scenario once per fixed seed and puts the seed and a replay
 * command into any failure (STYLE.md #8), plus small lab-style readers of the simulated
 * cluster. `SIM_SEED=<n>` runs every scenario with that seed only, which replays it;
 * `SIM_SEEDS=<a>..<b>` sweeps a range; `SIM_VERBOSE=1` prints the measured figures.
 */

import type { Prng } from "../../src/util/prng.ts";
import type { SimCluster } from "./cluster.ts";

/**
 * Seeds every scenario runs by default (the random-run sweep has its own list in
 * fixed_seeds.ts). A seed that ever failed a scenario joins that scenario's `seeds` (STYLE.md #8).
 */
export const SCENARIO_SEEDS: readonly number[] = [1, 2, 3];

/** One scenario: a sentence-like name citing the rule, the seeds to run, and the file (for replay). */
export interface ScenarioOptions {
  readonly name: string;
  /** Path of the test file from the repository root, for the replay hint. */
  readonly file: string;
  readonly seeds?: readonly number[];
  /** Temporarily skip a scenario that exposes a bug elsewhere; say why next to it. */
  readonly ignore?: boolean;
}

/** Registers a Deno test that runs `body(seed)` for each seed, naming the seed on failure. */
export function scenario(options: ScenarioOptions, body: (seed: number) => void): void {
  Deno.test({
    name: options.name,
    ignore: options.ignore ?? false,
    fn: () => {
      for (const seed of seedsToRun(options.seeds ?? SCENARIO_SEEDS)) {
        try {
          body(seed);
        } catch (error) {
          const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
          throw new Error(
            `seed ${seed} failed: ${reason}\n  replay: SIM_SEED=${seed} deno test -A ${options.file}` +
              ` --filter ${JSON.stringify(options.name)}`,
            { cause: error },
          );
        }
      }
    },
  });
}

/**
 * The seeds to run: `SIM_SEED=<n>` alone (replay), or `SIM_SEEDS=<a>..<b>` (a longer sweep on
 * demand), otherwise `fixed`.
 */
export function seedsToRun(fixed: readonly number[]): readonly number[] {
  const replay = Deno.env.get("SIM_SEED");
  if (replay !== undefined && replay !== "") return [parseSeed(replay)];
  const sweep = Deno.env.get("SIM_SEEDS");
  if (sweep === undefined || sweep === "") return fixed;
  const [from, to] = sweep.split("..").map(parseSeed);
  if (from === undefined || to === undefined || to < from) {
    throw new Error(`SIM_SEEDS must look like 1..100, got ${sweep}`);
  }
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

function parseSeed(text: string): number {
  const seed = Number(text);
  if (!Number.isSafeInteger(seed)) throw new Error(`a seed must be an integer, got ${text}`);
  return seed;
}

/** The commands node k has applied, by index - 1 (null stands for a leader's no-op). */
export function appliedValues(cluster: SimCluster, k: number): readonly (string | null)[] {
  return cluster.replicas[k]?.stateMachine?.values ?? [];
}

/** True when some running node has applied `value` at some index. */
export function appliedAnywhere(cluster: SimCluster, value: string): boolean {
  for (let k = 0; k < cluster.n; k++) {
    if (appliedValues(cluster, k).includes(value)) return true;
  }
  return false;
}

/** The nodes among `group` that believe they lead (for checks inside one side of a partition). */
export function leadersIn(cluster: SimCluster, group: readonly number[]): number[] {
  return group.filter((k) => cluster.state(k).isLeader);
}

/** RPCs (requests) the nodes in `group` have received so far. */
export function rpcsReceivedBy(cluster: SimCluster, group: readonly number[]): number {
  let total = 0;
  for (const k of group) total += cluster.network.rpcsReceived[k]!;
  return total;
}

/** A printable random string of `length` characters, as the lab's randstring. */
export function randomString(random: Prng, length: number): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  let text = "";
  for (let i = 0; i < length; i++) text += alphabet[random.int(alphabet.length)];
  return text;
}

/** Prints a measured figure when `SIM_VERBOSE` is set (RPC counts, bytes), for tuning bounds. */
export function note(seed: number, text: string): void {
  if (Deno.env.get("SIM_VERBOSE")) console.log(`  seed ${seed}: ${text}`);
}
