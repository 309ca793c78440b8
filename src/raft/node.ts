/**
 * The driver of one Raft replica: it owns the core, storage, transport and state machine,
 * and runs the ready loop (Raft thesis §10.2.1 ordering):
 *
 *   take a ready → send the leader's replication messages → persist (one fdatasync)
 *   → send the other messages → restore snapshot / apply entries → serve reads → advance.
 *
 * It is synchronous apart from the storage callback, so the same code runs under the
 * deterministic simulator (virtual time, memory storage) and in the `node` process (timers,
 * file storage, TCP). Only one persist is outstanding; everything the core produces while
 * it runs is batched into the next one (group commit).
 */

import { assert } from "../util/assert.ts";
import { Raft, type ReadIndexResult, type TransferResult } from "./core/raft.ts";
import type { RaftConfig } from "./core/raft_config.ts";
import type { RaftStatus, Ready } from "./core/ready.ts";
import { LEADER_MESSAGE, type Message } from "./core/messages.ts";
import type {
  Entry,
  Index,
  NodeId,
  NotLeader,
  ProposeResult,
  ReadContext,
  Snapshot,
  Term,
} from "./core/types.ts";
import type { Storage } from "./storage.ts";

/**
 * The replicated state machine. `apply` is called once per committed entry, in index order,
 * on every replica; `restore` replaces the whole state with a snapshot's. Both are synchronous
 * and deterministic: the same entries give the same state everywhere.
 */
export interface StateMachine {
  apply(entry: Entry): void;
  restore(snapshot: Snapshot): void;
}

/** Sends messages to peers. Delivery is best effort: Raft tolerates loss, delay and reordering. */
export interface Transport {
  send(messages: readonly Message[]): void;
}

/** The outcome of a ReadIndex request once it can be served, or why it cannot. */
export type ReadOutcome = { readonly ok: true; readonly index: Index } | {
  readonly ok: false;
  readonly error: NotLeader;
};

/** Everything a node is built from. */
export interface RaftNodeOptions {
  readonly config: RaftConfig;
  readonly storage: Storage;
  readonly transport: Transport;
  readonly stateMachine: StateMachine;
  /** Called when a read may be served (the state machine has applied its read index) or failed. */
  readonly onRead?: (context: ReadContext, outcome: ReadOutcome) => void;
  /** Called when storage fails: the node has stopped and the process must not go on. */
  readonly onFatal?: (error: Error) => void;
  /**
   * Called after each batch is applied and advanced: the state machine is exactly at
   * `core.applied`, so this is where an application decides to snapshot (`compact`).
   */
  readonly onApplied?: () => void;
}

/** One running replica. */
export class RaftNode {
  readonly core: Raft;
  readonly #storage: Storage;
  readonly #transport: Transport;
  readonly #stateMachine: StateMachine;
  readonly #onRead: (context: ReadContext, outcome: ReadOutcome) => void;
  readonly #onFatal: (error: Error) => void;
  readonly #onApplied: () => void;
  /** Reads confirmed by the leader, waiting for the applied index to reach theirs (FIFO, indexes ascending). */
  readonly #readsAwaitingApply: { context: ReadContext; index: Index }[] = [];
  #compaction: Snapshot | null = null;
  /** Term and vote as storage holds them: a ready that changes neither needs no fsync for its hard state. */
  #durableTerm: Term;
  #durableVote: NodeId | null;
  #writing = false;
  #pumping = false;
  #pumpAgain = false;
  #stopped = false;

