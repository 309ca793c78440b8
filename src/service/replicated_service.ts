/**
 * The shell every replicated service runs in (the KV server, the shard master): it turns
 * requests into Raft proposals and ReadIndex reads, and applied entries into replies
 * (ARCHITECTURE.md: "The KV server and the shard master are thin shells around them").
 *
 * - A proposal is answered when its entry applies at the index *and term* it was proposed
 *   at; if another entry lands there, or leadership is lost, the caller gets `notLeader`
 *   (the command may still commit; a client's retry is deduplicated by its session).
 * - A read goes through ReadIndex (no log entry) and is served once the state machine has
 *   applied the read index.
 * - Pending proposals and reads are bounded: a full service answers `busy`.
 * - When the persisted Raft state passes the threshold, the state machine is snapshotted and
 *   the log compacted, one snapshot at a time.
 *
 * Answers go to callbacks, possibly synchronously, so that the simulator's synchronous event
 * loop sees each answer at the virtual instant it is given; `handle`-style promise wrappers
 * live in the services. No clock, socket or file is touched here.
 */

import { RaftNode, type RaftNodeOptions, type ReadOutcome } from "../raft/node.ts";
import type { Entry, Index, NotLeader, Snapshot, Term } from "../raft/core/types.ts";
import { assert } from "../util/assert.ts";

/** Most proposals waiting for their entry to apply. */
export const PENDING_PROPOSALS_MAX = 16_384;
/** Most reads waiting for their read index. */
export const PENDING_READS_MAX = 16_384;
/** Ticks a proposal may wait before the caller is told to retry (leadership may be stuck). */
export const PROPOSAL_TIMEOUT_TICKS = 400;

/** The deterministic state machine a service replicates. */
export interface ServiceMachine<Reply> {
  /** Applies a committed command (as proposed) and returns the reply for its proposer. */
  apply(command: Uint8Array): Reply;
  snapshot(): Uint8Array;
  restore(data: Uint8Array): void;
}

/** Why a proposal or read could not be answered by the state machine. */
export type ServiceError =
  | NotLeader
  | { readonly code: "busy"; readonly message: string }
  | { readonly code: "tooLarge"; readonly bytes: number; readonly maxBytes: number };

/** The answer to a proposal or a read. */
export type Outcome<T> = { readonly ok: true; readonly value: T } | {
  readonly ok: false;
  readonly error: ServiceError;
};

/** What a service is built from. */
export interface ReplicatedServiceOptions<Reply> {
  /** The Raft node's settings, storage, transport and fatal-error handler. */
  readonly raft: Omit<RaftNodeOptions, "stateMachine" | "onRead" | "onApplied">;
  readonly machine: ServiceMachine<Reply>;
  /** Snapshot when the persisted Raft state passes this many bytes; -1 never snapshots. */
  readonly snapshotThresholdBytes: number;
}

interface PendingProposal<Reply> {
  readonly term: Term;
  readonly respond: (outcome: Outcome<Reply>) => void;
  readonly proposedTick: number;
}

interface PendingRead {
  readonly serve: () => void;
  readonly fail: (error: ServiceError) => void;
}

/** Counters for metrics. */
export interface ServiceCounters {
  proposals: number;
  writesApplied: number;
  readsServed: number;
  snapshots: number;
  snapshotsInstalled: number;
  busy: number;
}

/** One replica of a replicated service. */
export class ReplicatedService<Reply> {
  readonly node: RaftNode;
  /** Last index applied to the state machine. */
  appliedIndex = 0;
  readonly counters: ServiceCounters = {
    proposals: 0,
    writesApplied: 0,
    readsServed: 0,
    snapshots: 0,
    snapshotsInstalled: 0,
    busy: 0,
  };
  readonly #options: ReplicatedServiceOptions<Reply>;
  readonly #pendingProposals = new Map<number, PendingProposal<Reply>>();
  readonly #pendingReads = new Map<number, PendingRead>();
  #nextReadContext = 1;
  /** Index of the last snapshot asked for; it is in flight while above the log's snapshot index. */
  #snapshotRequested = 0;
  #ticks = 0;

