/**
 * Decides whether a key-value history is linearizable against a per-key string register (see
 * register_model.ts). Keys are checked independently (partition.ts), each by an exhaustive,
 * memoised search (search.ts). The verdict is three-valued: a search that runs out of time or
 * memory answers "unknown", never a pass or a failure it has not proved.
 */

import { assert, assertNever } from "../../src/util/assert.ts";
import { type Operation, validateOperation } from "./history.ts";
import { reportIllegal } from "./illegal_report.ts";
import { CHECK_BUDGET_MS_DEFAULT, HISTORY_OPERATIONS_MAX } from "./limits.ts";
import { partitionByKey, searchableOperations } from "./partition.ts";
import { searchKey } from "./search.ts";
import { narrowToShortestPrefix } from "./shortest_prefix.ts";

/** How long a check may run, and the clock it is measured by. */
export interface CheckOptions {
  /** Milliseconds the whole check may take (default CHECK_BUDGET_MS_DEFAULT); 0 allows none. */
  readonly budgetMs?: number;
  /** Clock in milliseconds (default `performance.now`). */
  readonly now?: () => number;
}

/** The verdict on a history. */
export type CheckResult =
  | { readonly result: "ok" }
  | {
    readonly result: "illegal";
    /** The key whose sub-history is not linearizable (the first in sorted order). */
    readonly key: string;
    /** The get no linearization can place: its return ends the shortest illegal prefix. */
    readonly operation: Operation;
    /** `operation` with the operations that explain it, by call time (illegal_report.ts). */
    readonly window: Operation[];
    /** The verdict for a person: the key, the get, the values the key could hold, the window. */
    readonly explanation: string;
  }
  | { readonly result: "unknown"; readonly reason: string };

/**
 * Checks `operations`. An operation whose `return` is undefined may have taken effect at any
 * time after its call, or never. Keys are checked in sorted order; the first illegal key is
 * reported even when an earlier key was undecided.
 */
export function checkHistory(
  operations: readonly Operation[],
  options: CheckOptions = {},
): CheckResult {
  assert(
    operations.length <= HISTORY_OPERATIONS_MAX,
    `Cannot check ${operations.length} operations: HISTORY_OPERATIONS_MAX is ${HISTORY_OPERATIONS_MAX}`,
  );
  operations.forEach(validateOperation);
  const budgetMs = options.budgetMs ?? CHECK_BUDGET_MS_DEFAULT;
  assert(budgetMs >= 0, `Cannot check with a negative budget of ${budgetMs} ms`);
  const now = options.now ?? (() => performance.now());
  const limit = { now, deadline: now() + budgetMs };
  const byKey = partitionByKey(operations);
  const undecided: string[] = [];
  for (const [key, keyOperations] of byKey) {
    const searchable = searchableOperations(keyOperations);
    const found = searchKey(searchable, limit);
    switch (found.kind) {
      case "linearizable":
        break;
      case "notLinearizable": {
        const narrowed = narrowToShortestPrefix(searchable, found, limit);
        const report = reportIllegal(key, keyOperations, narrowed);
        return { result: "illegal", key, operation: narrowed.blocked, ...report };
      }
      case "gaveUp":
        undecided.push(`${JSON.stringify(key)} (${found.reason})`);
        break;
      default:
        assertNever(found, "search result");
    }
  }
  if (undecided.length === 0) return { result: "ok" };
  return {
    result: "unknown",
    reason: `Could not decide ${undecided.length} of ${byKey.size} keys within ${budgetMs} ms ` +
      `(no key was illegal): ${undecided.join("; ")}`,
  };
}
