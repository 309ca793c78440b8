/**
 * Register values interned to small integer ids. The search compares and memoises states by id
 * rather than by string, because append-heavy histories hold values many kilobytes long. An
 * append is memoised per (state, operation), so the search concatenates and hashes a value only
 * the first time it takes that transition; backtracking and retrying it costs one Map lookup.
 */

import { assert } from "../../src/util/assert.ts";
import {
  HISTORY_OPERATIONS_MAX,
  KEY_STATE_CHARS_MAX,
  KEY_STATES_MAX,
  KEY_TRANSITIONS_MAX,
} from "./limits.ts";

/** A register value's id in one {@link StateTable}. */
export type StateId = number;

/** The id of "" (the value of a missing key) in every table. */
export const EMPTY_STATE: StateId = 0;

/** The parent of a state that no append built (an input value). */
export const NO_PARENT = -1;

/** What {@link StateTable.append} returns once a limit would be passed. */
export const STATE_TABLE_FULL = -2;

/**
 * Interned register values of one key.
 *
 * Invariant: `#values[#ids.get(v)] === v` for every interned v; ids are dense from 0; a state
 * with a parent p has the value `#values[p] + #suffixes[state]`.
 */
export class StateTable {
  readonly #ids = new Map<string, StateId>();
  readonly #values: string[] = [];
  readonly #appended = new Map<number, StateId>();
  /** Per state: the state it was first built from by an append, or NO_PARENT for inputs. */
  readonly #parents: StateId[] = [];
  /** Per state: the suffix that append added ("" for inputs). */
  readonly #suffixes: string[] = [];
  readonly #operationCount: number;
  #builtChars = 0;

  /** `operationCount` is the number of operations whose index may be passed to append. */
  constructor(operationCount: number) {
    assert(
      Number.isSafeInteger(operationCount) && operationCount >= 0 &&
        operationCount <= HISTORY_OPERATIONS_MAX,
      `StateTable: operation count ${operationCount} outside [0, HISTORY_OPERATIONS_MAX]`,
    );
    this.#operationCount = operationCount;
    const empty = this.intern("");
    assert(empty === EMPTY_STATE, "the empty value must be state 0");
  }

  /** Number of distinct values interned. */
  get size(): number {
    return this.#values.length;
  }

  /**
   * The id of an input value (a put's value or a get's output), adding it if new. Input values
   * are already in memory, so only the count limit applies, and limits.ts guarantees it holds.
   */
  intern(value: string): StateId {
    const known = this.#ids.get(value);
    if (known !== undefined) return known;
    assert(this.#values.length < KEY_STATES_MAX, "KEY_STATES_MAX must exceed the input values");
    return this.#add(value, NO_PARENT, "");
  }

  /** The state after appending `suffix` (operation `index`) to `state`, or STATE_TABLE_FULL. */
  append(state: StateId, index: number, suffix: string): StateId | typeof STATE_TABLE_FULL {
    const transition = state * this.#operationCount + index;
    const cached = this.#appended.get(transition);
    if (cached !== undefined) return cached;
    assert(index >= 0 && index < this.#operationCount, `append: operation ${index} out of range`);
    if (this.#appended.size >= KEY_TRANSITIONS_MAX) return STATE_TABLE_FULL;
    const value = this.value(state) + suffix;
    let id = this.#ids.get(value);
    if (id === undefined) {
      const full = this.#values.length >= KEY_STATES_MAX ||
        this.#builtChars + value.length > KEY_STATE_CHARS_MAX;
      if (full) return STATE_TABLE_FULL;
      this.#builtChars += value.length;
      id = this.#add(value, state, suffix);
    }
    this.#appended.set(transition, id);
    return id;
  }

  /** The value whose id is `state`. */
  value(state: StateId): string {
    const value = this.#values[state];
    assert(value !== undefined, `StateTable: no state ${state}`);
    return value;
  }

  /** The state `state` was first built from by an append, or NO_PARENT if it is an input. */
  parent(state: StateId): StateId | typeof NO_PARENT {
    const parent = this.#parents[state];
    assert(parent !== undefined, `StateTable: no state ${state}`);
    return parent;
  }

  /** What the append that built `state` from its parent added ("" for an input). */
  suffix(state: StateId): string {
    const suffix = this.#suffixes[state];
    assert(suffix !== undefined, `StateTable: no state ${state}`);
    return suffix;
  }

  #add(value: string, parent: StateId | typeof NO_PARENT, suffix: string): StateId {
    const id = this.#values.length;
    this.#values.push(value);
    this.#parents.push(parent);
    this.#suffixes.push(suffix);
    this.#ids.set(value, id);
    return id;
  }
}
