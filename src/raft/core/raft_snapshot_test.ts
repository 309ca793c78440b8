/**
 * Snapshots in the Raft core (§7), driven by hand: the leader compacts, a follower that
 * needs compacted entries receives InstallSnapshot in chunks of `snapshotChunkBytes`, the
 * transfer resumes by offset after a lost chunk, duplicates are harmless, the follower's ready
 * carries the snapshot and entries after it follow, a follower that already has everything
 * answers at once, and compacting again mid-transfer restarts with the newer snapshot.
 * The {@link Router} applies committed entries, so the leader can compact what it applied.
 */

import assert from "node:assert/strict";
import type { InstallSnapshotRequest, Message } from "./messages.ts";
import type { Raft } from "./raft.ts";
import { isKind, logTerms, Router } from "./test_support.ts";
import { asIndex, asNodeId } from "./types.ts";

const i = asIndex;
const n = asNodeId;
const CHUNK_BYTES = 4;

interface Lagging {
  readonly router: Router;
  readonly leader: Raft;
  readonly follower: Raft;
  readonly data: Uint8Array;
}

/** Node 3 misses entries 2..6, which leader 1 then compacts into a 10-byte snapshot at 6. */
function laggingFollower(): Lagging {
  const router = new Router(3, { snapshotChunkBytes: CHUNK_BYTES });
  const leader = router.elect(1);
  router.isolate(3);
  router.propose(1, 5);
  router.stabilize();
  assert.equal(leader.applied, 6);
  const data = Uint8Array.from({ length: 10 }, (_, k) => 100 + k);
  assert.equal(leader.compact(i(6), data), true);
  assert.equal(leader.log.firstIndex(), 7);
  router.heal(3);
  return { router, leader, follower: router.core(3), data };
}

/** Ticks every core (stabilizing after each tick) until `done`, at most `max` ticks. */
function tickUntil(router: Router, done: () => boolean, max = 40): void {
  for (let tick = 0; tick < max && !done(); tick++) router.tickAll();
  assert.ok(done(), `not done after ${max} ticks`);
}

function chunks(router: Router): InstallSnapshotRequest[] {
  return router.sentWhere(isKind("installSnapshot")) as InstallSnapshotRequest[];
}

/** Stabilizes, but holds back the messages `hold` selects instead of delivering them. */
function settleHolding(router: Router, hold: (m: Message) => boolean, held: Message[]): void {
  for (let round = 0; round < 1000; round++) {
    router.flush();
    if (router.queue.length === 0) return;
    held.push(...router.take(hold));
    router.deliverQueued();
  }
}

Deno.test("raft: a lagging follower gets InstallSnapshot in chunks of snapshotChunkBytes, then the entries after it (§7)", () => {
  const { router, leader, follower, data } = laggingFollower();
  tickUntil(router, () => follower.log.snapshotIndex === 6);
  const sent = chunks(router);
  assert.deepEqual(sent.map((m) => [m.offset, m.chunk.byteLength]), [[0, 4], [4, 4], [8, 2]]);
  assert.ok(
    sent.every((m) => m.totalBytes === 10 && m.snapshotIndex === 6 && m.snapshotTerm === 1),
  );
  const snapshots = router.snapshots.get(n(3))!;
  assert.equal(snapshots.length, 1, "the follower's ready carried the snapshot once");
  assert.deepEqual(snapshots[0]!.meta, { index: 6, term: 1 });
  assert.deepEqual(snapshots[0]!.data, data);
  assert.equal(follower.commit, 6);
  assert.equal(follower.applied, 6);
  assert.equal(leader.progress.get(n(3))!.match, 6, "installed counts as matching up to 6");

  router.propose(1, 2);
  router.stabilize();
  assert.equal(leader.progress.get(n(3))!.state, "replicate");
  assert.deepEqual(logTerms(follower), logTerms(leader));
  assert.equal(follower.log.lastIndex(), 8);
  const applied = router.applied.get(n(3))!.map((entry) => entry.index);
  assert.deepEqual(applied, [1, 7, 8], "entry 1 before, then the snapshot, then 7 and 8");
});

Deno.test("raft: a lost snapshot chunk is resent from its offset by the heartbeat (§7)", () => {
  const { router, follower } = laggingFollower();
  let dropped = false;
  router.drop = (m) => {
    if (m.type !== "installSnapshot" || m.offset !== 4 || dropped) return false;
    dropped = true;
    return true;
  };
  tickUntil(router, () => follower.log.snapshotIndex === 6);
  assert.deepEqual(chunks(router).map((m) => m.offset), [0, 4, 4, 8], "resumed, not restarted");
  assert.equal(router.snapshots.get(n(3))!.length, 1);
});

