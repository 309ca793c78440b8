/**
 * Unit tests of {@link ReadIndexQueue} (Raft thesis §6.4): reads wait until the leader has
 * committed an entry of its term, then each is assigned the commit index and the next
 * heartbeat round; a quorum's acknowledgement of a round releases its reads in arrival
 * order; losing leadership fails them all; the queue is bounded.
 */

import assert from "node:assert/strict";
import { AssertionError } from "../../util/assert.ts";
import { PENDING_READS_MAX } from "./limits.ts";
import { ReadIndexQueue } from "./read_index.ts";
import { asIndex, asNodeId, type NotLeader, type ReadState } from "./types.ts";

const notLeader: NotLeader = { code: "notLeader", leaderHint: asNodeId(2) };

Deno.test("read index: reads wait for a commit in the leader's term, then need a round (§6.4)", () => {
  const queue = new ReadIndexQueue();
  assert.ok(queue.add(1, false, asIndex(3)));
  assert.ok(queue.add(2, false, asIndex(3)));
  assert.equal(queue.size, 2);
  assert.equal(queue.needsRound, false, "no heartbeat round before the commit");
  const out: ReadState[] = [];
  queue.release(queue.round, out);
  assert.deepEqual(out, [], "waiting reads are not released by rounds");
  queue.onCommittedInTerm(asIndex(7));
  assert.equal(queue.needsRound, true);
  const round = queue.startRound();
  assert.equal(round, 1);
  assert.equal(queue.needsRound, false);
  queue.release(round, out);
  assert.deepEqual(out, [
    { ok: true, context: 1, index: 7 },
    { ok: true, context: 2, index: 7 },
  ], "the read index is the commit index at the time of the commit in term");
  assert.equal(queue.size, 0);
});

Deno.test("read index: a read is released only by a round sent after it arrived", () => {
  const queue = new ReadIndexQueue();
  queue.startRound(); // Round 1: a periodic heartbeat before any read.
  queue.add(10, true, asIndex(4));
  queue.add(11, true, asIndex(5));
  assert.equal(queue.needsRound, true);
  const out: ReadState[] = [];
  queue.release(1, out);
  assert.equal(out.length, 0, "round 1 was sent before the reads");
  queue.startRound(); // Round 2 carries reads 10 and 11.
  queue.add(12, true, asIndex(6)); // Needs round 3.
  queue.release(2, out);
  assert.deepEqual(out.map((read) => read.context), [10, 11]);
  assert.deepEqual(out.map((read) => read.ok && read.index), [4, 5]);
  assert.equal(queue.size, 1);
  queue.startRound();
  queue.release(3, out);
  assert.deepEqual(out.map((read) => read.context), [10, 11, 12], "released in arrival order");
});

Deno.test("read index: a round cannot be acknowledged before it was sent (assertion)", () => {
  const queue = new ReadIndexQueue();
  queue.startRound();
  assert.throws(() => queue.release(2, []), AssertionError);
});

Deno.test("read index: failAll fails waiting and pending reads, in order, with the error", () => {
  const queue = new ReadIndexQueue();
  queue.add(1, false, asIndex(0));
  queue.onCommittedInTerm(asIndex(2));
  queue.add(2, true, asIndex(2));
  queue.add(3, false, asIndex(2)); // Not possible from a real leader, but failAll must cover it.
  const out: ReadState[] = [];
  queue.failAll(notLeader, out);
  assert.deepEqual(out, [
    { ok: false, context: 3, error: notLeader },
    { ok: false, context: 1, error: notLeader },
    { ok: false, context: 2, error: notLeader },
  ]);
  assert.equal(queue.size, 0);
  assert.equal(queue.needsRound, false);
  queue.failAll(notLeader, out);
  assert.equal(out.length, 3, "failing an empty queue reports nothing");
});

Deno.test("read index: the queue is bounded by PENDING_READS_MAX (busy)", () => {
  const queue = new ReadIndexQueue();
  for (let k = 0; k < PENDING_READS_MAX; k++) assert.ok(queue.add(k, k % 2 === 0, asIndex(1)));
  assert.equal(queue.add(-1, true, asIndex(1)), false);
  assert.equal(queue.add(-2, false, asIndex(1)), false);
  assert.equal(queue.size, PENDING_READS_MAX);
});
