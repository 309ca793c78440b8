/**
 * The sharded section of `deno task bench`: a shard master group and three replica groups of
 * three real processes each (12 processes) on loopback, fsync on, production timings, driven
 * from this process by 64 {@link ShardedClerk}s over TCP (one per concurrent client).
 *
 * Phases: with 1, then 2, then 3 groups joined, puts and then linearizable gets of random
 * keys; between them the next group joins and the bench waits until every joined group's
 * leader reports, in GET /status, the master's latest config and every shard it owns
 * "serving". Then, on a fresh cluster (two groups), the time a join takes to move shards:
 * 10,000 keys written while group 1 holds all 10 shards, group 2 joins, and the clock runs
 * until group 2's leader serves all its shards. Every process is killed and the temp dirs
 * removed however the run ends (`await using`).
 */

import type { Config } from "../src/config/mod.ts";
import { addressBook } from "../src/config/mod.ts";
import { ShardMasterClerk } from "../src/shard/master_clerk.ts";
import { ShardedClerk } from "../src/shard/sharded_clerk.ts";
import { assert } from "../src/util/assert.ts";
import { Prng } from "../src/util/prng.ts";
import { E2ECluster } from "../tests/e2e/harness.ts";
import { type BenchTable, KV_CONFIG_OVERRIDES } from "./kv_bench.ts";
import { type PhaseResult, type PhaseTiming, runCount, runPhase } from "./kv_load.ts";
import { cpuPercent, type CpuSample, MACHINE, sampleCpu } from "./process_cpu.ts";
import { METRIC, scrapeMetrics } from "./replica_scrape.ts";
import { type BenchRow, percentile } from "./table.ts";

const KEYS = 100_000;
const KEY_BYTES = 16;
const VALUE_BYTES = 100;
const CLIENTS = 64;
const GROUPS = [3, 3, 3] as const;
const SHARDMASTER = 3;
const WARMUP_MS = 1_000;
const MEASURE_MS = 5_000;
/** Keys written before the join; the join moves half the shards, so about 10,000 keys move. */
const MIGRATION_KEYS = 20_000;
const LEADER_WAIT_MS = 30_000;
const SERVING_WAIT_MS = 60_000;
const POLL_MS = 10;

/** What the sharded section needs from its caller. */
export interface ShardedSectionOptions {
  readonly scale: number;
  readonly signal: AbortSignal;
  readonly say: (line: string) => void;
}

/** `k` + 15 digits: 16 bytes. */
function keyOf(index: number): string {
  return `k${String(index).padStart(KEY_BYTES - 1, "0")}`;
}

const VALUE = "v".repeat(VALUE_BYTES);
assert(keyOf(KEYS).length === KEY_BYTES, "bench keys are 16 bytes");

/** CPU and the leaders' fsync counts at one edge of a measured window. */
interface ShardedProbe {
  readonly cpu: CpuSample;
  /** Sum of the joined groups' leaders' WAL fdatasyncs (NaN when one did not answer). */
  readonly leaderFsyncs: number;
}

/** `count` sharded clerks, each with its own session, master clerk and connections. */
class ShardedClerkPool implements AsyncDisposable {
  readonly clerks: ShardedClerk[];

  constructor(config: Config, count: number, seed: number) {
    const master = config.shardmaster;
    assert(master !== undefined, "a sharded cluster has a shard master");
    const addressOf = addressBook(config);
    const random = new Prng(seed);
    this.clerks = Array.from({ length: count }, () =>
      new ShardedClerk({
        master: ShardMasterClerk.connect({
          servers: master.replicas.map((replica) => replica.raft),
          clusterName: config.cluster.name,
          secret: config.cluster.secret,
        }),
        addressOf,
        clusterName: config.cluster.name,
        secret: config.cluster.secret,
        random: random.fork(),
      }));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await Promise.all(this.clerks.map((clerk) => clerk.close()));
  }
}

/** Runs the sharded benchmark and returns its tables; see the module comment. */
export async function shardedSection(options: ShardedSectionOptions): Promise<BenchTable[]> {
  const scaling = await scalingPhases(options);
  options.signal.throwIfAborted();
  const migration = await migrationRun(options);
  return [scaling, migration];
}

