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
import { Clerk } from "../src/kv/clerk.ts";
import { RpcKvTransport } from "../src/kv/rpc_transport.ts";
import type { Config } from "../src/config/mod.ts";
import { assert } from "../src/util/assert.ts";
import { MAIN_MODULE_URL, type ProgramInvocation } from "../src/supervisor/mod.ts";
import { silentLogger } from "../src/util/logger.ts";
import { Prng } from "../src/util/prng.ts";
import { E2ECluster, type TomlOverrides } from "../tests/e2e/harness.ts";
import { type PhaseResult, runCount, runPhase } from "./kv_load.ts";
import { appendRow, type KvProbe, phaseRow, replicaRows } from "./kv_rows.ts";
import { sampleCpu } from "./process_cpu.ts";
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

/** A printed table. */
export interface BenchTable {
  readonly title: string;
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

/** `k` + 15 digits: 16 bytes. */
function keyOf(index: number): string {
  return `k${String(index).padStart(KEY_BYTES - 1, "0")}`;
}

const VALUE = "v".repeat(VALUE_BYTES);
assert(keyOf(KEYS - 1).length === KEY_BYTES, "bench keys are 16 bytes");

/** Runs the kv benchmark and returns its tables; see the module comment. */
export async function kvSection(options: KvSectionOptions): Promise<BenchTable[]> {
  const { scale, signal, say } = options;
  say("kv: starting 3 replicas (fsync on, tick 50 ms) ...");
  const profileDir = options.cpuProfileDir;
  if (profileDir !== undefined) await Deno.mkdir(profileDir, { recursive: true });
  await using cluster = await E2ECluster.start({
    groups: [3],
    configOverrides: KV_CONFIG_OVERRIDES,
    ...(profileDir === undefined ? {} : { program: profilingProgram(profileDir) }),
  });
  await using pool = new ClerkPool(cluster.config, CLIENTS_MAX);
  const leader = await cluster.waitFor(() => cluster.leader(1), LEADER_WAIT_MS, "a leader");
  signal.throwIfAborted();
  const pids = processIds(cluster);
  const probe = async (): Promise<KvProbe> => ({
    cpu: sampleCpu(pids),
    leader: await scrapeMetrics(cluster.admin(leader)),
  });
  const followers = cluster.ids(1).filter((id) => id !== leader);
  const context = { leader, followers };
  const timing = { warmupMs: WARMUP_MS, measureMs: Math.round(MEASURE_MS * scale) };

  const rows: BenchRow[] = [];
  const notes: string[] = [];
  let nextPutKey = 0;
  const put = (clerk: Clerk, _client: number, signal: AbortSignal) =>
    clerk.put(keyOf(nextPutKey++ % KEYS), VALUE, { signal });
  for (const clients of PUT_CLIENTS) {
    say(`kv: put, ${clients} clients ...`);
    const result = await runPhase(pool.take(clients), put, timing, signal, probe);
    signal.throwIfAborted();
    noteErrors(`put, ${clients} clients`, result, notes);
    rows.push(phaseRow("put", clients, result, context, ETCD_REFERENCE[`put ${clients}`]!));
  }
  notes.push(...await fillMissingKeys(pool, nextPutKey, signal, say));

  const random = new Prng(20_240_601);
  const get = (clerk: Clerk, _client: number, signal: AbortSignal) =>
    clerk.get(keyOf(random.int(KEYS)), { signal });
  say(`kv: linearizable get, ${GET_CLIENTS} clients ...`);
  const gets = await runPhase(pool.take(GET_CLIENTS), get, timing, signal, probe);
  signal.throwIfAborted();
  noteErrors(`get, ${GET_CLIENTS} clients`, gets, notes);
  rows.push(phaseRow("get (linearizable)", GET_CLIENTS, gets, context, ETCD_REFERENCE["get 64"]!));

  say(`kv: ${APPENDS} sequential appends ...`);
  const appends = await sequentialAppends(pool.take(1)[0]!, signal);
  signal.throwIfAborted();

  const finalLeader = await cluster.leader(1);
  if (finalLeader !== leader) {
    notes.push(`the leader changed during the run: ${leader} → ${finalLeader}`);
  }
  const metrics = new Map(
    await Promise.all(
      cluster.ids(1).map(async (id) => [id, await scrapeMetrics(cluster.admin(id))] as const),
    ),
  );
  if (profileDir !== undefined) {
    await Promise.all(cluster.ids().map((id) => cluster.terminate(id)));
    const names = [...pids].map(([name, pid]) => `${name} = pid ${pid}`).join(", ");
    notes.push(`CPU profiles of the replicas in ${profileDir} (named by pid: ${names})`);
  }
  const machine = `${navigator.hardwareConcurrency}-core machine`;
  return [
    {
      title:
        `kv: 3 replicas (real processes, loopback, fsync on, tick 50 ms), ${KEY_BYTES} B keys, ` +
        `${VALUE_BYTES} B values, ${KEYS.toLocaleString("en-US")} keys; ${
          timing.measureMs / 1000
        } s per phase after a ${WARMUP_MS / 1000} s warm-up; ` +
        `the load generator (this process) runs on the same ${machine} as the replicas` +
        notes.map((note) => `\nnote: ${note}`).join(""),
      rows,
    },
    { title: "kv: sequential appends, one clerk, one key", rows: [appendRow(appends)] },
    {
      title: "kv: per replica after the run (writes/fsync = writes applied / WAL fdatasyncs)",
      rows: replicaRows(metrics, pids, leader),
    },
  ];
}

/** Adds a note when operations of a phase failed, with the first failure. */
function noteErrors(phase: string, result: PhaseResult<unknown>, notes: string[]): void {
  if (result.errors === 0) return;
  notes.push(`${phase}: ${result.errors} operations failed; the first: ${result.firstError}`);
}

/** The puts cover keys 0..putsDone-1; writes the rest (untimed) so every get finds a value. */
async function fillMissingKeys(
  pool: ClerkPool,
  putsDone: number,
  signal: AbortSignal,
  say: (line: string) => void,
): Promise<string[]> {
  if (putsDone >= KEYS) return [];
  const missing = KEYS - putsDone;
  say(`kv: filling the ${missing} keys the put phases did not reach ...`);
  const started = performance.now();
  await runCount(
    pool.take(CLIENTS_MAX),
    missing,
    (clerk, index, signal) => clerk.put(keyOf(putsDone + index), VALUE, { signal }),
    signal,
  );
  signal.throwIfAborted();
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  return [
    `${missing} keys the put phases did not reach were written before the gets (${seconds} s, untimed)`,
  ];
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

/** CLIENTS_MAX clerks, each with its own session and its own connections, closed on dispose. */
class ClerkPool implements AsyncDisposable {
  readonly #clerks: Clerk[];

  constructor(config: Config, size: number) {
    const group = config.groups[0];
    assert(group !== undefined, "the bench cluster has one group");
    const random = new Prng(7);
    this.#clerks = Array.from({ length: size }, () =>
      new Clerk({
        // RpcKvTransport connects to a server on its first call to it: clerks connect to the
        // server they try first and to the leader, not to all three.
        transport: new RpcKvTransport({
          servers: group.replicas.map((replica) => replica.raft),
          clusterName: config.cluster.name,
          secret: config.cluster.secret,
          logger: silentLogger,
        }),
        random: random.fork(),
      }));
  }

  /** The first `count` clerks (phases reuse them, so sessions and connections carry over). */
  take(count: number): Clerk[] {
    assert(count >= 1 && count <= this.#clerks.length, `cannot take ${count} clerks`);
    return this.#clerks.slice(0, count);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await Promise.all(this.#clerks.map((clerk) => clerk.close()));
  }
}
