/**
 * The server of one replica of a shard-aware replica group: the shell around the pure
 * {@link GroupState}. Client gets and writes are checked, proposed and answered through the
 * replicated-service shell (a key whose shard this group does not serve at apply time gets
 * `wrongGroup`, changing nothing). On the leader, about every 100 ms, a background pass starts
 * each of these calls that is not already in flight, each on its own:
 *
 * 1. asks the shard master for the next configuration and proposes it (one at a time, never
 *    skipping one; the state machine refuses it while shards of the current one still move);
 * 2. pulls each shard it gained from its previous owner (any replica of that group answers
 *    from its applied state), part after part, proposing `installShard` for each;
 * 3. asks the previous owner to delete each shard it installed and, once it has, proposes
 *    `gcDone`.
 *
 * Other groups call `pullShard` and `deleteShard` on this server over the same RPC port.
 */

import {
  type KvRequest,
  type KvResponse,
  type KvResponseError,
  serveKvRequest,
  serviceFailure,
} from "../kv/protocol.ts";
import type { RaftNode } from "../raft/node.ts";
import {
  type Outcome,
  ReplicatedService,
  type ServiceCounters,
  type ServiceError,
} from "../service/replicated_service.ts";
import type { ServiceRaftOptions } from "../server/replica_process.ts";
import { assert, assertNever } from "../util/assert.ts";
import type { Logger } from "../util/logger.ts";
import {
  decodeGroupCommand,
  encodeGroupCommand,
  type GroupCommand,
  type GroupReply,
  type MigrationError,
  refuseStep,
} from "./group_command.ts";
import { GroupState, type ShardTask } from "./group_state.ts";
import { configToJson, type ShardConfig } from "./shard_config.ts";

/** Requests between groups, on the groups' RPC port. */
export type GroupPeerRequest =
  | {
    readonly type: "pullShard";
    readonly configNum: number;
    readonly shard: number;
    readonly part: number;
  }
  | { readonly type: "deleteShard"; readonly configNum: number; readonly shard: number };

/** Answers to {@link GroupPeerRequest}s. */
export type GroupPeerResponse =
  /** A pull's answer carries one part and the part count; a delete's carries nothing. */
  | {
    readonly ok: true;
    readonly data?: Uint8Array;
    readonly parts?: number;
    readonly cut?: number;
  }
  | { readonly ok: false; readonly error: MigrationError | ServiceError };

/**
 * How this server reaches the shard master and the other groups. Callback-shaped so the
 * same shell runs on real sockets (group_replica.ts wraps the async clerks) and inside the
 * deterministic simulator, whose virtual clock cannot wait for promises. Each callback is
 * called exactly once.
 */
export interface GroupNeighbours {
  /**
   * The shard master's configuration `num` (the latest if `num` is past it), or null when the
   * master could not be reached within `timeoutMs`.
   */
  queryConfig(
    num: number,
    timeoutMs: number,
    done: (config: ShardConfig | null) => void,
  ): void;
  /**
   * Sends `request` to the group whose replicas are `servers` (replica ids of a configuration)
   * until one gives a final answer; null when none did within `timeoutMs` or the servers are
   * unknown.
   */
  callGroup(
    servers: readonly string[],
    request: GroupPeerRequest,
    timeoutMs: number,
    done: (response: GroupPeerResponse | null) => void,
  ): void;
}

/** What a group server is built from. */
export interface GroupServerOptions {
  readonly raft: ServiceRaftOptions;
  readonly gid: number;
  readonly shardCount: number;
  readonly snapshotThresholdBytes: number;
  readonly now: () => number;
  readonly neighbours: GroupNeighbours;
  readonly logger: Logger;
  /** Ticks between two passes of the background loop (about 100 ms). */
  readonly pollTicks: number;
}

/**
 * What the leader's background work did on this replica, for /metrics. A proposal counts only
 * when it applied and changed the state (`changed: true`), so a duplicate counts once.
 */
export interface MigrationCounters {
  /** installShard parts proposed here that applied. */
  partsInstalled: number;
  /** Payload bytes of those parts. */
  bytesInstalled: number;
  /** Pulls that got no part: no answer in time, a refusal (e.g. notReady), a malformed answer. */
  pullFailures: number;
  /** gcDone proposals that applied: the previous owner confirmed it deleted a shard. */
  gcConfirmed: number;
  /** Configs proposed here that applied. */
  configChanges: number;
}

/** Deadline of one call to the shard master or another group. */
const NEIGHBOUR_CALL_TIMEOUT_MS = 1_000;

