/**
 * A sharded cluster inside the deterministic simulator, after the classic shardkv harness
 * (shardkv/config.go, §1.6 of the lab catalogue): one shard master group and several replica
 * groups, each a {@link SimCluster} running the production servers ({@link ShardMasterServer},
 * {@link GroupServer}) on one shared virtual clock. Clients, the groups' calls to the master and
 * their calls to each other all go through {@link ShardedWorld.rpc}, which has the lab's
 * semantics: on an unreliable network each request and each reply is delayed 0–26 ms and lost
 * 10 % of the time, and a loss fails the call at once, as labrpc reports it ("as if timeout");
 * a call to a crashed replica fails after 0–100 ms. A crashed replica's late reply is dropped
 * silently (the attempt timeout covers it). The Raft traffic inside
 * each group goes over that group's own {@link SimNetwork} and is unreliable too when the
 * world is. Every client operation is recorded for the linearizability checker.
 *
 * Replica k of group gid is named `g<gid>-<k>` in configurations; a group's names are in
 * replica order, so a name resolves to a cluster and an index.
 *
 * The clients (a shard master clerk, the routing KV clerk) are in sharded_clerks.ts.
 */

import { OperationAttempt, type ServiceReply } from "../../src/kv/clerk_core.ts";
import type { LeaderGuess } from "../../src/kv/clerk.ts";
import type { KvRequest, KvResponse } from "../../src/kv/protocol.ts";
import { shardOf } from "../../src/kv/shard_of.ts";
import {
  type GroupNeighbours,
  type GroupPeerRequest,
  type GroupPeerResponse,
  GroupServer,
} from "../../src/shard/group_server.ts";
import type { MasterRequest, MasterResponse } from "../../src/shard/master_protocol.ts";
import { ShardMasterServer } from "../../src/shard/master_server.ts";
import { assert } from "../../src/util/assert.ts";
import { silentLogger } from "../../src/util/logger.ts";
import { Prng } from "../../src/util/prng.ts";
import { HistoryRecorder } from "../linearizability/mod.ts";
import { SimCluster, type SimService } from "./cluster.ts";
import { configOf, SimMasterClerk, SimShardedClerk } from "./sharded_clerks.ts";
import { driveAttempt } from "./kv_clerk.ts";
import type { ServiceRaftOptions } from "../../src/server/replica_process.ts";
import { Scheduler } from "./scheduler.ts";

/** The classic harness's NShards. */
export const SHARDED_SHARD_COUNT = 10;
/** The classic harness's three groups. */
export const DEFAULT_GIDS: readonly number[] = [100, 101, 102];
/** Virtual milliseconds a blocking operation may take before a scenario fails. */
export const SHARDED_OPERATION_WITHIN_MS = 20_000;
/** Ticks between two passes of a group leader's background loop (100 ms at 50 ms ticks). */
const POLL_TICKS = 2;

/** Settings of a sharded world. */
export interface ShardedWorldOptions {
  readonly seed: number;
  /** The lab's maxraftstate for the groups: snapshot past this many bytes; -1 never. */
  readonly maxRaftStateBytes: number;
  readonly unreliable?: boolean;
  readonly gids?: readonly number[];
  /** Replicas per group (3). */
  readonly replicas?: number;
  /** Shard master replicas (3). */
  readonly masters?: number;
}

/** Something a call can be addressed to: replica k of a cluster, served by `submit`. */
export interface CallTarget<Request, Response> {
  readonly cluster: SimCluster;
  /** Serves `request` on replica k (running, checked by the caller); `respond` once. */
  submit(k: number, request: Request, respond: (response: Response) => void): void;
}

/** Settings of one {@link ShardedWorld.call}. */
export interface CallSettings {
  /** Give up (null) after this many virtual ms; null retries until an answer. */
  readonly timeoutMs: number | null;
  readonly attemptTimeoutMs: number;
  readonly leader: LeaderGuess;
  readonly random: Prng;
}

/** A server on a replicated-service shell, as the simulator hosts it. */
function hosted(
  service: { readonly node: SimService["node"]; readonly appliedIndex: number },
  tick: () => void,
  stop: () => void,
): SimService {
  return {
    get node() {
      return service.node;
    },
    get appliedIndex() {
      return service.appliedIndex;
    },
    tick,
    stop,
  };
}

