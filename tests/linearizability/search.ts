/**
 * The linearizability search over one key's operations: Wing & Gong's depth-first search with
 * Lowe's memoisation (Lowe, "Testing for linearizability", 2017; the algorithm Porcupine uses).
 * It walks the event list from the front: at a call it tries to linearize that operation next
 * (the register must accept it and the configuration must be new), lifting it out of the list;
 * at a return it has met an operation that must already have taken effect but could not be
 * placed, so it backtracks to the latest choice and tries the next entry instead.
 *
 * Unknown outcomes: such an operation has no return event, so it never forces a backtrack, and
 * the search succeeds once every operation with a known outcome is linearized; those left out
 * never took effect. To keep optional operations from multiplying the search, it only builds
 * "minimal" linearizations, in which an unknown write is immediately followed by an operation
 * that reads the value (a get or an append). Any linearization can be made minimal by dropping
 * the unknown writes that break the rule (the next operation overwrites their effect, or none
 * follows), so this loses no history.
 *
 * Lookahead: after each step it checks that the gets ahead can still read their outputs
 * (#doomedReturn, lookahead.ts). Without it a hot key's search tries every order of the
 * appends in flight before a get rejects them.
 */

import { assert } from "../../src/util/assert.ts";
import type { CompletedGetOperation, Operation } from "./history.ts";
import { EventList, NONE } from "./event_list.ts";
import { FurthestFailure } from "./furthest_failure.ts";
import { LinearizedSet, VisitedConfigurations } from "./linearized_set.ts";
import { BUDGET_CHECK_INTERVAL_STEPS, LOOKAHEAD_ENTRIES_MAX } from "./limits.ts";
import { Lookahead } from "./lookahead.ts";
import { RegisterModel, REJECTED } from "./register_model.ts";
import { EMPTY_STATE, STATE_TABLE_FULL } from "./state_table.ts";

/** When the search must stop: `now()` is compared with `deadline` every few steps. */
export interface SearchDeadline {
  readonly now: () => number;
  readonly deadline: number;
}

/** What the search of one key concluded; `steps` counts loop iterations. */
export type KeySearchResult =
  | { readonly kind: "linearizable"; readonly steps: number }
  | {
    readonly kind: "notLinearizable";
    /** The get whose return is the furthest event the search failed at. */
    readonly blocked: CompletedGetOperation;
    /** True when that return provably ends the shortest illegal prefix (furthest_failure.ts). */
    readonly shortest: boolean;
    /** Values the key held where the search failed to place `blocked`, as far as recorded. */
    readonly heldValues: readonly string[];
    /** True when the search met more distinct values there than `heldValues` lists. */
    readonly moreHeldValues: boolean;
    readonly steps: number;
  }
  | { readonly kind: "gaveUp"; readonly reason: string; readonly steps: number };

/**
 * The order the search numbers operations in: known outcomes first, by call time, so that
 * linearized sets compress well (linearized_set.ts), then unknown outcomes by call time. The
 * event list orders equal-time returns by this number; shortest_prefix.ts relies on that.
 */
export function searchOrder(operations: readonly Operation[]): Operation[] {
  const byCall = (left: Operation, right: Operation): number => left.call - right.call;
  const known = operations.filter((operation) => operation.return !== undefined).sort(byCall);
  const unknown = operations.filter((operation) => operation.return === undefined).sort(byCall);
  return [...known, ...unknown];
}

/**
 * Searches for a linearization of `operations` (all of one key). Operations with an unknown
 * outcome must be writes: an unknown get constrains nothing and is dropped before the search.
 */
export function searchKey(
  operations: readonly Operation[],
  limit: SearchDeadline,
): KeySearchResult {
  return new KeySearch(searchOrder(operations)).run(limit);
}

/** The mutable state of one search: `run` is the loop, the rest are its named steps. */
class KeySearch {
  readonly #operations: readonly Operation[];
  readonly #events: EventList;
  readonly #model: RegisterModel;
  readonly #linearized: LinearizedSet;
  readonly #visited = new VisitedConfigurations();
  readonly #furthest = new FurthestFailure();
  /** Per operation: 1 if its outcome is unknown (it then is a write). */
  readonly #unknown: Uint8Array;
  /** Per operation: 1 if it reads the value (get or append) and so may follow an unknown write. */
  readonly #reads: Uint8Array;
  readonly #ahead: Lookahead;
  // Invariant: #depth === #linearized.size; stack slot k holds the k-th linearized call entry
  // and the state and flag from before it.
  readonly #stackEntries: Int32Array;
  readonly #stackStates: Int32Array;
  readonly #stackFlags: Uint8Array;
  #depth = 0;
  #state = EMPTY_STATE;
  /** 1 when the last operation linearized is an unknown write, so a reader must come next. */
  #afterUnknownWrite = 0;
  /** Operations with a known outcome not yet linearized; the search succeeds at 0. */
  #knownRemaining = 0;

