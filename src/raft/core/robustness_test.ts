/**
 * The core never throws on input and keeps its invariants (`step` drops what it cannot use).
 * Hand-made bad messages are sent to a leader and a follower of a small cluster: unknown or
 * wrong ids, stale terms, huge indexes, malformed entries, overflowing snapshot chunks, and
 * negative / NaN / fractional / infinite numbers in every field. Each is checked to leave
 * the core unchanged (or to be answered as the paper says) with `invariants()` holding.
 * The seeded fuzz loop that mixes such messages with real traffic is in fuzz_test.ts.
 */

import assert from "node:assert/strict";
import type { Message } from "./messages.ts";
import type { Raft } from "./raft.ts";
import {
  BAD_NUMBERS,
  command,
  logTerms,
  numericFields,
  persistedLog,
  Router,
  WELL_FORMED,
} from "./test_support.ts";
import { asIndex, asNodeId, asTerm, type Entry } from "./types.ts";

const i = asIndex;
const t = asTerm;
const n = asNodeId;

/** Leader 1 (term 4) and followers 2, 3 holding entries 1..6 (the last three committed now). */
function cluster(): { router: Router; leader: Raft; follower: Raft } {
  const router = new Router(3, {}, () => persistedLog([1, 2, 3], { term: 3, commit: 3 }));
  const leader = router.elect(1);
  router.propose(1, 2);
  router.stabilize();
  return { router, leader, follower: router.core(2) };
}

/** Everything observable about a core, to check that a dropped message changed nothing. */
function fingerprint(core: Raft): string {
  const status = core.status();
  return JSON.stringify({
    ...status,
    progress: status.progress.map((p) => ({ ...p, recentActive: undefined })),
    terms: logTerms(core),
    electionElapsed: core.electionElapsed,
    messages: core.messages.length,
    hasReady: core.hasReady(),
  });
}

/** `template` addressed from `from` to `core`, in `core`'s term unless it sets its own. */
function aimed(template: Message, core: Raft, from: number, overrides: object = {}): Message {
  return { ...template, from: n(from), to: core.id, term: core.term, ...overrides } as Message;
}

function expectDropped(core: Raft, message: Message, why: string): void {
  const before = fingerprint(core);
  core.step(message);
  core.invariants();
  assert.equal(fingerprint(core), before, `${why}: ${message.type} changed the core`);
}

Deno.test("robustness: messages from unknown ids, to another id, or from itself are dropped", () => {
  const { leader, follower } = cluster();
  for (const core of [leader, follower]) {
    const peer = core.id === 1 ? 2 : 1;
    for (const template of WELL_FORMED) {
      expectDropped(core, aimed(template, core, 99), "unknown sender");
      expectDropped(core, aimed(template, core, peer, { to: n(3) }), "addressed to node 3");
      expectDropped(core, aimed(template, core, peer, { to: n(99) }), "addressed to nobody");
      expectDropped(core, aimed(template, core, core.id), "from itself");
      expectDropped(core, aimed(template, core, 0), "node id 0");
    }
  }
});

Deno.test("robustness: messages of a stale term are answered with our term or dropped, never obeyed", () => {
  const { leader, follower } = cluster();
  for (const core of [leader, follower]) {
    const peer = core.id === 1 ? 2 : 1;
    for (const template of WELL_FORMED) {
      const before = fingerprint(core);
      const message = aimed(template, core, peer, { term: t(3) });
      core.step(message);
      core.invariants();
      const answers = core.messages;
      core.messages = [];
      assert.equal(fingerprint(core), before, `stale ${message.type} changed the core`);
      const expected = ["append", "heartbeat", "installSnapshot"].includes(message.type)
        ? [{ type: "heartbeatResponse", from: core.id, to: peer, term: core.term, round: 0 }]
        : message.type === "preVote"
        ? [{ type: "preVoteResponse", from: core.id, to: peer, term: core.term, granted: false }]
        : [];
      assert.deepEqual(answers, expected, `stale ${message.type}`);
    }
  }
});

Deno.test("robustness: a negative, NaN, fractional or infinite number in any field is dropped", () => {
  const { leader, follower } = cluster();
  for (const core of [leader, follower]) {
    const peer = core.id === 1 ? 2 : 1;
    for (const template of WELL_FORMED) {
      const message = aimed(template, core, peer);
      for (const key of [...numericFields(message), "from", "to"]) {
        for (const bad of BAD_NUMBERS) {
          expectDropped(core, { ...message, [key]: bad } as Message, `${key} = ${bad}`);
        }
      }
    }
  }
});

Deno.test("robustness: an append whose entries have gaps or decreasing terms is dropped", () => {
  const { leader, follower } = cluster();
  const last = follower.log.lastIndex();
  const append = (entries: Entry[]): Message => ({
    type: "append",
    from: n(1),
    to: n(2),
    term: leader.term,
    prevIndex: last,
    prevTerm: follower.log.lastTerm(),
    entries,
    commit: leader.commit,
  });
  expectDropped(follower, append([command(last + 2, 4)]), "gap after prevIndex");
  expectDropped(follower, append([command(last + 1, 4), command(last + 3, 4)]), "gap");
  expectDropped(follower, append([command(last + 1, 4), command(last + 1, 4)]), "repeat");
  expectDropped(follower, append([command(last + 1, 4), command(last + 2, 3)]), "terms decrease");
  expectDropped(follower, append([command(last + 1, 5)]), "entry term beyond message term");
});