/**
 * A Raft group on the world's clock whose replicas each host a server made by `make`;
 * `servers[k]` is replica k's latest incarnation.
 */
function hostCluster<Server>(
  world: ShardedWorld,
  seed: number,
  replicas: number,
  make: (raft: ServiceRaftOptions) => [Server, SimService],
): { cluster: SimCluster; servers: (Server | null)[] } {
  const servers: (Server | null)[] = Array.from({ length: replicas }, () => null);
  const cluster = new SimCluster({
    nodes: replicas,
    seed,
    scheduler: world.scheduler,
    service: (k, raft) => {
      const [server, service] = make(raft);
      servers[k] = server;
      return service;
    },
  });
  return { cluster, servers };
}

/** A shard master group in the world (there may be two: the Rejection test adds one). */
export class SimMasterGroup {
  readonly cluster: SimCluster;
  readonly servers: (ShardMasterServer | null)[];
  readonly target: CallTarget<MasterRequest, MasterResponse>;

  constructor(world: ShardedWorld, seed: number, replicas: number) {
    const hosting = hostCluster(world, seed, replicas, (raft) => {
      const server = new ShardMasterServer({
        raft,
        shardCount: SHARDED_SHARD_COUNT,
        snapshotThresholdBytes: -1,
        now: () => Math.floor(world.now),
      });
      return [
        server,
        hosted(server.service, () => server.service.tick(), () => server.service.stop()),
      ];
    });
    const servers = hosting.servers;
    this.servers = servers;
    this.cluster = hosting.cluster;
    this.target = {
      cluster: this.cluster,
      submit: (k, request, respond) => servers[k]!.submit(request, respond),
    };
  }
}

/** A replica group in the world. */
export class SimGroup {
  readonly gid: number;
  readonly cluster: SimCluster;
  readonly servers: (GroupServer | null)[];
  /** Replica names, as configurations list them. */
  readonly names: readonly string[];
  readonly kvTarget: CallTarget<KvRequest, KvResponse>;
  readonly peerTarget: CallTarget<GroupPeerRequest, GroupPeerResponse>;

  constructor(
    world: ShardedWorld,
    gid: number,
    seed: number,
    replicas: number,
    maxRaftStateBytes: number,
  ) {
    this.gid = gid;
    this.names = Array.from({ length: replicas }, (_, k) => `g${gid}-${k}`);
    const hosting = hostCluster(world, seed, replicas, (raft) => {
      const server = new GroupServer({
        raft,
        gid,
        shardCount: SHARDED_SHARD_COUNT,
        snapshotThresholdBytes: maxRaftStateBytes,
        now: () => Math.floor(world.now),
        neighbours: world.neighbours(world.random.fork()),
        logger: silentLogger,
        pollTicks: POLL_TICKS,
      });
      return [server, hosted(server.service, () => server.tick(), () => server.stop())];
    });
    const servers = hosting.servers;
    this.servers = servers;
    this.cluster = hosting.cluster;
    this.kvTarget = {
      cluster: this.cluster,
      submit: (k, request, respond) => servers[k]!.submit(request, respond),
    };
    this.peerTarget = {
      cluster: this.cluster,
      submit: (k, request, respond) => servers[k]!.submitPeer(request, respond),
    };
  }

  /** The running replica k's server, or null. */
  server(k: number): GroupServer | null {
    return this.cluster.replicas[k] === null ? null : this.servers[k] ?? null;
  }

  /** Persisted bytes (Raft state plus snapshot) over every replica: the lab's GC measure. */
  persistedBytes(): number {
    return this.cluster.storages.reduce(
      (sum, storage) => sum + storage.raftStateBytes() + storage.snapshotBytes(),
      0,
    );
  }
}

/** A sharded cluster on one virtual clock. */
export class ShardedWorld {
  readonly seed: number;
  readonly scheduler = new Scheduler();
  readonly random: Prng;
  readonly recorder: HistoryRecorder;
  readonly master: SimMasterGroup;
  readonly groups = new Map<number, SimGroup>();
  unreliable: boolean;
  readonly #names = new Map<string, { group: SimGroup; k: number }>();
  /** Replicas no RPC reaches (clients, the master's callers, other groups), by cluster. */
  readonly #unreachable = new Map<SimCluster, Set<number>>();
  #nextClientId = 1;
  #nextClusterSeed: number;

