/**
 * Unit tests of {@link InflightWindow}, the per-follower pipelining window: it fills by
 * message count or by bytes, frees acknowledged messages in order, refuses indexes that do
 * not increase, and stays correct across many fill / free cycles (its arrays compact).
 */

import assert from "node:assert/strict";
import { AssertionError } from "../../util/assert.ts";
import { InflightWindow } from "./inflight_window.ts";
import { asIndex } from "./types.ts";

const i = asIndex;

Deno.test("inflight window: fills at the message count limit", () => {
  const window = new InflightWindow(3, 1_000_000);
  window.add(i(5), 10);
  window.add(i(9), 10);
  assert.equal(window.full(), false);
  window.add(i(12), 10);
  assert.equal(window.full(), true);
  assert.equal(window.count, 3);
  assert.equal(window.totalBytes, 30);
  assert.throws(() => window.add(i(13), 1), AssertionError, "a full window refuses more");
});

Deno.test("inflight window: fills at the byte limit, one message may overshoot it", () => {
  const window = new InflightWindow(100, 100);
  window.add(i(1), 60);
  assert.equal(window.full(), false);
  window.add(i(2), 60); // Allowed because the window was not full before it.
  assert.equal(window.full(), true);
  assert.equal(window.totalBytes, 120);
  window.freeTo(i(1));
  assert.equal(window.full(), false);
  assert.equal(window.totalBytes, 60);
});

Deno.test("inflight window: freeTo frees every message whose last index is at or below it", () => {
  const window = new InflightWindow(10, 1_000_000);
  for (const [last, bytes] of [[3, 1], [6, 2], [9, 4], [12, 8]] as const) {
    window.add(i(last), bytes);
  }
  window.freeTo(i(2));
  assert.equal(window.count, 4, "a message is freed only when all its entries are");
  window.freeTo(i(7));
  assert.equal(window.count, 2);
  assert.equal(window.totalBytes, 12);
  window.freeTo(i(7)); // A duplicate acknowledgement.
  assert.equal(window.count, 2);
  window.freeTo(i(100));
  assert.equal(window.count, 0);
  assert.equal(window.totalBytes, 0);
  window.add(i(13), 1); // After emptying, indexes continue from the last freed.
  assert.equal(window.count, 1);
});

Deno.test("inflight window: indexes must increase", () => {
  const window = new InflightWindow(10, 1_000_000);
  window.add(i(5), 1);
  assert.throws(() => window.add(i(5), 1), AssertionError);
  assert.throws(() => window.add(i(4), 1), AssertionError);
  assert.equal(window.count, 1);
});

Deno.test("inflight window: reset forgets everything", () => {
  const window = new InflightWindow(2, 100);
  window.add(i(5), 50);
  window.add(i(6), 50);
  window.reset();
  assert.equal(window.count, 0);
  assert.equal(window.totalBytes, 0);
  assert.equal(window.full(), false);
  window.add(i(1), 1); // Probing may go back to lower indexes after a reset.
  assert.equal(window.count, 1);
});

Deno.test("inflight window: counts stay exact across many fill and free cycles", () => {
  const window = new InflightWindow(7, 1_000_000);
  let next = 1;
  let expectedCount = 0;
  let expectedBytes = 0;
  const inFlight: [number, number][] = [];
  for (let step = 0; step < 5000; step++) {
    if (!window.full() && step % 3 !== 2) {
      const bytes = 1 + (step % 11);
      window.add(i(next), bytes);
      inFlight.push([next, bytes]);
      next += 1 + (step % 4);
      expectedCount++;
      expectedBytes += bytes;
    } else if (inFlight.length > 0) {
      const [acknowledged] = inFlight[Math.min(1, inFlight.length - 1)]!;
      window.freeTo(i(acknowledged));
      while (inFlight.length > 0 && inFlight[0]![0] <= acknowledged) {
        expectedBytes -= inFlight.shift()![1];
        expectedCount--;
      }
    }
    assert.equal(window.count, expectedCount);
    assert.equal(window.totalBytes, expectedBytes);
  }
});

Deno.test("inflight window: limits must be positive", () => {
  assert.throws(() => new InflightWindow(0, 10), AssertionError);
  assert.throws(() => new InflightWindow(10, 0), AssertionError);
});
