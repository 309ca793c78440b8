/**
 * The state machine replicas run in Raft-level simulations: it records every applied command
 * and reports each application to the safety checker. Its snapshot is the applied index and
 * the list of commands (as in the classic lab's snapshot tests), so a restored replica can be
 * checked against what every other replica applied.
 */

import { assert } from "../../src/util/assert.ts";
import type { StateMachine } from "../../src/raft/node.ts";
import type { Entry, Snapshot } from "../../src/raft/core/types.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encodes a test command. */
export function encodeCommand(value: string): Uint8Array {
  return encoder.encode(value);
}

/** Decodes a test command. */
export function decodeCommand(data: Uint8Array): string {
  return decoder.decode(data);
}

/** Receives every apply and restore, for cross-replica checks. */
export interface ApplyObserver {
  onApply(node: number, index: number, value: string | null): void;
  onRestore(node: number, index: number, values: readonly (string | null)[]): void;
}

/** Records applied commands (null stands for a leader's no-op). */
export class RecordingStateMachine implements StateMachine {
  readonly node: number;
  readonly #observer: ApplyObserver;
  /** values[k] is the command applied at index k + 1. */
  values: (string | null)[] = [];

  constructor(node: number, observer: ApplyObserver) {
    this.node = node;
    this.#observer = observer;
  }

  get lastApplied(): number {
    return this.values.length;
  }

  apply(entry: Entry): void {
    assert(
      entry.index === this.values.length + 1,
      () =>
        `node ${this.node} applied index ${entry.index} out of order (last applied ${this.values.length})`,
    );
    const value = entry.type === "command" ? decodeCommand(entry.data) : null;
    this.values.push(value);
    this.#observer.onApply(this.node, entry.index, value);
  }

  restore(snapshot: Snapshot): void {
    const decoded = JSON.parse(decoder.decode(snapshot.data)) as {
      index: number;
      values: (string | null)[];
    };
    assert(
      decoded.index === snapshot.meta.index,
      () => `snapshot says ${decoded.index}, metadata ${snapshot.meta.index}`,
    );
    assert(decoded.values.length === decoded.index, "snapshot holds one value per index");
    this.values = decoded.values;
    this.#observer.onRestore(this.node, decoded.index, decoded.values);
  }

  /** A snapshot of everything applied so far. */
  snapshot(): Uint8Array {
    return encoder.encode(JSON.stringify({ index: this.values.length, values: this.values }));
  }
}
