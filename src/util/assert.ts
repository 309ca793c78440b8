/**
 * Invariant checks. A failed assertion is a bug in shardkv, never a condition a caller
 * can meet in normal operation (STYLE.md #3): the process stops rather than go on wrongly.
 */

/** Thrown when an invariant does not hold. */
export class AssertionError extends Error {
  override readonly name = "AssertionError";
}

/** Throws an {@link AssertionError} with `message` unless `condition` holds. */
export function assert(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) {
    throw new AssertionError(typeof message === "function" ? message() : message);
  }
}

/** Ends an exhaustive `switch`: the compiler rejects a case that was forgotten. */
export function assertNever(value: never, what = "value"): never {
  throw new AssertionError(`Unexpected ${what}: ${JSON.stringify(value)}`);
}
