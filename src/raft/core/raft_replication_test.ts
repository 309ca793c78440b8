/**
 * Log replication in the Raft core, driven by hand: the commit rule of Figure 8 (§5.4.2),
 * fast backtracking with conflict hints (§5.3), the follower's commit index, stale and
 * reordered responses, the pipelining window, recovery of a lost append by probing after
 * stalled heartbeats, the leader's own fsync (thesis §10.2.1), CheckQuorum (thesis §6.2)
 * and stepping down on a newer term (§5.1). Logs are built by hand; a {@link Router}
 * delivers, drops, holds or reorders each message as the test says.
 */

import assert from "node:assert/strict";
import type { AppendRequest, Message } from "./messages.ts";
import { Raft } from "./raft.ts";
import {
  command,
  electWithoutAppends,
  isKind,
  logTerms,
  LONGEST_TIMEOUT,
  persistedLog,
  Router,
  run,
  SHORTEST_TIMEOUT,
  testConfig,
} from "./test_support.ts";
import { asIndex, asNodeId, asTerm, type Entry } from "./types.ts";

const i = asIndex;
const t = asTerm;
const n = asNodeId;

function append(
  from: number,
  to: number,
  term: number,
  prevIndex: number,
  prevTerm: number,
  entries: Entry[],
  commit: number,
): AppendRequest {
  return {
    type: "append",
    from: n(from),
    to: n(to),
    term: t(term),
    prevIndex: i(prevIndex),
    prevTerm: t(prevTerm),
    entries,
    commit: i(commit),
  };
}

function rejection(
  from: number,
  to: number,
  term: number,
  rejectedIndex: number,
  conflictTerm: number,
  conflictIndex: number,
): Message {
  return {
    type: "appendRejected",
    from: n(from),
    to: n(to),
    term: t(term),
    rejectedIndex: i(rejectedIndex),
    conflictTerm: t(conflictTerm),
    conflictIndex: i(conflictIndex),
  };
}

/**
 * Figure 8 (c), built by hand: S1 led term 2 and replicated index 2 to S2; S5 led term 3 and
 * wrote index 2 of term 3 on itself only; now S1 is elected in term 4 by S2 and S3 (S4 and S5
 * are cut off) and its appends are held back. CheckQuorum is off so that S2 and S3 answer
 * S5's requests later instead of ignoring them in a lease.
 */
function figure8(): Router {
  const logs: Record<number, number[]> = { 1: [1, 2], 2: [1, 2], 3: [1], 4: [1], 5: [1, 3] };
  const router = new Router(
    5,
    { checkQuorum: false },
    // S5 has heard of term 4 (from S1's election), so that it can campaign in term 5 later.
    (id) => persistedLog(logs[id]!, { term: id === 5 ? 4 : 3, commit: 1 }),
  );
  router.isolate(4);
  router.isolate(5);
  const leader = electWithoutAppends(router, 1);
  assert.equal(leader.term, 4);
  assert.deepEqual(logTerms(leader), [1, 2, 4]);
  // S1 replicates index 2 (term 2) to S2 and S3, and they acknowledge it.
  for (const id of [2, 3]) router.deliver(append(1, id, 4, 1, 1, [command(2, 2)], 1));
  router.flush();
  return router;
}

Deno.test("raft: an entry of an earlier term is not committed by counting replicas (Figure 8, §5.4.2)", () => {
  const router = figure8();
  const leader = router.core(1);
  router.drop = isKind("append"); // Hold back the no-op: only index 2 is acknowledged.
  router.deliverQueued(isKind("appendAccepted", undefined, 1));
  assert.deepEqual([1, 2, 3].map((id) => router.core(id).log.term(i(2))), [2, 2, 2]);
  assert.equal(leader.progress.get(n(2))!.match, 2);
  assert.equal(leader.progress.get(n(3))!.match, 2);
  assert.equal(leader.commit, 1, "index 2 is on a majority but is of term 2, not 4");

  router.drop = () => false;
  router.queue = [];
  router.stabilize();
  assert.equal(leader.commit, 3, "the term-4 no-op commits, and index 2 with it");
  assert.equal(router.core(2).commit, 3);
  assert.equal(router.core(3).commit, 3);

  // Now S5 (last term 3) cannot win: S1, S2 and S3 all hold a term-4 entry.
  router.heal(4);
  router.heal(5);
  const s5 = router.core(5);
  while (s5.role === "follower") router.tick(5);
  router.stabilize();
  assert.notEqual(s5.role, "leader");
  assert.equal(leader.role, "leader");
  assert.equal(leader.commit, 3);
});

