/**
 * What the core answers its application, driven by hand: ReadIndex (thesis §6.4: wait for a
 * commit in the leader's term, then a heartbeat round acknowledged by a quorum; fail on
 * losing leadership), proposals (notLeader with a hint, busy past maxUncommittedBytes,
 * tooLarge past ENTRY_BYTES_MAX, transferring during a transfer), and leadership transfer
 * (thesis §3.10: catch the transferee up, TimeoutNow, it wins; give up after an election
 * timeout). A {@link Router} delivers exactly the messages each test allows.
 */

import assert from "node:assert/strict";
import { ENTRY_BYTES_MAX } from "./limits.ts";
import { Raft } from "./raft.ts";
import {
  electWithoutAppends,
  isKind,
  logTerms,
  persistedLog,
  Router,
  testConfig,
} from "./test_support.ts";
import { asNodeId, asTerm, EMPTY_PERSISTED_STATE } from "./types.ts";

const n = asNodeId;
const t = asTerm;

Deno.test("raft: a new leader does not answer a read until it commits an entry of its term (§6.4)", () => {
  const router = new Router(3, {}, () => persistedLog([1, 1], { term: 1, commit: 2 }));
  const leader = electWithoutAppends(router, 1);
  assert.equal(leader.commit, 2, "entries of term 1 are committed, none of term 2");
  assert.deepEqual(leader.readIndex(7), { ok: true });
  router.flush();
  assert.equal(router.sentWhere(isKind("heartbeat")).length, 0, "no round before the commit");
  router.drop = isKind("append");
  router.tickAll(2); // A periodic heartbeat round, acknowledged by both followers.
  assert.ok(router.sentWhere(isKind("heartbeatResponse", undefined, 1)).length >= 2);
  assert.deepEqual(
    router.readStates.get(n(1)),
    [],
    "acknowledged, but nothing of term 2 committed",
  );
  router.drop = () => false;
  router.tickAll(2);
  assert.equal(leader.commit, 3);
  assert.deepEqual(router.readStates.get(n(1)), [{ ok: true, context: 7, index: 3 }]);
});

Deno.test("raft: a leader answers a read only after a quorum acknowledges a heartbeat round sent after it (§6.4)", () => {
  const router = new Router(5);
  const leader = router.elect(1);
  router.tickAll(2); // One periodic round, acknowledged by every follower.
  const commit = leader.commit;
  const roundBefore = leader.reads.round;
  leader.readIndex(8);
  leader.readIndex(9);
  router.processReady(1);
  const heartbeats = router.take(isKind("heartbeat", 1));
  assert.equal(heartbeats.length, 4, "one round for both reads");
  const round = roundBefore + 1;
  assert.ok(heartbeats.every((m) => m.type === "heartbeat" && m.round === round));
  const answers = router.readStates.get(n(1))!;
  const acknowledge = (id: number) => {
    router.deliver(heartbeats.find((m) => m.to === id)!);
    router.processReady(id);
    router.deliverQueued(isKind("heartbeatResponse", id, 1));
    router.flush();
  };
  acknowledge(2);
  assert.deepEqual(answers, [], "the leader and one follower are not 3 of 5");
  router.deliver({
    type: "heartbeatResponse",
    from: n(3),
    to: n(1),
    term: leader.term,
    round: round - 1,
  });
  router.flush();
  assert.deepEqual(answers, [], "an acknowledgement of an older round does not count");
  acknowledge(4);
  assert.deepEqual(answers, [
    { ok: true, context: 8, index: commit },
    { ok: true, context: 9, index: commit },
  ]);
});

Deno.test("raft: a follower answers reads and proposals with notLeader and a leader hint", () => {
  const router = new Router(3);
  const follower = router.core(2);
  const nobody = { ok: false, error: { code: "notLeader", leaderHint: null } };
  assert.deepEqual(follower.readIndex(1), nobody, "no leader known yet");
  assert.deepEqual(follower.propose(new Uint8Array([1])), nobody);
  router.elect(1);
  const hint = { ok: false, error: { code: "notLeader", leaderHint: 1 } };
  assert.deepEqual(follower.readIndex(1), hint);
  assert.deepEqual(follower.propose(new Uint8Array([1])), hint);
  assert.deepEqual(follower.transferLeadership(n(3)), hint);
});

Deno.test("raft: pending reads fail with notLeader when leadership is lost to a newer term", () => {
  const router = new Router(3);
  const leader = router.elect(1);
  leader.readIndex(5);
  router.drop = isKind("heartbeat"); // The round is never acknowledged.
  router.stabilize();
  router.drop = () => false;
  router.deliver({
    type: "heartbeat",
    from: n(2),
    to: n(1),
    term: t(leader.term + 1),
    commit: leader.commit,
    round: 1,
  });
  assert.equal(leader.role, "follower");
  router.processReady(1);
  assert.deepEqual(router.readStates.get(n(1)), [
    { ok: false, context: 5, error: { code: "notLeader", leaderHint: 2 } },
  ]);
});

Deno.test("raft: pending reads fail with notLeader when CheckQuorum deposes the leader (§6.2)", () => {
  const router = new Router(3);
  const leader = router.elect(1);
  router.isolate(1);
  leader.readIndex(6);
  for (let tick = 0; tick < 20 && leader.role === "leader"; tick++) {
    router.tick(1);
    router.flush();
  }
  assert.equal(leader.role, "follower");
  router.flush();
  assert.deepEqual(router.readStates.get(n(1)), [
    { ok: false, context: 6, error: { code: "notLeader", leaderHint: null } },
  ]);
});

