/**
 * When the `local` supervisor restarts a child that exited unexpectedly: after 1 s, then
 * 2 s, 4 s, 8 s, … up to 30 s between attempts. Restarting at all (rather than giving up)
 * is the supervisor's job in a dev cluster: a replica that crashed should come back the
 * way systemd's `Restart=on-failure` would bring it back, so that Raft recovery can be
 * watched. The doubling keeps a replica that fails at start-up (a bad data dir, a port in
 * use) from spinning; a child that ran for RESTART_RESET_UPTIME_MS first is treated as
 * having been healthy, so a crash after a long run waits only 1 s again. Deterministic (no
 * jitter): the children run on one host, so there is no herd to spread out.
 */

import { assert } from "../util/assert.ts";
import {
  RESTART_DELAY_MS_INITIAL,
  RESTART_DELAY_MS_MAX,
  RESTART_RESET_UPTIME_MS,
} from "./limits.ts";

/** The delay before restart number `failures` in a row (1-based): 1 s, 2 s, 4 s … 30 s. */
export function restartDelayMs(failures: number): number {
  assert(Number.isSafeInteger(failures) && failures >= 1, `failures must be >= 1: ${failures}`);
  // Past 2^20 the delay has long been capped; bounding the exponent keeps it finite.
  const exponent = Math.min(failures - 1, 20);
  const delayMs = Math.min(RESTART_DELAY_MS_MAX, RESTART_DELAY_MS_INITIAL * 2 ** exponent);
  assert(delayMs >= RESTART_DELAY_MS_INITIAL && delayMs <= RESTART_DELAY_MS_MAX, "delay in range");
  return delayMs;
}

/** The restart schedule of one child: consecutive failures and the delay they imply. */
export class RestartSchedule {
  readonly #delayMs: (failures: number) => number;
  readonly #resetUptimeMs: number;
  #failures = 0;

  constructor(
    delayMs: (failures: number) => number = restartDelayMs,
    resetUptimeMs: number = RESTART_RESET_UPTIME_MS,
  ) {
    assert(resetUptimeMs > 0, "the reset uptime is positive");
    this.#delayMs = delayMs;
    this.#resetUptimeMs = resetUptimeMs;
  }

  /** Unexpected exits in a row, counting the last one. */
  get failures(): number {
    return this.#failures;
  }

  /** Records an unexpected exit after `uptimeMs` of running; returns the delay to wait. */
  next(uptimeMs: number): number {
    assert(uptimeMs >= 0, `uptime is not negative: ${uptimeMs}`);
    this.#failures = uptimeMs >= this.#resetUptimeMs ? 1 : this.#failures + 1;
    return this.#delayMs(this.#failures);
  }
}
