/**
 * The shard master server of one replica: requests checked (types, then the checks that do not
 * depend on the current config) and proposed through the generic replicated-service shell;
 * queries served by ReadIndex. The state machine (master_state.ts) decides everything else,
 * identically on every replica.
 */

import type { RaftNode } from "../raft/node.ts";
import {
  type Outcome,
  ReplicatedService,
  type ServiceCounters,
  type ServiceError,
} from "../service/replicated_service.ts";
import type { ServiceRaftOptions } from "../server/replica_process.ts";
import { assert } from "../util/assert.ts";
import {
  commandProblem,
  decodeMasterCommand,
  encodeMasterCommand,
  type MasterCommand,
  type MasterReply,
} from "./master_command.ts";
import type { MasterRequest, MasterResponse, MasterResponseError } from "./master_protocol.ts";
import { ShardMasterState } from "./master_state.ts";
import { configToJson } from "./shard_config.ts";

/** What a shard master server is built from. */
export interface ShardMasterServerOptions {
  readonly raft: ServiceRaftOptions;
  readonly shardCount: number;
  /** Snapshot when the persisted Raft state passes this many bytes; -1 never snapshots. */
  readonly snapshotThresholdBytes: number;
  /** Wall-clock milliseconds, stamped into commands as log time (session expiry). */
  readonly now: () => number;
}

/** One replica of the shard master group. */
export class ShardMasterServer {
  state: ShardMasterState;
  readonly service: ReplicatedService<MasterReply>;
  readonly #now: () => number;
  readonly #shardCount: number;

  constructor(options: ShardMasterServerOptions) {
    this.#now = options.now;
    this.#shardCount = options.shardCount;
    this.state = new ShardMasterState(options.shardCount);
    this.service = new ReplicatedService<MasterReply>({
      raft: options.raft,
      snapshotThresholdBytes: options.snapshotThresholdBytes,
      machine: {
        apply: (bytes) => {
          const decoded = decodeMasterCommand(bytes);
          assert(
            decoded.ok,
            () => `A log entry is not a shard master command: ${decoded.ok ? "" : decoded.reason}`,
          );
          return this.state.apply(decoded.command);
        },
        snapshot: () => this.state.snapshot(),
        restore: (data) => (this.state = ShardMasterState.restore(data)),
      },
    });
  }

  get node(): RaftNode {
    return this.service.node;
  }

  get counters(): Readonly<ServiceCounters> {
    return this.service.counters;
  }

  handle(request: MasterRequest): Promise<MasterResponse> {
    return new Promise((resolve) => this.submit(request, resolve));
  }

  /** Serves one request and calls `respond` exactly once, possibly synchronously. */
  submit(request: MasterRequest, respond: (response: MasterResponse) => void): void {
    if (request.type === "query") {
      const num = request.num;
      return this.service.read(
        () => configToJson(this.state.query(num)),
        (outcome: Outcome<ReturnType<typeof configToJson>>) =>
          respond(
            outcome.ok
              ? { ok: true, num: outcome.value.num, config: outcome.value }
              : failure(outcome.error),
          ),
      );
    }
    const timeMs = this.#now();
    const command: MasterCommand = request.type === "join"
      ? {
        type: "join",
        groups: request.groups,
        clientId: request.clientId,
        seq: request.seq,
        timeMs,
      }
      : request.type === "leave"
      ? { type: "leave", gids: request.gids, clientId: request.clientId, seq: request.seq, timeMs }
      : {
        type: "move",
        shard: request.shard,
        gid: request.gid,
        clientId: request.clientId,
        seq: request.seq,
        timeMs,
      };
    const problem = commandProblem(command, this.#shardCount);
    if (problem !== null) return respond({ ok: false, error: problem });
    this.service.propose(encodeMasterCommand(command), (outcome) => {
      if (!outcome.ok) return respond(failure(outcome.error));
      const reply = outcome.value;
      respond(reply.ok ? { ok: true, num: reply.num } : { ok: false, error: reply.error });
    });
  }

  tick(): void {
    this.service.tick();
  }

  stop(): void {
    this.service.stop();
  }
}

function failure(error: ServiceError): MasterResponse {
  return { ok: false, error: toMasterError(error) };
}

function toMasterError(error: ServiceError): MasterResponseError {
  switch (error.code) {
    case "notLeader":
    case "busy":
      return error;
    case "tooLarge":
      return {
        code: "badRequest",
        message: `the command is ${error.bytes} bytes; the limit is ${error.maxBytes}`,
      };
  }
}