  constructor(options: RaftNodeOptions) {
    const persisted = options.storage.load();
    this.#durableTerm = persisted.hardState.term;
    this.#durableVote = persisted.hardState.votedFor;
    this.core = new Raft(options.config, persisted);
    this.#storage = options.storage;
    this.#transport = options.transport;
    this.#stateMachine = options.stateMachine;
    this.#onRead = options.onRead ?? (() => {});
    this.#onFatal = options.onFatal ?? ((error) => {
      throw error;
    });
    this.#onApplied = options.onApplied ?? (() => {});
    if (persisted.snapshot !== null) this.#stateMachine.restore(persisted.snapshot);
  }

  /** True once stopped (by `stop()` or a storage failure); a stopped node ignores every input. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** One tick of logical time. */
  tick(): void {
    if (this.#stopped) return;
    this.core.tick();
    this.#pump();
  }

  /** A message from a peer. */
  receive(message: Message): void {
    if (this.#stopped) return;
    this.core.step(message);
    this.#pump();
  }

  /** A batch of messages (one network read): stepped together, then one ready loop. */
  receiveAll(messages: readonly Message[]): void {
    if (this.#stopped) return;
    for (const message of messages) this.core.step(message);
    this.#pump();
  }

  /** Proposes a command; see {@link Raft.propose}. */
  propose(data: Uint8Array): ProposeResult {
    if (this.#stopped) return { ok: false, error: { code: "notLeader", leaderHint: null } };
    const result = this.core.propose(data);
    if (result.ok) this.#pump();
    return result;
  }

  /** Starts a linearizable read; `onRead(context, …)` reports when it may be served. */
  readIndex(context: ReadContext): ReadIndexResult {
    if (this.#stopped) return { ok: false, error: { code: "notLeader", leaderHint: null } };
    const result = this.core.readIndex(context);
    this.#pump();
    return result;
  }

  /** Starts a leadership transfer; see {@link Raft.transferLeadership}. */
  transferLeadership(to: RaftStatus["id"]): TransferResult {
    if (this.#stopped) return { ok: false, error: { code: "notLeader", leaderHint: null } };
    const result = this.core.transferLeadership(to);
    this.#pump();
    return result;
  }

  /**
   * The application took a snapshot of its state at `index` (≤ the applied index). It is
   * persisted with the next batch, and only then is the log compacted.
   */
  compact(index: Index, data: Uint8Array): void {
    if (this.#stopped) return;
    assert(
      index <= this.core.applied,
      () => `Cannot snapshot at ${index}: applied is ${this.core.applied}`,
    );
    if (index <= this.core.log.snapshotIndex) return;
    const term = this.core.log.term(index);
    assert(term !== undefined, () => `Cannot snapshot at ${index}: no such entry`);
    if (this.#compaction === null || this.#compaction.meta.index < index) {
      this.#compaction = { meta: { index, term }, data };
    }
    this.#pump();
  }

  status(): RaftStatus {
    return this.core.status();
  }

  /** Stops processing at once (a crash in the simulator; shutdown in the process). */
  stop(): void {
    this.#stopped = true;
  }

  /** Runs the ready loop until there is nothing to do or a write is outstanding; re-entrant safe. */
  #pump(): void {
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#pumpAgain = false;
        this.#startWrite();
      } while (this.#pumpAgain && !this.#stopped);
    } finally {
      this.#pumping = false;
    }
  }

  #startWrite(): void {
    if (this.#writing || this.#stopped) return;
    const compaction = this.#compaction;
    if (!this.core.hasReady() && compaction === null) return;
    const ready = this.core.ready();
    this.#compaction = null;
    const hardState = ready.hardState;
    const termOrVoteChanged = hardState !== null &&
      (hardState.term !== this.#durableTerm || hardState.votedFor !== this.#durableVote);
    if (
      ready.entries.length === 0 && ready.snapshot === null && compaction === null &&
      !termOrVoteChanged
    ) {
      // Nothing here must be durable: at most the commit index moved, and a restarted node
      // learns that again from its leader (it re-applies from its snapshot anyway). Skipping
      // the write saves an fdatasync per commit on the path of every write (etcd's MustSync).
      // The commit index is persisted with the next hard state that must be written.
      this.#writing = true;
      this.#finish(ready, ready.messages, null);
      this.#pumpAgain = true;
      return;
    }
    // Thesis §10.2.1: the leader may replicate before its own write is durable; it only counts
    // itself towards commitment once `advance` reports the entries persisted.
    const early: Message[] = [];
    const late: Message[] = [];
    for (const message of ready.messages) {
      (LEADER_MESSAGE[message.type] ? early : late).push(message);
    }
    if (early.length > 0) this.#transport.send(early);
    this.#writing = true;
    const batch = {
      hardState: ready.hardState,
      entries: ready.entries,
      received: ready.snapshot,
      compaction,
    };
    this.#storage.write(batch, (error) => {
      if (this.#stopped) return;
      if (error !== null) {
        this.#stopped = true;
        this.#onFatal(error);
        return;
      }
      if (hardState !== null) {
        this.#durableTerm = hardState.term;
        this.#durableVote = hardState.votedFor;
      }
      this.#finish(ready, late, compaction);
      this.#pump();
    });
  }

  #finish(ready: Ready, late: readonly Message[], compaction: Snapshot | null): void {
    this.#writing = false;
    if (late.length > 0) this.#transport.send(late);
    if (ready.snapshot !== null) this.#stateMachine.restore(ready.snapshot);
    for (const entry of ready.committedEntries) this.#stateMachine.apply(entry);
    this.core.advance(ready);
    if (compaction !== null) this.core.compact(compaction.meta.index, compaction.data);
    for (const read of ready.readStates) {
      if (read.ok) this.#readsAwaitingApply.push({ context: read.context, index: read.index });
      else this.#onRead(read.context, { ok: false, error: read.error });
    }
    this.#serveReads();
    this.#onApplied();
  }

  #serveReads(): void {
    const applied = this.core.applied;
    let served = 0;
    for (const read of this.#readsAwaitingApply) {
      if (read.index > applied) break;
      this.#onRead(read.context, { ok: true, index: read.index });
      served++;
    }
    if (served > 0) this.#readsAwaitingApply.splice(0, served);
  }
}
