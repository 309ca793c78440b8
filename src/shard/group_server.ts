/**
 * The server of one replica of a shard-aware replica group: the shell around the pure
 * {@link GroupState}. Client gets and writes are checked, proposed and answered through the
 * replicated-service shell (a key whose shard this group does not serve at apply time gets
 * `wrongGroup`, changing nothing). On the leader, a background loop about every 100 ms:
 *
 * 1. asks the shard master for the next configuration and proposes it (one at a time, never
 *    skipping one; the state machine refuses it while shards of the current one still move);
 * 2. pulls each shard it gained from its previous owner (any replica of that group answers
 *    from its applied state) and proposes `installShard`;
 * 3. asks the previous owner to delete each shard it installed and, once it has, proposes
 *    `gcDone`.
 *
 * Other groups call `pullShard` and `deleteShard` on this server over the same RPC port.
 */

import { checkSizes } from "../kv/command.ts";
import type { GroupTransport } from "../kv/clerk.ts";
import { callGroup, TimeoutError } from "../kv/clerk.ts";
import {
  commandFromRequest,
  type KvRequest,
  type KvResponse,
  type KvResponseError,
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
import { assert } from "../util/assert.ts";
import type { Logger } from "../util/logger.ts";
import type { Random } from "../util/prng.ts";
import {
  decodeGroupCommand,
  encodeGroupCommand,
  type GroupCommand,
  type GroupReply,
  type MigrationError,
} from "./group_command.ts";
import { GroupState, type ShardTask } from "./group_state.ts";
import { configToJson, type ShardConfig } from "./shard_config.ts";

/** Requests between groups, on the groups' RPC port. */
export type GroupPeerRequest =
  | { readonly type: "pullShard"; readonly configNum: number; readonly shard: number }
  | { readonly type: "deleteShard"; readonly configNum: number; readonly shard: number };

/** Answers to {@link GroupPeerRequest}s. */
export type GroupPeerResponse =
  | { readonly ok: true; readonly data?: Uint8Array }
  | { readonly ok: false; readonly error: MigrationError | ServiceError };

/** How this server reaches the shard master and the other groups. */
export interface GroupNeighbours {
  /** The shard master's configuration `num` (the latest if `num` is past it). */
  queryConfig(num: number, timeoutMs: number): Promise<ShardConfig>;
  /** A transport to the replicas named `servers` (replica ids of a configuration), or null if unknown. */
  group(servers: readonly string[]): GroupTransport<GroupPeerRequest, GroupPeerResponse> | null;
}

/** What a group server is built from. */
export interface GroupServerOptions {
  readonly raft: ServiceRaftOptions;
  readonly gid: number;
  readonly shardCount: number;
  readonly snapshotThresholdBytes: number;
  readonly now: () => number;
  readonly neighbours: GroupNeighbours;
  readonly random: Random;
  readonly logger: Logger;
  /** Ticks between two passes of the background loop (about 100 ms). */
  readonly pollTicks: number;
}

/** Deadline of one call to the shard master or another group. */
const NEIGHBOUR_CALL_TIMEOUT_MS = 1_000;

/** One replica of a shard-aware replica group. */
export class GroupServer {
  state: GroupState;
  readonly service: ReplicatedService<GroupReply>;
  readonly #options: GroupServerOptions;
  #ticks = 0;
  #looping = false;
  #stopped = false;

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

  /** A client request: get, put, append or delete. */
  handle(request: KvRequest): Promise<KvResponse> {
    return new Promise((respond) => {
      const sizeError = checkSizes(
        request.key,
        request.type === "get" || request.type === "delete" ? null : request.value,
      );
      if (sizeError !== null) return respond({ ok: false, error: sizeError });
      if (request.type === "get") {
        const key = request.key;
        return this.service.read(() => this.state.get(key), (outcome) => {
          if (!outcome.ok) return respond(serviceFailure(outcome.error));
          respond(
            outcome.value.ok
              ? { ok: true, value: outcome.value.value }
              : { ok: false, error: outcome.value.error },
          );
        });
      }
      const timeMs = this.#options.now();
      const command = commandFromRequest(request, timeMs);
      this.service.propose(encodeGroupCommand({ type: "kv", command }), (outcome) => {
        if (!outcome.ok) return respond(serviceFailure(outcome.error));
        const reply = outcome.value;
        respond(
          reply.ok ? { ok: true } : {
            ok: false,
            error: reply.error as KvResponseError,
          },
        );
      });
    });
  }

  /** A request from another group. */
  async handlePeer(request: GroupPeerRequest): Promise<GroupPeerResponse> {
    switch (request.type) {
      case "pullShard": {
        // Any replica answers from its applied state: a shard being handed off is frozen.
        const exported = this.state.exportShard(request.shard, request.configNum);
        return exported.ok
          ? { ok: true, data: exported.data }
          : { ok: false, error: exported.error };
      }
      case "deleteShard": {
        const outcome = await this.#propose({
          type: "deleteShard",
          configNum: request.configNum,
          shard: request.shard,
        });
        if (!outcome.ok) return { ok: false, error: outcome.error };
        return outcome.value.ok
          ? { ok: true }
          : { ok: false, error: outcome.value.error as MigrationError };
      }
    }
  }

  tick(): void {
    this.#ticks++;
    this.service.tick();
    if (this.#ticks % this.#options.pollTicks === 0 && !this.#looping && this.service.isLeader()) {
      this.#looping = true;
      this.#backgroundPass().catch((error) => {
        this.#options.logger.warn("shard background pass failed", {
          error: error instanceof Error ? error.message : String(error),
        });
      }).finally(() => (this.#looping = false));
    }
  }

  stop(): void {
    this.#stopped = true;
    this.service.stop();
  }

  /** For /status: the configuration number and the state of every shard held here. */
  statusFields(): Record<string, unknown> {
    return { config: this.state.currentConfig().num, shards: this.state.shardStates() };
  }

  async #backgroundPass(): Promise<void> {
    await this.#nextConfig();
    await Promise.all(this.state.shardsToPull().map((task) => this.#pull(task)));
    await Promise.all(this.state.shardsToConfirm().map((task) => this.#confirm(task)));
  }

  async #nextConfig(): Promise<void> {
    if (this.#stopped || !this.state.canAcceptNextConfig()) return;
    const wanted = this.state.currentConfig().num + 1;
    let next: ShardConfig;
    try {
      next = await this.#options.neighbours.queryConfig(wanted, NEIGHBOUR_CALL_TIMEOUT_MS);
    } catch (error) {
      if (error instanceof TimeoutError) return; // The shard master is unreachable: try again next pass.
      throw error;
    }
    if (next.num !== wanted) return;
    await this.#propose({ type: "config", config: configToJson(next) });
  }

  async #pull(task: ShardTask): Promise<void> {
    const transport = this.#options.neighbours.group(task.servers);
    if (transport === null) return;
    const response = await this.#call(transport, {
      type: "pullShard",
      configNum: task.configNum,
      shard: task.shard,
    });
    if (response === null || !response.ok || response.data === undefined) return;
    await this.#propose({
      type: "installShard",
      configNum: task.configNum,
      shard: task.shard,
      data: response.data,
    });
  }

  async #confirm(task: ShardTask): Promise<void> {
    const transport = this.#options.neighbours.group(task.servers);
    if (transport === null) return;
    const response = await this.#call(transport, {
      type: "deleteShard",
      configNum: task.configNum,
      shard: task.shard,
    });
    if (response === null) return;
    // "handedOff": the old owner already deleted it (our earlier confirmation's answer was lost).
    if (response.ok || response.error.code === "handedOff") {
      await this.#propose({ type: "gcDone", configNum: task.configNum, shard: task.shard });
    }
  }

  async #call(
    transport: GroupTransport<GroupPeerRequest, GroupPeerResponse>,
    request: GroupPeerRequest,
  ): Promise<GroupPeerResponse | null> {
    try {
      return await callGroup(transport, request, {
        what: request.type,
        timeoutMs: NEIGHBOUR_CALL_TIMEOUT_MS,
        attemptTimeoutMs: NEIGHBOUR_CALL_TIMEOUT_MS / 2,
        random: this.#options.random,
        leader: { server: 0 },
      });
    } catch (error) {
      if (error instanceof TimeoutError) return null;
      throw error;
    }
  }

  #propose(command: GroupCommand): Promise<Outcome<GroupReply>> {
    return new Promise((resolve) => this.service.propose(encodeGroupCommand(command), resolve));
  }
}
