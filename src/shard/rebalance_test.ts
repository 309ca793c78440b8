/**
 * Tests of the rebalancing algorithm alone: balance and placement on every live group, the
 * minimum number of moved shards checked against a brute-force search over every balanced
 * assignment (small cases) and against test_support's independent formula (larger ones),
 * more groups than shards, no groups, and the tie-breaks that make it deterministic.
 */

import assert from "node:assert/strict";
import { Prng } from "../util/prng.ts";
import { isBalanced, movedShards, rebalance, shardCounts } from "./rebalance.ts";
import { minimumMoves } from "./test_support.ts";

/** The fewest moves over every balanced assignment of `before` onto `gids` (exhaustive). */
function bruteForceMinimum(before: readonly number[], gids: readonly number[]): number {
  let best = Infinity;
  const assignment = new Array<number>(before.length).fill(0);
  const visit = (shard: number): void => {
    if (shard === before.length) {
      if (isBalanced(assignment, gids)) best = Math.min(best, movedShards(before, assignment));
      return;
    }
    for (const gid of gids) {
      assignment[shard] = gid;
      visit(shard + 1);
    }
  };
  visit(0);
  return best;
}

function randomAssignment(random: Prng, shardCount: number, owners: number[]): number[] {
  return Array.from({ length: shardCount }, () => random.pick(owners));
}

Deno.test("rebalance: moves the fewest shards of any balanced assignment (exhaustive, small cases)", () => {
  const random = new Prng(5);
  for (let trial = 0; trial < 300; trial++) {
    const shardCount = 1 + random.int(7);
    const gids = [1, 2, 3, 4].filter(() => random.chance(0.6));
    if (gids.length === 0) continue;
    // Owners before: live groups, gid 0 (unassigned) and 9 (a group that left).
    const before = randomAssignment(random, shardCount, [0, 9, 1, 2, 3, 4]);
    const after = rebalance(before, gids);
    const label = `before ${before} over ${gids}: after ${after}`;
    assert.ok(isBalanced(after, gids), label);
    const best = bruteForceMinimum(before, gids);
    assert.equal(movedShards(before, after), best, label);
    assert.equal(minimumMoves(before, gids), best, `the formula agrees: ${label}`);
  }
});

Deno.test("rebalance: a shard moves only off a group above its share or off a dead gid", () => {
  const random = new Prng(6);
  for (let trial = 0; trial < 500; trial++) {
    const shardCount = 1 + random.int(40);
    const gids = [2, 3, 5, 7, 11, 13].filter(() => random.chance(0.5));
    if (gids.length === 0) continue;
    const before = randomAssignment(random, shardCount, [0, 4, ...gids]);
    const after = rebalance(before, gids);
    const counts = new Map(gids.map((gid, index) => [gid, shardCounts(before, gids)[index]]));
    const ceiling = Math.ceil(shardCount / gids.length);
    before.forEach((gid, shard) => {
      if (after[shard] === gid) return;
      const count = counts.get(gid);
      assert.ok(count === undefined || count >= ceiling, `shard ${shard} left gid ${gid}`);
    });
    assert.equal(movedShards(before, after), minimumMoves(before, gids));
  }
});

Deno.test("rebalance: with no groups every shard goes back to gid 0", () => {
  assert.deepEqual(rebalance([1, 2, 1], []), [0, 0, 0]);
});

Deno.test("rebalance: more groups than shards leaves some groups with 0 (the lab's 15 groups over 10)", () => {
  const gids = Array.from({ length: 15 }, (_, index) => index + 1);
  const after = rebalance(new Array<number>(10).fill(0), gids);
  assert.ok(isBalanced(after, gids));
  assert.deepEqual(shardCounts(after, gids).filter((count) => count === 0).length, 5);
  assert.equal(new Set(after).size, 10, "one shard each for ten groups");
});

Deno.test("rebalance: from config 0 the lowest gids take the lowest shards, in gid order", () => {
  assert.deepEqual(rebalance(new Array<number>(10).fill(0), [1, 2, 3]), [
    1,
    1,
    1,
    1,
    2,
    2,
    2,
    3,
    3,
    3,
  ]);
});

Deno.test("rebalance: ties for the extra shard go to the lower gid; over-full groups give their highest shards", () => {
  // 10 shards over 3 groups: 5 / 5 / 0 → one of gid 1 and gid 2 keeps 4: gid 1 (lower).
  const after = rebalance([1, 1, 1, 1, 1, 2, 2, 2, 2, 2], [1, 2, 3]);
  assert.deepEqual(after, [1, 1, 1, 1, 3, 2, 2, 2, 3, 3]);
});

Deno.test("rebalance: the result does not depend on anything but its inputs (pure, no aliasing)", () => {
  const before = Object.freeze([4, 4, 4, 0, 0, 6, 6, 6, 6, 6]);
  const first = rebalance(before, [4, 5, 6]);
  const second = rebalance(before, [4, 5, 6]);
  assert.deepEqual(first, second);
  assert.notEqual(first, second);
  assert.notEqual(first, before);
});

Deno.test("rebalance: asserts that gids are positive and ascending (the caller sorts)", () => {
  assert.throws(() => rebalance([0, 0], [2, 1]), /ascending/);
  assert.throws(() => rebalance([0, 0], [0]), /positive/);
  assert.throws(() => rebalance([0, 0], [1, 1]), /ascending/);
});
