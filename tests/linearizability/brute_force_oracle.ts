/**
 * A deliberately naive oracle for the checker's tests: tries every order of the operations of
 * a small history (all keys at once, so it also checks that splitting by key is sound), and
 * small random histories to feed it. It shares no code with the checker.
 */

import { assert, assertNever } from "../../src/util/assert.ts";
import type { Prng } from "../../src/util/prng.ts";
import type { Invocation, Operation } from "./history.ts";

/** Most operations the oracle accepts: it runs in factorial time. */
export const ORACLE_OPERATIONS_MAX = 8;

/**
 * True when some order of `operations` explains every read: each operation placed after every
 * known-outcome operation that returned before it was called, every known-outcome operation
 * placed, unknown-outcome ones placed or left out.
 */
export function bruteForceLinearizable(operations: readonly Operation[]): boolean {
  assert(operations.length <= ORACLE_OPERATIONS_MAX, "oracle: history too long");
  const placed = operations.map(() => false);
  const place = (values: ReadonlyMap<string, string>): boolean => {
    const waiting = operations.filter((operation, index) =>
      !placed[index] && operation.return !== undefined
    );
    if (waiting.length === 0) return true;
    return operations.some((operation, index) => {
      if (placed[index]) return false;
      if (waiting.some((other) => other.return! < operation.call)) return false;
      const next = apply(values, operation);
      if (next === undefined) return false;
      placed[index] = true;
      const found = place(next);
      placed[index] = false;
      return found;
    });
  };
  return place(new Map());
}

/** The values after `operation`, or undefined when it is a get that reads something else. */
function apply(
  values: ReadonlyMap<string, string>,
  operation: Operation,
): ReadonlyMap<string, string> | undefined {
  const current = values.get(operation.key) ?? "";
  const next = new Map(values);
  switch (operation.kind) {
    case "get":
      return operation.output === undefined || operation.output === current ? values : undefined;
    case "put":
      return next.set(operation.key, operation.value);
    case "append":
      return next.set(operation.key, current + operation.value);
    case "delete":
      next.delete(operation.key);
      return next;
    default:
      return assertNever(operation, "operation kind");
  }
}

const VALUES = ["a", "b", "c"];
const OUTPUTS = ["", "", "a", "b", "ab", "ba", "c", "ac", "aa", "abc"];

/** A random history of 1 to 7 operations on one or two keys; often not linearizable. */
export function randomSmallHistory(random: Prng): Operation[] {
  const count = 1 + random.int(7);
  const keys = random.chance(0.3) ? ["p", "q"] : ["p"];
  const history: Operation[] = [];
  for (let clientId = 0; clientId < count; clientId++) {
    const call = random.int(12);
    const end = random.chance(0.15) ? undefined : call + random.int(5);
    const invocation = randomInvocation(random, random.pick(keys));
    history.push(withOutcome(clientId, invocation, call, end, random.pick(OUTPUTS)));
  }
  return history;
}

function randomInvocation(random: Prng, key: string): Invocation {
  const roll = random.int(10);
  if (roll < 4) return { kind: "get", key };
  if (roll < 6) return { kind: "put", key, value: random.pick(VALUES) };
  if (roll < 9) return { kind: "append", key, value: random.pick(VALUES) };
  return { kind: "delete", key };
}

function withOutcome(
  clientId: number,
  invocation: Invocation,
  call: number,
  end: number | undefined,
  output: string,
): Operation {
  switch (invocation.kind) {
    case "get":
      return end === undefined
        ? { clientId, kind: "get", key: invocation.key, call, return: undefined }
        : { clientId, kind: "get", key: invocation.key, call, return: end, output };
    case "put":
    case "append":
      return { clientId, ...invocation, call, return: end };
    case "delete":
      return { clientId, ...invocation, call, return: end };
    default:
      return assertNever(invocation, "invocation kind");
  }
}
