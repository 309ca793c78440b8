/**
 * Leader election in the Raft core, driven by hand (no simulator): randomized election
 * timeouts (§5.2), PreVote (thesis §9.6), leader leases against disruptive servers (thesis
 * §4.2.3), one vote per term and the up-to-date check (§5.4.1), single-node clusters, and the
 * new leader's no-op with Figure 8's commit rule (§5.4.2). Cores are built from hand-made
 * logs; a {@link Router} takes their readies and delivers exactly the messages a test allows.
 */

import assert from "node:assert/strict";
import { Prng } from "../../util/prng.ts";
import type { Message, VoteRequest } from "./messages.ts";
import { Raft } from "./raft.ts";
import {
  isKind,
  logTerms,
  LONGEST_TIMEOUT,
  persistedLog,
  Router,
  SHORTEST_TIMEOUT,
  testConfig,
} from "./test_support.ts";
import { asIndex, asNodeId, asTerm, EMPTY_PERSISTED_STATE } from "./types.ts";

const i = asIndex;
const t = asTerm;
const n = asNodeId;

function voteRequest(
  from: number,
  to: number,
  term: number,
  lastIndex: number,
  lastTerm: number,
  options: { preVote?: boolean; transfer?: boolean } = {},
): Message {
  if (options.preVote) {
    return {
      type: "preVote",
      from: n(from),
      to: n(to),
      term: t(term),
      lastIndex: i(lastIndex),
      lastTerm: t(lastTerm),
    };
  }
  return {
    type: "vote",
    from: n(from),
    to: n(to),
    term: t(term),
    lastIndex: i(lastIndex),
    lastTerm: t(lastTerm),
    transfer: options.transfer ?? false,
  } satisfies VoteRequest;
}

/** The messages `core` queued since the last ready, removed from it. */
function drain(core: Raft): Message[] {
  const messages = core.messages;
  core.messages = [];
  return messages;
}

Deno.test("raft: a follower campaigns only after its randomized timeout in [electionTicks, 2·electionTicks) (§5.2)", () => {
  const timeouts = new Set<number>();
  for (let seed = 1; seed <= 60; seed++) {
    const core = new Raft(testConfig(1, 3, { random: new Prng(seed) }), EMPTY_PERSISTED_STATE);
    const timeout = core.randomizedElectionTimeout;
    assert.ok(timeout >= 10 && timeout < 20, `timeout ${timeout} out of [10, 20)`);
    timeouts.add(timeout);
    for (let tick = 1; tick < timeout; tick++) core.tick();
    assert.equal(core.role, "follower", `seed ${seed}: campaigned before ${timeout} ticks`);
    core.tick();
    assert.equal(core.role, "preCandidate", `seed ${seed}: no campaign after ${timeout} ticks`);
  }
  assert.ok(timeouts.size >= 5, `timeouts are not spread out: ${[...timeouts]}`);
  const shortest = new Raft(testConfig(1, 3, { random: SHORTEST_TIMEOUT }), EMPTY_PERSISTED_STATE);
  const longest = new Raft(testConfig(1, 3, { random: LONGEST_TIMEOUT }), EMPTY_PERSISTED_STATE);
  assert.equal(shortest.randomizedElectionTimeout, 10);
  assert.equal(longest.randomizedElectionTimeout, 19);
});

Deno.test("raft: a follower that hears from its leader never campaigns (§5.2)", () => {
  const router = new Router(3);
  const leader = router.elect(1);
  const term = leader.term;
  router.tickAll(200);
  assert.equal(leader.role, "leader");
  assert.equal(router.core(2).term, term);
  assert.equal(router.core(3).term, term);
  assert.equal(router.sentWhere(isKind("preVote")).length, 2, "only node 1's pre-campaign");
});

