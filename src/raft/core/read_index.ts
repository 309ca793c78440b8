/**
 * ReadIndex (Raft thesis §6.4): a leader serves a linearizable read without a log entry by
 * (1) having committed an entry of its own term, (2) recording its commit index as the read
 * index, (3) confirming with a heartbeat round that a quorum still follows it, and then
 * (4) letting the application serve the read once it has applied up to the read index.
 *
 * Reads that arrive between two heartbeat rounds share the next round, so a burst of reads
 * costs one round of messages.
 */

import { assert } from "../../util/assert.ts";
import { PENDING_READS_MAX } from "./limits.ts";
import type { Index, NotLeader, ReadContext, ReadState } from "./types.ts";

interface PendingRead {
  readonly context: ReadContext;
  readonly index: Index;
  /** The heartbeat round a quorum must acknowledge before the read may be served. */
  readonly round: number;
}

/** The leader's queue of reads awaiting confirmation. */
export class ReadIndexQueue {
  /** Reads that arrived before the leader committed an entry of its term. */
  #waitingForCommit: ReadContext[] = [];
  /** Reads with a read index, in round order. */
  #pending: PendingRead[] = [];
  /** The last heartbeat round sent. */
  round = 0;
  /** A read needs a round that has not been sent yet. */
  needsRound = false;

  get size(): number {
    return this.#waitingForCommit.length + this.#pending.length;
  }

  /** Adds a read; returns false when the queue is full (the caller answers busy). */
  add(context: ReadContext, committedInTerm: boolean, commit: Index): boolean {
    if (this.size >= PENDING_READS_MAX) return false;
    if (!committedInTerm) {
      this.#waitingForCommit.push(context);
      return true;
    }
    this.#pending.push({ context, index: commit, round: this.round + 1 });
    this.needsRound = true;
    return true;
  }

  /** The leader committed an entry of its term: reads that waited for it get `commit` as index. */
  onCommittedInTerm(commit: Index): void {
    if (this.#waitingForCommit.length === 0) return;
    for (const context of this.#waitingForCommit) {
      this.#pending.push({ context, index: commit, round: this.round + 1 });
    }
    this.#waitingForCommit = [];
    this.needsRound = true;
  }

  /** Starts a new heartbeat round; returns its number. */
  startRound(): number {
    this.round++;
    this.needsRound = false;
    return this.round;
  }

  /** A quorum acknowledged every round up to `round`: releases the reads it confirms. */
  release(round: number, out: ReadState[]): void {
    assert(
      round <= this.round,
      () => `Round ${round} acknowledged before it was sent (${this.round})`,
    );
    let released = 0;
    while (released < this.#pending.length && this.#pending[released]!.round <= round) {
      const read = this.#pending[released]!;
      out.push({ ok: true, context: read.context, index: read.index });
      released++;
    }
    if (released > 0) this.#pending.splice(0, released);
  }

  /** Leadership is lost: every read fails with `error`. */
  failAll(error: NotLeader, out: ReadState[]): void {
    for (const context of this.#waitingForCommit) out.push({ ok: false, context, error });
    for (const read of this.#pending) out.push({ ok: false, context: read.context, error });
    this.#waitingForCommit = [];
    this.#pending = [];
    this.needsRound = false;
  }
}