Deno.test("robustness: huge indexes are refused or bounded by the log", () => {
  const { leader, follower } = cluster();
  const huge = Number.MAX_SAFE_INTEGER;
  const last = follower.log.lastIndex();
  follower.step({
    type: "append",
    from: n(1),
    to: n(2),
    term: leader.term,
    prevIndex: i(huge),
    prevTerm: leader.term,
    entries: [],
    commit: i(huge),
  });
  assert.deepEqual(follower.messages.at(-1), {
    type: "appendRejected",
    from: 2,
    to: 1,
    term: leader.term,
    rejectedIndex: huge,
    conflictTerm: 0,
    conflictIndex: last + 1,
  });
  follower.step({
    type: "heartbeat",
    from: n(1),
    to: n(2),
    term: leader.term,
    commit: i(huge),
    round: huge,
  });
  assert.equal(follower.commit, last, "a heartbeat's commit is bounded by the log");
  follower.invariants();

  const progress = leader.progress.get(n(2))!;
  const match = progress.match;
  for (const matchIndex of [leader.log.lastIndex() + 1, huge]) {
    leader.step({
      type: "appendAccepted",
      from: n(2),
      to: n(1),
      term: leader.term,
      matchIndex: i(matchIndex),
    });
    leader.invariants();
    assert.equal(progress.match, match, `matchIndex ${matchIndex} beyond the last index`);
  }
  leader.step({
    type: "installSnapshotResponse",
    from: n(2),
    to: n(1),
    term: leader.term,
    snapshotIndex: i(huge),
    nextOffset: huge,
    installed: true,
  });
  leader.step({ type: "heartbeatResponse", from: n(2), to: n(1), term: leader.term, round: huge });
  leader.invariants();
  assert.equal(progress.match, match);
  assert.ok(progress.ackedRound <= leader.reads.round, "a round never sent cannot be acknowledged");
});

Deno.test({
  name: "robustness: an append rejection for an index beyond the leader's log is ignored",
  // Regression (fixed): in replicate state onAppendRejected only checked rejectedIndex > match, so
  // rejectedIndex = conflictIndex = 100 on a 3-entry log sets next = 100: invariants() fails
  // ("Progress next 100 beyond last index 3 + 1") and the next ready() throws in sendAppend
  // ("Entry 99 is compacted but there is no snapshot").
  fn: () => {
    const { router, leader } = cluster();
    const progress = leader.progress.get(n(2))!;
    assert.equal(progress.state, "replicate");
    leader.step({
      type: "appendRejected",
      from: n(2),
      to: n(1),
      term: leader.term,
      rejectedIndex: i(100),
      conflictTerm: t(0),
      conflictIndex: i(100),
    });
    leader.invariants();
    router.stabilize();
    assert.ok(progress.next <= leader.log.lastIndex() + 1);
  },
});

Deno.test({
  name:
    "robustness: an append below the commit index carrying entries of older terms does not throw",
  // Regression (fixed): onAppend's prevIndex < commit branch merged the entries after the commit
  // index without checking that they can follow our entry at the commit index. Follower with
  // [1 (t1), 2 (t1), 3 (t2), committed to 3] given prevIndex 0 and entries 1..4 of term 1:
  // merge appends entry 4 of term 1 after term 2 and RaftLog.append asserts ("Cannot append
  // term 1 after term 2"). A real leader never sends this, but step() must not throw.
  fn: () => {
    const router = new Router(3, {}, () => persistedLog([1, 1], { term: 1, commit: 2 }));
    const leader = router.elect(1);
    const follower = router.core(2);
    assert.equal(follower.commit, 3);
    follower.step({
      type: "append",
      from: n(1),
      to: n(2),
      term: leader.term,
      prevIndex: i(0),
      prevTerm: t(0),
      entries: [command(1, 1), command(2, 1), command(3, 1), command(4, 1)],
      commit: i(0),
    });
    follower.invariants();
  },
});

Deno.test({
  name: "robustness: an append whose entry term is NaN or fractional is dropped",
  // Regression (fixed, see validate_test.ts): NaN passed validation and RaftLog.append threw
  // ("Cannot append term NaN after term 4"); 4.5 in a term-5 message enters the log.
  fn: () => {
    const { router, follower } = cluster();
    for (const term of [Number.NaN, 4.5]) {
      const before = logTerms(follower);
      follower.step({
        type: "append",
        from: n(1),
        to: n(2),
        term: t(5),
        prevIndex: follower.log.lastIndex(),
        prevTerm: follower.log.lastTerm(),
        entries: [{ ...command(follower.log.lastIndex() + 1, 5), term: t(term) }],
        commit: i(0),
      });
      follower.invariants();
      router.flush();
      assert.deepEqual(logTerms(follower), before, `entry term ${term}`);
    }
  },
});

Deno.test("robustness: a snapshot chunk that overflows its snapshot is dropped", () => {
  const { follower, leader } = cluster();
  const chunk: Message = {
    type: "installSnapshot",
    from: n(1),
    to: n(2),
    term: leader.term,
    snapshotIndex: i(50),
    snapshotTerm: leader.term,
    totalBytes: 8,
    offset: 4,
    chunk: new Uint8Array(5),
  };
  expectDropped(follower, chunk, "offset + chunk > totalBytes");
  expectDropped(follower, { ...chunk, offset: 0, chunk: new Uint8Array(9) }, "chunk > totalBytes");
});