Deno.test("raft: a pre-candidate does not raise its term, nor do the nodes it asks (PreVote, §9.6)", () => {
  const router = new Router(3, {}, () => persistedLog([1, 1], { term: 4 }));
  const candidate = router.core(1);
  while (candidate.role === "follower") router.tick(1);
  assert.equal(candidate.role, "preCandidate");
  assert.equal(candidate.term, 4);
  assert.equal(candidate.votedFor, null);
  const ready = router.processReady(1)!;
  assert.equal(ready.hardState, null, "nothing to persist: term and vote are unchanged");
  const preVotes = router.take(isKind("preVote", 1));
  assert.equal(preVotes.length, 2);
  assert.ok(preVotes.every((message) => message.term === 5), "asks about term + 1");
  for (const message of preVotes) router.deliver(message);
  router.flush();
  for (const id of [2, 3]) {
    assert.equal(router.core(id).term, 4, `node ${id} changed its term for a pre-vote`);
    assert.equal(router.core(id).votedFor, null);
  }
  const grants = router.take(isKind("preVoteResponse"));
  assert.deepEqual(grants.map((message) => message.type === "preVoteResponse" && message.granted), [
    true,
    true,
  ]);
  router.deliver(grants[0]!);
  assert.equal(candidate.role, "candidate", "a majority of pre-votes starts the real election");
  assert.equal(candidate.term, 5);
});

Deno.test("raft: a node in a leader lease ignores pre-votes and votes, but not a transfer vote (§4.2.3)", () => {
  const router = new Router(3, { random: LONGEST_TIMEOUT });
  const leader = router.elect(1);
  const follower = router.core(2);
  const term = leader.term;
  const last = follower.log.lastIndex();
  const lastTerm = follower.log.lastTerm();
  assert.equal(follower.leader, 1);

  follower.step(voteRequest(3, 2, term + 1, last, lastTerm, { preVote: true }));
  follower.step(voteRequest(3, 2, term + 1, last, lastTerm));
  assert.deepEqual(drain(follower), [], "no answer while the lease holds");
  assert.equal(follower.term, term);
  assert.equal(follower.leader, 1);

  follower.step(voteRequest(3, 2, term + 1, last, lastTerm, { transfer: true }));
  assert.equal(follower.term, term + 1, "a transfer vote is the leader's own wish");
  assert.equal(follower.votedFor, 3);
  assert.deepEqual(drain(follower), [
    { type: "voteResponse", from: 2, to: 3, term: term + 1, granted: true },
  ]);
});

Deno.test("raft: once the lease has expired a pre-vote is answered (§4.2.3, §9.6)", () => {
  const router = new Router(3, { random: LONGEST_TIMEOUT });
  const leader = router.elect(1);
  const follower = router.core(2);
  const term = leader.term;
  for (let tick = 0; tick < 10; tick++) router.tick(2); // electionTicks without the leader.
  assert.equal(follower.role, "follower", "the randomized timeout (19) has not fired");
  follower.step(
    voteRequest(3, 2, term + 1, follower.log.lastIndex(), follower.log.lastTerm(), {
      preVote: true,
    }),
  );
  assert.deepEqual(drain(follower), [
    { type: "preVoteResponse", from: 2, to: 3, term: term + 1, granted: true },
  ]);
  assert.equal(follower.term, term, "a pre-vote never changes the voter's term");
});

Deno.test("raft: a rejected vote request from a higher term raises our term but does not reset our election timer (§5.2)", () => {
  const router = new Router(
    3,
    { checkQuorum: false },
    (id) => persistedLog(id === 2 ? [1, 1] : [1], { term: 1 }),
  );
  const voter = router.core(2);
  for (let tick = 0; tick < 5; tick++) router.tick(2);
  const timeout = voter.randomizedElectionTimeout;
  voter.step(voteRequest(3, 2, 2, 1, 1)); // Node 3's log is shorter.
  assert.deepEqual(drain(voter), [
    { type: "voteResponse", from: 2, to: 3, term: 2, granted: false },
  ]);
  assert.equal(voter.term, 2);
  assert.equal(voter.votedFor, null);
  assert.equal(voter.electionElapsed, 5, "the timer keeps running");
  assert.equal(voter.randomizedElectionTimeout, timeout, "and keeps its deadline");
  for (let tick = 5; tick < timeout - 1; tick++) router.tick(2);
  assert.equal(voter.role, "follower");
  router.tick(2);
  assert.equal(voter.role, "preCandidate", "the up-to-date node campaigns on time");
});