  constructor(options: ReplicatedServiceOptions<Reply>) {
    this.#options = options;
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

  get pendingProposals(): number {
    return this.#pendingProposals.size;
  }

  /** True when this replica leads its group (requests elsewhere get `notLeader`). */
  isLeader(): boolean {
    return this.node.core.role === "leader";
  }

  /** Proposes `command`; `respond` gets the state machine's reply once it applies. */
  propose(command: Uint8Array, respond: (outcome: Outcome<Reply>) => void): void {
    if (!this.isLeader()) return respond({ ok: false, error: this.notLeader() });
    if (this.#pendingProposals.size >= PENDING_PROPOSALS_MAX) {
      return respond(this.#busy("too many pending writes"));
    }
    const result = this.node.propose(command);
    if (result.ok) {
      this.counters.proposals++;
      this.#pendingProposals.set(result.index, {
        term: result.term,
        respond,
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
        return respond({ ok: false, error });
    }
  }

  /** A linearizable read: `serve` runs once the state machine has applied the read index. */
  read<T>(serve: () => T, respond: (outcome: Outcome<T>) => void): void {
    if (!this.isLeader()) return respond({ ok: false, error: this.notLeader() });
    if (this.#pendingReads.size >= PENDING_READS_MAX) {
      return respond(this.#busy("too many pending reads"));
    }
    const context = this.#nextReadContext++;
    this.#pendingReads.set(context, {
      serve: () => respond({ ok: true, value: serve() }),
      fail: (error) => respond({ ok: false, error }),
    });
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

  /** One tick: drives Raft and fails proposals that can no longer be answered here. */
  tick(): void {
    this.#ticks++;
    this.node.tick();
    if (!this.isLeader()) {
      this.#failAllProposals();
    } else if (this.#pendingProposals.size > 0) {
      for (const [index, pending] of this.#pendingProposals) {
        if (this.#ticks - pending.proposedTick < PROPOSAL_TIMEOUT_TICKS) break; // Map order is proposal order.
        this.#pendingProposals.delete(index);
        pending.respond({ ok: false, error: this.notLeader() });
      }
    }
  }

  /** Stops the node; pending requests are told to go elsewhere. */
  stop(): void {
    this.node.stop();
    this.#failAllProposals();
    for (const read of this.#pendingReads.values()) read.fail(this.notLeader());
    this.#pendingReads.clear();
  }

  /** `notLeader` with the leader this replica believes in. */
  notLeader(): NotLeader {
    const leader = this.node.core.leader;
    return { code: "notLeader", leaderHint: leader === this.node.core.id ? null : leader };
  }

  #onRead(context: number, outcome: ReadOutcome): void {
    const pending = this.#pendingReads.get(context);
    if (pending === undefined) return;
    this.#pendingReads.delete(context);
    if (!outcome.ok) return pending.fail(outcome.error);
    assert(
      this.appliedIndex >= outcome.index,
      () => `Read served at ${this.appliedIndex} before its index ${outcome.index}`,
    );
    this.counters.readsServed++;
    pending.serve();
  }

  #apply(entry: Entry): void {
    assert(
      entry.index === this.appliedIndex + 1,
      () => `Applied ${entry.index} after ${this.appliedIndex}`,
    );
    this.appliedIndex = entry.index;
    const pending = this.#pendingProposals.get(entry.index);
    if (pending !== undefined) this.#pendingProposals.delete(entry.index);
    if (entry.type === "noop") {
      pending?.respond({ ok: false, error: this.notLeader() });
      return;
    }
    const reply = this.#options.machine.apply(entry.data);
    this.counters.writesApplied++;
    if (pending === undefined) return;
    // Only the entry we proposed (same index and term) answers our caller; anything else means
    // our proposal was overwritten by another leader's entry.
    pending.respond(
      pending.term === entry.term
        ? { ok: true, value: reply }
        : { ok: false, error: this.notLeader() },
    );
  }

  #restore(snapshot: Snapshot): void {
    this.counters.snapshotsInstalled++;
    this.#options.machine.restore(snapshot.data);
    this.appliedIndex = snapshot.meta.index;
    for (const [index, pending] of this.#pendingProposals) {
      if (index > snapshot.meta.index) continue;
      this.#pendingProposals.delete(index);
      pending.respond({ ok: false, error: this.notLeader() });
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
    this.node.compact(this.appliedIndex as Index, this.#options.machine.snapshot());
  }

  #failAllProposals(): void {
    if (this.#pendingProposals.size === 0) return;
    const error = this.notLeader();
    for (const pending of this.#pendingProposals.values()) pending.respond({ ok: false, error });
    this.#pendingProposals.clear();
  }

  #busy(message: string): { ok: false; error: ServiceError } {
    this.counters.busy++;
    return { ok: false, error: { code: "busy", message } };
  }
}
