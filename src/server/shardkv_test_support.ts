/**
 * A sharded KV cluster on the real stack in one process, for the classic shardkv scenarios:
 * three shard master replicas and three replica groups (gids 1..3, replicas `g<gid>-<k>`),
 * with file storage and TCP. Replicas are stopped and restarted from their data directories
 * to simulate crashes. A second, independent shard master group can be started next to the
 * cluster's own (Rejection5A: clerks routing by a config the groups do not follow).
 */

import { portPicker } from "../test_support/free_ports.ts";
import { addressBook, type Config, parseConfig, type ReplicaConfig } from "../config/mod.ts";
import { callGroup } from "../kv/clerk.ts";
import type { KvRequest, KvResponse } from "../kv/protocol.ts";
import { RpcKvTransport } from "../kv/rpc_transport.ts";
import { shardOf } from "../kv/shard_of.ts";
import type { PeerAddress } from "../net/peer_link.ts";
import { ShardMasterClerk } from "../shard/master_clerk.ts";
import { ShardedClerk } from "../shard/sharded_clerk.ts";
import type { ShardConfig } from "../shard/shard_config.ts";
import { silentLogger } from "../util/logger.ts";
import { Prng } from "../util/prng.ts";
import { type GroupReplica, startGroupReplica } from "./group_replica.ts";
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

/**
 * Keys `<prefix>-<k>` chosen so that every shard gets exactly `perShard` of them, in the order
 * found. Keys route by FNV-1a (shard_of.ts), not by their first byte as in the lab, so "0".."9"
 * would not cover the shards one each; this search does.
 */
export function keysCoveringShards(prefix: string, shardCount: number, perShard = 1): string[] {
  const counts = new Array<number>(shardCount).fill(0);
  const keys: string[] = [];
  for (let k = 0; keys.length < shardCount * perShard; k++) {
    const key = `${prefix}-${k}`;
    const shard = shardOf(key, shardCount);
    if (counts[shard]! >= perShard) continue;
    counts[shard]!++;
    keys.push(key);
  }
  return keys;
}

/** A shard master group of its own next to the cluster's, started by `startOtherMaster`. */
export interface OtherMaster {
  /** The Raft addresses of its replicas, in order. */
  readonly servers: readonly PeerAddress[];
  /** Its admin clerk (join / leave / query), closed with the cluster. */
  readonly admin: ShardMasterClerk;
}

/** The running cluster; `close()` stops everything and removes the data directory. */
export class ShardCluster {
  readonly config: Config;
  readonly admin: ShardMasterClerk;
  readonly #dataDir: string;
  readonly #masters = new Map<string, ShardMasterReplica>();
  readonly #replicas = new Map<string, GroupReplica>();
  readonly #clerks: ShardedClerk[] = [];
  /** Shard master groups started by `startOtherMaster`, with their admin clerks. */
  readonly #otherMasters: { admin: ShardMasterClerk; replicas: ShardMasterReplica[] }[] = [];

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

  #masterClerk(
    servers: readonly PeerAddress[] = this.config.shardmaster!.replicas.map((replica) =>
      replica.raft
    ),
  ): ShardMasterClerk {
    return ShardMasterClerk.connect({
      servers,
      clusterName: this.config.cluster.name,
      secret: this.config.cluster.secret,
    });
  }

  /**
   * A routing clerk, closed by `close()`. It asks the cluster's shard master for configs, or
   * `master` when given (a group started by `startOtherMaster`).
   */
  clerk(seed: number, defaultTimeoutMs = 30_000, master?: OtherMaster): ShardedClerk {
    const clerk = new ShardedClerk({
      master: this.#masterClerk(master?.servers),
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

  /**
   * Starts a second shard master group of 3 replicas (ids `<prefix>1..3`, fresh ports, its own
   * data directory under the cluster's), with no group joined; `close()` stops it. The groups
   * never hear of it: they follow the cluster's master.
   */
  async startOtherMaster(prefix: string): Promise<OtherMaster> {
    const ports = portPicker();
    const address = () => ({ host: "127.0.0.1", port: ports.next() });
    const replicaConfigs: ReplicaConfig[] = [1, 2, 3].map((k) => ({
      id: `${prefix}${k}`,
      raft: address(),
      admin: address(),
    }));
    ports.release(); // Close the listeners before the replicas bind these ports.
    const config: Config = {
      ...this.config,
      storage: { ...this.config.storage, dataDir: `${this.#dataDir}/${prefix}` },
      shardmaster: { replicas: replicaConfigs },
    };
    const servers = replicaConfigs.map((replica) => replica.raft);
    // Registered before the first start, so `close()` stops whatever did start if one fails.
    const started = { admin: this.#masterClerk(servers), replicas: [] as ShardMasterReplica[] };
    this.#otherMasters.push(started);
    for (const replica of replicaConfigs) {
      started.replicas.push(
        await startShardMasterReplica({
          config,
          replicaId: replica.id,
          logger: silentLogger,
          onFatal: () => {},
        }),
      );
    }
    return { servers, admin: started.admin };
  }

  /**
   * Sends one request straight to group `gid`'s replicas (no routing, no retry on wrongGroup)
   * and answers the group's final response, e.g. `{ ok: false, error: { code: "wrongGroup" } }`.
   */
  async groupRequest(gid: number, request: KvRequest, timeoutMs = 5_000): Promise<KvResponse> {
    const address = addressBook(this.config);
    const transport = new RpcKvTransport({
      servers: membersOf(gid).map((id) => address(id)!),
      clusterName: this.config.cluster.name,
      secret: this.config.cluster.secret,
      logger: silentLogger,
    });
    try {
      return await callGroup(transport, request, {
        what: `${request.type} ${JSON.stringify(request.key)} at group ${gid}`,
        timeoutMs,
        attemptTimeoutMs: 1_000,
        random: new Prng(gid),
        leader: { server: 0 },
      });
    } finally {
      await transport.close();
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
   * shards its group owns there, all serving (nothing pulling, handing off or awaiting GC),
   * and owes no GC of an earlier config.
   */
  settledAt(config: ShardConfig): boolean {
    for (const replica of this.#replicas.values()) {
      const state = replica.server.state;
      if (state.currentConfig().num !== config.num || state.pendingGcCount() > 0) return false;
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

  /** The config number and per-shard states (`/status`) of a running group replica. */
  async shardStatus(id: string): Promise<{ config: number; shards: Record<string, string> }> {
    const status = await this.status(id);
    return { config: status.config as number, shards: status.shards as Record<string, string> };
  }

  /** Stops everything, every step even when an earlier one failed; then throws the first error. */
  async close(): Promise<void> {
    const errors: unknown[] = [];
    const attempt = async (step: () => Promise<void>) => {
      try {
        await step();
      } catch (error) {
        errors.push(error);
      }
    };
    for (const clerk of this.#clerks.splice(0)) await attempt(() => clerk.close());
    await attempt(() => this.admin.close());
    for (const id of [...this.#replicas.keys()]) await attempt(() => this.stopReplica(id));
    await attempt(() => this.stopMasters());
    for (const other of this.#otherMasters.splice(0)) {
      await attempt(() => other.admin.close());
      for (const replica of other.replicas) await attempt(() => replica.stop());
    }
    await attempt(() => Deno.remove(this.#dataDir, { recursive: true }));
    if (errors.length > 0) throw errors[0];
  }
}
