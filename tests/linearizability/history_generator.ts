/**
 * Generates linearizable histories for testing the checker, by running clients against a
 * simulated atomic register in virtual time. Every operation draws a call time, a duration and
 * a linearization point inside its interval; the register applies operations in the order of
 * their points, so the recorded history is linearizable by construction. A timed-out operation
 * takes effect at its point or never (half each), and its client learns neither.
 */

import { assert, assertNever } from "../../src/util/assert.ts";
import { Prng } from "../../src/util/prng.ts";
import {
  HistoryRecorder,
  type Invocation,
  type Operation,
  type OperationHandle,
  type OperationKind,
} from "./history.ts";
import { HISTORY_OPERATIONS_MAX } from "./limits.ts";

/** The shape of a generated history. */
export interface GeneratorOptions {
  readonly seed: number;
  readonly operations: number;
  readonly clients: number;
  readonly keys: number;
  /** Relative weights of the kinds, as integers (default: mostly gets and appends). */
  readonly weights?: Readonly<Record<OperationKind, number>>;
  /** Probability that the client times out on an operation (default 0). */
  readonly timeoutChance?: number;
  /** Longest operation, in ticks (default 20); durations are drawn from [1, this]. */
  readonly durationTicksMax?: number;
  /** Longest pause of a client between two operations, in ticks (default 5). */
  readonly pauseTicksMax?: number;
}

const WEIGHTS_DEFAULT = { get: 40, put: 10, append: 45, delete: 5 } satisfies Record<
  OperationKind,
  number
>;

/** One step of the simulation, applied in time order. */
type SimulationEvent =
  | { readonly type: "call"; readonly time: number; readonly sequence: number }
  | { readonly type: "linearize"; readonly time: number; readonly sequence: number }
  | { readonly type: "return"; readonly time: number; readonly sequence: number };

/** Ties at one time: calls first, then linearization points, then returns. */
const EVENT_ORDER = { call: 0, linearize: 1, return: 2 } satisfies Record<
  SimulationEvent["type"],
  number
>;

interface PlannedOperation {
  readonly clientId: number;
  readonly invocation: Invocation;
  readonly timedOut: boolean;
}

/** A linearizable history drawn from `options.seed`: the same seed gives the same history. */
export function generateLinearizableHistory(options: GeneratorOptions): Operation[] {
  assert(
    Number.isSafeInteger(options.operations) && options.operations >= 0 &&
      options.operations <= HISTORY_OPERATIONS_MAX,
    `generator: operations ${options.operations} outside [0, HISTORY_OPERATIONS_MAX]`,
  );
  assert(
    options.clients >= 1 && options.clients <= 10_000 && options.keys >= 1,
    "generator: needs 1 to 10000 clients and at least one key",
  );
  const random = new Prng(options.seed);
  const planned: PlannedOperation[] = [];
  const events = planEvents(options, random, planned);
  let now = 0;
  const recorder = new HistoryRecorder(() => now);
  const register = new Map<string, string>();
  const handles: OperationHandle[] = [];
  const outputs: (string | undefined)[] = [];
  for (const event of events) {
    now = event.time;
    const operation = planned[event.sequence];
    assert(operation !== undefined, "generator: event of an unplanned operation");
    switch (event.type) {
      case "call":
        handles[event.sequence] = recorder.begin(operation.clientId, operation.invocation);
        break;
      case "linearize":
        outputs[event.sequence] = applyToRegister(register, operation.invocation);
        break;
      case "return": {
        const handle = handles[event.sequence];
        assert(handle !== undefined, "generator: return before call");
        if (operation.timedOut) recorder.timeout(handle);
        else recorder.end(handle, outputs[event.sequence]);
        break;
      }
      default:
        assertNever(event, "simulation event");
    }
  }
  return recorder.operations();
}

/** Draws every operation's interval and linearization point; returns the events in order. */
function planEvents(
  options: GeneratorOptions,
  random: Prng,
  planned: PlannedOperation[],
): SimulationEvent[] {
  const durationMax = options.durationTicksMax ?? 20;
  const pauseMax = options.pauseTicksMax ?? 5;
  const kinds = weightedKinds(options.weights ?? WEIGHTS_DEFAULT);
  const nextCall = new Array<number>(options.clients).fill(0);
  const sent = new Array<number>(options.clients).fill(0);
  const events: SimulationEvent[] = [];
  for (let sequence = 0; sequence < options.operations; sequence++) {
    const clientId = nextCall.indexOf(Math.min(...nextCall));
    const call = nextCall[clientId]!;
    const duration = 1 + random.int(durationMax);
    const timedOut = random.chance(options.timeoutChance ?? 0);
    const key = `k${random.int(options.keys)}`;
    const value = `x ${clientId} ${sent[clientId]!++} y`;
    planned.push({ clientId, invocation: invocationOf(random.pick(kinds), key, value), timedOut });
    events.push({ type: "call", time: call, sequence });
    if (!timedOut || random.chance(0.5)) {
      events.push({ type: "linearize", time: call + random.float() * duration, sequence });
    }
    events.push({ type: "return", time: call + duration, sequence });
    nextCall[clientId] = call + duration + random.int(pauseMax + 1);
  }
  return events.sort((left, right) =>
    left.time - right.time || EVENT_ORDER[left.type] - EVENT_ORDER[right.type] ||
    left.sequence - right.sequence
  );
}

function invocationOf(kind: OperationKind, key: string, value: string): Invocation {
  switch (kind) {
    case "get":
      return { kind, key };
    case "put":
    case "append":
      return { kind, key, value };
    case "delete":
      return { kind, key };
    default:
      return assertNever(kind, "operation kind");
  }
}

/** Applies `invocation` to the register; returns a get's output. */
function applyToRegister(
  register: Map<string, string>,
  invocation: Invocation,
): string | undefined {
  switch (invocation.kind) {
    case "get":
      return register.get(invocation.key) ?? "";
    case "put":
      register.set(invocation.key, invocation.value);
      return undefined;
    case "append":
      register.set(invocation.key, (register.get(invocation.key) ?? "") + invocation.value);
      return undefined;
    case "delete":
      register.delete(invocation.key);
      return undefined;
    default:
      return assertNever(invocation, "invocation kind");
  }
}

function weightedKinds(weights: Readonly<Record<OperationKind, number>>): OperationKind[] {
  const kinds: OperationKind[] = [];
  for (const kind of ["get", "put", "append", "delete"] as const) {
    assert(Number.isSafeInteger(weights[kind]) && weights[kind] >= 0, `weight of ${kind}`);
    for (let copy = 0; copy < weights[kind]; copy++) kinds.push(kind);
  }
  assert(kinds.length > 0, "generator: all weights are zero");
  return kinds;
}
