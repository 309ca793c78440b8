/**
 * The classic shardmaster / shardctrler TestBasic, phase by phase, on the pure state machine
 * (classic-lab-tests.md §2.3): basic leave/join with check(groups), historical queries (here:
 * across a snapshot/restore round trip instead of server restarts), move, concurrent
 * leave/join (ten clients' commands interleaved in seeded random orders, with retries), and
 * minimal transfers after joins and after leaves, with the 2016 gids so the check is not
 * vacuous, counted against the optimum as well.
 */

import assert from "node:assert/strict";
import { Prng } from "../util/prng.ts";
import type { MasterCommand } from "./master_command.ts";
import { ShardMasterState } from "./master_state.ts";
import { sameConfig, type ShardConfig } from "./shard_config.ts";
import { movedShards } from "./rebalance.ts";
import {
  assertAccepted,
  assertRefused,
  checkGroups,
  history,
  joinOf,
  leaveOf,
  minimumMoves,
  replicasOf,
  TestClerk,
} from "./test_support.ts";

Deno.test("shardmaster TestBasic 'Basic leave/join': config 0, then check(groups) after each join and leave", () => {
  const state = new ShardMasterState(10);
  const zero = state.query(-1);
  assert.equal(zero.num, 0);
  checkGroups(zero, []);
  assertAccepted(
    state.apply({ type: "join", clientId: 1, seq: 1, timeMs: 0, groups: [[1, ["x", "y", "z"]]] }),
    1,
  );
  checkGroups(state.query(-1), [1]);
  assertAccepted(
    state.apply({ type: "join", clientId: 1, seq: 2, timeMs: 0, groups: [[2, ["a", "b", "c"]]] }),
    2,
  );
  checkGroups(state.query(-1), [1, 2]);
  assert.deepEqual(state.latest().groups.get(1), ["x", "y", "z"]);
  assert.deepEqual(state.latest().groups.get(2), ["a", "b", "c"]);
});

Deno.test("shardmaster TestBasic (2016): a repeated Join of a present gid and a Leave of an absent gid are harmless", () => {
  const state = new ShardMasterState(10);
  const clerk = new TestClerk(state, 1);
  assertAccepted(clerk.join(1), 1);
  assertAccepted(clerk.join(2), 2);
  assertRefused(clerk.join(2), "groupExists");
  assert.equal(state.latest().num, 2);
  checkGroups(state.latest(), [1, 2]);
  assertAccepted(clerk.leave(1), 3);
  checkGroups(state.latest(), [2]);
  assertRefused(clerk.leave(1), "unknownGroup");
  assert.equal(state.latest().num, 3);
  checkGroups(state.latest(), [2]);
  // The 2016 lab never removes the last group; here that Leave is refused (lastGroup).
  assertRefused(clerk.leave(2), "lastGroup");
  assert.equal(state.latest().num, 3);
  checkGroups(state.latest(), [2]);
});

Deno.test("shardmaster TestBasic 'Historical queries': every config answers identically after snapshot and restore", () => {
  const state = new ShardMasterState(10);
  const clerk = new TestClerk(state, 1);
  clerk.join(1);
  clerk.join(2);
  clerk.leave(1);
  clerk.join(1, 3);
  clerk.move(0, 3);
  clerk.leave(2);
  const recorded = history(state);
  assert.equal(recorded.length, 7);
  const restored = ShardMasterState.restore(state.snapshot());
  restored.invariants();
  for (const config of recorded) {
    assert.ok(sameConfig(restored.query(config.num), config), `config ${config.num}`);
    assert.ok(sameConfig(state.query(config.num), config), `config ${config.num} again`);
  }
  checkGroups(restored.query(0), []);
  for (const num of [-1, undefined, 7, 1000]) {
    assert.ok(sameConfig(restored.query(num), recorded[6] as ShardConfig), `query(${num})`);
  }
  assert.deepEqual(restored.snapshot(), state.snapshot());
});

Deno.test("shardmaster TestBasic 'Move': each Move raises Num and is honoured exactly, even unbalanced", () => {
  const state = new ShardMasterState(10);
  const clerk = new TestClerk(state, 1);
  assertAccepted(clerk.join(503));
  assertAccepted(clerk.join(504));
  for (let shard = 0; shard < 10; shard++) {
    const before = state.latest();
    const gid = shard < 5 ? 503 : 504;
    assertAccepted(clerk.move(shard, gid), before.num + 1);
    assert.equal(state.latest().shards[shard], gid);
    assert.ok(movedShards(before.shards, state.latest().shards) <= 1, "a move moves one shard");
  }
  assert.deepEqual(state.latest().shards, [503, 503, 503, 503, 503, 504, 504, 504, 504, 504]);
  // Unbalanced on purpose: a Move is honoured exactly, and no rebalance follows it.
  for (let shard = 0; shard < 10; shard++) assertAccepted(clerk.move(shard, 503));
  assert.ok(state.latest().shards.every((gid) => gid === 503));
  assertAccepted(clerk.leave(503));
  checkGroups(state.latest(), [504]);
  assertRefused(clerk.leave(504), "lastGroup");
  checkGroups(state.latest(), [504]);
});

