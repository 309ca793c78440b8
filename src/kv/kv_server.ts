/**
 * The KV server of one replica (ARCHITECTURE.md, "KV service"): client requests checked and
 * turned into commands for the generic {@link ReplicatedService} shell, which proposes them,
 * answers each when its entry applies at the proposed index and term, serves gets through
 * ReadIndex, bounds what is pending, and snapshots the KV state (sessions included).
 *
 * No clock, socket or file is touched here: time comes from `now`, I/O from the Raft node's
 * storage and transport, so the simulator runs this exact code.
 */

import type { RaftNode, RaftNodeOptions } from "../raft/node.ts";
import {
  type Outcome,
  ReplicatedService,
  type ServiceCounters,
} from "../service/replicated_service.ts";
import { assert } from "../util/assert.ts";
import { decodeCommand, encodeCommand, type KvReply } from "./command.ts";
import { KvState } from "./kv_state.ts";
import { type KvRequest, type KvResponse, serveKvRequest, serviceFailure } from "./protocol.ts";

/** What a KV server is built from. */
export interface KvServerOptions {
  /** The Raft node's settings, storage, transport and fatal-error handler. */
  readonly raft: Omit<RaftNodeOptions, "stateMachine" | "onRead" | "onApplied">;
  readonly shardCount: number;
  /** Snapshot when the persisted Raft state passes this many bytes; -1 never snapshots. */
  readonly snapshotThresholdBytes: number;
  /** Wall-clock milliseconds, stamped into writes as log time (session expiry). */
  readonly now: () => number;
}

/** One replica of the replicated KV service. */
export class KvServer {
  state: KvState;
  readonly service: ReplicatedService<KvReply>;
  readonly #now: () => number;

  constructor(options: KvServerOptions) {
    this.#now = options.now;
    this.state = new KvState(options.shardCount);
    this.service = new ReplicatedService<KvReply>({
      raft: options.raft,
      snapshotThresholdBytes: options.snapshotThresholdBytes,
      machine: {
        apply: (bytes) => {
          const decoded = decodeCommand(bytes);
          assert(
            decoded.ok,
            () => `A log entry is not a KV command: ${decoded.ok ? "" : decoded.reason}`,
          );
          return this.state.apply(decoded.command);
        },
        snapshot: () => this.state.snapshot(),
        restore: (data) => (this.state = KvState.restore(data)),
      },
    });
  }

  get node(): RaftNode {
    return this.service.node;
  }

  get appliedIndex(): number {
    return this.service.appliedIndex;
  }

  get counters(): Readonly<ServiceCounters> {
    return this.service.counters;
  }

  get pendingWrites(): number {
    return this.service.pendingProposals;
  }

  /** Serves one client request; the promise settles when the answer is known. */
  handle(request: KvRequest): Promise<KvResponse> {
    return new Promise((resolve) => this.submit(request, resolve));
  }

  /** Serves one client request and calls `respond` exactly once, possibly synchronously. */
  submit(request: KvRequest, respond: (response: KvResponse) => void): void {
    serveKvRequest(request, this.#now, {
      read: (key, answer) =>
        this.service.read(() => this.state.get(key), (outcome) => answer(readResponse(outcome))),
      write: (command, answer) =>
        this.service.propose(
          encodeCommand(command),
          (outcome) => answer(outcome.ok ? outcome.value : serviceFailure(outcome.error)),
        ),
    }, respond);
  }

  tick(): void {
    this.service.tick();
  }

  stop(): void {
    this.service.stop();
  }
}

function readResponse(outcome: Outcome<string>): KvResponse {
  return outcome.ok ? { ok: true, value: outcome.value } : serviceFailure(outcome.error);
}