Deno.test("raft: an unanswered snapshot chunk is resent with exponential backoff, not every heartbeat (§7)", () => {
  const { router, leader } = laggingFollower();
  router.drop = (m) => m.type === "installSnapshot"; // Hold the transfer at its first chunk.
  tickUntil(router, () => leader.progress.get(n(3))!.state === "snapshot");
  router.drop = (m) => m.to === n(3) || m.from === n(3); // The follower is now unreachable.
  const before = chunks(router).length;
  router.tickAll(200); // 100 heartbeat intervals.
  const resent = chunks(router).length - before;
  // Backing off 1, 2, 4, 8, then every 16 heartbeats gives 9 resends; one per heartbeat, 100.
  assert.ok(resent >= 4 && resent <= 12, `${resent} chunks resent in 100 heartbeats`);
  router.drop = () => false;
  tickUntil(router, () => router.core(3).log.snapshotIndex === 6, 200);
});

Deno.test("raft: a duplicated snapshot chunk or answer is harmless (§7)", () => {
  const { router, leader, follower, data } = laggingFollower();
  const isSnapshotMessage = (m: Message) =>
    m.type === "installSnapshot" || m.type === "installSnapshotResponse";
  for (let tick = 0; tick < 40 && follower.log.snapshotIndex < 6; tick++) {
    for (const id of router.cores.keys()) router.tick(id);
    router.flush();
    while (router.queue.length > 0) {
      for (const message of router.take()) {
        router.deliver(message);
        if (isSnapshotMessage(message)) router.deliver(message);
      }
      router.flush();
    }
  }
  assert.ok(chunks(router).length >= 3);
  assert.equal(follower.log.snapshotIndex, 6);
  const snapshots = router.snapshots.get(n(3))!;
  assert.equal(snapshots.length, 1, "installed once");
  assert.deepEqual(snapshots[0]!.data, data);
  router.stabilize();
  router.propose(1);
  router.stabilize();
  assert.deepEqual(logTerms(follower), logTerms(leader));
  assert.equal(follower.commit, leader.commit);
});

Deno.test("raft: a follower whose commit index already covers the snapshot answers installed at once (§7)", () => {
  const router = new Router(3, { snapshotChunkBytes: CHUNK_BYTES });
  const leader = router.elect(1);
  router.propose(1, 3);
  router.stabilize();
  const follower = router.core(2);
  assert.equal(follower.commit, 4);
  leader.compact(i(4), new Uint8Array(10));
  follower.step({
    type: "installSnapshot",
    from: n(1),
    to: n(2),
    term: leader.term,
    snapshotIndex: i(4),
    snapshotTerm: leader.term,
    totalBytes: 10,
    offset: 0,
    chunk: new Uint8Array(4),
  });
  const ready = router.processReady(2)!;
  assert.equal(ready.snapshot, null, "nothing to install");
  assert.deepEqual(ready.messages, [{
    type: "installSnapshotResponse",
    from: 2,
    to: 1,
    term: leader.term,
    snapshotIndex: 4,
    nextOffset: 10,
    installed: true,
  }]);
  assert.equal(follower.log.snapshotIndex, 0, "the log is untouched");
  assert.equal(follower.log.lastIndex(), 4);
});

Deno.test("raft: compacting again mid-transfer restarts the transfer with the newer snapshot (§7)", () => {
  const { router, leader, follower } = laggingFollower();
  const held: Message[] = [];
  const holdChunks = isKind("installSnapshot");
  for (let tick = 0; tick < 20 && held.length === 0; tick++) {
    for (const id of router.cores.keys()) router.tick(id);
    settleHolding(router, holdChunks, held);
  }
  assert.deepEqual(held.map((m) => m.type === "installSnapshot" && m.offset), [0]);
  router.deliver(held.pop()!);
  settleHolding(router, holdChunks, held);
  assert.deepEqual(held.map((m) => m.type === "installSnapshot" && m.offset), [4]);

  // The leader moves on and compacts again while chunk 4 of the old snapshot is in flight.
  router.propose(1, 2);
  settleHolding(router, holdChunks, held);
  assert.equal(leader.applied, 8);
  const newer = Uint8Array.from({ length: 6 }, (_, k) => 200 + k);
  assert.equal(leader.compact(i(8), newer), true);
  router.deliver(held.pop()!); // The old chunk arrives and is acknowledged...
  for (let tick = 0; tick < 10 && held.length === 0; tick++) {
    for (const id of router.cores.keys()) router.tick(id);
    settleHolding(router, holdChunks, held);
  }
  const restarted = held.map((m) => m.type === "installSnapshot" && [m.snapshotIndex, m.offset]);
  assert.deepEqual(restarted, [[8, 0]], "...and the leader restarts with the newer snapshot");

  router.queue.push(...held.splice(0));
  tickUntil(router, () => follower.log.snapshotIndex === 8);
  const snapshots = router.snapshots.get(n(3))!;
  assert.deepEqual(snapshots.map((s) => s.meta.index), [8], "the old snapshot was never installed");
  assert.deepEqual(snapshots[0]!.data, newer);
  router.propose(1);
  router.stabilize();
  assert.deepEqual(logTerms(follower), logTerms(leader));
});
