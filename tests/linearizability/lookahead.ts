/**
 * Necessary conditions for a get ahead of the search to be placeable, cheap enough to test
 * after every step. Before a get is linearized, the register can only run operations called
 * before the get returned and not yet linearized ("ahead"). Appends extend the value, puts
 * replace it, deletes empty it. So the get's output must be one of:
 * - the current value, followed by values of appends ahead;
 * - the value of a put ahead, followed by values of appends ahead;
 * - if a delete is ahead: values of appends ahead, one after the other.
 * "Followed by values of appends ahead" is tested by a parse that may reuse an append: a
 * relaxation, so a get that fails it can certainly never be placed, which is all the search
 * needs. It catches appends taken in the wrong order, and appends used up before a delete that
 * a later get still needs, long before the search would run into the get's return.
 */

import { assert } from "../../src/util/assert.ts";
import type { Operation } from "./history.ts";
import { NO_RESET, type RegisterModel } from "./register_model.ts";
import { EMPTY_STATE, type StateId } from "./state_table.ts";

/** The operations ahead of one look, and the tests on the gets met on the way. */
export class Lookahead {
  readonly #operations: readonly Operation[];
  readonly #model: RegisterModel;
  /** The current value's id, then the value ids of the puts ahead. */
  readonly #starts: StateId[] = [];
  /** Values of the appends ahead. */
  readonly #appendValues: string[] = [];
  #deleteAhead = false;
  /** Scratch for the parse: #reached[i] is 1 when the first i characters parse. */
  #reached = new Uint8Array(256);

  constructor(operations: readonly Operation[], model: RegisterModel) {
    this.#operations = operations;
    this.#model = model;
  }

  /** Starts a new look from a register holding `state`. */
  clear(state: StateId): void {
    this.#starts.length = 0;
    this.#starts.push(state);
    this.#appendValues.length = 0;
    this.#deleteAhead = false;
  }

  /** Notes that operation `index` is called ahead (not yet linearized). */
  called(index: number): void {
    const operation = this.#operations[index];
    assert(operation !== undefined, `Lookahead: no operation ${index}`);
    const reset = this.#model.resetState(index);
    if (reset === EMPTY_STATE) this.#deleteAhead = true;
    else if (reset !== NO_RESET) this.#starts.push(reset);
    else if (operation.kind === "append" && operation.value !== "") {
      this.#appendValues.push(operation.value);
    }
  }

  /** False when operation `index`, a get, can no longer read its output; true otherwise. */
  mayRead(index: number): boolean {
    const operation = this.#operations[index];
    assert(operation !== undefined, `Lookahead: no operation ${index}`);
    if (operation.kind !== "get" || operation.output === undefined) return true;
    const output = operation.output;
    for (const start of this.#starts) {
      if (
        this.#model.reachableByAppends(start, index) &&
        this.#parses(output, this.#model.value(start).length)
      ) return true;
    }
    return this.#deleteAhead && this.#parses(output, 0);
  }

  /** True when output[from..] is a sequence of values of appends ahead (reuse allowed). */
  #parses(output: string, from: number): boolean {
    const length = output.length - from;
    if (length === 0) return true;
    if (this.#reached.length < length + 1) this.#reached = new Uint8Array(2 * (length + 1));
    const reached = this.#reached;
    reached.fill(0, 0, length + 1);
    reached[0] = 1;
    for (let position = 0; position < length; position++) {
      if (reached[position] === 0) continue;
      for (const value of this.#appendValues) {
        const end = position + value.length;
        if (end <= length && reached[end] === 0 && output.startsWith(value, from + position)) {
          reached[end] = 1;
        }
      }
    }
    return reached[length] === 1;
  }
}
