/**
 * A sharded KV cluster on the real stack in one process, for the classic shardkv scenarios:
 * three shard master replicas and three replica groups (gids 1..3, replicas `g<gid>-<k>`),
 * with file storage and TCP. Replicas are stopped and restarted from their data directories
 * to simulate crashes.
 */

import { portPicker } from "../test_support/free_ports.ts";
import { type Config, parseConfig } from "../config/mod.ts";
import { ShardMasterClerk } from "../shard/master_clerk.ts";
import { ShardedClerk } from "../shard/sharded_clerk.ts";
import type { ShardConfig } from "../shard/shard_config.ts";
import { silentLogger } from "../util/logger.ts";
import { Prng } from "../util/prng.ts";
import { addressBook, type GroupReplica, startGroupReplica } from "./group_replica.ts";
import { type ShardMasterReplica, startShardMasterReplica } from "./master_replica.ts";

export const GIDS = [1, 2, 3] as const;

/** The replica ids of one group. */
export function membersOf(gid: number): string[] {
  return [1, 2, 3].map((k) => `g${gid}-${k}`);
}

function clusterConfig(dataDir: string, snapshotThresholdBytes: number): Config {
  const ports = portPicker();
  const freePort = () => ports.next();
  const replica = (table: string, id: string) =>
    `[[${table}.replicas]]\nid = "${id}"\nraft = "127.0.0.1:${freePort()}"\nadmin = "127.0.0.1:${freePort()}"`;
  const masters = [1, 2, 3].map((k) => replica("shardmaster", `sm${k}`)).join("\n");
  const groups = GIDS.map((gid) =>
    `[[groups]]\ngid = ${gid}\n` + membersOf(gid).map((id) => replica("groups", id)).join("\n")
  ).join("\n");
  const text =
    `[cluster]\nsecret = "test-secret-0123456789"\nadmin_token = "test-admin-token-0123"\n` +
    `[raft]\ntick_ms = 10\nelection_ticks = 20\nheartbeat_ticks = 2\n` +
    `snapshot_threshold_bytes = ${snapshotThresholdBytes}\n` +
    `[storage]\ndata_dir = "${dataDir}"\n[log]\nlevel = "error"\n[shardmaster]\n${masters}\n${groups}\n`;
  ports.release(); // Close the listeners before the replicas bind these ports.
  const parsed = parseConfig(text);
  if (!parsed.ok) throw new Error(parsed.error.problems.join("\n"));
  return parsed.config;
}

export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The running cluster; `close()` stops everything and removes the data directory. */
export class ShardCluster {
  readonly config: Config;
  readonly admin: ShardMasterClerk;
  readonly #dataDir: string;
  readonly #masters = new Map<string, ShardMasterReplica>();
  readonly #replicas = new Map<string, GroupReplica>();
  readonly #clerks: ShardedClerk[] = [];

  private constructor(dataDir: string, config: Config) {
    this.#dataDir = dataDir;
    this.config = config;
    this.admin = this.#masterClerk();
  }

  /** Starts 3 masters and every replica of groups 1..3 (no group joined yet). */
  static async start(options: { snapshotThresholdBytes: number }): Promise<ShardCluster> {
    const dataDir = await Deno.makeTempDir({ prefix: "shardkv-classic-test-" });
    const cluster = new ShardCluster(
      dataDir,
      clusterConfig(dataDir, options.snapshotThresholdBytes),
    );
    try {
      await cluster.startMasters();
      for (const gid of GIDS) await cluster.startGroup(gid);
    } catch (error) {
      await cluster.close();
      throw error;
    }
    return cluster;
  }