/** Starts the cluster, waits for every Raft leader, and connects a master clerk. */
async function startCluster(
  groups: readonly number[],
  say: (line: string) => void,
): Promise<E2ECluster> {
  say(
    `sharded: starting ${SHARDMASTER} shard master + ${groups.length}×3 group replicas ` +
      `(fsync on, tick 50 ms) ...`,
  );
  const cluster = await E2ECluster.start({
    groups,
    shardmaster: SHARDMASTER,
    configOverrides: KV_CONFIG_OVERRIDES,
  });
  try {
    const waits: Promise<unknown>[] = [
      cluster.waitFor(() => cluster.leader("shardmaster"), LEADER_WAIT_MS, "a master leader"),
    ];
    for (let gid = 1; gid <= groups.length; gid++) {
      waits.push(cluster.waitFor(() => cluster.leader(gid), LEADER_WAIT_MS, `a leader of ${gid}`));
    }
    await Promise.all(waits);
    return cluster;
  } catch (error) {
    await cluster.close();
    throw error;
  }
}

function masterClerkOf(cluster: E2ECluster): ShardMasterClerk {
  const master = cluster.config.shardmaster;
  assert(master !== undefined, "a sharded cluster has a shard master");
  return ShardMasterClerk.connect({
    servers: master.replicas.map((replica) => replica.raft),
    clusterName: cluster.config.cluster.name,
    secret: cluster.config.cluster.secret,
  });
}

/** Joins group `gid` (its replica ids from the cluster config); answers the new config number. */
async function joinGroup(cluster: E2ECluster, master: ShardMasterClerk, gid: number) {
  const group = cluster.config.groups.find((candidate) => candidate.gid === gid);
  assert(group !== undefined, `group ${gid} is in the config`);
  return await master.join([[gid, group.replicas.map((replica) => replica.id)]], {
    timeoutMs: 20_000,
  });
}

/**
 * Whether group `gid`'s leader is at config `num` and serves every shard config `num` gives
 * it (its /status `config` and `shards`), and nothing else.
 */
async function groupServes(
  cluster: E2ECluster,
  gid: number,
  num: number,
  owned: number,
): Promise<boolean> {
  const leader = await cluster.leader(gid);
  if (leader === null) return false;
  const status = await cluster.status(leader);
  if (status === null || status.config !== num) return false;
  const shards = status.shards;
  if (typeof shards !== "object" || shards === null) return false;
  const states = Object.values(shards as Record<string, unknown>);
  return states.length === owned && states.every((state) => state === "serving");
}

/** Polls until every group of `gids` serves its shards in the master's latest config. */
async function waitServing(
  cluster: E2ECluster,
  master: ShardMasterClerk,
  gids: readonly number[],
  signal: AbortSignal,
): Promise<number> {
  const started = performance.now();
  await cluster.waitFor(
    async () => {
      signal.throwIfAborted();
      cluster.assertAllRunning();
      const latest = await master.query(-1, { timeoutMs: 2_000 });
      const serving = await Promise.all(
        gids.map((gid) =>
          groupServes(cluster, gid, latest.num, latest.shards.filter((g) => g === gid).length)
        ),
      );
      return serving.every(Boolean);
    },
    SERVING_WAIT_MS,
    `groups ${gids.join(", ")} to serve every shard of the latest config`,
  );
  return (performance.now() - started) / 1000;
}

/** Replica id → pid, and "loadgen" → this process. */
function processIds(cluster: E2ECluster): Map<string, number> {
  const ids = cluster.ids();
  const pids = cluster.pids();
  assert(ids.length === pids.length, "every replica runs its first process");
  const byName = new Map(ids.map((id, k) => [id, pids[k]!] as const));
  byName.set("loadgen", Deno.pid);
  return byName;
}

