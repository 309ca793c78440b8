/**
 * The kv section of `deno task bench` (the benchmark the performance issue specifies): a
 * group of three real replica processes on loopback with fsync on and production timings,
 * driven from this process by real clerks over TCP, one Clerk per concurrent client.
 *
 * Phases: puts with 1, 16, 64 and 256 clients, then linearizable gets with 64 clients on
 * random keys the puts wrote; each phase is a warm-up (discarded) and a measured window.
 * Then 1,000 sequential appends to one key from one clerk. The replicas are started the way
 * tests/e2e start theirs (E2ECluster), and are killed and their temp dir removed however the
 * run ends: `await using`, and an aborted `signal` (Ctrl-C) ends the phases early.
 */

import { fileURLToPath } from "node:url";
import type { Clerk } from "../src/kv/clerk.ts";
import { assert } from "../src/util/assert.ts";
import { MAIN_MODULE_URL, type ProgramInvocation } from "../src/supervisor/mod.ts";
import { Prng } from "../src/util/prng.ts";
import { E2ECluster, type TomlOverrides } from "../tests/e2e/harness.ts";
import { ClerkPool } from "./clerk_pool.ts";
import { type PhaseResult, type PhaseTiming, runCount, runPhase } from "./kv_load.ts";
import { appendRow, type KvProbe, phaseRow, replicaRows, type Roles } from "./kv_rows.ts";
import { cpuSeconds, sampleCpu } from "./process_cpu.ts";
import { scrapeMetrics } from "./replica_scrape.ts";
import type { BenchRow } from "./table.ts";

/** Keys the puts cycle through and the gets pick from. */
export const KEYS = 100_000;
const KEY_BYTES = 16;
const VALUE_BYTES = 100;
const PUT_CLIENTS = [1, 16, 64, 256] as const;
const GET_CLIENTS = 64;
const CLIENTS_MAX = 256;
const WARMUP_MS = 2_000;
const MEASURE_MS = 10_000;
const APPENDS = 1_000;
const LEADER_WAIT_MS = 30_000;

/** Production timings (the defaults of cluster.example.toml), not the e2e tests' fast ones. */
export const KV_CONFIG_OVERRIDES: TomlOverrides = {
  storage: { fsync: true },
  raft: { tick_ms: 50, election_ticks: 20, heartbeat_ticks: 2 },
  log: { level: "warn" },
};

/** The etcd 3.4 numbers (same shape of benchmark), per phase, for comparison. */
const ETCD_REFERENCE: Readonly<Record<string, string>> = {
  "put 1": "1,180/s p50 0.8 p99 1.6",
  "put 16": "5,500/s p99 7.6",
  "put 64": "8,200/s p99 21",
  "put 256": "11,300/s p99 57",
  "get 64": "9,600/s",
};

/** A table to print: `about` lines go under the title, which stays short (the JSON key). */
export interface BenchTable {
  readonly title: string;
  readonly about: readonly string[];
  readonly rows: readonly BenchRow[];
}

/** What the kv section needs from its caller. */
export interface KvSectionOptions {
  readonly scale: number;
  /** Aborting it (Ctrl-C) ends the current phase at once; the section then throws. */
  readonly signal: AbortSignal;
  /** Progress lines (stderr). */
  readonly say: (line: string) => void;
  /**
   * When set, every replica runs with `--cpu-prof --cpu-prof-dir=<this>` and is stopped with
   * SIGTERM at the end so that V8 writes its profile (of the whole run, all phases).
   */
  readonly cpuProfileDir?: string;
}

/** Everything the phases share. */
interface KvRun {
  readonly cluster: E2ECluster;
  readonly pool: ClerkPool;
  readonly roles: Roles;
  /** Replica id (and "loadgen") → pid. */
  readonly pids: ReadonlyMap<string, number>;
  readonly timing: PhaseTiming;
  readonly signal: AbortSignal;
  readonly say: (line: string) => void;
  /** Lines printed under the first table: failures, leader changes, the fill. */
  readonly notes: string[];
  probe(): Promise<KvProbe>;
}

/** `k` + 15 digits: 16 bytes. */
function keyOf(index: number): string {
  return `k${String(index).padStart(KEY_BYTES - 1, "0")}`;
}

