/**
 * The KV server of one replica: a thin shell that turns client requests into Raft proposals
 * and ReadIndex reads, and applied entries into replies (ARCHITECTURE.md, "KV service").
 *
 * - A write is proposed and answered when its entry applies at the index *and term* it was
 *   proposed at; if another entry lands there, or leadership is lost, the client gets
 *   `notLeader` (the write may still commit; the client's retry is deduplicated by session).
 * - A get goes through ReadIndex: no log entry per read.
 * - Pending proposals and reads are bounded: a full server answers `busy`.
 * - When the persisted Raft state passes the threshold, the state (sessions included) is
 *   snapshotted and the log compacted.
 *
 * No clock, socket or file is touched here: time comes from `now`, I/O from the RaftNode's
 * storage and transport, so the simulator runs this exact code.
 */

import { RaftNode, type RaftNodeOptions, type ReadOutcome } from "../raft/node.ts";
import type { Entry, Index, Snapshot, Term } from "../raft/core/types.ts";
import { assert } from "../util/assert.ts";
import { checkSizes, decodeCommand, encodeCommand, type KvCommand } from "./command.ts";
import { KvState } from "./kv_state.ts";
import type { KvRequest, KvResponse } from "./protocol.ts";

/** Most writes waiting for their entry to apply. */
export const PENDING_PROPOSALS_MAX = 16_384;
/** Most reads waiting for their read index. */
export const PENDING_READS_MAX = 16_384;
/** Ticks a proposal may wait before the client is told to retry (leadership may be stuck). */
export const PROPOSAL_TIMEOUT_TICKS = 400;

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

interface PendingWrite {
  readonly term: Term;
  readonly resolve: (response: KvResponse) => void;
  readonly proposedTick: number;
}

interface PendingRead {
  readonly key: string;
  readonly resolve: (response: KvResponse) => void;
}

/** One replica of the replicated KV service. */
export class KvServer {
  readonly node: RaftNode;
  state: KvState;
  /** Last index applied to `state`. */
  appliedIndex = 0;
  readonly #options: KvServerOptions;
  readonly #pendingWrites = new Map<number, PendingWrite>();
  readonly #pendingReads = new Map<number, PendingRead>();
  #nextReadContext = 1;
  /** Index of the last snapshot asked for; it is in flight while above the log's snapshot index. */
  #snapshotRequested = 0;
  #ticks = 0;
  /** Counters for metrics: writes applied, reads served, snapshots taken. */
  readonly counters = {
    proposals: 0,
    writesApplied: 0,
    readsServed: 0,
    snapshots: 0,
    snapshotsInstalled: 0,
    busy: 0,
  };

  constructor(options: KvServerOptions) {
    this.#options = options;
    this.state = new KvState(options.shardCount);
    this.node = new RaftNode({
      ...options.raft,
      stateMachine: {
        apply: (entry) => this.#apply(entry),
        restore: (snapshot) => this.#restore(snapshot),
      },
      onRead: (context, outcome) => this.#onRead(context, outcome),
      onApplied: () => this.#maybeSnapshot(),
    });
  }

  /** Serves one client request; the promise settles when the answer is known. */
  handle(request: KvRequest): Promise<KvResponse> {
    return new Promise((resolve) => this.submit(request, resolve));
  }