  #masterClerk(): ShardMasterClerk {
    return ShardMasterClerk.connect({
      servers: this.config.shardmaster!.replicas.map((replica) => replica.raft),
      clusterName: this.config.cluster.name,
      secret: this.config.cluster.secret,
    });
  }

  /** A routing clerk, closed by `close()`. */
  clerk(seed: number, defaultTimeoutMs = 30_000): ShardedClerk {
    const clerk = new ShardedClerk({
      master: this.#masterClerk(),
      addressOf: addressBook(this.config),
      clusterName: this.config.cluster.name,
      secret: this.config.cluster.secret,
      random: new Prng(seed),
      defaultTimeoutMs,
    });
    this.#clerks.push(clerk);
    return clerk;
  }

  /** Joins groups by gid (with their configured members). */
  async join(...gids: number[]): Promise<void> {
    await this.admin.join(gids.map((gid) => [gid, membersOf(gid)] as [number, string[]]));
  }

  async leave(...gids: number[]): Promise<void> {
    await this.admin.leave(gids);
  }

  async latest(): Promise<ShardConfig> {
    return await this.admin.query(-1);
  }

  async startMasters(): Promise<void> {
    for (const replica of this.config.shardmaster!.replicas) {
      if (this.#masters.has(replica.id)) continue;
      this.#masters.set(
        replica.id,
        await startShardMasterReplica({
          config: this.config,
          replicaId: replica.id,
          logger: silentLogger,
          onFatal: () => {},
        }),
      );
    }
  }

  async stopMasters(): Promise<void> {
    for (const [id, master] of [...this.#masters]) {
      this.#masters.delete(id);
      await master.stop();
    }
  }

  /** Starts (or restarts from its data directory) one group replica. */
  async startReplica(id: string): Promise<void> {
    if (this.#replicas.has(id)) return;
    this.#replicas.set(
      id,
      await startGroupReplica({
        config: this.config,
        replicaId: id,
        logger: silentLogger,
        onFatal: () => {},
      }),
    );
  }

  /** Stops one group replica (a crash: it keeps only what is on disk). */
  async stopReplica(id: string): Promise<void> {
    const replica = this.#replicas.get(id);
    if (replica === undefined) return;
    this.#replicas.delete(id);
    await replica.stop();
  }

  async startGroup(gid: number): Promise<void> {
    for (const id of membersOf(gid)) await this.startReplica(id);
  }

  async stopGroup(gid: number): Promise<void> {
    for (const id of membersOf(gid)) await this.stopReplica(id);
  }

  running(id: string): GroupReplica | undefined {
    return this.#replicas.get(id);
  }

  runningReplicas(): GroupReplica[] {
    return [...this.#replicas.values()];
  }

  /**
   * True when every running replica has applied config `configNum` and holds exactly the
   * shards its group owns there, all serving (nothing pulling, handing off or awaiting GC).
   */
  settledAt(config: ShardConfig): boolean {
    for (const replica of this.#replicas.values()) {
      const state = replica.server.state;
      if (state.currentConfig().num !== config.num) return false;
      const owned = config.shards.flatMap((gid, shard) => gid === state.gid ? [shard] : []);
      const states = state.shardStates();
      const held = Object.keys(states).map(Number).sort((a, b) => a - b);
      if (held.join(",") !== owned.join(",")) return false;
      if (!Object.values(states).every((kind) => kind === "serving")) return false;
    }
    return true;
  }

  /** Waits until every running replica is settled at the latest config. */
  async waitSettled(timeoutMs = 20_000): Promise<ShardConfig> {
    const config = await this.latest();
    await waitFor(() => this.settledAt(config), timeoutMs, `settling at config ${config.num}`);
    return config;
  }

  /** The `/status` document of a running replica. */
  async status(id: string): Promise<Record<string, unknown>> {
    const replica = this.#replicas.get(id);
    if (replica === undefined) throw new Error(`${id} is not running`);
    const response = await fetch(`http://127.0.0.1:${replica.adminPort}/status`);
    return await response.json();
  }

  async close(): Promise<void> {
    for (const clerk of this.#clerks.splice(0)) await clerk.close();
    await this.admin.close();
    for (const id of [...this.#replicas.keys()]) await this.stopReplica(id);
    await this.stopMasters();
    await Deno.remove(this.#dataDir, { recursive: true });
  }
}
