/**
 * The core never throws on input and keeps its invariants (`step` drops what it cannot use).
 * Hand-made bad messages are sent to a leader and a follower of a small cluster: unknown or
 * wrong ids, stale terms, huge indexes, malformed entries, overflowing snapshot chunks, and
 * negative / NaN / fractional / infinite numbers in every field. Then a seeded fuzz loop
 * drives 3 cores through 20,000 random steps (real messages delivered, dropped, duplicated
 * and reordered; arbitrary-valued messages injected; ticks, proposals, reads, transfers,
 * compactions; readies held across steps) and checks `invariants()` after every step.
 */

import assert from "node:assert/strict";
import { Prng } from "../../util/prng.ts";
import type { Message } from "./messages.ts";
import type { Raft } from "./raft.ts";
import type { Ready } from "./ready.ts";
import {
  BAD_NUMBERS,
  command,
  logTerms,
  numericFields,
  persistedLog,
  Router,
  WELL_FORMED,
} from "./test_support.ts";
import { asIndex, asNodeId, asTerm, type Entry, type NodeId } from "./types.ts";

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
  // BUG (reported): in replicate state onAppendRejected only checks rejectedIndex > match, so
  // rejectedIndex = conflictIndex = 100 on a 3-entry log sets next = 100: invariants() fails
  // ("Progress next 100 beyond last index 3 + 1") and the next ready() throws in sendAppend
  // ("Entry 99 is compacted but there is no snapshot").
  ignore: true,
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
  // BUG (reported): onAppend's prevIndex < commit branch merges the entries after the commit
  // index without checking that they can follow our entry at the commit index. Follower with
  // [1 (t1), 2 (t1), 3 (t2), committed to 3] given prevIndex 0 and entries 1..4 of term 1:
  // merge appends entry 4 of term 1 after term 2 and RaftLog.append asserts ("Cannot append
  // term 1 after term 2"). A real leader never sends this, but step() must not throw.
  ignore: true,
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
  // BUG (reported, see validate_test.ts): NaN passes validation and RaftLog.append throws
  // ("Cannot append term NaN after term 4"); 4.5 in a term-5 message enters the log.
  ignore: true,
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

// ---------------------------------------------------------------- fuzz

/** What the fuzz may generate; each flag avoids the shape of one reported bug. */
interface FuzzOptions {
  readonly seed: number;
  readonly steps: number;
  /** Generate NaN / fractional entry terms (bug: they pass validation). */
  readonly badEntryTerms: boolean;
  /** Generate appends below the follower's commit with arbitrary entry terms (bug). */
  readonly appendsBelowCommit: boolean;
  /** Generate rejections for indexes beyond the leader's log (bug). */
  readonly rejectionsBeyondLog: boolean;
}

class Fuzzer {
  readonly random: Prng;
  readonly router: Router;
  readonly outstanding = new Map<NodeId, Ready>();
  readonly options: FuzzOptions;
  /** Last index each application was handed (entries or snapshot). */
  readonly handed = new Map<NodeId, number>();
  /** What the run exercised, so that a test can check it did more than bounce off validation. */
  readonly coverage = {
    leaders: 0,
    maxCommit: 0,
    compactions: 0,
    snapshotsInstalled: 0,
    acceptedProposals: 0,
    readStates: 0,
  };
  step = 0;
  readonly #leaderTerms = new Map<NodeId, number>();

  constructor(options: FuzzOptions) {
    this.options = options;
    this.random = new Prng(options.seed);
    const seeds = this.random.fork();
    this.router = new Router(3, () => ({ random: seeds.fork(), snapshotChunkBytes: 16 }));
    for (const id of this.router.cores.keys()) this.handed.set(id, 0);
  }

  run(): void {
    for (this.step = 0; this.step < this.options.steps; this.step++) {
      this.#oneStep();
      this.router.invariants();
      for (const core of this.router.cores.values()) {
        this.coverage.maxCommit = Math.max(this.coverage.maxCommit, core.commit);
        if (core.role === "leader" && this.#leaderTerms.get(core.id) !== core.term) {
          this.#leaderTerms.set(core.id, core.term);
          this.coverage.leaders++;
        }
      }
    }
  }