  /**
   * Serves one client request and calls `respond` exactly once with the answer, possibly
   * synchronously. (Callbacks rather than promises so that the simulator, whose event loop is
   * synchronous, sees each answer at the virtual instant it is given.)
   */
  submit(request: KvRequest, respond: (response: KvResponse) => void): void {
    if (this.node.core.role !== "leader") return respond(this.#notLeader());
    if (request.type === "get") return this.#read(request.key, respond);
    const sizeError = checkSizes(request.key, request.type === "delete" ? null : request.value);
    if (sizeError !== null) return respond({ ok: false, error: sizeError });
    if (this.#pendingWrites.size >= PENDING_PROPOSALS_MAX) {
      return respond(this.#busy("too many pending writes"));
    }
    const timeMs = this.#options.now();
    const command: KvCommand = request.type === "delete"
      ? { type: "delete", key: request.key, clientId: request.clientId, seq: request.seq, timeMs }
      : {
        type: request.type,
        key: request.key,
        value: request.value,
        clientId: request.clientId,
        seq: request.seq,
        timeMs,
      };
    const result = this.node.propose(encodeCommand(command));
    if (result.ok) {
      this.counters.proposals++;
      this.#pendingWrites.set(result.index, {
        term: result.term,
        resolve: respond,
        proposedTick: this.#ticks,
      });
      return;
    }
    const error = result.error;
    switch (error.code) {
      case "notLeader":
        return respond({ ok: false, error });
      case "transferring":
        return respond({ ok: false, error: { code: "notLeader", leaderHint: error.to } });
      case "busy":
        return respond(this.#busy(`${error.uncommittedBytes} bytes await commitment`));
      case "tooLarge":
        return respond({
          ok: false,
          error: { code: "valueTooLarge", bytes: error.bytes, maxBytes: error.maxBytes },
        });
    }
  }

  /** One tick: drives Raft and fails requests that can no longer be answered here. */
  tick(): void {
    this.#ticks++;
    this.node.tick();
    if (this.node.core.role !== "leader") {
      this.#failAllWrites();
    } else if (this.#pendingWrites.size > 0) {
      for (const [index, pending] of this.#pendingWrites) {
        if (this.#ticks - pending.proposedTick < PROPOSAL_TIMEOUT_TICKS) break; // Map order is proposal order.
        this.#pendingWrites.delete(index);
        pending.resolve(this.#notLeader());
      }
    }
  }

  /** Stops the node; pending requests are told to go elsewhere. */
  stop(): void {
    this.node.stop();
    this.#failAllWrites();
    for (const read of this.#pendingReads.values()) read.resolve(this.#notLeader());
    this.#pendingReads.clear();
  }

  get pendingWrites(): number {
    return this.#pendingWrites.size;
  }

  #read(key: string, respond: (response: KvResponse) => void): void {
    const sizeError = checkSizes(key, null);
    if (sizeError !== null) return respond({ ok: false, error: sizeError });
    if (this.#pendingReads.size >= PENDING_READS_MAX) {
      return respond(this.#busy("too many pending reads"));
    }
    const context = this.#nextReadContext++;
    this.#pendingReads.set(context, { key, resolve: respond });
    const result = this.node.readIndex(context);
    // A refused read may already have been answered (and removed) by a synchronous callback.
    if (!result.ok && this.#pendingReads.delete(context)) {
      respond(
        result.error.code === "busy"
          ? this.#busy("too many pending reads")
          : { ok: false, error: result.error },
      );
    }
  }

  #onRead(context: number, outcome: ReadOutcome): void {
    const pending = this.#pendingReads.get(context);
    if (pending === undefined) return;
    this.#pendingReads.delete(context);
    if (!outcome.ok) {
      pending.resolve({ ok: false, error: outcome.error });
      return;
    }
    assert(
      this.appliedIndex >= outcome.index,
      () => `Read served at ${this.appliedIndex} before its index ${outcome.index}`,
    );
    this.counters.readsServed++;
    pending.resolve({ ok: true, value: this.state.get(pending.key) });
  }

  #apply(entry: Entry): void {
    assert(
      entry.index === this.appliedIndex + 1,
      () => `KV applied ${entry.index} after ${this.appliedIndex}`,
    );
    this.appliedIndex = entry.index;
    const pending = this.#pendingWrites.get(entry.index);
    if (pending !== undefined) this.#pendingWrites.delete(entry.index);
    if (entry.type === "noop") {
      pending?.resolve(this.#notLeader());
      return;
    }
    const decoded = decodeCommand(entry.data);
    assert(
      decoded.ok,
      () => `Entry ${entry.index} is not a KV command: ${decoded.ok ? "" : decoded.reason}`,
    );
    const reply = this.state.apply(decoded.command);
    this.counters.writesApplied++;
    if (pending === undefined) return;
    // Only the entry we proposed (same index and term) answers our client; anything else means
    // our proposal was overwritten by another leader's entry.
    pending.resolve(pending.term === entry.term ? reply : this.#notLeader());
  }

  #restore(snapshot: Snapshot): void {
    this.counters.snapshotsInstalled++;
    this.state = KvState.restore(snapshot.data);
    this.appliedIndex = snapshot.meta.index;
    for (const [index, pending] of this.#pendingWrites) {
      if (index > snapshot.meta.index) continue;
      this.#pendingWrites.delete(index);
      pending.resolve(this.#notLeader());
    }
  }

  #maybeSnapshot(): void {
    const threshold = this.#options.snapshotThresholdBytes;
    if (threshold < 0) return;
    if (this.#options.raft.storage.raftStateBytes() < threshold) return;
    if (this.appliedIndex <= this.node.core.log.snapshotIndex) return;
    // One snapshot at a time: until the last one is durable the log still looks long.
    if (this.#snapshotRequested > this.node.core.log.snapshotIndex) return;
    this.#snapshotRequested = this.appliedIndex;
    this.counters.snapshots++;
    this.node.compact(this.appliedIndex as Index, this.state.snapshot());
  }

  #failAllWrites(): void {
    if (this.#pendingWrites.size === 0) return;
    const response = this.#notLeader();
    for (const pending of this.#pendingWrites.values()) pending.resolve(response);
    this.#pendingWrites.clear();
  }

  #notLeader(): KvResponse {
    const leader = this.node.core.leader;
    return {
      ok: false,
      error: { code: "notLeader", leaderHint: leader === this.node.core.id ? null : leader },
    };
  }

  #busy(message: string): KvResponse {
    this.counters.busy++;
    return { ok: false, error: { code: "busy", message } };
  }
}
