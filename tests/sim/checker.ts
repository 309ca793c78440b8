/**
 * Safety checkers run after every simulator event (Raft paper Figure 3):
 * - Election Safety: at most one leader per term.
 * - Log Matching: two logs with an entry of the same index and term agree on everything before it
 *   (checked inductively: each (index, term) pair always follows the same term and carries the same data).
 * - State Machine Safety: a committed entry never changes or disappears, and every replica
 *   applies the same command at each index, in order, without gaps.
 * - Leader Completeness: a new leader holds every entry committed before its term.
 */

import type { Raft } from "../../src/raft/core/raft.ts";
import { asIndex, type Entry } from "../../src/raft/core/types.ts";
import type { ApplyObserver } from "./state_machine.ts";
import { decodeCommand } from "./state_machine.ts";

/** A safety violation: the message says what broke, where. */
export class SafetyViolation extends Error {
  override readonly name = "SafetyViolation";
}

function check(condition: unknown, message: () => string): asserts condition {
  if (!condition) throw new SafetyViolation(message());
}

interface LogCursor {
  checkedTo: number;
  termAtCheckedTo: number;
  commitCheckedTo: number;
  leaderCheckedTerm: number;
}

/** Cross-replica safety state for one simulation. */
export class SafetyChecker implements ApplyObserver {
  readonly #leaderOfTerm = new Map<number, number>();
  /** (index, term) → [previous term, data]. */
  readonly #entryAt = new Map<string, { previousTerm: number; value: string | null }>();
  /** Index → term of the entry committed there. */
  readonly committedTerm: number[] = [0];
  /**
   * Index → the term in which it was first seen committed (the committing leader's term: a
   * leader's commit index moves before any follower hears of it).
   */
  readonly commitTerm: number[] = [0];
  /** Index → command applied there (shared by all replicas). */
  readonly appliedValue: (string | null | undefined)[] = [undefined];
  maxCommitted = 0;
  /**
   * How many replicas hold (index, term) on disk; set by the cluster. A committed entry must
   * be durable on a majority the moment it commits, or a crash could lose it.
   */
  durableCopies: ((index: number, term: number) => number) | null = null;
  quorum = 1;
  readonly #cursors = new Map<number, LogCursor>();

  /** Checks one replica's core after an event. */
  checkNode(node: number, raft: Raft): void {
    raft.invariants();
    const term = raft.term;
    if (raft.role === "leader") {
      const other = this.#leaderOfTerm.get(term);
      check(
        other === undefined || other === node,
        () => `two leaders in term ${term}: nodes ${other} and ${node}`,
      );
      this.#leaderOfTerm.set(term, node);
    }
    const cursor = this.#cursor(node);
    this.#checkLog(node, raft, cursor);
    this.#checkCommitted(node, raft, cursor);
    if (raft.role === "leader" && cursor.leaderCheckedTerm !== term) {
      cursor.leaderCheckedTerm = term;
      this.#checkLeaderCompleteness(node, raft);
    }
  }

  /** A replica restarted: its in-memory cursors start again from its recovered log. */
  onRestart(node: number): void {
    this.#cursors.delete(node);
  }

  onApply(node: number, index: number, value: string | null): void {
    const known = this.appliedValue[index];
    check(
      known === undefined || known === value,
      () =>
        `apply conflict at index ${index}: node ${node} applied ${JSON.stringify(value)}, another ${
          JSON.stringify(known)
        }`,
    );
    this.appliedValue[index] = value;
  }

  onRestore(node: number, index: number, values: readonly (string | null)[]): void {
    for (let k = 1; k <= index; k++) this.onApply(node, k, values[k - 1] ?? null);
  }

  #cursor(node: number): LogCursor {
    let cursor = this.#cursors.get(node);
    if (cursor === undefined) {
      cursor = { checkedTo: 0, termAtCheckedTo: 0, commitCheckedTo: 0, leaderCheckedTerm: -1 };
      this.#cursors.set(node, cursor);
    }
    return cursor;
  }

  #checkLog(node: number, raft: Raft, cursor: LogCursor): void {
    const log = raft.log;
    const first = log.firstIndex();
    let from = cursor.checkedTo + 1;
    if (
      cursor.checkedTo >= first &&
      (cursor.checkedTo > log.lastIndex() ||
        log.term(asIndex(cursor.checkedTo)) !== cursor.termAtCheckedTo)
    ) {
      from = first; // The log was truncated or replaced since the last check: re-check it all.
    }
    from = Math.max(from, first);
    for (let index = from; index <= log.lastIndex(); index++) {
      const entry = log.entry(asIndex(index));
      const previousTerm = log.term(asIndex(index - 1)) ?? -1;
      const key = `${index}:${entry.term}`;
      const value = entryValue(entry);
      const seen = this.#entryAt.get(key);
      if (seen === undefined) {
        this.#entryAt.set(key, { previousTerm, value });
      } else {
        check(
          seen.value === value,
          () =>
            `log matching: node ${node} has ${JSON.stringify(value)} at ${key}, another ${
              JSON.stringify(seen.value)
            }`,
        );
        check(
          previousTerm === -1 || seen.previousTerm === -1 || seen.previousTerm === previousTerm,
          () =>
            `log matching: node ${node} has term ${previousTerm} before ${key}, another ${seen.previousTerm}`,
        );
      }
    }
    cursor.checkedTo = log.lastIndex();
    cursor.termAtCheckedTo = log.lastTerm();
  }

  #checkCommitted(node: number, raft: Raft, cursor: LogCursor): void {
    const log = raft.log;
    // Committed entries still in the log must be the ones committed everywhere.
    const from = Math.max(log.firstIndex(), Math.min(cursor.commitCheckedTo + 1, raft.commit + 1));
    for (let index = from; index <= raft.commit; index++) {
      const term = log.term(asIndex(index))!;
      const known = this.committedTerm[index];
      check(
        known === undefined || known === term,
        () =>
          `committed entry ${index} changed: node ${node} has term ${term}, committed term ${known}`,
      );
      if (known === undefined && this.durableCopies !== null) {
        const copies = this.durableCopies(index, term);
        check(
          copies >= this.quorum,
          () =>
            `entry ${index} (term ${term}) committed by node ${node} is durable on only ${copies} replicas`,
        );
      }
      if (known === undefined) this.commitTerm[index] = raft.term;
      this.committedTerm[index] = term;
    }
    cursor.commitCheckedTo = raft.commit;
    if (raft.commit > this.maxCommitted) this.maxCommitted = raft.commit;
  }

  /**
   * Leader Completeness (§5.4.3): an entry committed in term t is in the log of every leader
   * of a term after t. A leader of an *earlier* term may still be elected after that commit
   * (its votes were cast before the voters moved on; seed 106833), so only commits of earlier
   * terms bind it.
   */
  #checkLeaderCompleteness(node: number, raft: Raft): void {
    const log = raft.log;
    for (let index = log.firstIndex(); index <= this.maxCommitted; index++) {
      const committed = this.committedTerm[index];
      const commitTerm = this.commitTerm[index];
      if (committed === undefined || commitTerm === undefined || commitTerm >= raft.term) continue;
      const term = log.term(asIndex(index));
      check(
        term === committed,
        () =>
          `leader completeness: leader ${node} of term ${raft.term} has term ${term} at index ${index}, committed in term ${commitTerm} with term ${committed}`,
      );
    }
  }
}

function entryValue(entry: Entry): string | null {
  return entry.type === "command" ? decodeCommand(entry.data) : null;
}