Deno.test("raft: why the old-term entry must wait: S5 can still be elected and overwrite it (Figure 8 d)", () => {
  const router = figure8();
  router.queue = []; // S1 crashes before anything else leaves it.
  router.isolate(1);
  router.heal(4);
  router.heal(5);
  const s5 = router.elect(5);
  assert.equal(s5.term, 5);
  for (const id of [2, 3, 4, 5]) {
    assert.equal(router.core(id).log.term(i(2)), 3, `S${id} holds S5's entry at index 2`);
  }
  assert.equal(s5.commit, 3, "S5's no-op commits, and with it index 2 of term 3");
});

Deno.test("raft: a follower diverged by 50 entries in one term is repaired in at most 3 append round trips (§5.3)", () => {
  const leaderLogs = {
    "leader lacks the follower's term": [...run(1, 10), ...run(3, 10)],
    "leader shares a prefix of the follower's term": [...run(1, 10), ...run(2, 5), ...run(3, 5)],
  };
  for (const [name, leaderLog] of Object.entries(leaderLogs)) {
    const followerLog = [...run(1, 10), ...run(2, 50)];
    const router = new Router(
      3,
      {},
      (id) => persistedLog(id === 2 ? followerLog : leaderLog, { term: 3, commit: 10 }),
    );
    const leader = router.elect(1);
    const follower = router.core(2);
    assert.deepEqual(logTerms(follower), logTerms(leader), name);
    const repaired = router.sent.findIndex((message) =>
      message.type === "appendAccepted" && message.from === 2 &&
      message.matchIndex === leader.log.lastIndex()
    );
    assert.ok(repaired > 0, name);
    const roundTrips = router.sent.slice(0, repaired).filter((message) =>
      isKind("append", 1, 2)(message)
    ).length;
    assert.ok(roundTrips <= 3, `${name}: ${roundTrips} round trips`);
    assert.equal(roundTrips, 2, `${name}: one rejection, one accepted append`);
    assert.equal(router.sentWhere(isKind("appendRejected", 2)).length, 1, name);
  }
});

Deno.test("raft: a follower's rejection carries the conflicting term and its first index (§5.3)", () => {
  const follower = new Raft(testConfig(1, 3), persistedLog([1, 1, 2, 2, 2], { term: 3 }));
  const answer = (request: AppendRequest): Message => {
    follower.step(request);
    const messages = follower.messages;
    follower.messages = [];
    assert.equal(messages.length, 1);
    return messages[0]!;
  };
  assert.deepEqual(
    answer(append(2, 1, 3, 7, 3, [], 0)),
    rejection(1, 2, 3, 7, 0, 6),
    "log too short: conflict term 0, conflict index last + 1",
  );
  assert.deepEqual(
    answer(append(2, 1, 3, 4, 3, [], 0)),
    rejection(1, 2, 3, 4, 2, 3),
    "term 2 at index 4, whose run starts at 3",
  );
  assert.deepEqual(answer(append(2, 1, 3, 2, 2, [], 0)), rejection(1, 2, 3, 2, 1, 1));
  // The follower commits up to 3; a hint never points at or below its commit index.
  assert.equal(answer(append(2, 1, 3, 3, 2, [], 3)).type, "appendAccepted");
  assert.equal(follower.commit, 3);
  assert.deepEqual(answer(append(2, 1, 3, 5, 3, [], 3)), rejection(1, 2, 3, 5, 2, 4));
});

