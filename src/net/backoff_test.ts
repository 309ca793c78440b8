/**
 * Reconnect backoff: the delay doubles per consecutive failure from the minimum up to the
 * cap, stays inside the upper half of its ceiling (jitter), and starts over after reset.
 */

import { deepEqual, ok } from "node:assert/strict";
import { Backoff } from "./backoff.ts";
import { RECONNECT_DELAY_MAX_MS, RECONNECT_DELAY_MIN_MS } from "./limits.ts";

Deno.test("backoff: delays double from the minimum to the cap, then start over after reset", () => {
  const backoff = new Backoff(() => 0.999_999, 50, 2_000);
  const delays = Array.from({ length: 8 }, () => backoff.next());
  deepEqual(delays, [50, 100, 200, 400, 800, 1_600, 2_000, 2_000]);
  backoff.reset();
  deepEqual(backoff.next(), 50);
});

Deno.test("backoff: jitter keeps each delay in the upper half of its ceiling", () => {
  let x = 0;
  const backoff = new Backoff(() => (x = (x + 0.37) % 1), RECONNECT_DELAY_MIN_MS);
  for (let failure = 0; failure < 40; failure++) {
    const ceiling = Math.min(RECONNECT_DELAY_MAX_MS, RECONNECT_DELAY_MIN_MS * 2 ** failure);
    const delay = backoff.next();
    ok(delay >= Math.max(RECONNECT_DELAY_MIN_MS, ceiling / 2) - 1 && delay <= ceiling, `${delay}`);
  }
});
