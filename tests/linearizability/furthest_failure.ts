/**
 * The furthest return event at which the search of one key failed, and the register values it
 * failed with there. Event entries are numbered in time order, so "furthest" is the largest.
 *
 * A failure is "standing" when every operation returning before that event was linearized
 * (the search walked up to the event, or pruned with it as the first return left). The search
 * is exhaustive, so if the furthest failure is standing, the history up to just before that
 * return linearizes and the history through it does not: it ends the shortest illegal prefix.
 * A failure found by looking further ahead (search.ts, #doomedReturn) proves less; the checker
 * then narrows the prefix down itself (shortest_prefix.ts).
 */

import { assert } from "../../src/util/assert.ts";
import { NONE } from "./event_list.ts";
import { REPORTED_VALUES_MAX } from "./limits.ts";
import type { StateId } from "./state_table.ts";

/** See the file comment. */
export class FurthestFailure {
  #entry = NONE;
  #standing = false;
  readonly #states = new Set<StateId>();
  #more = false;

  /** The furthest entry noted, or NONE. */
  get entry(): number {
    return this.#entry;
  }

  /** True when some failure noted at `entry` was standing. */
  get standing(): boolean {
    return this.#standing;
  }

  /** Distinct states noted at `entry`, at most REPORTED_VALUES_MAX of them. */
  get states(): readonly StateId[] {
    return [...this.#states];
  }

  /** True when more distinct states were noted at `entry` than `states` lists. */
  get more(): boolean {
    return this.#more;
  }

  /** Notes that the search failed at `entry` with the register in `state`. */
  note(entry: number, state: StateId, standing: boolean): void {
    assert(entry >= 0, `FurthestFailure: bad entry ${entry}`);
    if (entry < this.#entry) return;
    if (entry > this.#entry) {
      this.#entry = entry;
      this.#standing = false;
      this.#states.clear();
      this.#more = false;
    }
    this.#standing ||= standing;
    if (this.#states.has(state)) return;
    if (this.#states.size < REPORTED_VALUES_MAX) this.#states.add(state);
    else this.#more = true;
  }
}
