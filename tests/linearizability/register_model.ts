/**
 * The sequential specification every key is checked against: a register holding a string.
 * put replaces the value, append concatenates to it, delete makes the key missing (read as ""),
 * and get must return the current value. A get is the only operation the register can refuse.
 */

import { assert, assertNever } from "../../src/util/assert.ts";
import type { Operation } from "./history.ts";
import { KEY_TRANSITIONS_MAX } from "./limits.ts";
import {
  EMPTY_STATE,
  NO_PARENT,
  STATE_TABLE_FULL,
  type StateId,
  StateTable,
} from "./state_table.ts";

/** What {@link RegisterModel.step} returns when a get's output differs from the value. */
export const REJECTED = -1;

/** What {@link RegisterModel.resetState} returns for an operation that keeps the old value. */
export const NO_RESET = -1;

/** One key's register, over the operations of that key, with values interned to ids. */
export class RegisterModel {
  readonly #operations: readonly Operation[];
  readonly #states: StateTable;
  /** Per operation: a get's output id, a put's value id; -1 for the others. */
  readonly #targets: Int32Array;
  /** Memo of reachableByAppends, keyed by state * operation count + index. */
  readonly #reachable = new Map<number, boolean>();

  constructor(operations: readonly Operation[]) {
    this.#operations = operations;
    this.#states = new StateTable(operations.length);
    this.#targets = new Int32Array(operations.length).fill(-1);
    operations.forEach((operation, index) => {
      switch (operation.kind) {
        case "get":
          assert(operation.output !== undefined, "the model needs an output for every get");
          this.#targets[index] = this.#states.intern(operation.output);
          break;
        case "put":
          this.#targets[index] = this.#states.intern(operation.value);
          break;
        case "append":
        case "delete":
          break;
        default:
          assertNever(operation, "operation kind");
      }
    });
  }

  /** The state after operation `index` from `state`; REJECTED or STATE_TABLE_FULL otherwise. */
  step(
    state: StateId,
    index: number,
  ): StateId | typeof REJECTED | typeof STATE_TABLE_FULL {
    const operation = this.#operations[index];
    assert(operation !== undefined, `RegisterModel: no operation ${index}`);
    switch (operation.kind) {
      case "get":
        return state === this.#targets[index] ? state : REJECTED;
      case "put":
        return this.#targets[index]!;
      case "delete":
        return EMPTY_STATE;
      case "append":
        return this.#states.append(state, index, operation.value);
      default:
        return assertNever(operation, "operation kind");
    }
  }

  /** The state a put or delete leaves whatever the value was; NO_RESET for get and append. */
  resetState(index: number): StateId | typeof NO_RESET {
    const operation = this.#operations[index];
    assert(operation !== undefined, `RegisterModel: no operation ${index}`);
    switch (operation.kind) {
      case "put":
        return this.#targets[index]!;
      case "delete":
        return EMPTY_STATE;
      case "get":
      case "append":
        return NO_RESET;
      default:
        return assertNever(operation, "operation kind");
    }
  }

  /**
   * False when appends alone cannot take `state` to what get `index` returned, i.e. when the
   * value is not a prefix of the output; true for any other operation. Memoised per pair, since
   * values can be long and the search asks again after every backtrack.
   */
  reachableByAppends(state: StateId, index: number): boolean {
    const operation = this.#operations[index];
    assert(operation !== undefined, `RegisterModel: no operation ${index}`);
    if (operation.kind !== "get" || operation.output === undefined) return true;
    const pair = state * this.#operations.length + index;
    const known = this.#reachable.get(pair);
    if (known !== undefined) return known;
    const reachable = this.#isPrefix(state, index, operation.output);
    if (this.#reachable.size < KEY_TRANSITIONS_MAX) this.#reachable.set(pair, reachable);
    return reachable;
  }

  /**
   * Whether the value of `state` starts `output`. Values run to kilobytes, and the search asks
   * about each new state right after its parent: when the answer for the parent is memoised,
   * only the suffix the append added is compared.
   */
  #isPrefix(state: StateId, index: number, output: string): boolean {
    const parent = this.#states.parent(state);
    if (parent !== NO_PARENT) {
      const parentReachable = this.#reachable.get(parent * this.#operations.length + index);
      if (parentReachable === false) return false;
      if (parentReachable === true) {
        return output.startsWith(this.#states.suffix(state), this.#states.value(parent).length);
      }
    }
    return output.startsWith(this.#states.value(state));
  }

  /** The string value of `state`. */
  value(state: StateId): string {
    return this.#states.value(state);
  }
}
