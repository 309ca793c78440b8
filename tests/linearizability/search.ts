/**
 * The linearizability search over one key's operations: Wing & Gong's depth-first search with
 * Lowe's memoisation (Lowe, "Testing for linearizability", 2017; the same algorithm Porcupine
 * uses). It walks the event list from the front: at a call it tries to linearize that operation
 * next (the register must accept it and the configuration must be new), lifting it out of the
 * list; at a return it has found an operation that must already have taken effect but could not
 * be placed, so it backtracks to the latest choice and tries the next entry instead.
 *
 * Unknown outcomes: such an operation has no return event, so it never forces a backtrack, and
 * the search succeeds once every operation with a known outcome is linearized; those left out
 * never took effect. To keep optional operations from multiplying the search, it only ever
 * builds "minimal" linearizations, in which an unknown write is immediately followed by an
 * operation that reads the value (a get or an append). Any linearization can be made minimal by
 * dropping the unknown writes that break that rule (the next operation overwrites their effect,
 * or nothing follows them), so this loses no history.
 */

import { assert } from "../../src/util/assert.ts";
import type { Operation } from "./history.ts";
import { EventList, NONE } from "./event_list.ts";
import { LinearizedSet, VisitedConfigurations } from "./linearized_set.ts";
import { BUDGET_CHECK_INTERVAL_STEPS, REPORTED_VALUES_MAX } from "./limits.ts";
import { RegisterModel, REJECTED } from "./register_model.ts";
import { EMPTY_STATE, STATE_TABLE_FULL } from "./state_table.ts";

/** When the search must stop: `now()` is compared with `deadline` every few steps. */
export interface SearchDeadline {
  readonly now: () => number;
  readonly deadline: number;
}

/** What the search of one key concluded. */
export type KeySearchResult =
  | { readonly kind: "linearizable"; readonly steps: number }
  | {
    readonly kind: "notLinearizable";
    /** The operation (a get) whose return event was the furthest the search reached. */
    readonly blocked: Operation;
    /** Values the key held each time the search stood at that return, as far as recorded. */
    readonly heldValues: readonly string[];
    /** True when the search met more distinct values there than `heldValues` lists. */
    readonly moreHeldValues: boolean;
    readonly steps: number;
  }
  | { readonly kind: "gaveUp"; readonly reason: string; readonly steps: number };

/**
 * Searches for a linearization of `operations` (all of one key). Operations with an unknown
 * outcome must be writes: an unknown get constrains nothing and is dropped before the search.
 */
export function searchKey(
  operations: readonly Operation[],
  limit: SearchDeadline,
): KeySearchResult {
  const search = new KeySearch(operations);
  return search.run(limit);
}

/** The mutable state of one search; `run` is the loop, the rest are its named steps. */
class KeySearch {
  readonly #operations: readonly Operation[];
  readonly #events: EventList;
  readonly #model: RegisterModel;
  readonly #linearized: LinearizedSet;
  readonly #visited = new VisitedConfigurations();
  /** Per operation: 1 if its outcome is unknown (it then is a write). */
  readonly #unknown: Uint8Array;
  /** Per operation: 1 if it reads the value (get or append) and so may follow an unknown write. */
  readonly #reads: Uint8Array;
  // Invariant: #depth === #linearized.size; entry k of the stacks is the k-th linearized call
  // entry and the state and flag before it.
  readonly #stackEntries: Int32Array;
  readonly #stackStates: Int32Array;
  readonly #stackFlags: Uint8Array;
  #depth = 0;
  #state = EMPTY_STATE;
  /** 1 when the last operation linearized is an unknown write, so a reader must come next. */
  #afterUnknownWrite = 0;
  /** Operations with a known outcome not yet linearized; the search succeeds at 0. */
  #knownRemaining = 0;
  readonly #furthest = { entry: NONE, states: new Set<number>(), more: false };

  constructor(operations: readonly Operation[]) {
    const count = operations.length;
    this.#operations = operations;
    this.#events = new EventList(operations);
    this.#model = new RegisterModel(operations);
    this.#linearized = new LinearizedSet(count);
    this.#unknown = new Uint8Array(count);
    this.#reads = new Uint8Array(count);
    this.#stackEntries = new Int32Array(count);
    this.#stackStates = new Int32Array(count);
    this.#stackFlags = new Uint8Array(count);
    operations.forEach((operation, index) => {
      const unknown = operation.return === undefined;
      assert(!(unknown && operation.kind === "get"), "searchKey: unknown gets must be dropped");
      this.#unknown[index] = unknown ? 1 : 0;
      this.#reads[index] = operation.kind === "get" || operation.kind === "append" ? 1 : 0;
      if (!unknown) this.#knownRemaining++;
    });
  }

  run(limit: SearchDeadline): KeySearchResult {
    let entry = this.#events.first();
    for (let steps = 0;; steps++) {
      if (this.#knownRemaining === 0) return { kind: "linearizable", steps };
      if (steps % BUDGET_CHECK_INTERVAL_STEPS === 0 && limit.now() >= limit.deadline) {
        return { kind: "gaveUp", reason: `the time budget ran out after ${steps} steps`, steps };
      }
      // A return event is left while some known operation is not linearized (see the invariant).
      assert(entry !== NONE, "search: walked off the event list with known operations left");
      if (this.#events.isCall(entry)) {
        const outcome = this.#tryLinearize(entry);
        if (outcome === "full") {
          return { kind: "gaveUp", reason: `its memo passed a limit after ${steps} steps`, steps };
        }
        entry = outcome === "linearized" ? this.#events.first() : this.#events.next(entry);
        continue;
      }
      this.#noteReturnReached(entry);
      if (this.#depth === 0) return this.#notLinearizable(steps);
      entry = this.#backtrack();
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

  /**
   * Remembers the furthest return event the search had to stop at. Entries are numbered in time
   * order, so the furthest one ends the shortest prefix of the history that cannot be
   * linearized: the search is exhaustive, so had that prefix a linearization, it would have
   * found it and gone past that return.
   */
  #noteReturnReached(entry: number): void {
    const furthest = this.#furthest;
    if (entry < furthest.entry) return;
    if (entry > furthest.entry) {
      furthest.entry = entry;
      furthest.states.clear();
      furthest.more = false;
    }
    if (furthest.states.has(this.#state)) return;
    if (furthest.states.size < REPORTED_VALUES_MAX) furthest.states.add(this.#state);
    else furthest.more = true;
  }

  #notLinearizable(steps: number): KeySearchResult {
    const entry = this.#furthest.entry;
    assert(entry !== NONE, "search: failed without reaching a return");
    const blocked = this.#operations[this.#events.operationAt(entry)];
    // A write can always be placed, so only a get can block the search (checker.ts relies on it).
    assert(blocked?.kind === "get", "search: the furthest blocked operation must be a get");
    const heldValues = [...this.#furthest.states].map((state) => this.#model.value(state));
    return {
      kind: "notLinearizable",
      blocked,
      heldValues,
      moreHeldValues: this.#furthest.more,
      steps,
    };
  }
}
