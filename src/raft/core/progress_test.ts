/**
 * Unit tests of {@link Progress}, the leader's view of one follower: the probe, replicate and
 * snapshot flow-control states of etcd-io/raft, what pauses each, how `maybeUpdate` moves
 * match and next (§5.3), and where `next` lands after each transition.
 */

import assert from "node:assert/strict";
import { AssertionError } from "../../util/assert.ts";
import { Progress } from "./progress.ts";
import { asIndex, asTerm } from "./types.ts";

const i = asIndex;

Deno.test("progress: a new follower is probed from the leader's next index", () => {
  const progress = new Progress(i(11), 4, 1000);
  assert.equal(progress.state, "probe");
  assert.equal(progress.match, 0);
  assert.equal(progress.next, 11);
  assert.equal(progress.paused(), false);
  progress.probeSent = true;
  assert.equal(progress.paused(), true, "probe sends one append at a time");
  progress.checkInvariants(i(10));
});

Deno.test("progress: maybeUpdate raises match and next, and reports only news", () => {
  const progress = new Progress(i(11), 4, 1000);
  progress.probeSent = true;
  progress.stalledHeartbeats = 2;
  assert.equal(progress.maybeUpdate(i(7)), true);
  assert.equal(progress.match, 7);
  assert.equal(progress.next, 11, "next does not move back");
  assert.equal(progress.probeSent, false);
  assert.equal(progress.stalledHeartbeats, 0);
  assert.equal(progress.maybeUpdate(i(5)), false, "a stale acknowledgement");
  assert.equal(progress.match, 7);
  assert.equal(progress.maybeUpdate(i(14)), true);
  assert.equal(progress.next, 15, "next follows a match beyond it");
});

Deno.test("progress: probe → replicate sends from match + 1 and pauses on a full window", () => {
  const progress = new Progress(i(11), 2, 1000);
  progress.maybeUpdate(i(10));
  progress.probeSent = true;
  progress.becomeReplicate();
  assert.equal(progress.state, "replicate");
  assert.equal(progress.next, 11);
  assert.equal(progress.probeSent, false);
  assert.equal(progress.paused(), false);
  progress.inflight.add(i(12), 10);
  progress.inflight.add(i(14), 10);
  assert.equal(progress.paused(), true);
  progress.inflight.freeTo(i(12));
  assert.equal(progress.paused(), false);
});

Deno.test("progress: replicate → probe goes back to match + 1 and empties the window", () => {
  const progress = new Progress(i(1), 4, 1000);
  progress.maybeUpdate(i(5));
  progress.becomeReplicate();
  progress.inflight.add(i(8), 10);
  progress.next = i(9);
  progress.stalledHeartbeats = 3;
  progress.becomeProbe();
  assert.equal(progress.state, "probe");
  assert.equal(progress.next, 6);
  assert.equal(progress.inflight.count, 0);
  assert.equal(progress.stalledHeartbeats, 0);
});

Deno.test("progress: snapshot state is always paused and probes after the snapshot's index", () => {
  const progress = new Progress(i(20), 4, 1000);
  progress.maybeUpdate(i(3));
  progress.becomeSnapshot(i(15), asTerm(2));
  assert.equal(progress.state, "snapshot");
  assert.equal(progress.paused(), true);
  assert.deepEqual(progress.snapshot, {
    index: 15,
    term: 2,
    ackedOffset: 0,
    expectedOffset: null,
    madeProgress: false,
    resendEvery: 1,
    heartbeatsSinceResend: 0,
  });
  progress.checkInvariants(i(20));
  progress.becomeProbe();
  assert.equal(progress.state, "probe");
  assert.equal(progress.snapshot, null);
  assert.equal(progress.next, 16, "the follower has at least the snapshot");
  assert.equal(progress.match, 3, "match is raised only by an acknowledgement");
});

Deno.test("progress: snapshot → replicate clears the transfer", () => {
  const progress = new Progress(i(20), 4, 1000);
  progress.becomeSnapshot(i(15), asTerm(2));
  progress.maybeUpdate(i(15));
  progress.becomeReplicate();
  assert.equal(progress.snapshot, null);
  assert.equal(progress.next, 16);
  progress.checkInvariants(i(20));
});

Deno.test("progress: checkInvariants catches next at or below match, and next beyond the log", () => {
  const progress = new Progress(i(5), 4, 1000);
  progress.maybeUpdate(i(4));
  progress.next = i(4);
  assert.throws(() => progress.checkInvariants(i(10)), AssertionError);
  progress.next = i(12);
  assert.throws(() => progress.checkInvariants(i(10)), AssertionError);
  progress.next = i(11);
  progress.checkInvariants(i(10));
  progress.state = "snapshot";
  assert.throws(() => progress.checkInvariants(i(10)), AssertionError, "snapshot without transfer");
});