const VALUE = "v".repeat(VALUE_BYTES);
assert(keyOf(KEYS).length === KEY_BYTES, "bench keys are 16 bytes");

/** Runs the kv benchmark and returns its tables; see the module comment. */
export async function kvSection(options: KvSectionOptions): Promise<BenchTable[]> {
  const { signal, say, cpuProfileDir } = options;
  say("kv: starting 3 replicas (fsync on, tick 50 ms) ...");
  if (cpuProfileDir !== undefined) await Deno.mkdir(cpuProfileDir, { recursive: true });
  await using cluster = await E2ECluster.start({
    groups: [3],
    configOverrides: KV_CONFIG_OVERRIDES,
    ...(cpuProfileDir === undefined ? {} : { program: profilingProgram(cpuProfileDir) }),
  });
  await using pool = new ClerkPool(cluster.config, CLIENTS_MAX, 7);
  const leader = await cluster.waitFor(() => cluster.leader(1), LEADER_WAIT_MS, "a leader");
  signal.throwIfAborted();
  const pids = processIds(cluster);
  const run: KvRun = {
    cluster,
    pool,
    roles: { leader, followers: cluster.ids(1).filter((id) => id !== leader) },
    pids,
    timing: { warmupMs: WARMUP_MS, measureMs: Math.round(MEASURE_MS * options.scale) },
    signal,
    say,
    notes: [],
    probe: async () => ({
      cpu: sampleCpu(pids),
      leader: await scrapeMetrics(cluster.admin(leader)),
    }),
  };
  const rows = [...await putPhases(run), await getPhase(run)];
  say(`kv: ${APPENDS} sequential appends ...`);
  const appends = await sequentialAppends(pool.take(1)[0]!, signal);
  signal.throwIfAborted();
  const replicas = await replicaSummary(run, cpuProfileDir);
  return [
    { title: "kv: 3 replicas on loopback, fsync on", about: aboutLines(run), rows },
    { title: "kv: sequential appends, one clerk, one key", about: [], rows: [appendRow(appends)] },
    {
      title: "kv: per replica after the run",
      about: ["writes/fsync = writes applied / WAL fdatasyncs (shardkv_storage_fsync_ms_count)"],
      rows: replicas,
    },
  ];
}

/** The put phases, then (untimed) whatever keys they did not reach, so that gets find values. */
async function putPhases(run: KvRun): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  let nextKey = 0;
  const put = (clerk: Clerk, _client: number, signal: AbortSignal) =>
    clerk.put(keyOf(nextKey++ % KEYS), VALUE, { signal });
  for (const clients of PUT_CLIENTS) {
    run.say(`kv: put, ${clients} clients ...`);
    const result = await runPhase(run.pool.take(clients), put, run.timing, run.signal, run.probe);
    run.signal.throwIfAborted();
    noteErrors(run, `put, ${clients} clients`, result);
    rows.push(phaseRow("put", clients, result, run.roles, ETCD_REFERENCE[`put ${clients}`]!));
  }
  if (nextKey < KEYS) await fillKeys(run, nextKey);
  return rows;
}

/** Linearizable gets of random keys. */
async function getPhase(run: KvRun): Promise<BenchRow> {
  const random = new Prng(20_240_601);
  const get = (clerk: Clerk, _client: number, signal: AbortSignal) =>
    clerk.get(keyOf(random.int(KEYS)), { signal });
  run.say(`kv: linearizable get, ${GET_CLIENTS} clients ...`);
  const result = await runPhase(run.pool.take(GET_CLIENTS), get, run.timing, run.signal, run.probe);
  run.signal.throwIfAborted();
  noteErrors(run, `get, ${GET_CLIENTS} clients`, result);
  return phaseRow("get (linearizable)", GET_CLIENTS, result, run.roles, ETCD_REFERENCE["get 64"]!);
}

/** Writes keys from..KEYS-1 with every clerk, untimed. */
async function fillKeys(run: KvRun, from: number): Promise<void> {
  const missing = KEYS - from;
  run.say(`kv: filling the ${missing} keys the put phases did not reach ...`);
  const started = performance.now();
  const put = (clerk: Clerk, index: number, signal: AbortSignal) =>
    clerk.put(keyOf(from + index), VALUE, { signal });
  await runCount(run.pool.take(CLIENTS_MAX), missing, put, run.signal);
  run.signal.throwIfAborted();
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  run.notes.push(
    `the put phases did not reach ${missing} keys: written before the gets (${seconds} s, untimed)`,
  );
}