Deno.test("raft: the leader backs up past a whole conflicting term using the hints (§5.3)", () => {
  // Leader log: 1..3 of term 1, 4..6 of term 2, then its no-op 7 of term 5.
  const cases: [conflictTerm: number, conflictIndex: number, next: number, why: string][] = [
    [1, 1, 4, "the leader has term 1: resume after its last entry of term 1"],
    [3, 5, 5, "the leader lacks term 3: resume at the follower's first index of it"],
    [0, 3, 3, "the follower's log is short: resume after its last entry"],
    [2, 4, 6, "the leader has term 2 up to 6: move back at least to the rejected index"],
  ];
  for (const [conflictTerm, conflictIndex, next, why] of cases) {
    const router = new Router(3, {}, () => persistedLog([1, 1, 1, 2, 2, 2], { term: 4 }));
    const leader = electWithoutAppends(router, 1);
    router.queue = [];
    const progress = leader.progress.get(n(2))!;
    assert.equal(progress.next, 7);
    router.deliver(rejection(2, 1, 5, 6, conflictTerm, conflictIndex));
    assert.equal(progress.state, "probe");
    assert.equal(progress.next, next, why);
    router.processReady(1);
    const [probe] = router.take(isKind("append", 1, 2));
    assert.ok(probe !== undefined && probe.type === "append");
    assert.equal(probe.prevIndex, next - 1, `${why}: the next probe`);
  }
});

Deno.test("raft: a follower's commit index is min(leader commit, index of last new entry) (§5.3)", () => {
  const follower = new Raft(testConfig(1, 3), persistedLog(run(1, 5), { term: 1 }));
  follower.step(append(2, 1, 2, 0, 0, [command(1, 1), command(2, 1)], 5));
  assert.equal(follower.commit, 2, "entries 3..5 are not known to match the leader's");
  follower.step(append(2, 1, 2, 2, 1, [], 5));
  assert.equal(follower.commit, 2, "an empty append vouches for nothing past prevIndex");
  follower.step(append(2, 1, 2, 2, 1, [command(3, 2)], 5));
  assert.equal(follower.commit, 3);
  assert.equal(follower.log.lastIndex(), 3, "the conflicting entries 4..5 are gone");
  follower.step({ type: "heartbeat", from: n(2), to: n(1), term: t(2), commit: i(10), round: 1 });
  assert.equal(follower.commit, 3, "a heartbeat's commit is bounded by the log");
  follower.step(append(2, 1, 2, 3, 2, [], 1));
  assert.equal(follower.commit, 3, "the commit index never moves back");
  follower.invariants();
});

Deno.test("raft: stale and reordered append responses do not move match or next back", () => {
  const router = new Router(3, { maxAppendEntries: 1 });
  const leader = router.elect(1);
  router.propose(1, 3); // Indexes 2, 3, 4: one append each.
  router.processReady(1);
  assert.equal(router.deliverQueued(isKind("append", 1, 2)), 3);
  router.processReady(2);
  const responses = router.take(isKind("appendAccepted", 2, 1));
  assert.deepEqual(responses.map((m) => m.type === "appendAccepted" && m.matchIndex), [2, 3, 4]);
  const progress = leader.progress.get(n(2))!;
  for (const response of responses.reverse()) {
    router.deliver(response);
    assert.equal(progress.match, 4);
    assert.equal(progress.next, 5);
    assert.equal(progress.state, "replicate");
  }
  router.deliver(rejection(2, 1, leader.term, 3, 1, 2)); // An old rejection, long overtaken.
  assert.equal(progress.state, "replicate");
  assert.equal(progress.next, 5);
  assert.equal(progress.match, 4);

  // In probe, only the rejection of the outstanding probe counts.
  progress.becomeProbe();
  progress.next = i(5);
  router.deliver(rejection(2, 1, leader.term, 2, 1, 1));
  assert.equal(progress.next, 5, "rejects index 2, but the probe was for 4");
});

Deno.test("raft: replicate state pipelines up to maxInflightAppends messages, then pauses", () => {
  const router = new Router(3, { maxAppendEntries: 1, maxInflightAppends: 3 });
  const leader = router.elect(1);
  router.propose(1, 10);
  router.processReady(1);
  const toFollower = router.take(isKind("append", 1, 2));
  assert.deepEqual(
    toFollower.map((m) => m.type === "append" && m.entries.map((entry) => entry.index)),
    [[2], [3], [4]],
  );
  assert.equal(leader.status().progress.find((p) => p.id === 2)!.inflight, 3);
  assert.equal(leader.hasReady(), false, "paused: nothing more until an acknowledgement");
  router.deliver(toFollower[0]!);
  router.processReady(2);
  router.deliverQueued(isKind("appendAccepted", 2, 1));
  router.processReady(1);
  const more = router.take(isKind("append", 1, 2));
  assert.deepEqual(more.map((m) => m.type === "append" && m.entries[0]!.index), [5]);
});