Deno.test("raft: a granted vote resets the election timer (§5.2)", () => {
  const router = new Router(3, { checkQuorum: false }, () => persistedLog([1], { term: 1 }));
  const voter = router.core(2);
  for (let tick = 0; tick < 5; tick++) router.tick(2);
  voter.step(voteRequest(3, 2, 2, 1, 1));
  assert.equal(voter.votedFor, 3);
  assert.equal(voter.electionElapsed, 0);
});

Deno.test("raft: a node grants at most one vote per term, and persists it with the answer (§5.2)", () => {
  const router = new Router(3);
  const voter = router.core(1);
  voter.step(voteRequest(2, 1, 1, 0, 0));
  voter.step(voteRequest(3, 1, 1, 0, 0));
  voter.step(voteRequest(2, 1, 1, 0, 0)); // A retry from the same candidate.
  const ready = router.processReady(1)!;
  assert.deepEqual(ready.hardState, { term: 1, votedFor: 2, commit: 0 });
  assert.deepEqual(
    ready.messages.map((message) =>
      message.type === "voteResponse" && [message.to, message.granted]
    ),
    [[2, true], [3, false], [2, true]],
  );
  voter.step(voteRequest(3, 1, 2, 0, 0));
  assert.equal(voter.votedFor, 3, "a new term brings a new vote");
  assert.equal(voter.term, 2);
});

Deno.test("raft: a voter grants only to a log at least as up-to-date as its own (§5.4.1)", () => {
  const cases: [lastIndex: number, lastTerm: number, granted: boolean, why: string][] = [
    [5, 1, false, "a longer log with an older last term"],
    [2, 2, false, "the same last term but shorter"],
    [3, 2, true, "the same last term and length"],
    [4, 2, true, "the same last term and longer"],
    [1, 3, true, "a newer last term, even if shorter"],
  ];
  for (const preVote of [false, true]) {
    for (const [lastIndex, lastTerm, granted, why] of cases) {
      const voter = new Raft(testConfig(1, 3), persistedLog([1, 1, 2], { term: 2 }));
      voter.step(voteRequest(2, 1, 3, lastIndex, lastTerm, { preVote }));
      const [answer] = drain(voter);
      assert.ok(
        answer !== undefined &&
          (answer.type === "voteResponse" || answer.type === "preVoteResponse"),
      );
      assert.equal(answer.granted, granted, `${preVote ? "pre-vote" : "vote"}: ${why}`);
    }
  }
});

Deno.test("raft: a candidate with a shorter log does not get the vote (§5.4.1)", () => {
  for (const preVote of [true, false]) {
    const router = new Router(
      3,
      { preVote, checkQuorum: false },
      (id) => persistedLog(id === 1 ? [1] : [1, 1], { term: 1 }),
    );
    const short = router.core(1);
    while (short.role === "follower") router.tick(1);
    router.stabilize();
    assert.equal(short.role, "follower", `preVote ${preVote}: the short log lost`);
    assert.equal(short.term, preVote ? 1 : 2, "only a real election raises the term");
    assert.equal(router.core(2).votedFor, null);
    assert.equal(router.core(3).votedFor, null);
    const winner = router.elect(2);
    assert.equal(winner.log.lastIndex(), 3, "the winner's log plus its no-op");
    assert.deepEqual(logTerms(short), logTerms(winner), "the winner repairs the short log");
  }
});

