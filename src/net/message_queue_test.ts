/**
 * The per-peer queue: FIFO; past its message or byte bound it drops the oldest messages and
 * counts them; `take` returns at least one message and stops at its byte target.
 */

import { deepEqual, equal } from "node:assert/strict";
import { asNodeId } from "../raft/core/types.ts";
import type { Message } from "../raft/core/messages.ts";
import { MessageQueue } from "./message_queue.ts";
import { numberedHeartbeat } from "./test_support.ts";

const message = (i: number) => numberedHeartbeat(asNodeId(1), asNodeId(2), i);
const rounds = (messages: readonly Message[]) =>
  messages.map((m) => (m.type === "heartbeat" ? m.round : -1));

Deno.test("message queue: past the count bound the oldest messages are dropped", () => {
  const queue = new MessageQueue(3, 1_000);
  for (let i = 0; i < 5; i++) queue.push(message(i), 10);
  equal(queue.length, 3);
  equal(queue.dropped, 2);
  deepEqual(rounds(queue.take(10, 1_000)), [2, 3, 4]);
  equal(queue.bytes, 0);
});

Deno.test("message queue: past the byte bound the oldest messages are dropped", () => {
  const queue = new MessageQueue(100, 100);
  queue.push(message(0), 40);
  queue.push(message(1), 40);
  equal(queue.push(message(2), 90), 2, "both older messages make room");
  deepEqual(rounds(queue.take(10, 1_000)), [2]);
});

Deno.test("message queue: take stops at the byte target but always returns one", () => {
  const queue = new MessageQueue(100, 10_000);
  for (let i = 0; i < 5; i++) queue.push(message(i), 100);
  deepEqual(rounds(queue.take(10, 50)), [0], "one even past the target");
  deepEqual(rounds(queue.take(10, 250)), [1, 2]);
  deepEqual(rounds(queue.take(1, 10_000)), [3]);
  equal(queue.length, 1);
  equal(queue.bytes, 100);
});

Deno.test("message queue: a long run of pushes and takes stays FIFO across compaction", () => {
  const queue = new MessageQueue(100_000, 1_000_000);
  const seen: number[] = [];
  for (let i = 0; i < 50_000; i++) {
    queue.push(message(i), 1);
    if (i % 7 === 0) seen.push(...rounds(queue.take(5, 1_000_000)));
  }
  while (queue.length > 0) seen.push(...rounds(queue.take(1_000, 1_000_000)));
  deepEqual(seen, Array.from({ length: 50_000 }, (_, i) => i));
});