/** The put and get phases with 1, 2 and 3 groups joined. */
async function scalingPhases(options: ShardedSectionOptions): Promise<BenchTable> {
  const { signal, say } = options;
  await using cluster = await startCluster(GROUPS, say);
  const master = masterClerkOf(cluster);
  try {
    await using pool = new ShardedClerkPool(cluster.config, CLIENTS, 11);
    const pids = processIds(cluster);
    const timing: PhaseTiming = {
      warmupMs: WARMUP_MS,
      measureMs: Math.round(MEASURE_MS * options.scale),
    };
    const notes: string[] = [];
    const rows: BenchRow[] = [];
    const random = new Prng(20_240_602);
    const joined: number[] = [];
    const put = (clerk: ShardedClerk, _client: number, signal: AbortSignal) =>
      clerk.put(keyOf(random.int(KEYS)), VALUE, { signal });
    const get = (clerk: ShardedClerk, _client: number, signal: AbortSignal) =>
      clerk.get(keyOf(random.int(KEYS)), { signal });
    for (let gid = 1; gid <= GROUPS.length; gid++) {
      say(`sharded: joining group ${gid} ...`);
      const num = await joinGroup(cluster, master, gid);
      joined.push(gid);
      const waited = await waitServing(cluster, master, joined, signal);
      notes.push(
        `join of group ${gid} (config ${num}): every group serving ${waited.toFixed(2)} s later` +
          (gid === 1 ? "" : " (while idle)"),
      );
      const leaders: string[] = [];
      for (const g of joined) {
        leaders.push(await cluster.waitFor(() => cluster.leader(g), LEADER_WAIT_MS, `leader ${g}`));
      }
      const probe = async (): Promise<ShardedProbe> => {
        const cpu = sampleCpu(pids);
        const scraped = await Promise.all(
          leaders.map((id) => scrapeMetrics(cluster.admin(id))),
        );
        const leaderFsyncs = scraped.reduce(
          (sum, metrics) => sum + (metrics.get(METRIC.fsyncCount) ?? NaN),
          0,
        );
        return { cpu, leaderFsyncs };
      };
      for (const [op, operation] of [["put", put], ["get (linearizable)", get]] as const) {
        say(`sharded: ${op}, ${CLIENTS} clients, ${joined.length} group(s) ...`);
        const result = await runPhase(pool.clerks, operation, timing, signal, probe);
        signal.throwIfAborted();
        if (result.errors > 0) {
          notes.push(
            `${op} with ${joined.length} group(s): ${result.errors} operations failed; ` +
              `the first: ${result.firstError}`,
          );
        }
        rows.push(scalingRow(op, joined.length, result, leaders));
      }
    }
    const cores = navigator.hardwareConcurrency;
    return {
      title: "sharded: 1 → 3 groups of 3 replicas, 64 clients, fsync on",
      about: [
        `all ${cluster.ids().length} processes (${SHARDMASTER} shard master + ` +
        `${GROUPS.length}×3 group replicas, all started up front) and the load generator ` +
        `share this ${cores}-core machine, so adding groups cannot add CPU: what scales is ` +
        `per-group work that is not CPU — each group's leader batches its own fsyncs, so ` +
        `fsyncs proceed in parallel across groups — and the leader work (log appends, ` +
        `replication, applying) is split across groups instead of piling on one leader; ` +
        `what does not scale is the total CPU (replicas + ShardedClerks), which every extra ` +
        `group only redistributes (and adds heartbeats and config polling to)`,
        `${KEY_BYTES} B keys, ${VALUE_BYTES} B values, uniformly random keys of ` +
        `${KEYS.toLocaleString("en-US")} for puts and gets (a get of a key not yet written ` +
        `is still a linearizable read, answering ""); one ShardedClerk per client; ` +
        `each phase ${timing.warmupMs / 1000} s warm-up (discarded), ` +
        `${timing.measureMs / 1000} s measured`,
        `leaders = each joined group's leader; puts/leader fsync = puts completed / sum of the ` +
        `leaders' WAL fdatasyncs; CPU % of one core (/proc); machine CPU % ` +
        `${100 * cores} = every core busy`,
        ...notes.map((note) => `note: ${note}`),
      ],
      rows,
    };
  } finally {
    await master.close();
  }
}

function scalingRow(
  op: string,
  groups: number,
  result: PhaseResult<ShardedProbe>,
  leaders: readonly string[],
): BenchRow {
  const { before, after } = result;
  const cpu = (name: string) => {
    const percent = cpuPercent(before.cpu, after.cpu, name);
    return percent === null ? "n/a" : Math.round(percent);
  };
  const fsyncs = after.leaderFsyncs - before.leaderFsyncs;
  const replicas = [...before.cpu.seconds.keys()].filter((name) =>
    name !== MACHINE && name !== "loadgen"
  );
  const replicaCpu = replicas.reduce((sum, name) => {
    const percent = cpuPercent(before.cpu, after.cpu, name);
    return sum + (percent ?? NaN);
  }, 0);
  return {
    groups,
    op,
    clients: CLIENTS,
    "ops/s": Math.round(result.completed / result.seconds),
    "p50 ms": percentile(result.latenciesMs, 50),
    "p90 ms": percentile(result.latenciesMs, 90),
    "p99 ms": percentile(result.latenciesMs, 99),
    errors: result.errors,
    "leader fsyncs/s": Number.isFinite(fsyncs) ? Math.round(fsyncs / result.seconds) : "n/a",
    "puts/leader fsync": op === "put" && fsyncs > 0 ? result.completed / fsyncs : "-",
    "leaders CPU %": leaders.map(cpu).join(" / "),
    "all replicas CPU %": Number.isFinite(replicaCpu) ? Math.round(replicaCpu) : "n/a",
    "loadgen CPU %": cpu("loadgen"),
    "machine CPU %": cpu(MACHINE),
  };
}

