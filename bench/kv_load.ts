/**
 * The load generator of the kv section: closed-loop clients, each a real {@link Clerk} (one
 * operation at a time, its own connections), all running at once in this process. A phase
 * runs every client for a warm-up whose results are discarded, then for a measured window;
 * an operation counts when it completes inside the window.
 */

import type { Clerk } from "../src/kv/clerk.ts";
import { assert } from "../src/util/assert.ts";

/**
 * One operation of client number `client` (0-based) through its clerk (a {@link Clerk}, or
 * any other one-operation-at-a-time client such as a ShardedClerk).
 */
export type Operation<C = Clerk> = (
  clerk: C,
  client: number,
  signal: AbortSignal,
) => Promise<unknown>;

/** How long a phase runs. */
export interface PhaseTiming {
  readonly warmupMs: number;
  readonly measureMs: number;
}

/** What one phase measured; `before` and `after` are the probes at the window's edges. */
export interface PhaseResult<P> {
  readonly completed: number;
  readonly seconds: number;
  readonly latenciesMs: readonly number[];
  readonly errors: number;
  readonly firstError: string | null;
  readonly before: P;
  readonly after: P;
}

/** Most latencies one phase keeps (far above what this machine completes in a window). */
const LATENCIES_MAX = 10_000_000;

/**
 * Runs `operation` in a closed loop on every clerk of `clerks` for `timing`; `probe` runs at
 * the start and at the end of the measured window (CPU and metrics snapshots). An aborted
 * `signal` ends the phase early: the result then covers less than the window.
 */
export async function runPhase<P, C = Clerk>(
  clerks: readonly C[],
  operation: Operation<C>,
  timing: PhaseTiming,
  signal: AbortSignal,
  probe: () => Promise<P>,
): Promise<PhaseResult<P>> {
  assert(clerks.length > 0, "a phase needs at least one client");
  assert(timing.warmupMs >= 0 && timing.measureMs > 0, "a phase needs a measured window");
  const started = performance.now();
  const windowStart = started + timing.warmupMs;
  const windowEnd = windowStart + timing.measureMs;
  const latenciesMs: number[] = [];
  let errors = 0;
  let firstError: string | null = null;
  const before = atTime(windowStart, probe, signal);
  const after = atTime(windowEnd, probe, signal);
  const client = async (clerk: C, index: number) => {
    while (!signal.aborted && performance.now() < windowEnd) {
      const operationStart = performance.now();
      let failure: unknown = null;
      try {
        await operation(clerk, index, signal);
      } catch (error) {
        failure = error;
      }
      const operationEnd = performance.now();
      if (operationEnd < windowStart || operationEnd > windowEnd || signal.aborted) continue;
      if (failure !== null) {
        errors++;
        firstError ??= failure instanceof Error
          ? `${failure.name}: ${failure.message}`
          : String(failure);
        continue;
      }
      assert(latenciesMs.length < LATENCIES_MAX, "Too many latencies in one phase");
      latenciesMs.push(operationEnd - operationStart);
    }
  };
  await Promise.all(clerks.map(client));
  const [probeBefore, probeAfter] = await Promise.all([before.result, after.result]);
  const seconds = (Math.min(performance.now(), windowEnd) - windowStart) / 1000;
  return {
    completed: latenciesMs.length,
    seconds: Math.max(seconds, 0),
    latenciesMs,
    errors,
    firstError,
    before: probeBefore,
    after: probeAfter,
  };
}

/** Runs `probe` when performance.now() reaches `atMs`, or at once when `signal` aborts. */
function atTime<P>(
  atMs: number,
  probe: () => Promise<P>,
  signal: AbortSignal,
): { result: Promise<P> } {
  return {
    result: new Promise<P>((resolve, reject) => {
      const run = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", run);
        probe().then(resolve, reject);
      };
      const timer = setTimeout(run, Math.max(0, atMs - performance.now()));
      signal.addEventListener("abort", run, { once: true });
    }),
  };
}

/** Runs `count` operations, numbered 0.., spread over `clerks`, as fast as they go. */
export async function runCount<C = Clerk>(
  clerks: readonly C[],
  count: number,
  operation: (clerk: C, index: number, signal: AbortSignal) => Promise<unknown>,
  signal: AbortSignal,
): Promise<void> {
  let next = 0;
  await Promise.all(clerks.map(async (clerk) => {
    while (!signal.aborted && next < count) await operation(clerk, next++, signal);
  }));
}
