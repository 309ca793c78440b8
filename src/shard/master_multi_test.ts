/**
 * The classic shardctrler TestMulti and TestMinimalAgain on the pure state machine
 * (classic-lab-tests.md §2.3), then what the lab needs but its own tests do not exercise
 * (§3.1): deterministic configs on every replica (AgreeConfig) down to identical snapshot
 * bytes, exactly-once commands through sessions (including the re-joined group that a
 * duplicate Leave would drop), refusals that make no config (a Leave of the last group
 * among them), and the named limits.
 */

import assert from "node:assert/strict";
import { Prng } from "../util/prng.ts";
import type { MasterCommand } from "./master_command.ts";
import { ShardMasterState } from "./master_state.ts";
import { GROUPS_MAX, MASTER_SESSIONS_MAX } from "./limits.ts";
import { SESSION_EVICT_IDLE_MS_MIN } from "../kv/limits.ts";
import { movedShards } from "./rebalance.ts";
import { sameConfig } from "./shard_config.ts";
import {
  assertAccepted,
  assertRefused,
  checkGroups,
  configText,
  history,
  joinOf,
  leaveOf,
  minimumMoves,
  moveOf,
  replicasOf,
  TestClerk,
} from "./test_support.ts";

Deno.test("shardctrler TestMulti 'Multi-group join/leave': several groups join and leave in one command", () => {
  const state = new ShardMasterState(10);
  const clerk = new TestClerk(state, 1);
  assertAccepted(clerk.join(1, 2), 1);
  checkGroups(state.latest(), [1, 2]);
  assertAccepted(clerk.join(3), 2);
  checkGroups(state.latest(), [1, 2, 3]);
  for (const gid of [1, 2, 3]) assert.deepEqual(state.latest().groups.get(gid), replicasOf(gid));
  assertAccepted(clerk.leave(1, 3), 3);
  checkGroups(state.latest(), [2]);
  assert.deepEqual(state.latest().groups.get(2), replicasOf(2));
  assertRefused(clerk.leave(2), "lastGroup");
  checkGroups(state.latest(), [2]);
});

Deno.test("shardctrler TestMulti 'Concurrent multi leave/join': 10 clients join {g, g+1000, g+2000}, leave two", () => {
  for (const seed of [7, 8, 9, 2018]) {
    const random = new Prng(seed);
    const state = new ShardMasterState(10);
    const gids = Array.from({ length: 10 }, (_, index) => 1000 + index * 7);
    const queues: MasterCommand[][] = gids.map((g, client) => [
      joinOf(client + 1, 1, [g, g + 10_000, g + 20_000]),
      leaveOf(client + 1, 2, [g + 10_000, g + 20_000]),
    ]);
    while (queues.some((queue) => queue.length > 0)) {
      const queue = random.pick(queues.filter((candidate) => candidate.length > 0));
      const command = queue[0] as MasterCommand;
      assert.ok(state.apply(command).ok);
      if (random.chance(0.3)) {
        assert.ok(state.apply(command).ok, "a retry is answered, not applied");
      } else queue.shift();
    }
    checkGroups(state.latest(), gids, `seed ${seed}`);
    assert.equal(state.latest().num, 20, `seed ${seed}`);
  }
});

