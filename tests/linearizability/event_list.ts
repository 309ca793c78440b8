/**
 * The call/return event list of one key's history, as a doubly linked list over typed arrays
 * (Wing & Gong; Lowe 2017). The search "lifts" an operation when it linearizes it: its call
 * and its return leave the list, and come back, in reverse order, when the search backtracks.
 *
 * Order: by time; at equal times calls come before returns, so that an operation returning at
 * t and one called at t are concurrent (the permissive reading: it never reports a violation
 * that depends on how two equal clock readings were ordered). An operation whose outcome is
 * unknown has no return event: it may linearize at any point after its call, and the search
 * never has to pass a deadline for it.
 */

import { assert } from "../../src/util/assert.ts";
import type { Operation } from "./history.ts";

/** The end of the list, and "no return event" in `returnOf`. */
export const NONE = -1;

interface Event {
  readonly time: number;
  readonly isCall: boolean;
  readonly operation: number;
}

/**
 * Entries are numbered by their position in time order, so a larger entry is a later event;
 * entry `head` is a sentinel before the first.
 *
 * Invariant: lifts and unlifts nest (last lifted, first unlifted), which is what lets an
 * unlifted entry find its place again from its own stale `next`/`prev` (dancing links).
 */
export class EventList {
  readonly head: number;
  readonly #next: Int32Array;
  readonly #prev: Int32Array;
  readonly #operationAt: Int32Array;
  readonly #isCall: Uint8Array;
  readonly #returnOf: Int32Array;

  constructor(operations: readonly Operation[]) {
    const events = sortedEvents(operations);
    this.head = events.length;
    this.#next = new Int32Array(events.length + 1);
    this.#prev = new Int32Array(events.length + 1);
    this.#operationAt = new Int32Array(events.length);
    this.#isCall = new Uint8Array(events.length);
    this.#returnOf = new Int32Array(operations.length).fill(NONE);
    events.forEach((event, entry) => {
      this.#operationAt[entry] = event.operation;
      this.#isCall[entry] = event.isCall ? 1 : 0;
      if (!event.isCall) this.#returnOf[event.operation] = entry;
      this.#next[entry] = entry + 1 < events.length ? entry + 1 : NONE;
      this.#prev[entry] = entry === 0 ? this.head : entry - 1;
    });
    this.#next[this.head] = events.length > 0 ? 0 : NONE;
    this.#prev[this.head] = NONE;
  }

  /** The first entry still in the list, or NONE. */
  first(): number {
    return this.#next[this.head]!;
  }

  /** The entry after `entry`, or NONE. */
  next(entry: number): number {
    return this.#next[entry]!;
  }

  /** True for a call event, false for a return event. */
  isCall(entry: number): boolean {
    return this.#isCall[entry] === 1;
  }

  /** The index of the operation whose event `entry` is. */
  operationAt(entry: number): number {
    return this.#operationAt[entry]!;
  }

  /** Removes call entry `entry` and its return entry (if any) from the list. */
  lift(entry: number): void {
    assert(this.isCall(entry), `EventList: cannot lift return entry ${entry}`);
    this.#unlink(entry);
    const returnEntry = this.#returnOf[this.operationAt(entry)]!;
    if (returnEntry !== NONE) this.#unlink(returnEntry);
  }

  /** Puts back call entry `entry` and its return entry: the undo of the latest lift. */
  unlift(entry: number): void {
    assert(this.isCall(entry), `EventList: cannot unlift return entry ${entry}`);
    const returnEntry = this.#returnOf[this.operationAt(entry)]!;
    if (returnEntry !== NONE) this.#relink(returnEntry);
    this.#relink(entry);
  }

  #unlink(entry: number): void {
    const previous = this.#prev[entry]!;
    const following = this.#next[entry]!;
    this.#next[previous] = following;
    if (following !== NONE) this.#prev[following] = previous;
  }

  #relink(entry: number): void {
    const previous = this.#prev[entry]!;
    const following = this.#next[entry]!;
    this.#next[previous] = entry;
    if (following !== NONE) this.#prev[following] = entry;
  }
}

function sortedEvents(operations: readonly Operation[]): Event[] {
  const events: Event[] = [];
  operations.forEach((operation, index) => {
    events.push({ time: operation.call, isCall: true, operation: index });
    if (operation.return !== undefined) {
      events.push({ time: operation.return, isCall: false, operation: index });
    }
  });
  // Calls before returns at equal times (see the file comment); then by operation index.
  events.sort((left, right) =>
    left.time - right.time || Number(right.isCall) - Number(left.isCall) ||
    left.operation - right.operation
  );
  return events;
}
