/**
 * Splits a history into per-key histories, and removes from each the operations that cannot
 * change the verdict. Linearizability is local (Herlihy & Wing 1990, "P-compositionality" in
 * Horn & Kroening 2015): a history is linearizable exactly when each key's sub-history is, so
 * the keys are checked one by one, each with a search far smaller than the whole.
 */

import { assertNever } from "../../src/util/assert.ts";
import type { CompletedGetOperation, Operation } from "./history.ts";

/** The operations of each key, in their original order, keys in sorted order. */
export function partitionByKey(operations: readonly Operation[]): Map<string, Operation[]> {
  const byKey = new Map<string, Operation[]>();
  for (const operation of operations) {
    const list = byKey.get(operation.key);
    if (list === undefined) byKey.set(operation.key, [operation]);
    else list.push(operation);
  }
  const keys = [...byKey.keys()].sort();
  return new Map(keys.map((key) => [key, byKey.get(key) ?? []]));
}

/**
 * The operations of one key that the search needs. Dropped, because a linearization never
 * needs them:
 * - a get with an unknown outcome: it reads without changing the value, and no one saw what.
 * - an unknown put or append that no get could have observed. In a minimal linearization (see
 *   search.ts) an unknown write is followed, before any put or delete, by a get that sees it;
 *   that get returns after the write was called, and its output starts with the put's value or
 *   contains the append's value. If no completed get qualifies, the write can be left out.
 */
export function searchableOperations(operations: readonly Operation[]): Operation[] {
  const gets = operations.filter((operation): operation is CompletedGetOperation =>
    operation.kind === "get" && operation.return !== undefined
  );
  return operations.filter((operation) => {
    if (operation.return !== undefined) return true;
    switch (operation.kind) {
      case "get":
        return false;
      case "put":
        return gets.some((get) =>
          get.return >= operation.call && get.output.startsWith(operation.value)
        );
      case "append":
        return gets.some((get) =>
          get.return >= operation.call && get.output.includes(operation.value)
        );
      case "delete":
        return true;
      default:
        return assertNever(operation, "operation kind");
    }
  });
}