  constructor(options: ShardedWorldOptions) {
    this.seed = options.seed;
    this.random = new Prng(options.seed);
    this.#nextClusterSeed = options.seed * 131 + 7;
    this.unreliable = options.unreliable ?? false;
    this.recorder = new HistoryRecorder(() => this.now);
    this.master = this.newMasterGroup(options.masters ?? 3);
    for (const gid of options.gids ?? DEFAULT_GIDS) {
      const group = new SimGroup(
        this,
        gid,
        this.#nextClusterSeed++,
        options.replicas ?? 3,
        options.maxRaftStateBytes,
      );
      this.groups.set(gid, group);
      group.names.forEach((name, k) => this.#names.set(name, { group, k }));
    }
    this.setReliable(!this.unreliable);
  }

  get now(): number {
    return this.scheduler.now;
  }

  /** A fresh shard master group on this clock (the Rejection test's second master). */
  newMasterGroup(replicas = 3): SimMasterGroup {
    const master = new SimMasterGroup(this, this.#nextClusterSeed++, replicas);
    master.cluster.setReliable(!this.unreliable);
    return master;
  }

  /** Every cluster's Raft network, and the RPC layer, reliable or not. */
  setReliable(reliable: boolean): void {
    this.unreliable = !reliable;
    this.master.cluster.setReliable(reliable);
    for (const group of this.groups.values()) group.cluster.setReliable(reliable);
  }

  group(gid: number): SimGroup {
    const group = this.groups.get(gid);
    assert(group !== undefined, () => `no group ${gid}`);
    return group;
  }

  /** Runs the world for `ms` virtual milliseconds. */
  run(ms: number): void {
    this.scheduler.runFor(ms);
  }

  /** Runs until `predicate` holds, at most `ms`; returns whether it held. */
  runUntil(predicate: () => boolean, ms: number): boolean {
    return this.scheduler.runUntilTrue(predicate, ms);
  }

  /** The lab's ShutdownGroup: every replica of `gid` crashes (keeping what was durable). */
  shutdownGroup(gid: number): void {
    const cluster = this.group(gid).cluster;
    for (let k = 0; k < cluster.n; k++) cluster.crash(k);
  }

  /** The lab's StartGroup: every stopped replica of `gid` starts from its storage. */
  startGroup(gid: number): void {
    const cluster = this.group(gid).cluster;
    for (let k = 0; k < cluster.n; k++) if (cluster.replicas[k] === null) cluster.start(k);
  }

  /**
   * Cuts (or restores) replica k of `cluster` off from every RPC: calls to it fail after
   * 0–100 ms, as to a crashed replica. Its Raft links are the cluster's own business.
   */
  setReachable(cluster: SimCluster, k: number, reachable: boolean): void {
    let cut = this.#unreachable.get(cluster);
    if (cut === undefined) this.#unreachable.set(cluster, cut = new Set());
    if (reachable) cut.delete(k);
    else cut.add(k);
  }

  /** A fresh client id (ids are never reused). */
  nextClientId(): number {
    return this.#nextClientId++;
  }

  /**
   * One RPC to replica k of `target` with the lab's semantics. At most one of `onReply` and
   * `onFailure` is called; neither when the replica crashed while serving it (the caller's
   * attempt timeout covers that).
   */
  rpc<Request, Response>(
    target: CallTarget<Request, Response>,
    k: number,
    request: Request,
    random: Prng,
    onReply: (response: Response) => void,
    onFailure: () => void,
  ): void {
    const scheduler = this.scheduler;
    const unreliable = this.unreliable;
    // labrpc: a lost request or reply fails the call after the short delay, "as if timeout".
    const delay = unreliable ? random.int(27) : random.float();
    if (unreliable && random.chance(0.1)) return scheduler.at(delay, onFailure);
    scheduler.at(delay, () => {
      const replica = target.cluster.replicas[k];
      if (
        replica === null || replica === undefined || this.#unreachable.get(target.cluster)?.has(k)
      ) {
        return scheduler.at(random.int(100), onFailure);
      }
      const generation = replica.generation;
      target.submit(k, request, (response) => {
        // A replica that crashed, or was cut off, while the request waited sends nothing.
        if (target.cluster.replicas[k]?.generation !== generation) return;
        if (this.#unreachable.get(target.cluster)?.has(k)) return;
        const back = this.unreliable ? random.int(27) : random.float();
        if (this.unreliable && random.chance(0.1)) return scheduler.at(back, onFailure);
        scheduler.at(back, () => onReply(response));
      });
    });
  }

  /**
   * Sends `request` to the group of `target` until a replica gives a final answer, with the
   * production retry logic ({@link OperationAttempt}): leader hints, round robin, back-off.
   * `done` gets the answer, or null once `timeoutMs` passes.
   */
  call<Request, Response extends ServiceReply>(
    target: CallTarget<Request, Response>,
    request: Request,
    settings: CallSettings,
    done: (response: Response | null) => void,
  ): void {
    const scheduler = this.scheduler;
    let finished = false;
    const finish = (response: Response | null) => {
      if (finished) return;
      finished = true;
      done(response);
    };
    if (settings.timeoutMs !== null) scheduler.at(settings.timeoutMs, () => finish(null));
    const attempt = new OperationAttempt<Response>({
      servers: target.cluster.n,
      backoffInitialMs: 20,
      backoffMaxMs: 200,
      random: settings.random,
    }, settings.leader.server);
    driveAttempt(
      scheduler,
      attempt,
      settings.attemptTimeoutMs,
      (server, onReply, onFailure) =>
        this.rpc(target, server, request, settings.random, onReply, onFailure),
      (response) => {
        settings.leader.server = attempt.server;
        finish(response);
      },
      () => finished,
    );
  }

  /** How a group server reaches the master and the other groups: {@link call} with timeouts. */
  neighbours(random: Prng): GroupNeighbours {
    const masterLeader: LeaderGuess = { server: 0 };
    const peerLeaders = new Map<number, LeaderGuess>();
    return {
      queryConfig: (num, timeoutMs, done) => {
        this.call(this.master.target, { type: "query", num }, {
          timeoutMs,
          attemptTimeoutMs: timeoutMs / 2,
          leader: masterLeader,
          random,
        }, (response) => done(response === null ? null : configOf(response)));
      },
      callGroup: (servers, request, timeoutMs, done) => {
        const group = this.#groupNamed(servers);
        if (group === null) return done(null);
        let leader = peerLeaders.get(group.gid);
        if (leader === undefined) peerLeaders.set(group.gid, leader = { server: 0 });
        this.call(group.peerTarget, request, {
          timeoutMs,
          attemptTimeoutMs: timeoutMs / 2,
          leader,
          random,
        }, done);
      },
    };
  }

  /** A shard master client with a fresh client id. */
  newMasterClerk(master: SimMasterGroup = this.master): SimMasterClerk {
    return new SimMasterClerk(this, master, this.nextClientId(), this.random.fork());
  }

  /** A routing KV client with a fresh client id, using `master` for configurations. */
  newClerk(master: SimMasterGroup = this.master): SimShardedClerk {
    return new SimShardedClerk(this, master, this.nextClientId(), this.random.fork());
  }

  /** Persisted bytes over every replica of every group (Challenge1Delete's measure). */
  persistedBytes(): number {
    let total = 0;
    for (const group of this.groups.values()) total += group.persistedBytes();
    return total;
  }

  /** The largest Raft state any group replica persists. */
  maxRaftStateBytes(): number {
    return Math.max(...[...this.groups.values()].map((group) => group.cluster.maxRaftStateBytes()));
  }

  /** The group whose replica names are exactly `servers`, in order, or null. */
  #groupNamed(servers: readonly string[]): SimGroup | null {
    const first = this.#names.get(servers[0] ?? "");
    if (first === undefined) return null;
    const names = first.group.names;
    if (servers.length !== names.length || servers.some((name, k) => names[k] !== name)) {
      return null;
    }
    return first.group;
  }
}

/** One key per shard, found deterministically ("0", "1", … until every shard has one). */
export function keysPerShard(shardCount = SHARDED_SHARD_COUNT): string[] {
  const keys: (string | undefined)[] = Array.from({ length: shardCount }, () => undefined);
  let found = 0;
  for (let i = 0; found < shardCount; i++) {
    const key = String(i);
    const shard = shardOf(key, shardCount);
    if (keys[shard] === undefined) {
      keys[shard] = key;
      found++;
    }
  }
  return keys as string[];
}
