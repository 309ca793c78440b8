/**
 * What an "illegal" verdict shows a person. The search and shortest_prefix.ts give a get
 * `blocked` whose return ends the shortest illegal prefix of the key's history: up to just
 * before it the history linearizes, through it it does not (unless the budget ran out first,
 * which the explanation then says). The window trims that prefix to what explains the failure:
 * - `blocked` and every operation concurrent with it (intervals overlap, ends included);
 * - every operation of the prefix overlapping the span from the earliest call among those with
 *   a known outcome to the return of `blocked` (the reads and writes that pin down the order
 *   around it);
 * - the latest writes that completed before that span: those no other completed write follows
 *   in real time. One of them set the value the span starts from.
 * An operation with an unknown outcome counts as running from its call to the end of time, so
 * every unknown write called before `blocked` returned is in the window; unknown gets never are
 * (they constrain nothing).
 */

import { assert, assertNever } from "../../src/util/assert.ts";
import type { CompletedGetOperation, Operation } from "./history.ts";
import { EXPLAINED_OPERATIONS_MAX, EXPLAINED_VALUE_CHARS_MAX } from "./limits.ts";

/** The window of an illegal verdict and its explanation. */
export interface IllegalReport {
  readonly window: Operation[];
  readonly explanation: string;
}

/** What the search found out about the get it could not place. */
export interface BlockedGet {
  readonly blocked: CompletedGetOperation;
  /** True when `blocked`'s return is known to end the shortest illegal prefix. */
  readonly shortest: boolean;
  readonly heldValues: readonly string[];
  readonly moreHeldValues: boolean;
}

/** Builds the window and explanation for `key`, whose operations are `operations`. */
export function reportIllegal(
  key: string,
  operations: readonly Operation[],
  found: BlockedGet,
): IllegalReport {
  const window = windowAround(operations, found.blocked);
  assert(window.includes(found.blocked), "the window must hold the blocked get");
  return { window, explanation: explain(key, window, found) };
}

/** The window described in the file comment, ordered by call time. */
function windowAround(
  operations: readonly Operation[],
  blocked: CompletedGetOperation,
): Operation[] {
  const end = blocked.return;
  const overlaps = (operation: Operation, from: number): boolean =>
    operation.call <= end && returnOf(operation) >= from;
  // Unknown outcomes overlap everything after their call, so they do not widen the span.
  let start = blocked.call;
  for (const operation of operations) {
    if (operation.return !== undefined && overlaps(operation, blocked.call)) {
      start = Math.min(start, operation.call);
    }
  }
  const completedBefore = new Set(
    operations.filter((operation) => operation.kind !== "get" && returnOf(operation) < start),
  );
  let latestCall = -Infinity;
  for (const operation of completedBefore) latestCall = Math.max(latestCall, operation.call);
  const window = operations.filter((operation) =>
    (operation.kind !== "get" || operation.return !== undefined) &&
    (overlaps(operation, start) ||
      (completedBefore.has(operation) && returnOf(operation) >= latestCall))
  );
  assert(window.length > 0, "the window is never empty");
  return window.sort((left, right) =>
    left.call - right.call || compareNumbers(returnOf(left), returnOf(right))
  );
}

/** One line describing `operation`, e.g. `client 2 get("x") -> "1" [call 4, return 6]`. */
export function describeOperation(operation: Operation): string {
  const key = JSON.stringify(operation.key);
  const times = `[call ${formatTime(operation.call)}, ${
    operation.return === undefined ? "outcome unknown" : `return ${formatTime(operation.return)}`
  }]`;
  const client = `client ${operation.clientId}`;
  switch (operation.kind) {
    case "get":
      return operation.output === undefined
        ? `${client} get(${key}) ${times}`
        : `${client} get(${key}) -> ${quote(operation.output)} ${times}`;
    case "put":
    case "append":
      return `${client} ${operation.kind}(${key}, ${quote(operation.value)}) ${times}`;
    case "delete":
      return `${client} delete(${key}) ${times}`;
    default:
      return assertNever(operation, "operation kind");
  }
}

function explain(key: string, window: readonly Operation[], found: BlockedGet): string {
  const { blocked, heldValues, moreHeldValues } = found;
  const values = heldValues.map(quote).join(", ") + (moreHeldValues ? ", and others" : "");
  const shown = window.slice(0, EXPLAINED_OPERATIONS_MAX);
  const lines = [
    `Key ${JSON.stringify(key)} is not linearizable: no order of its operations lets`,
    `  ${describeOperation(blocked)}`,
    `read its output. ` +
    (found.shortest
      ? `The history of the key up to just before t=${formatTime(blocked.return)} linearizes; ` +
        `through that return it does not.`
      : `(The time budget ran out before the shortest illegal prefix was found: an earlier ` +
        `operation may be the first to go wrong.)`),
    `The search gave up on placing it with the key holding ${values}, from which no order of ` +
    `the operations still pending makes ${quote(blocked.output)}.`,
    `Window (${window.length} operations: those overlapping it, and the latest writes completed ` +
    `before them):`,
    ...shown.map((operation) =>
      `  ${describeOperation(operation)}${operation === blocked ? "   <- cannot be placed" : ""}`
    ),
  ];
  if (window.length > shown.length) lines.push(`  ... and ${window.length - shown.length} more`);
  return lines.join("\n");
}

/** Like subtraction, but Infinity equals Infinity (subtraction would give NaN). */
function compareNumbers(left: number, right: number): number {
  return left === right ? 0 : left < right ? -1 : 1;
}

function returnOf(operation: Operation): number {
  return operation.return ?? Infinity;
}

function formatTime(time: number): string {
  return Number.isInteger(time) ? String(time) : time.toFixed(3);
}

/** A value as JSON, its middle elided when longer than EXPLAINED_VALUE_CHARS_MAX. */
function quote(value: string): string {
  if (value.length <= EXPLAINED_VALUE_CHARS_MAX) return JSON.stringify(value);
  const half = Math.floor((EXPLAINED_VALUE_CHARS_MAX - 10) / 2);
  return `${JSON.stringify(value.slice(0, half))}...${JSON.stringify(value.slice(-half))}` +
    ` (${value.length} chars)`;
}