  /** `operations` must be in searchOrder. */
  constructor(operations: readonly Operation[]) {
    const count = operations.length;
    this.#operations = operations;
    this.#events = new EventList(operations);
    this.#model = new RegisterModel(operations);
    this.#ahead = new Lookahead(operations, this.#model);
    this.#unknown = new Uint8Array(count);
    this.#reads = new Uint8Array(count);
    this.#stackEntries = new Int32Array(count);
    this.#stackStates = new Int32Array(count);
    this.#stackFlags = new Uint8Array(count);
    operations.forEach((operation, index) => {
      const unknown = operation.return === undefined;
      assert(!(unknown && operation.kind === "get"), "searchKey: unknown gets must be dropped");
      assert(unknown || this.#knownRemaining === index, "searchKey: known outcomes come first");
      this.#unknown[index] = unknown ? 1 : 0;
      this.#reads[index] = operation.kind === "get" || operation.kind === "append" ? 1 : 0;
      if (!unknown) this.#knownRemaining++;
    });
    this.#linearized = new LinearizedSet(this.#knownRemaining, count - this.#knownRemaining);
  }

  run(limit: SearchDeadline): KeySearchResult {
    let entry = this.#events.first();
    for (let steps = 0;; steps++) {
      if (this.#knownRemaining === 0) return { kind: "linearizable", steps };
      if (steps % BUDGET_CHECK_INTERVAL_STEPS === 0 && limit.now() >= limit.deadline) {
        return { kind: "gaveUp", reason: `the time budget ran out after ${steps} steps`, steps };
      }
      // Some known operation is unlinearized, so its return event is still in the list ahead.
      assert(entry !== NONE, "search: walked off the event list with known operations left");
      if (!this.#events.isCall(entry)) {
        this.#furthest.note(entry, this.#state, true);
        if (this.#depth === 0) return this.#notLinearizable(steps);
        entry = this.#backtrack();
        continue;
      }
      const outcome = this.#tryLinearize(entry);
      if (outcome === "full") {
        return {
          kind: "gaveUp",
          reason: `it reached a memory limit (limits.ts) after ${steps} steps`,
          steps,
        };
      }
      if (outcome === "skipped") {
        entry = this.#events.next(entry);
        continue;
      }
      // A get changes neither the value nor what lies ahead (but itself), so the look that
      // passed before it would pass again; skipping a look only ever costs pruning.
      const wrote = this.#operations[this.#events.operationAt(entry)]?.kind !== "get";
      entry = wrote && this.#doomedReturn() ? this.#backtrack() : this.#events.first();
    }
  }

  /** Linearizes the operation of call entry `entry` next, if the register and memo allow. */
  #tryLinearize(entry: number): "linearized" | "skipped" | "full" {
    const index = this.#events.operationAt(entry);
    if (this.#afterUnknownWrite === 1 && this.#reads[index] === 0) return "skipped";
    const next = this.#model.step(this.#state, index);
    if (next === STATE_TABLE_FULL) return "full";
    if (next === REJECTED) return "skipped";
    const unknownWrite = this.#unknown[index]!;
    this.#linearized.add(index);
    const visit = this.#visited.add(this.#linearized, next * 2 + unknownWrite);
    if (visit !== "added") {
      this.#linearized.remove(index);
      return visit === "full" ? "full" : "skipped";
    }
    this.#stackEntries[this.#depth] = entry;
    this.#stackStates[this.#depth] = this.#state;
    this.#stackFlags[this.#depth] = this.#afterUnknownWrite;
    this.#depth++;
    this.#state = next;
    this.#afterUnknownWrite = unknownWrite;
    this.#events.lift(entry);
    if (unknownWrite === 0) this.#knownRemaining--;
    return "linearized";
  }

  /**
   * True when a get ahead can never be placed from the current configuration (lookahead.ts);
   * the failure is noted at that get's return. Until a get is linearized, only calls ahead of
   * its return can be, so those are what the register may still do before it. Looks at most
   * LOOKAHEAD_ENTRIES_MAX entries ahead.
   */
  #doomedReturn(): boolean {
    const ahead = this.#ahead;
    ahead.clear(this.#state);
    let entry = this.#events.first();
    let standing = true;
    for (let seen = 0; entry !== NONE && seen < LOOKAHEAD_ENTRIES_MAX; seen++) {
      const index = this.#events.operationAt(entry);
      if (this.#events.isCall(entry)) {
        ahead.called(index);
      } else if (!ahead.mayRead(index)) {
        this.#furthest.note(entry, this.#state, standing);
        return true;
      } else {
        standing = false;
      }
      entry = this.#events.next(entry);
    }
    return false;
  }

  /** Undoes the latest linearization; returns the entry to try after it. */
  #backtrack(): number {
    assert(this.#depth > 0, "search: backtrack with nothing linearized");
    this.#depth--;
    const entry = this.#stackEntries[this.#depth]!;
    const index = this.#events.operationAt(entry);
    this.#state = this.#stackStates[this.#depth]!;
    this.#afterUnknownWrite = this.#stackFlags[this.#depth]!;
    this.#linearized.remove(index);
    this.#events.unlift(entry);
    if (this.#unknown[index] === 0) this.#knownRemaining++;
    assert(this.#depth === this.#linearized.size, "search: stack and linearized set disagree");
    return this.#events.next(entry);
  }

  #notLinearizable(steps: number): KeySearchResult {
    const furthest = this.#furthest;
    assert(furthest.entry !== NONE, "search: failed without reaching a return");
    const blocked = this.#operations[this.#events.operationAt(furthest.entry)];
    // A write can always be placed, so only a get can be furthest (furthest_failure.ts).
    assert(
      blocked?.kind === "get" && blocked.return !== undefined,
      "search: the furthest failure must be at a get",
    );
    return {
      kind: "notLinearizable",
      blocked,
      shortest: furthest.standing,
      heldValues: furthest.states.map((state) => this.#model.value(state)),
      moreHeldValues: furthest.more,
      steps,
    };
  }
}
