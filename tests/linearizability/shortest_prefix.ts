/**
 * Narrows an illegal verdict down to the shortest illegal prefix of a key's history, for the
 * case the search alone cannot prove it (furthest_failure.ts). The prefix through the k-th
 * return (in the search's event order) keeps every operation called by then, and makes those
 * returning later unknown-outcome: exactly what the history looked like at that instant.
 * Linearizability is prefix-closed, so "this prefix is illegal" is monotone in k and a binary
 * search over the returns finds the shortest illegal one with a logarithmic number of checks.
 */

import { assert, assertNever } from "../../src/util/assert.ts";
import type { Operation } from "./history.ts";
import { searchableOperations } from "./partition.ts";
import { type KeySearchResult, type SearchDeadline, searchKey, searchOrder } from "./search.ts";

/** An illegal verdict on one key, narrowed as far as the budget allowed. */
export type IllegalFinding = Extract<KeySearchResult, { kind: "notLinearizable" }>;

/**
 * The finding for the shortest illegal prefix of `operations` (one key's searchable
 * operations), given `found`, the search's verdict on all of them. Returns `found` unchanged
 * when it is already the shortest, and the best finding so far if the budget runs out.
 */
export function narrowToShortestPrefix(
  operations: readonly Operation[],
  found: IllegalFinding,
  limit: SearchDeadline,
): IllegalFinding {
  if (found.shortest) return found;
  const ordered = searchOrder(operations);
  // The search numbers known operations first, so an operation's position is its tie-break.
  const returns = ordered.filter((operation): operation is CompletedOperation =>
    operation.return !== undefined
  );
  returns.sort((left, right) => left.return - right.return);
  // Invariant: the prefix through returns[low] linearizes (low = -1: the empty prefix does);
  // the prefix through returns[high] does not, and `best` is the finding for it.
  let low = -1;
  let high = returns.indexOf(found.blocked);
  assert(high >= 0, "narrow: the blocked get must be one of the returns");
  let best = found;
  while (high - low > 1) {
    const middle = low + Math.floor((high - low) / 2);
    const probe = searchKey(searchableOperations(prefixThrough(ordered, returns, middle)), limit);
    switch (probe.kind) {
      case "linearizable":
        low = middle;
        break;
      case "notLinearizable":
        high = middle;
        best = probe;
        break;
      case "gaveUp":
        return best;
      default:
        return assertNever(probe, "search result");
    }
  }
  assert(best.blocked === returns[high], "narrow: the finding must be for the shortest prefix");
  return { ...best, shortest: true };
}

type CompletedOperation = Operation & { readonly return: number };

/** The history as it stood at returns[rank]: later returns become unknown outcomes. */
function prefixThrough(
  ordered: readonly Operation[],
  returns: readonly CompletedOperation[],
  rank: number,
): Operation[] {
  const cut = returns[rank];
  assert(cut !== undefined, `narrow: no return of rank ${rank}`);
  const kept = new Set<Operation>(returns.slice(0, rank + 1));
  // Calls at the cut's time come before it in the event order; returns at that time only up to
  // its rank.
  return ordered
    .filter((operation) => operation.call <= cut.return)
    .map((operation) => kept.has(operation) ? operation : withUnknownOutcome(operation));
}

function withUnknownOutcome(operation: Operation): Operation {
  switch (operation.kind) {
    case "get": {
      const { clientId, key, call } = operation;
      return { clientId, kind: "get", key, call, return: undefined };
    }
    case "put":
    case "append":
    case "delete":
      return { ...operation, return: undefined };
    default:
      return assertNever(operation, "operation kind");
  }
}