/** Times the move of half the shards (and their share of 20,000 keys: about 10,000) to a joining group. */
async function migrationRun(options: ShardedSectionOptions): Promise<BenchTable> {
  const { signal, say } = options;
  await using cluster = await startCluster([3, 3], say);
  const master = masterClerkOf(cluster);
  try {
    await joinGroup(cluster, master, 1);
    await waitServing(cluster, master, [1], signal);
    say(`sharded: migration: writing ${MIGRATION_KEYS} keys with group 1 holding every shard ...`);
    {
      await using pool = new ShardedClerkPool(cluster.config, CLIENTS, 13);
      const started = performance.now();
      await runCount(
        pool.clerks,
        MIGRATION_KEYS,
        (clerk, index, signal) => clerk.put(keyOf(index), VALUE, { signal }),
        signal,
      );
      signal.throwIfAborted();
      say(`sharded: migration: written in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }
    const before = await master.query(-1, { timeoutMs: 5_000 });
    const shardCount = before.shards.length;
    say("sharded: migration: joining group 2 ...");
    const joinStarted = performance.now();
    const num = await joinGroup(cluster, master, 2);
    const joinedMs = performance.now() - joinStarted;
    const config = await master.query(num, { timeoutMs: 5_000 });
    const moved = config.shards.filter((gid) => gid === 2).length;
    const kept = config.shards.filter((gid) => gid === 1).length;
    let group2Ms = NaN;
    let bothMs = NaN;
    const deadline = joinStarted + SERVING_WAIT_MS;
    while (Number.isNaN(bothMs)) {
      signal.throwIfAborted();
      cluster.assertAllRunning();
      if (performance.now() > deadline) {
        throw new Error(`group 2 did not serve its shards within ${SERVING_WAIT_MS} ms`);
      }
      const [serves2, serves1] = await Promise.all([
        groupServes(cluster, 2, num, moved),
        groupServes(cluster, 1, num, kept),
      ]);
      const now = performance.now() - joinStarted;
      if (serves2 && Number.isNaN(group2Ms)) group2Ms = now;
      if (serves2 && serves1) bothMs = now;
      else await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    // The moved keys are readable through a fresh clerk (a check, untimed).
    await using check = new ShardedClerkPool(cluster.config, 1, 17);
    const probeKey = keyOf(MIGRATION_KEYS - 1);
    const value = await check.clerks[0]!.get(probeKey, { timeoutMs: 10_000 });
    assert(value === VALUE, `${probeKey} survived the migration`);
    const movedKeys = Math.round((MIGRATION_KEYS * moved) / shardCount);
    return {
      title: `sharded: shard migration on join, about ${
        movedKeys.toLocaleString("en-US")
      } keys moved`,
      about: [
        `a fresh cluster (${SHARDMASTER} shard master + 2×3 group replicas, fsync on, tick ` +
        `50 ms); group 1 holds all ${shardCount} shards and ${
          MIGRATION_KEYS.toLocaleString("en-US")
        } ` +
        `keys (${KEY_BYTES} B + ${VALUE_BYTES} B), no client load; then group 2 joins`,
        `timed from sending the join to the shard master until the group's leader reports, in ` +
        `GET /status (polled every ${POLL_MS} ms), config ${num} and every shard it owns ` +
        `"serving"; groups poll the master about every 100 ms, so that much of it is waiting`,
      ],
      rows: [{
        keys: MIGRATION_KEYS,
        "shards moved": moved,
        "keys moved (approx)": movedKeys,
        "bytes moved (approx)": movedKeys * (KEY_BYTES + VALUE_BYTES),
        "join call ms": Math.round(joinedMs),
        "group 2 serving ms": Math.round(group2Ms),
        "both groups serving ms": Math.round(bothMs),
      }],
    };
  } finally {
    await master.close();
  }
}