Deno.test("raft: the pipelining window also closes on bytes in flight", () => {
  // Entries of 76 data bytes count 100 bytes: one per append, two fill the 200-byte window.
  const router = new Router(3, { maxAppendBytes: 100, maxInflightBytes: 200 });
  router.elect(1);
  router.propose(1, 10, 76);
  router.processReady(1);
  const toFollower = router.take(isKind("append", 1, 2));
  assert.deepEqual(toFollower.map((m) => m.type === "append" && m.entries.length), [1, 1]);
});

Deno.test("raft: a lost last append is recovered by probing after stalled heartbeats", () => {
  const router = new Router(3);
  const leader = router.elect(1);
  const follower = router.core(2);
  router.propose(1);
  router.processReady(1);
  assert.equal(router.take(isKind("append", 1, 2)).length, 1, "this append is lost");
  router.stabilize();
  assert.equal(leader.commit, 2, "committed with node 3");
  assert.equal(follower.log.lastIndex(), 1);
  router.tickAll(4); // Two heartbeat intervals: no rejection ever comes back.
  assert.equal(follower.log.lastIndex(), 1, "not yet resent");
  assert.equal(leader.progress.get(n(2))!.state, "replicate");
  router.tickAll(2); // The third stalled heartbeat: probe from the match index.
  assert.equal(follower.log.lastIndex(), 2);
  assert.equal(follower.commit, 2);
  assert.equal(leader.progress.get(n(2))!.match, 2);
  assert.equal(leader.progress.get(n(2))!.state, "replicate");
});

Deno.test("raft: a leader counts itself toward commit only once its own entries are durable (§10.2.1)", () => {
  const router = new Router(5);
  const leader = router.elect(1);
  router.propose(1);
  const ready = leader.ready(); // The leader's fsync is still running...
  router.queue.push(...ready.messages); // ...but its appends may already leave.
  router.deliverQueued((m) => m.type === "append" && (m.to === 2 || m.to === 3));
  router.processReady(2);
  router.processReady(3);
  router.deliverQueued(isKind("appendAccepted", undefined, 1));
  assert.equal(leader.commit, 1, "two followers and an unsynced leader are not 3 of 5");
  leader.advance(ready);
  assert.equal(leader.commit, 2, "the fsync completes the majority");
});

Deno.test("raft: CheckQuorum: a leader steps down after an election timeout without a quorum (§6.2)", () => {
  const router = new Router(3);
  const leader = router.elect(1);
  const term = leader.term;
  router.tickAll(50);
  assert.equal(leader.role, "leader", "a connected leader stays");
  router.isolate(1);
  for (let tick = 0; tick < 10; tick++) router.tick(1);
  assert.equal(leader.role, "leader", "it heard from both followers in the last timeout");
  for (let tick = 0; tick < 9; tick++) router.tick(1);
  assert.equal(leader.role, "leader");
  router.tick(1);
  assert.equal(leader.role, "follower", "a whole election timeout without a quorum");
  assert.equal(leader.term, term, "stepping down does not start an election");
  assert.equal(leader.leader, null);
});

Deno.test("raft: a leader cut off by a partition steps down when an answer shows a newer term (§5.1)", () => {
  // Node 2 campaigns after 10 ticks; node 3 (19) is then out of node 1's lease but quiet.
  const router = new Router(
    3,
    (id) => ({ random: id === 2 ? SHORTEST_TIMEOUT : LONGEST_TIMEOUT }),
  );
  const old = router.elect(1);
  router.isolate(1);
  for (let tick = 0; tick < 10; tick++) {
    router.tick(2);
    router.tick(3);
  }
  router.stabilize();
  const leader = router.core(2);
  assert.equal(leader.role, "leader");
  assert.equal(leader.term, 2);
  assert.equal(old.role, "leader", "it has not noticed yet");
  router.heal(1);
  router.tick(1);
  router.tick(1); // A heartbeat of term 1.
  router.stabilize();
  assert.equal(old.role, "follower");
  assert.equal(old.term, 2);
  router.tickAll(2);
  assert.equal(old.leader, 2, "and follows the new leader once it hears from it");
  assert.deepEqual(logTerms(old), logTerms(leader));
});