/** Latencies (ms) of APPENDS appends of VALUE to one key, one after another. */
async function sequentialAppends(clerk: Clerk, signal: AbortSignal): Promise<number[]> {
  const latenciesMs: number[] = [];
  const key = keyOf(KEYS); // outside the put and get range
  for (let k = 0; k < APPENDS && !signal.aborted; k++) {
    const started = performance.now();
    await clerk.append(key, VALUE, { signal });
    latenciesMs.push(performance.now() - started);
  }
  return latenciesMs;
}

/**
 * Each replica's metrics and CPU time after the run. When profiling, the replicas are then
 * stopped with SIGTERM, so that they write their profiles before the cluster is disposed.
 */
async function replicaSummary(run: KvRun, cpuProfileDir: string | undefined): Promise<BenchRow[]> {
  const { cluster, roles, pids, notes } = run;
  const finalLeader = await cluster.leader(1);
  if (finalLeader !== roles.leader) {
    notes.push(`the leader changed during the run: ${roles.leader} → ${finalLeader}`);
  }
  const metrics = new Map(
    await Promise.all(
      cluster.ids(1).map(async (id) => [id, await scrapeMetrics(cluster.admin(id))] as const),
    ),
  );
  const cpu = new Map([...pids].map(([name, pid]) => [name, cpuSeconds(pid)] as const));
  if (cpuProfileDir !== undefined) {
    await Promise.all(cluster.ids().map((id) => cluster.terminate(id)));
    const names = [...pids].map(([name, pid]) => `${name} = pid ${pid}`).join(", ");
    notes.push(`CPU profiles of the replicas are in ${cpuProfileDir} (by pid: ${names})`);
  }
  return replicaRows(metrics, cpu, roles.leader);
}

/** The lines under the phase table: what ran where, then the notes. */
function aboutLines(run: KvRun): string[] {
  const cores = navigator.hardwareConcurrency;
  return [
    `3 replica processes (production timings: tick 50 ms, election 20 ticks, heartbeat 2 ticks), ` +
    `${KEY_BYTES} B keys, ${VALUE_BYTES} B values, ${KEYS.toLocaleString("en-US")} keys`,
    `each phase: ${run.timing.warmupMs / 1000} s warm-up (discarded), ` +
    `${run.timing.measureMs / 1000} s measured; one Clerk per client, each on its own connections`,
    `the load generator (this process) runs on the same ${cores}-core machine as the 3 replicas; ` +
    `CPU % is of one core (utime + stime from /proc over the measured window); machine CPU % ` +
    `is all cores' busy time (/proc/stat, ${100 * cores} = every core busy), so what exceeds ` +
    `the replicas and the load generator is the kernel's own work or other programs`,
    ...run.notes.map((note) => `note: ${note}`),
  ];
}

/** Adds a note when operations of a phase failed, with the first failure. */
function noteErrors(run: KvRun, phase: string, result: PhaseResult<unknown>): void {
  if (result.errors === 0) return;
  run.notes.push(`${phase}: ${result.errors} operations failed; the first: ${result.firstError}`);
}

/** `deno run -A --cpu-prof --cpu-prof-dir=<dir> main.ts`: the replica program, profiled. */
function profilingProgram(dir: string): ProgramInvocation {
  const main = fileURLToPath(MAIN_MODULE_URL);
  return {
    executable: Deno.execPath(),
    leadingArgs: ["run", "-A", "--cpu-prof", `--cpu-prof-dir=${dir}`, main],
  };
}

/** Replica id → pid for each replica of the cluster, and "loadgen" → this process. */
function processIds(cluster: E2ECluster): Map<string, number> {
  const ids = cluster.ids();
  const pids = cluster.pids();
  assert(ids.length === pids.length, "every replica runs its first process");
  const byName = new Map(ids.map((id, k) => [id, pids[k]!] as const));
  byName.set("loadgen", Deno.pid);
  return byName;
}