/** One replica of a shard-aware replica group. */
export class GroupServer {
  state: GroupState;
  readonly service: ReplicatedService<GroupReply>;
  readonly #options: GroupServerOptions;
  #ticks = 0;
  /** Background calls in flight, by what they are for ("config", "pull 3@7", "gc 3@7"). */
  readonly #inFlight = new Set<string>();
  #stopped = false;
  readonly #migrationCounters: MigrationCounters = {
    partsInstalled: 0,
    bytesInstalled: 0,
    pullFailures: 0,
    gcConfirmed: 0,
    configChanges: 0,
  };

  constructor(options: GroupServerOptions) {
    this.#options = options;
    this.state = new GroupState(options.gid, options.shardCount);
    this.service = new ReplicatedService<GroupReply>({
      raft: options.raft,
      snapshotThresholdBytes: options.snapshotThresholdBytes,
      machine: {
        apply: (bytes) => {
          const decoded = decodeGroupCommand(bytes);
          assert(
            decoded.ok,
            () => `A log entry is not a group command: ${decoded.ok ? "" : decoded.reason}`,
          );
          return this.state.apply(decoded.command);
        },
        snapshot: () => this.state.snapshot(),
        restore: (data) => {
          const restored = GroupState.restore(data);
          assert(
            restored.gid === options.gid,
            () => `A snapshot of group ${restored.gid} restored into group ${options.gid}`,
          );
          this.state = restored;
        },
      },
    });
  }

  get node(): RaftNode {
    return this.service.node;
  }

  get counters(): Readonly<ServiceCounters> {
    return this.service.counters;
  }

  /** Counts of the leader's background work done here (they reset when the process restarts). */
  get migrationCounters(): Readonly<MigrationCounters> {
    return this.#migrationCounters;
  }

  /** A client request: get, put, append or delete. */
  handle(request: KvRequest): Promise<KvResponse> {
    return new Promise((resolve) => this.submit(request, resolve));
  }

  /** Serves one client request; calls `respond` exactly once, possibly synchronously. */
  submit(request: KvRequest, respond: (response: KvResponse) => void): void {
    serveKvRequest(request, this.#options.now, {
      read: (key, answer) =>
        this.service.read(() => this.state.get(key), (outcome) => {
          if (!outcome.ok) return answer(serviceFailure(outcome.error));
          answer(
            outcome.value.ok
              ? { ok: true, value: outcome.value.value }
              : { ok: false, error: outcome.value.error },
          );
        }),
      write: (command, answer) =>
        this.service.propose(encodeGroupCommand({ type: "kv", command }), (outcome) => {
          if (!outcome.ok) return answer(serviceFailure(outcome.error));
          const reply = outcome.value;
          answer(reply.ok ? { ok: true } : { ok: false, error: reply.error as KvResponseError });
        }),
    }, respond);
  }

  /** A request from another group. */
  handlePeer(request: GroupPeerRequest): Promise<GroupPeerResponse> {
    return new Promise((resolve) => this.submitPeer(request, resolve));
  }

  /** Serves a request from another group; calls `respond` exactly once, possibly synchronously. */
  submitPeer(request: GroupPeerRequest, respond: (response: GroupPeerResponse) => void): void {
    switch (request.type) {
      case "pullShard": {
        // Any replica answers from its applied state: a shard being handed off is frozen.
        const exported = this.state.exportShard(request.shard, request.configNum, request.part);
        return respond(
          exported.ok
            ? { ok: true, data: exported.data, parts: exported.parts, cut: exported.cut }
            : { ok: false, error: exported.error },
        );
      }
      case "deleteShard":
        return this.#propose(
          { type: "deleteShard", configNum: request.configNum, shard: request.shard },
          (outcome) => {
            if (!outcome.ok) return respond({ ok: false, error: outcome.error });
            respond(
              outcome.value.ok
                ? { ok: true }
                : { ok: false, error: outcome.value.error as MigrationError },
            );
          },
        );
      default:
        return assertNever(request, "group peer request");
    }
  }

  tick(): void {
    this.#ticks++;
    this.service.tick();
    if (this.#ticks % this.#options.pollTicks === 0 && this.service.isLeader()) {
      this.#backgroundPass();
    }
  }

  stop(): void {
    this.#stopped = true;
    this.service.stop();
  }

  /** For /status: the configuration number and the state of every shard held here. */
  statusFields(): Record<string, unknown> {
    return {
      config: this.state.currentConfig().num,
      shards: this.state.shardStates(),
      pendingGc: this.state.pendingGcCount(),
    };
  }

  /**
   * One pass of the leader's loop: start each background call that is not already in flight:
   * the next config, every pull, every GC confirmation. Each task runs on its own, so a call to
   * an unreachable group (which takes the whole call timeout to give up) delays only its own
   * shard, never the others nor the next config. Each step reads the state afresh, and the
   * state machine judges every proposal again, so a stale or duplicate call is harmless.
   */
  #backgroundPass(): void {
    this.#launch("config", (done) => this.#nextConfig(done));
    for (const task of this.state.shardsToPull()) {
      this.#launch(`pull ${task.shard}@${task.configNum}`, (done) => this.#pull(task, done));
    }
    for (const task of this.state.shardsToConfirm()) {
      this.#launch(`gc ${task.shard}@${task.configNum}`, (done) => this.#confirm(task, done));
    }
  }

  /** Runs `step` unless a step under `key` is still in flight. */
  #launch(key: string, step: (done: () => void) => void): void {
    if (this.#inFlight.has(key)) return;
    this.#inFlight.add(key);
    let called = false;
    step(() => {
      assert(!called, () => `background step ${key} called back twice`);
      called = true;
      this.#inFlight.delete(key);
    });
  }

  #nextConfig(done: () => void): void {
    if (this.#stopped || !this.state.canAcceptNextConfig()) return done();
    const wanted = this.state.currentConfig().num + 1;
    this.#options.neighbours.queryConfig(wanted, NEIGHBOUR_CALL_TIMEOUT_MS, (next) => {
      // Unreachable master (null) or no newer config yet: try again next pass.
      if (this.#stopped || next === null || next.num !== wanted) return done();
      this.#propose({ type: "config", config: configToJson(next) }, (outcome) => {
        if (appliedWithChange(outcome)) this.#migrationCounters.configChanges++;
        done();
      });
    });
  }

  #pull(task: ShardTask, done: () => void): void {
    if (this.#stopped) return done();
    this.#options.neighbours.callGroup(
      task.servers,
      { type: "pullShard", configNum: task.configNum, shard: task.shard, part: task.part },
      NEIGHBOUR_CALL_TIMEOUT_MS,
      (response) => {
        if (this.#stopped) return done();
        if (
          response === null || !response.ok || response.data === undefined ||
          response.parts === undefined || response.cut === undefined
        ) {
          this.#migrationCounters.pullFailures++;
          return done();
        }
        const bytes = response.data.byteLength;
        this.#propose({
          type: "installShard",
          configNum: task.configNum,
          shard: task.shard,
          part: task.part,
          parts: response.parts,
          cut: response.cut,
          data: response.data,
        }, (outcome) => {
          if (appliedWithChange(outcome)) {
            this.#migrationCounters.partsInstalled++;
            this.#migrationCounters.bytesInstalled += bytes;
          }
          // A part went in: pull the next one now rather than on the next pass.
          const next = outcome.ok && outcome.value.ok
            ? this.state.shardsToPull().find((other) =>
              other.shard === task.shard && other.configNum === task.configNum &&
              other.part > task.part
            )
            : undefined;
          if (next === undefined) return done();
          this.#pull(next, done);
        });
      },
    );
  }

  #confirm(task: ShardTask, done: () => void): void {
    if (this.#stopped) return done();
    this.#options.neighbours.callGroup(
      task.servers,
      {
        type: "deleteShard",
        configNum: task.configNum,
        shard: task.shard,
      },
      NEIGHBOUR_CALL_TIMEOUT_MS,
      (response) => {
        if (this.#stopped || response === null) return done();
        // ok also when the old owner deleted it already (an earlier answer was lost).
        if (response.ok) {
          return this.#propose(
            { type: "gcDone", configNum: task.configNum, shard: task.shard },
            (outcome) => {
              if (appliedWithChange(outcome)) this.#migrationCounters.gcConfirmed++;
              done();
            },
          );
        }
        done();
      },
    );
  }

  #propose(command: GroupCommand, respond: (outcome: Outcome<GroupReply>) => void): void {
    const bytes = encodeGroupCommand(command);
    if (command.type !== "kv") {
      // A migration step carries what another group (or the network) sent. Check it decodes
      // as every replica's apply will, so a bad one is refused here and never reaches the
      // log, where each replica would meet an entry it cannot apply.
      const decoded = decodeGroupCommand(bytes);
      if (!decoded.ok) {
        this.#options.logger.warn("refused a malformed migration step", {
          step: command.type,
          reason: decoded.reason,
        });
        return respond({
          ok: true,
          value: refuseStep({ code: "badCommand", reason: decoded.reason }),
        });
      }
    }
    this.service.propose(bytes, respond);
  }
}

/** True when a migration proposal applied and changed the state (not a duplicate, not refused). */
function appliedWithChange(outcome: Outcome<GroupReply>): boolean {
  return outcome.ok && outcome.value.ok && "changed" in outcome.value && outcome.value.changed;
}
