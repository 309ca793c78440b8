/**
 * Capped exponential backoff with jitter for reconnecting: the ceiling doubles with every
 * consecutive failure from RECONNECT_DELAY_MIN_MS up to RECONNECT_DELAY_MAX_MS, and the delay
 * is drawn from the upper half of the ceiling so that peers that failed together do not
 * retry together.
 */

import { assert } from "../util/assert.ts";
import { RECONNECT_DELAY_MAX_MS, RECONNECT_DELAY_MIN_MS } from "./limits.ts";

/** Delays between reconnect attempts. */
export class Backoff {
  readonly #random: () => number;
  readonly #delayMinMs: number;
  readonly #delayMaxMs: number;
  #failures = 0;

  constructor(
    random: () => number,
    delayMinMs: number = RECONNECT_DELAY_MIN_MS,
    delayMaxMs: number = RECONNECT_DELAY_MAX_MS,
  ) {
    assert(0 < delayMinMs && delayMinMs <= delayMaxMs, "backoff delays are positive and ordered");
    this.#random = random;
    this.#delayMinMs = delayMinMs;
    this.#delayMaxMs = delayMaxMs;
  }

  /** Consecutive failures since the last {@link reset}. */
  get failures(): number {
    return this.#failures;
  }

  /** Records a failure and returns how long to wait before the next attempt, in ms. */
  next(): number {
    // Past 2^30 the ceiling is long capped; stop counting up so the exponent stays finite.
    const exponent = Math.min(this.#failures, 30);
    this.#failures++;
    const ceilingMs = Math.min(this.#delayMaxMs, this.#delayMinMs * 2 ** exponent);
    const jitter = this.#random();
    assert(jitter >= 0 && jitter < 1, () => `random() must be in [0, 1), got ${jitter}`);
    const delayMs = Math.max(this.#delayMinMs, ceilingMs / 2 + (jitter * ceilingMs) / 2);
    assert(delayMs <= this.#delayMaxMs, "a delay never exceeds the cap");
    return Math.round(delayMs);
  }

  /** Forgets past failures (after a successful connection). */
  reset(): void {
    this.#failures = 0;
  }
}