Deno.test("raft: a single-node cluster elects itself and commits after advance", () => {
  const core = new Raft(testConfig(1, 1), EMPTY_PERSISTED_STATE);
  for (let tick = 0; tick < 20 && core.role !== "leader"; tick++) core.tick();
  assert.equal(core.role, "leader");
  assert.equal(core.term, 1);
  assert.equal(core.commit, 0, "the no-op is not durable yet");
  let ready = core.ready();
  assert.deepEqual(ready.hardState, { term: 1, votedFor: 1, commit: 0 });
  assert.deepEqual(ready.entries, [{ type: "noop", term: 1, index: 1 }]);
  assert.deepEqual(ready.committedEntries, []);
  assert.deepEqual(ready.messages, []);
  core.advance(ready);
  assert.equal(core.commit, 1, "persisting the no-op commits it");

  const proposal = core.propose(new Uint8Array([7]));
  assert.deepEqual(proposal, { ok: true, index: 2, term: 1 });
  ready = core.ready();
  assert.deepEqual(ready.committedEntries.map((entry) => entry.index), [1]);
  assert.deepEqual(ready.entries.map((entry) => entry.index), [2]);
  core.advance(ready);
  assert.equal(core.commit, 2);
  ready = core.ready();
  assert.deepEqual(ready.committedEntries, [
    { type: "command", term: 1, index: 2, data: new Uint8Array([7]) },
  ]);
  core.advance(ready);
  assert.equal(core.applied, 2);

  assert.deepEqual(core.readIndex(9), { ok: true });
  ready = core.ready();
  assert.deepEqual(ready.readStates, [{ ok: true, context: 9, index: 2 }], "no quorum to ask");
  core.advance(ready);
  assert.equal(core.hasReady(), false);
  core.invariants();
});

Deno.test("raft: a new leader appends a no-op of its term and commits it on a majority (§5.4.2)", () => {
  const router = new Router(3, {}, () => persistedLog([1, 1], { term: 1, commit: 1 }));
  const leader = router.elect(1);
  assert.equal(leader.term, 2);
  assert.deepEqual(leader.log.entry(i(3)), { type: "noop", term: 2, index: 3 });
  assert.equal(leader.commit, 3, "entry 2 of term 1 commits together with the no-op");
  for (const id of [2, 3]) {
    assert.deepEqual(logTerms(router.core(id)), [1, 1, 2]);
    assert.equal(router.core(id).commit, 3);
  }
});

Deno.test("raft: a (pre-)candidate asks the voters that have not answered again every heartbeat interval (§5.2)", () => {
  const router = new Router(5, { random: LONGEST_TIMEOUT });
  const candidate = router.core(1);
  while (candidate.role === "follower") router.tick(1);
  router.processReady(1);
  assert.equal(router.take(isKind("preVote", 1)).length, 4, "first round: every peer");
  router.deliver(voteRequest(1, 2, 1, 0, 0, { preVote: true }));
  router.processReady(2);
  router.deliverQueued(isKind("preVoteResponse", 2, 1));
  assert.equal(candidate.role, "preCandidate", "2 of 5 is not a majority");
  router.tick(1);
  router.processReady(1);
  assert.equal(router.take(isKind("preVote", 1)).length, 0, "not before a heartbeat interval");
  router.tick(1);
  router.processReady(1);
  const again = router.take(isKind("preVote", 1));
  assert.deepEqual(again.map((m) => m.to), [3, 4, 5], "only the silent voters, same term");
  assert.ok(again.every((m) => m.term === 1));
  assert.equal(candidate.term, 0);
});

Deno.test("raft: a transferee's repeated vote requests still say transfer (§3.10)", () => {
  const router = new Router(5, { random: LONGEST_TIMEOUT });
  const leader = router.elect(1);
  leader.transferLeadership(n(2));
  router.processReady(1);
  router.deliverQueued(isKind("timeoutNow", 1, 2));
  const transferee = router.core(2);
  assert.equal(transferee.role, "candidate");
  router.processReady(2);
  const first = router.take(isKind("vote", 2));
  router.tick(2);
  router.tick(2);
  router.processReady(2);
  const again = router.take(isKind("vote", 2));
  assert.equal(first.length, 4);
  assert.equal(again.length, 4, "nobody answered");
  assert.ok([...first, ...again].every((m) => m.type === "vote" && m.transfer));
});
