/** The restart schedule of `shardkv local`: 1 s, 2 s, 4 s … 30 s, back to 1 s after a long run. */

import assert from "node:assert/strict";
import { restartDelayMs, RestartSchedule } from "./backoff.ts";
import { RESTART_RESET_UPTIME_MS } from "./limits.ts";

Deno.test("supervisor backoff: delays double from 1 s and stop at 30 s", () => {
  const delays = Array.from({ length: 8 }, (_, k) => restartDelayMs(k + 1));
  assert.deepEqual(delays, [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
  assert.equal(restartDelayMs(1_000_000), 30_000);
});

Deno.test("supervisor backoff: failures are counted from 1", () => {
  assert.throws(() => restartDelayMs(0), /failures must be >= 1/);
  assert.throws(() => restartDelayMs(1.5), /failures must be >= 1/);
});

Deno.test("supervisor backoff: quick exits in a row back off; a long healthy run resets", () => {
  const schedule = new RestartSchedule();
  assert.deepEqual([200, 300, 100, 50].map((uptime) => schedule.next(uptime)), [
    1_000,
    2_000,
    4_000,
    8_000,
  ]);
  assert.equal(schedule.failures, 4);
  assert.equal(schedule.next(RESTART_RESET_UPTIME_MS), 1_000);
  assert.equal(schedule.failures, 1);
  assert.equal(schedule.next(10), 2_000);
});

Deno.test("supervisor backoff: the delay function can be replaced (tests use short delays)", () => {
  const schedule = new RestartSchedule((failures) => failures * 10, 500);
  assert.deepEqual([schedule.next(0), schedule.next(0), schedule.next(600)], [10, 20, 10]);
});
