/**
 * The record of a key-value history, as a linearizability check needs it: what each client
 * asked for, what it saw, and when it called and when it returned.
 *
 * Outcome: an operation whose `return` is `undefined` has an unknown outcome (the client timed
 * out, or the recording ended before it returned). It may have taken effect at any instant
 * after its call, or never. We chose `return === undefined` over a separate `outcome` field so
 * that one field cannot contradict another: a get with a known outcome always has an `output`,
 * an unknown one never has, and the types say so.
 *
 * Times are numbers from one clock (virtual ticks in the simulator, milliseconds from
 * `performance.now()` in real tests); only their order matters. Intervals are closed: an
 * operation that returns at t and one that is called at t count as concurrent.
 */

import { assert, assertNever } from "../../src/util/assert.ts";
import { RECORDED_OPERATIONS_MAX } from "./limits.ts";

/** What a client asked the store to do: one shape per kind. */
export type Invocation =
  | { readonly kind: "get"; readonly key: string }
  | { readonly kind: "put"; readonly key: string; readonly value: string }
  | { readonly kind: "append"; readonly key: string; readonly value: string }
  | { readonly kind: "delete"; readonly key: string };

/** Fields every operation has; `return: undefined` marks an unknown outcome. */
interface OperationCommon {
  /** The client that issued it; used only to describe the operation. */
  readonly clientId: number;
  readonly key: string;
  /** When the client sent it. */
  readonly call: number;
  /** When the client learnt its outcome, or `undefined` if it never did. */
  readonly return: number | undefined;
}

/** A get whose reply arrived: `output` is the value read, "" for a missing key. */
export interface CompletedGetOperation extends OperationCommon {
  readonly kind: "get";
  readonly return: number;
  readonly output: string;
}

/** A get whose reply never arrived; it cannot constrain the history, so the checker drops it. */
export interface UnknownGetOperation extends OperationCommon {
  readonly kind: "get";
  readonly return: undefined;
  readonly output?: undefined;
}

/** A get, completed or not. */
export type GetOperation = CompletedGetOperation | UnknownGetOperation;

/** Replaces the key's value with `value`. */
export interface PutOperation extends OperationCommon {
  readonly kind: "put";
  readonly value: string;
}

/** Concatenates `value` to the key's value ("" if missing). */
export interface AppendOperation extends OperationCommon {
  readonly kind: "append";
  readonly value: string;
}

/** Removes the key: later gets read "". */
export interface DeleteOperation extends OperationCommon {
  readonly kind: "delete";
}

/** One operation of a history. */
export type Operation = GetOperation | PutOperation | AppendOperation | DeleteOperation;

/** The kinds of operation. */
export type OperationKind = Operation["kind"];

/** A clock reading; only the order of readings matters to the checker. */
export type Clock = () => number;

/** Throws unless `operation` is well formed; `position` names it in the message. */
export function validateOperation(operation: Operation, position: number): void {
  const where = `operation ${position} (client ${operation.clientId}, ${operation.kind})`;
  assert(Number.isSafeInteger(operation.clientId), `${where}: clientId must be a safe integer`);
  assert(typeof operation.key === "string", `${where}: key must be a string`);
  assert(Number.isFinite(operation.call), `${where}: call time must be finite`);
  assert(
    operation.return === undefined ||
      (Number.isFinite(operation.return) && operation.return >= operation.call),
    () =>
      `${where}: return ${operation.return} must be finite and not before call ${operation.call}`,
  );
  switch (operation.kind) {
    case "get":
      assert(
        operation.return === undefined
          ? operation.output === undefined
          : typeof operation.output === "string",
        `${where}: a get has an output exactly when its outcome is known`,
      );
      break;
    case "put":
    case "append":
      assert(typeof operation.value === "string", `${where}: value must be a string`);
      break;
    case "delete":
      break;
    default:
      assertNever(operation, "operation kind");
  }
}