  #core(): Raft {
    return this.router.core(1 + this.random.int(3));
  }

  #oneStep(): void {
    const roll = this.random.int(100);
    const core = this.#core();
    if (roll < 30) this.#deliverQueued();
    else if (roll < 45) core.tick();
    else if (roll < 55) this.#takeReady(core);
    else if (roll < 65) this.#advance(core);
    else if (roll < 72) this.#propose(core);
    else if (roll < 75) core.readIndex(this.step);
    else if (roll < 76) core.transferLeadership(n(1 + this.random.int(4)));
    else if (roll < 80) this.#compact(core);
    else core.step(this.#randomMessage(core));
  }

  #propose(core: Raft): void {
    if (core.propose(new Uint8Array(this.random.int(40))).ok) this.coverage.acceptedProposals++;
  }

  #deliverQueued(): void {
    const queue = this.router.queue;
    if (queue.length === 0) return;
    const k = this.random.int(queue.length);
    const message = queue[k]!;
    if (this.random.chance(0.9)) queue.splice(k, 1); // Else it stays: a duplicate later.
    if (this.random.chance(0.1)) return; // Lost.
    this.router.core(message.to).step(message);
  }

  #takeReady(core: Raft): void {
    if (this.outstanding.has(core.id) || !core.hasReady()) return;
    const ready = core.ready();
    this.outstanding.set(core.id, ready);
    this.router.queue.push(...ready.messages); // Sent before the "fsync": invariants only.
    let handed = this.handed.get(core.id)!;
    if (ready.snapshot !== null) {
      handed = ready.snapshot.meta.index;
      this.coverage.snapshotsInstalled++;
    }
    this.coverage.readStates += ready.readStates.length;
    for (const entry of ready.committedEntries) {
      assert.equal(entry.index, handed + 1, `core ${core.id} applies out of order`);
      handed = entry.index;
    }
    this.handed.set(core.id, handed);
  }

  #advance(core: Raft): void {
    const ready = this.outstanding.get(core.id);
    if (ready === undefined) return;
    this.outstanding.delete(core.id);
    core.advance(ready);
  }

  #compact(core: Raft): void {
    const from = core.log.snapshotIndex + 1;
    if (core.applied < from) return;
    const index = from + this.random.int(core.applied - from + 1);
    if (core.compact(i(index), new Uint8Array(this.random.int(50)))) this.coverage.compactions++;
  }

  /** A number near `near`; now and then invalid, or (with `huge`) near the safe maximum. */
  #number(near: number, huge = true): number {
    const r = this.random;
    const roll = r.int(100);
    if (roll < 2) return r.pick(BAD_NUMBERS);
    if (roll < 4 && huge) return Number.MAX_SAFE_INTEGER - r.int(3);
    return Math.max(0, near + r.int(7) - 3);
  }

  /** A random integer in [0, bound), for any bound (NaN, huge, 0 included). */
  #below(bound: number): number {
    if (!Number.isFinite(bound) || bound < 1) return 0;
    return this.random.int(Math.min(Math.floor(bound), 2 ** 31));
  }

  /** A term: near the target's, never huge (a term near 2^53 would be a test artifact). */
  #term(near: number): number {
    return this.#number(near, false);
  }

  #entries(prevIndex: number, prevTerm: number, term: number): Entry[] {
    const r = this.random;
    const entries: Entry[] = [];
    let entryTerm = prevTerm;
    const count = r.int(5);
    for (let k = 1; k <= count; k++) {
      if (r.chance(0.3)) entryTerm = entryTerm + this.#below(term - entryTerm + 1);
      entryTerm = Math.min(entryTerm, term);
      if (r.chance(0.05)) entryTerm = Math.max(0, entryTerm - 1); // Decreasing: dropped.
      let value = entryTerm;
      if (this.options.badEntryTerms && r.chance(0.02)) value = r.pick([Number.NaN, term - 0.5]);
      const index = r.chance(0.03) ? prevIndex + k + 1 : prevIndex + k; // A gap: dropped.
      entries.push(
        r.chance(0.5)
          ? { type: "noop", index: i(index), term: t(value) }
          : command(index, value, r.int(20)),
      );
    }
    return entries;
  }

  #randomMessage(target: Raft): Message {
    const r = this.random;
    const ids = [1, 2, 3, 3, 99];
    const from = n(r.pick(ids.filter((id) => id !== target.id)));
    const to = r.chance(0.95) ? target.id : n(r.pick(ids));
    // Mostly the target's own term (so that the message is acted on), now and then older,
    // rarely newer (each newer term deposes a leader, and too many would stall the run).
    const roll = r.int(100);
    const term = t(
      roll < 70
        ? target.term
        : roll < 92
        ? Math.max(0, target.term - 1 - r.int(2))
        : roll < 97
        ? target.term + 1 + r.int(2)
        : r.pick(BAD_NUMBERS),
    );
    const last = target.log.lastIndex();
    const index = () => i(this.#number(this.#below(last + 2)));
    const header = { from, to, term };
    switch (r.int(12)) {
      case 0:
        return { ...header, type: "preVote", lastIndex: index(), lastTerm: t(this.#term(term)) };
      case 1:
        return { ...header, type: "preVoteResponse", granted: r.chance(0.5) };
      case 2:
        return {
          ...header,
          type: "vote",
          lastIndex: index(),
          lastTerm: t(this.#term(term)),
          transfer: r.chance(0.2),
        };
      case 3:
        return { ...header, type: "voteResponse", granted: r.chance(0.5) };
      case 4: {
        let prevIndex = index();
        if (!this.options.appendsBelowCommit && prevIndex < target.commit) {
          prevIndex = target.commit;
        }
        const ours = Number.isSafeInteger(prevIndex) ? target.log.term(prevIndex) : undefined;
        const prevTerm = r.chance(0.7) && ours !== undefined ? ours : t(this.#term(term));
        return {
          ...header,
          type: "append",
          prevIndex,
          prevTerm,
          entries: this.#entries(prevIndex, prevTerm, term),
          commit: index(),
        };
      }
      case 5:
        return { ...header, type: "appendAccepted", matchIndex: index() };
      case 6: {
        let rejectedIndex = index();
        let conflictIndex = i(Math.max(1, this.#number(this.#below(last + 2))));
        if (!this.options.rejectionsBeyondLog) {
          rejectedIndex = i(Math.min(rejectedIndex, last));
          conflictIndex = i(Math.min(conflictIndex, last + 1));
        }
        return {
          ...header,
          type: "appendRejected",
          rejectedIndex,
          conflictTerm: t(this.#term(this.#below(term + 1))),
          conflictIndex,
        };
      }
      case 7:
        return {
          ...header,
          type: "heartbeat",
          commit: index(),
          round: this.#number(target.reads.round),
        };
      case 8:
        return { ...header, type: "heartbeatResponse", round: this.#number(target.reads.round) };
      case 9: {
        const totalBytes = r.int(40);
        const offset = r.chance(0.5) ? 0 : r.int(totalBytes + 1);
        const size = r.chance(0.9) ? r.int(totalBytes - offset + 1) : r.int(40);
        return {
          ...header,
          type: "installSnapshot",
          snapshotIndex: i(Math.max(1, this.#number(this.#below(last + 4), false))),
          snapshotTerm: t(this.#term(this.#below(term + 1))),
          totalBytes,
          offset,
          chunk: new Uint8Array(size),
        };
      }
      case 10:
        return {
          ...header,
          type: "installSnapshotResponse",
          snapshotIndex: index(),
          nextOffset: this.#number(r.int(40)),
          installed: r.chance(0.5),
        };
      default:
        return { ...header, type: "timeoutNow" };
    }
  }
}

function fuzz(options: FuzzOptions): void {
  const fuzzer = new Fuzzer(options);
  try {
    fuzzer.run();
  } catch (error) {
    const where = `seed ${options.seed}, step ${fuzzer.step}`;
    throw new Error(`Fuzz failed at ${where}: ${(error as Error).message}`, { cause: error });
  }
  // The run must have exercised the core, not just bounced off validation.
  console.log(options.seed, fuzzer.coverage, [...fuzzer.router.cores.values()].map(c=>[c.role,c.term,c.commit,c.log.lastIndex(), c.log.snapshotIndex]));
}

Deno.test("robustness: 20,000 random steps on 3 cores never throw and keep every invariant (fuzz)", () => {
  for (const seed of [1, 2, 3]) {
    fuzz({
      seed,
      steps: 20_000,
      badEntryTerms: false,
      appendsBelowCommit: false,
      rejectionsBeyondLog: false,
    });
  }
});

Deno.test({
  name: "robustness: the fuzz including the shapes of the reported bugs never throws",
  // BUG (reported): fails through the three bugs above (NaN entry terms, appends below the
  // commit index with older terms, rejections beyond the leader's log). Un-ignore once fixed.
  ignore: true,
  fn: () => {
    for (const seed of [1, 2, 3]) {
      fuzz({
        seed,
        steps: 20_000,
        badEntryTerms: true,
        appendsBelowCommit: true,
        rejectionsBeyondLog: true,
      });
    }
  },
});