Deno.test("shardctrler TestMulti 'Minimal transfers after multijoins' and '…multileaves'", () => {
  const state = new ShardMasterState(10);
  const clerk = new TestClerk(state, 1);
  clerk.join(1, 2, 3, 4, 5, 6, 7, 8, 9, 10);
  const c1 = state.latest();
  clerk.join(11, 12, 13, 14, 15);
  const c2 = state.latest();
  assert.equal(movedShards(c1.shards, c2.shards), minimumMoves(c1.shards, [...c2.groups.keys()]));
  c2.shards.forEach((gid, shard) => {
    if (gid <= 10) assert.equal(c1.shards[shard], gid, `shard ${shard} moved between old groups`);
  });
  clerk.leave(11, 12, 13, 14, 15);
  const c3 = state.latest();
  checkGroups(c3, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  c2.shards.forEach((gid, shard) => {
    if (gid <= 10) assert.equal(c3.shards[shard], gid, `old gid ${gid} lost shard ${shard}`);
  });
});

Deno.test("shardctrler TestMinimalAgain (2024): 2 → 3 → 2 groups moves at most 4 of 10 shards each way", () => {
  const state = new ShardMasterState(10);
  const clerk = new TestClerk(state, 1);
  clerk.join(1);
  clerk.join(2);
  const c1 = state.latest();
  clerk.join(3);
  const c2 = state.latest();
  c2.shards.forEach((gid, shard) => {
    if (gid !== 3) assert.equal(c1.shards[shard], gid, `shard ${shard} moved but not to gid 3`);
  });
  assert.ok(movedShards(c1.shards, c2.shards) <= 4, "too many shards moved on join");
  clerk.leave(1);
  const c3 = state.latest();
  c2.shards.forEach((gid, shard) => {
    if (gid !== 1) assert.equal(c3.shards[shard], gid, `shard ${shard} moved but was not on gid 1`);
  });
  assert.ok(movedShards(c2.shards, c3.shards) <= 4, "too many shards moved on leave");
  checkGroups(c3, [2, 3]);
});

/** A seeded log of joins, leaves, moves and retries over gids 1..12. */
function randomLog(seed: number, length: number): MasterCommand[] {
  const random = new Prng(seed);
  const log: MasterCommand[] = [];
  const seqs = [0, 0, 0, 0];
  for (let step = 0; step < length; step++) {
    const client = random.int(seqs.length);
    const previous = log[log.length - 1];
    if (previous !== undefined && random.chance(0.1)) {
      log.push(previous);
      continue;
    }
    const seq = ++(seqs[client] as number);
    const gids = [1 + random.int(12), 1 + random.int(12)];
    const timeMs = step * 1000;
    switch (random.int(3)) {
      case 0:
        log.push(joinOf(client + 1, seq, [...new Set(gids)], timeMs));
        break;
      case 1:
        log.push(leaveOf(client + 1, seq, gids.slice(0, 1), timeMs));
        break;
      default:
        log.push(moveOf(client + 1, seq, random.int(10), gids[0] as number, timeMs));
    }
  }
  return log;
}

Deno.test("shardctrler TestMulti 'Check Same config on servers' (AgreeConfig): the same log gives byte-identical state", () => {
  for (const seed of [11, 12, 13]) {
    const log = randomLog(seed, 300);
    const first = new ShardMasterState(10);
    const second = new ShardMasterState(10);
    let restored = new ShardMasterState(10);
    log.forEach((command, index) => {
      const reply = first.apply(command);
      assert.deepEqual(second.apply(command), reply, `seed ${seed} step ${index}`);
      assert.deepEqual(restored.apply(command), reply, `seed ${seed} step ${index}, restored`);
      // A replica that restarts from a snapshot now and then must not drift either.
      if (index % 37 === 0) restored = ShardMasterState.restore(restored.snapshot());
    });
    assert.ok(first.latest().num > 20, `seed ${seed} made too few configs to mean anything`);
    assert.deepEqual(second.snapshot(), first.snapshot());
    assert.deepEqual(restored.snapshot(), first.snapshot());
    const configs = history(first);
    configs.forEach((config) => {
      assert.ok(sameConfig(second.query(config.num), config));
      assert.ok(sameConfig(restored.query(config.num), config));
    });
  }
});

Deno.test("shardmaster exactly-once: a duplicated Join makes one config and gets the first reply, even after a restore", () => {
  const state = new ShardMasterState(10);
  const join = joinOf(5, 1, [1]);
  assertAccepted(state.apply(join), 1);
  assert.deepEqual(state.apply(join), { ok: true, num: 1 });
  assertAccepted(state.apply(joinOf(6, 1, [2])), 2);
  assert.deepEqual(state.apply(join), { ok: true, num: 1 }, "answered from the session");
  const restored = ShardMasterState.restore(state.snapshot());
  assert.deepEqual(restored.apply(join), { ok: true, num: 1 }, "sessions survive a snapshot");
  assert.equal(restored.latest().num, 2);
  assertAccepted(state.apply(joinOf(5, 2, [3])), 3);
  assertRefused(state.apply(join), "staleRequest");
  assert.equal(state.latest().num, 3);
});

Deno.test("shardmaster exactly-once: a duplicate Leave does not drop a group that joined again (§4)", () => {
  const state = new ShardMasterState(10);
  state.apply(joinOf(1, 1, [1, 2]));
  const leave = leaveOf(1, 2, [2]);
  state.apply(leave);
  state.apply(joinOf(9, 1, [2]));
  const before = state.latest();
  assert.deepEqual(state.apply(leave), { ok: true, num: 2 });
  assert.equal(state.latest(), before);
  checkGroups(state.latest(), [1, 2]);
  // A refusal is remembered too: its retry gets the same refusal, never a later acceptance.
  const early = leaveOf(3, 1, [4]);
  assertRefused(state.apply(early), "unknownGroup");
  state.apply(joinOf(9, 2, [4]));
  assertRefused(state.apply(early), "unknownGroup");
  checkGroups(state.latest(), [1, 2, 4]);
});

Deno.test("shardmaster: a refused command makes no config and changes no config", () => {
  const state = new ShardMasterState(10);
  const clerk = new TestClerk(state, 1);
  clerk.join(1, 2);
  const texts = history(state).map(configText);
  const refusals: [MasterCommand, string][] = [
    [joinOf(2, 1, [2, 3]), "groupExists"],
    [joinOf(2, 2, [3, 3]), "duplicateGroup"],
    [joinOf(2, 3, [0]), "badGroup"],
    [joinOf(2, 4, []), "badGroup"],
    [{ type: "join", clientId: 2, seq: 5, timeMs: 0, groups: [[4, []]] }, "badGroup"],
    [{ type: "join", clientId: 2, seq: 6, timeMs: 0, groups: [[4, ["a", "a"]]] }, "badGroup"],
    [{ type: "join", clientId: 2, seq: 7, timeMs: 0, groups: [[4, [""]]] }, "badGroup"],
    [
      { type: "join", clientId: 2, seq: 8, timeMs: 0, groups: [[4, ["x".repeat(257)]]] },
      "badGroup",
    ],
    [joinOf(2, 9, [1.5]), "badGroup"],
    [leaveOf(2, 10, [3]), "unknownGroup"],
    [leaveOf(2, 11, [1, 1]), "duplicateGroup"],
    [leaveOf(2, 12, []), "badGroup"],
    [moveOf(2, 13, 10, 1), "badShard"],
    [moveOf(2, 14, 0, 3), "unknownGroup"],
    [leaveOf(2, 15, [1, 2]), "lastGroup"],
    [leaveOf(2, 16, [2, 1]), "lastGroup"],
  ];
  for (const [command, code] of refusals) assertRefused(state.apply(command), code);
  assert.deepEqual(history(state).map(configText), texts);
  state.invariants();
});

Deno.test("shardmaster: a Leave of the last group is refused (lastGroup), finally and exactly once; a Leave of one of two groups still works", () => {
  const state = new ShardMasterState(10);
  assertAccepted(state.apply(joinOf(1, 1, [1, 2])), 1);
  const before = state.latest();
  const leaveBoth = leaveOf(2, 1, [2, 1]);
  const refusal = {
    ok: false,
    error: {
      code: "lastGroup",
      message: "Cannot leave gids 1, 2: no group would remain to own the 10 shards, and their " +
        "data would be lost; join another group first",
    },
  };
  assert.deepEqual(state.apply(leaveBoth), refusal);
  assert.equal(state.latest(), before, "no new config");
  assert.deepEqual(state.apply(leaveBoth), refusal, "a retry gets the same refusal");
  const restored = ShardMasterState.restore(state.snapshot());
  assert.deepEqual(restored.apply(leaveBoth), refusal, "the refusal survives a snapshot");
  assert.deepEqual(restored.snapshot(), state.snapshot());

  assertAccepted(state.apply(leaveOf(2, 2, [1])), 2);
  checkGroups(state.latest(), [2]);
  const leaveLast = leaveOf(2, 3, [2]);
  const single = state.apply(leaveLast);
  assertRefused(single, "lastGroup");
  assert.match(single.ok ? "" : single.error.message, /^Cannot leave gid 2: no group would/);
  assert.equal(state.latest().num, 2);
  // Final, not "later": once another group joins, the retry still gets the refusal.
  assertAccepted(state.apply(joinOf(3, 1, [3])), 3);
  assert.deepEqual(state.apply(leaveLast), single, "answered from the session");
  checkGroups(state.latest(), [2, 3]);
  state.invariants();

  const oneShard = new ShardMasterState(1);
  oneShard.apply(joinOf(1, 1, [7]));
  assert.deepEqual(oneShard.apply(leaveOf(1, 2, [7])), {
    ok: false,
    error: {
      code: "lastGroup",
      message: "Cannot leave gid 7: no group would remain to own the 1 shard, and its data " +
        "would be lost; join another group first",
    },
  });
});

Deno.test("shardmaster limits: a Join past GROUPS_MAX is refused with tooManyGroups", () => {
  const state = new ShardMasterState(10);
  const all = Array.from({ length: GROUPS_MAX }, (_, index) => index + 1);
  assertAccepted(state.apply(joinOf(1, 1, all)), 1);
  checkGroups(state.latest(), all);
  assertRefused(state.apply(joinOf(1, 2, [GROUPS_MAX + 1])), "tooManyGroups");
  assertRefused(state.apply(joinOf(1, 3, [...all, GROUPS_MAX + 1])), "tooManyGroups");
  assert.equal(state.latest().num, 1);
});

Deno.test("shardmaster limits: a full session table refuses new clients until one is idle long enough", () => {
  const state = new ShardMasterState(10);
  for (let client = 1; client <= MASTER_SESSIONS_MAX; client++) {
    state.apply(leaveOf(client, 1, [1], 0));
  }
  assertRefused(state.apply(joinOf(MASTER_SESSIONS_MAX + 1, 1, [1], 1)), "tooManySessions");
  assert.equal(state.latest().num, 0);
  const later = SESSION_EVICT_IDLE_MS_MIN;
  assertAccepted(state.apply(joinOf(MASTER_SESSIONS_MAX + 1, 1, [1], later)), 1);
});