/** Identifies an operation begun on a {@link HistoryRecorder}. */
export type OperationHandle = number & { readonly __brand: "OperationHandle" };

/** Where a recorded operation stands. */
type RecordedOutcome =
  | { readonly state: "pending" }
  | { readonly state: "returned"; readonly return: number; readonly output: string | undefined }
  | { readonly state: "timedOut" };

interface RecordedOperation {
  readonly clientId: number;
  readonly invocation: Invocation;
  readonly call: number;
  outcome: RecordedOutcome;
}

/**
 * Records a history as clients run. The clock is injected so that the deterministic simulator
 * records virtual time and real tests record `performance.now()`.
 *
 * Invariant: clock readings never decrease; each operation ends at most once.
 */
export class HistoryRecorder {
  readonly #clock: Clock;
  readonly #records: RecordedOperation[] = [];
  #lastTime = -Infinity;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Number of operations begun so far. */
  get size(): number {
    return this.#records.length;
  }

  /** Records that `clientId` sent `invocation` now. */
  begin(clientId: number, invocation: Invocation): OperationHandle {
    assert(Number.isSafeInteger(clientId), `Cannot begin: client id ${clientId} is not an integer`);
    assert(
      this.#records.length < RECORDED_OPERATIONS_MAX,
      `Cannot begin: the recorder already holds RECORDED_OPERATIONS_MAX=${RECORDED_OPERATIONS_MAX}`,
    );
    const handle = this.#records.length as OperationHandle;
    this.#records.push({ clientId, invocation, call: this.#now(), outcome: { state: "pending" } });
    return handle;
  }

  /** Records the reply to `handle` now; `output` is required for a get and refused otherwise. */
  end(handle: OperationHandle, output?: string): void {
    const record = this.#pending(handle, "end");
    assert(
      (record.invocation.kind === "get") === (typeof output === "string"),
      () =>
        `Cannot end operation ${handle}: a ${record.invocation.kind} ${
          record.invocation.kind === "get" ? "needs" : "takes no"
        } output`,
    );
    record.outcome = { state: "returned", return: this.#now(), output };
  }

  /** Records that the client gave up on `handle`: its outcome stays unknown. */
  timeout(handle: OperationHandle): void {
    this.#pending(handle, "time out").outcome = { state: "timedOut" };
  }

  /** The history so far; operations still pending are reported with an unknown outcome. */
  operations(): Operation[] {
    return this.#records.map(toOperation);
  }

  #pending(handle: OperationHandle, action: string): RecordedOperation {
    const record = this.#records[handle];
    assert(record !== undefined, `Cannot ${action} operation ${handle}: no such operation`);
    assert(
      record.outcome.state === "pending",
      () => `Cannot ${action} operation ${handle}: it already ${record.outcome.state}`,
    );
    return record;
  }

  #now(): number {
    const time = this.#clock();
    assert(Number.isFinite(time), `Clock returned ${time}, not a finite number`);
    assert(time >= this.#lastTime, `Clock went backwards: ${time} after ${this.#lastTime}`);
    this.#lastTime = time;
    return time;
  }
}

function toOperation(record: RecordedOperation): Operation {
  const { clientId, invocation, call, outcome } = record;
  const returned = outcome.state === "returned" ? outcome.return : undefined;
  switch (invocation.kind) {
    case "get":
      if (outcome.state === "returned") {
        assert(outcome.output !== undefined, "a returned get has an output");
        return {
          clientId,
          kind: "get",
          key: invocation.key,
          call,
          return: outcome.return,
          output: outcome.output,
        };
      }
      return { clientId, kind: "get", key: invocation.key, call, return: undefined };
    case "put":
    case "append":
      return {
        clientId,
        kind: invocation.kind,
        key: invocation.key,
        value: invocation.value,
        call,
        return: returned,
      };
    case "delete":
      return { clientId, kind: "delete", key: invocation.key, call, return: returned };
    default:
      return assertNever(invocation, "invocation kind");
  }
}
