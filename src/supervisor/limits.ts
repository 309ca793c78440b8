/**
 * Bounds and timings of the `local` supervisor and of the child processes it shares with
 * the e2e harness (STYLE.md #5). Relations between them are asserted below, at load time.
 */

import { assert } from "../util/assert.ts";

/** First restart delay after a child exits unexpectedly. */
export const RESTART_DELAY_MS_INITIAL = 1_000;
/** Longest restart delay: a child that keeps crashing is retried twice a minute. */
export const RESTART_DELAY_MS_MAX = 30_000;
/**
 * A child that ran at least this long before it exited is counted as healthy: its next
 * restart waits RESTART_DELAY_MS_INITIAL again instead of continuing the doubling.
 */
export const RESTART_RESET_UPTIME_MS = 60_000;
/** How long children get to exit after SIGTERM before they get SIGKILL. */
export const STOP_GRACE_MS = 5_000;
/**
 * How long an exit waits before it is judged. A Ctrl-C in a terminal reaches the children
 * (same process group) as well as the supervisor, and a child may exit before the
 * supervisor's own SIGINT listener has run; waiting this long keeps that from being
 * reported as a crash.
 */
export const EXIT_SETTLE_MS = 150;
/**
 * After a child's exit status is known, how long its stdout and stderr may stay open (held
 * by a grandchild, say) before the supervisor stops reading them.
 */
export const PIPE_DRAIN_MS = 2_000;
/** Longest output line passed on whole; longer lines are cut into pieces of this size. */
export const LINE_CHARS_MAX = 64 * 1024;

assert(RESTART_DELAY_MS_INITIAL > 0, "the first restart delay is positive");
assert(RESTART_DELAY_MS_INITIAL <= RESTART_DELAY_MS_MAX, "restart delays are ordered");
assert(RESTART_RESET_UPTIME_MS > RESTART_DELAY_MS_MAX, "a healthy run outlasts any backoff");
assert(EXIT_SETTLE_MS < RESTART_DELAY_MS_INITIAL, "judging an exit is quicker than a restart");