Deno.test("shardmaster TestBasic 'Move': a later Join or Leave rebalances from the moved state, minimally", () => {
  const state = new ShardMasterState(10);
  const clerk = new TestClerk(state, 1);
  clerk.join(1, 2);
  for (let shard = 0; shard < 10; shard++) clerk.move(shard, 1); // 10 on gid 1, 0 on gid 2
  const moved = state.latest();
  assertAccepted(clerk.join(3));
  checkGroups(state.latest(), [1, 2, 3]);
  assert.equal(
    movedShards(moved.shards, state.latest().shards),
    minimumMoves(moved.shards, [1, 2, 3]),
  );
  assert.ok(
    state.latest().shards.every((gid, shard) => gid === 1 || moved.shards[shard] === 1),
    "only gid 1, the over-full group, gives shards away",
  );
  clerk.move(0, 2);
  clerk.move(1, 2);
  const before = state.latest();
  assertAccepted(clerk.leave(3));
  checkGroups(state.latest(), [1, 2]);
  assert.equal(
    movedShards(before.shards, state.latest().shards),
    minimumMoves(before.shards, [1, 2]),
  );
});

Deno.test("shardmaster: Move to a shard's current owner still makes a config; bad moves are refused", () => {
  const state = new ShardMasterState(10);
  const clerk = new TestClerk(state, 1);
  clerk.join(7);
  assertAccepted(clerk.move(3, 7), 2);
  assert.ok(sameConfig({ ...state.query(1), num: 2 }, state.query(2)));
  assertRefused(clerk.move(10, 7), "badShard");
  assertRefused(clerk.move(-1, 7), "badShard");
  assertRefused(clerk.move(3, 8), "unknownGroup");
  assertRefused(clerk.move(3, 0), "badGroup");
  assert.equal(state.latest().num, 2);
});

/** Interleaves clients' command lists in a seeded random order, keeping each client's order. */
function interleave(random: Prng, perClient: MasterCommand[][]): MasterCommand[] {
  const queues = perClient.map((commands) => [...commands]);
  const log: MasterCommand[] = [];
  let last: MasterCommand | undefined;
  while (queues.some((queue) => queue.length > 0)) {
    // A retry: the same command again (the reply was lost), as labrpc's network would cause.
    if (last !== undefined && random.chance(0.2)) log.push(last);
    const live = queues.filter((queue) => queue.length > 0);
    last = random.pick(live).shift() as MasterCommand;
    log.push(last);
  }
  return log;
}

const CONCURRENT_SEEDS = [1, 2, 3, 42, 20_160_407];

Deno.test("shardmaster TestBasic 'Concurrent leave/join': 10 clients' interleaved Join/Join/Leave end balanced", () => {
  for (const seed of CONCURRENT_SEEDS) {
    for (
      const gids of [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [
        100,
        110,
        120,
        130,
        140,
        150,
        160,
        170,
        180,
        190,
      ]]
    ) {
      const state = new ShardMasterState(10);
      const perClient = gids.map((g, client) => [
        joinOf(client + 1, 1, [g + 1000]),
        joinOf(client + 1, 2, [g]),
        leaveOf(client + 1, 3, [g + 1000]),
      ]);
      for (const command of interleave(new Prng(seed), perClient)) {
        assert.ok(state.apply(command).ok, `seed ${seed}: ${JSON.stringify(command)}`);
      }
      checkGroups(state.latest(), gids, `seed ${seed}`);
      assert.equal(state.latest().num, 30, `seed ${seed}: retries made no configs`);
      state.invariants();
    }
  }
});

Deno.test("shardmaster TestBasic 'Minimal transfers after joins' / 'after leaves' (2016 gids 1..10, not vacuous)", () => {
  const state = new ShardMasterState(10);
  const clerk = new TestClerk(state, 1);
  for (let gid = 1; gid <= 10; gid++) clerk.join(gid);
  const c1 = state.latest();
  for (let gid = 11; gid <= 15; gid++) {
    const before = state.latest();
    clerk.join(gid);
    const after = state.latest();
    assert.equal(
      movedShards(before.shards, after.shards),
      minimumMoves(before.shards, [...after.groups.keys()]),
    );
  }
  const c2 = state.latest();
  checkGroups(c2, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
  for (let gid = 1; gid <= 10; gid++) {
    for (let shard = 0; shard < 10; shard++) {
      if (c2.shards[shard] === gid) {
        assert.equal(c1.shards[shard], gid, `shard ${shard} came to old gid ${gid}`);
      }
    }
  }
  for (let gid = 11; gid <= 15; gid++) clerk.leave(gid);
  const c3 = state.latest();
  checkGroups(c3, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  for (let gid = 1; gid <= 10; gid++) {
    for (let shard = 0; shard < 10; shard++) {
      if (c2.shards[shard] === gid) {
        assert.equal(c3.shards[shard], gid, `old gid ${gid} lost shard ${shard}`);
      }
    }
  }
});

Deno.test("shardmaster: gid lists of replicas are kept exactly, in order, through later configs", () => {
  const state = new ShardMasterState(10);
  const clerk = new TestClerk(state, 1);
  clerk.join(1, 2, 3);
  clerk.leave(1, 3);
  clerk.join(3);
  assert.deepEqual(state.latest().groups.get(2), replicasOf(2));
  assert.deepEqual(state.latest().groups.get(3), replicasOf(3));
  assert.equal(state.latest().groups.get(1), undefined);
});