Deno.test("raft: proposals are refused with busy past maxUncommittedBytes, and accepted after commit", () => {
  const router = new Router(3, { maxUncommittedBytes: 200 });
  const leader = router.elect(1);
  const data = new Uint8Array(76); // Counts 100 bytes.
  assert.ok(leader.propose(data).ok);
  assert.ok(leader.propose(data).ok, "exactly at the limit");
  const lastIndex = leader.log.lastIndex();
  assert.deepEqual(leader.propose(data), {
    ok: false,
    error: { code: "busy", uncommittedBytes: 200, maxBytes: 200 },
  });
  assert.equal(leader.log.lastIndex(), lastIndex, "a refused proposal leaves no entry");
  router.stabilize();
  assert.equal(leader.commit, lastIndex);
  assert.equal(leader.uncommittedBytes, 0);
  assert.ok(leader.propose(data).ok, "room again once committed");
  router.stabilize();
  assert.ok(leader.propose(new Uint8Array(1000)).ok, "one entry over the limit passes alone");
  assert.equal(leader.propose(new Uint8Array(1)).ok, false);
});

Deno.test("raft: a proposal beyond ENTRY_BYTES_MAX is refused with tooLarge", () => {
  const leader = new Raft(
    testConfig(1, 1, { maxUncommittedBytes: 64 * 1024 * 1024 }),
    EMPTY_PERSISTED_STATE,
  );
  while (leader.role !== "leader") leader.tick();
  assert.deepEqual(leader.propose(new Uint8Array(ENTRY_BYTES_MAX + 1)), {
    ok: false,
    error: { code: "tooLarge", bytes: ENTRY_BYTES_MAX + 1, maxBytes: ENTRY_BYTES_MAX },
  });
  assert.equal(leader.log.lastIndex(), 1, "only the no-op");
  assert.ok(leader.propose(new Uint8Array(ENTRY_BYTES_MAX)).ok, "exactly the maximum is fine");
});

Deno.test("raft: leadership transfer catches the transferee up, then TimeoutNow; the transferee wins (§3.10)", () => {
  const router = new Router(3);
  const leader = router.elect(1);
  const term = leader.term;
  router.isolate(3);
  router.propose(1, 5);
  router.stabilize();
  router.heal(3);
  const lastIndex = leader.log.lastIndex();
  assert.equal(router.core(3).log.lastIndex(), 1, "node 3 lags");
  assert.deepEqual(leader.transferLeadership(n(3)), { ok: true });
  assert.equal(leader.transferee, 3);
  for (let tick = 0; tick < 10 && leader.role === "leader"; tick++) router.tickAll();
  const transferee = router.core(3);
  assert.equal(transferee.role, "leader");
  assert.equal(transferee.term, term + 1);
  assert.equal(leader.role, "follower");
  assert.equal(leader.leader, 3);
  const timeoutNow = router.sent.findIndex(isKind("timeoutNow", 1, 3));
  const caughtUp = router.sent.findIndex((m) =>
    m.type === "appendAccepted" && m.from === 3 && m.matchIndex === lastIndex
  );
  assert.ok(caughtUp >= 0 && caughtUp < timeoutNow, "TimeoutNow only after the catch-up");
  assert.equal(router.sentWhere(isKind("timeoutNow")).length, 1);
  assert.equal(router.sentWhere(isKind("preVote", 3)).length, 0, "a transfer skips PreVote");
  assert.ok(
    router.sentWhere((m) => m.type === "vote" && m.from === 3).every((m) =>
      m.type === "vote" && m.transfer
    ),
  );
  assert.deepEqual(logTerms(transferee).slice(0, lastIndex), logTerms(leader).slice(0, lastIndex));
});

Deno.test("raft: a transfer to an up-to-date follower sends TimeoutNow at once", () => {
  const router = new Router(3);
  const leader = router.elect(1);
  assert.deepEqual(leader.transferLeadership(n(2)), { ok: true });
  router.processReady(1);
  assert.deepEqual(router.take(isKind("timeoutNow")), [
    { type: "timeoutNow", from: 1, to: 2, term: leader.term },
  ]);
});

Deno.test("raft: proposals are refused with transferring during a transfer, which aborts after an election timeout", () => {
  const router = new Router(3);
  const leader = router.elect(1);
  router.isolate(3);
  assert.deepEqual(leader.transferLeadership(n(3)), { ok: true });
  assert.deepEqual(leader.propose(new Uint8Array([1])), {
    ok: false,
    error: { code: "transferring", to: 3 },
  });
  const tickLeaderAndNode2 = () => {
    router.tick(1);
    router.tick(2);
    router.stabilize();
  };
  for (let tick = 0; tick < 9; tick++) tickLeaderAndNode2();
  assert.equal(leader.transferee, 3, "still trying");
  tickLeaderAndNode2();
  assert.equal(leader.transferee, null, "gave up after electionTicks");
  assert.equal(leader.role, "leader");
  assert.ok(leader.propose(new Uint8Array([1])).ok);
});

Deno.test("raft: a transfer to itself is a no-op, to an unknown node is refused", () => {
  const router = new Router(3);
  const leader = router.elect(1);
  assert.deepEqual(leader.transferLeadership(n(1)), { ok: true });
  assert.equal(leader.transferee, null);
  assert.deepEqual(leader.transferLeadership(n(9)), {
    ok: false,
    error: { code: "unknownNode", id: 9 },
  });
  assert.equal(leader.transferee, null);
});
