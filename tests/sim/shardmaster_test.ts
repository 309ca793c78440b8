/**
 * The classic shard master tests (shardmaster/test_test.go, §2.3 of the lab catalogue) on the
 * deterministic simulator: three replicas of the production {@link ShardMasterServer}, clients
 * with the production retry logic, crashes and restarts on a virtual clock. Each scenario runs
 * under several seeds; a failure names its seed, and `SIM_SEED=S` replays just that one.
 *
 * One deliberate difference from the 2018+ lab: the last group(s) may not leave (the master
 * refuses with `lastGroup`, since their data would have no owner), so the phases keep one
 * group joined where the lab empties the configuration, and the expected group sets include it.
 */

import assert from "node:assert/strict";
import { sameConfig, type ShardConfig } from "../../src/shard/shard_config.ts";
import { checkGroups } from "../../src/shard/test_support.ts";
import { change, query } from "./sharded_helpers.ts";
import type { MasterChange, SimMasterClerk } from "./sharded_clerks.ts";
import { ShardedWorld } from "./sharded_world.ts";

const SEEDS = Deno.env.get("SIM_SEED") !== undefined
  ? [Number(Deno.env.get("SIM_SEED"))]
  : [1, 2, 3];

function masterWorld(seed: number, unreliable = false): ShardedWorld {
  return new ShardedWorld({ seed, maxRaftStateBytes: -1, gids: [], unreliable });
}

/** Replica names of a made-up group `gid` (the master only stores them). */
function names(gid: number): string[] {
  return [`${gid}a`, `${gid}b`, `${gid}c`];
}

function joinOne(world: ShardedWorld, clerk: SimMasterClerk, ...gids: number[]): number {
  return change(world, clerk, { type: "join", groups: gids.map((gid) => [gid, names(gid)]) });
}

function leaveOne(world: ShardedWorld, clerk: SimMasterClerk, ...gids: number[]): number {
  return change(world, clerk, { type: "leave", gids });
}

/** A change that must be refused with `code`, leaving the latest config as it was. */
function refused(
  world: ShardedWorld,
  clerk: SimMasterClerk,
  what: MasterChange,
  code: string,
): void {
  const before = query(world, clerk);
  assert.throws(() => change(world, clerk, what), new RegExp(`"code":"${code}"`));
  assert.ok(sameConfig(query(world, clerk), before), `a refused ${what.type} changed nothing`);
}

/** The running master replica that leads, or -1. */
function masterLeader(world: ShardedWorld): number {
  const cluster = world.master.cluster;
  for (let k = 0; k < cluster.n; k++) if (cluster.state(k).isLeader) return k;
  return -1;
}

/** Runs `count` clerks' scripts of changes concurrently; waits for all. */
function concurrently(
  world: ShardedWorld,
  scripts: readonly (readonly MasterChange[])[],
): void {
  let running = scripts.length;
  for (const script of scripts) {
    const clerk = world.newMasterClerk();
    const next = (step: number): void => {
      if (step === script.length) {
        running--;
        return;
      }
      clerk.change(script[step]!, (response) => {
        assert.ok(response.ok, `a concurrent change was refused: ${JSON.stringify(response)}`);
        next(step + 1);
      });
    };
    next(0);
  }
  world.runUntil(() => running === 0, 60_000);
  assert.equal(running, 0, `${running} concurrent clerks did not finish (seed ${world.seed})`);
}

/** For every old gid: a shard `after` gives it, `before` gave it too (joins steal from no one old). */
function noneTakenFromOld(before: ShardConfig, after: ShardConfig, old: readonly number[]): void {
  after.shards.forEach((gid, shard) => {
    if (old.includes(gid)) {
      assert.equal(before.shards[shard], gid, `shard ${shard} moved between old groups`);
    }
  });
}

for (const seed of SEEDS) {
  Deno.test(`shardmaster sim: basic join/leave, historical queries after each restart, move (seed ${seed})`, () => {
    const world = masterWorld(seed);
    const clerk = world.newMasterClerk();
    const history: ShardConfig[] = [];
    const zero = query(world, clerk);
    assert.equal(zero.num, 0);
    checkGroups(zero, [], "config 0");
    history.push(zero);

    assert.equal(joinOne(world, clerk, 1), 1);
    history.push(query(world, clerk));
    checkGroups(history.at(-1)!, [1], "join 1");
    joinOne(world, clerk, 2);
    history.push(query(world, clerk));
    checkGroups(history.at(-1)!, [1, 2], "join 2");
    // 2016: joining a present gid again, and leaving an absent one, are harmless.
    refused(world, clerk, { type: "join", groups: [[2, names(2)]] }, "groupExists");
    const latest = query(world, clerk);
    assert.deepEqual(latest.groups.get(1), names(1), "gid 1's servers, in order");
    assert.deepEqual(latest.groups.get(2), names(2), "gid 2's servers, in order");
    leaveOne(world, clerk, 1);
    history.push(query(world, clerk));
    checkGroups(history.at(-1)!, [2], "leave 1");
    refused(world, clerk, { type: "leave", gids: [1] }, "unknownGroup");
    refused(world, clerk, { type: "leave", gids: [2] }, "lastGroup");

    // Historical queries: shut each replica down in turn; every recorded config reads the same.
    const masters = world.master.cluster;
    for (let k = 0; k < masters.n; k++) {
      masters.crash(k);
      for (const past of history) {
        assert.ok(sameConfig(query(world, clerk, past.num), past), `config ${past.num}, ${k} down`);
      }
      masters.start(k);
    }
    assert.equal(query(world, clerk, 1_000).num, history.at(-1)!.num, "past the latest: latest");

    // Move: each change of assignment raises Num; a move is honoured even when unbalanced.
    joinOne(world, clerk, 503);
    joinOne(world, clerk, 504);
    for (let shard = 0; shard < 10; shard++) {
      const before = query(world, clerk);
      const gid = shard < 5 ? 503 : 504;
      const num = change(world, clerk, { type: "move", shard, gid });
      const after = query(world, clerk);
      assert.ok(after.num > before.num || before.shards[shard] === gid, "a move raised Num");
      assert.equal(after.num, num);
    }
    const moved = query(world, clerk);
    assert.deepEqual(moved.shards, [503, 503, 503, 503, 503, 504, 504, 504, 504, 504]);
    leaveOne(world, clerk, 503);
    leaveOne(world, clerk, 504);
    checkGroups(query(world, clerk), [2], "after the move phase");
  });

  Deno.test(`shardmaster sim: concurrent leave/join from 10 clients, then minimal transfers (seed ${seed})`, () => {
    const world = masterWorld(seed);
    const clerk = world.newMasterClerk();
    joinOne(world, clerk, 1); // Stays throughout (the last group may not leave).
    const gids = Array.from({ length: 10 }, (_, i) => 100 + 10 * i);
    concurrently(
      world,
      gids.map((g) => [
        { type: "join", groups: [[g + 1000, names(g + 1000)]] },
        { type: "join", groups: [[g, names(g)]] },
        { type: "leave", gids: [g + 1000] },
      ]),
    );
    const old = [1, ...gids];
    const c1 = query(world, clerk);
    checkGroups(c1, old, "after the concurrent phase");

    for (let gid = 11; gid <= 15; gid++) joinOne(world, clerk, gid);
    const c2 = query(world, clerk);
    checkGroups(c2, [...old, 11, 12, 13, 14, 15], "after joins");
    noneTakenFromOld(c1, c2, old);

    for (let gid = 11; gid <= 15; gid++) leaveOne(world, clerk, gid);
    const c3 = query(world, clerk);
    checkGroups(c3, old, "after leaves");
    c2.shards.forEach((gid, shard) => {
      if (old.includes(gid)) assert.equal(c3.shards[shard], gid, `shard ${shard} left old ${gid}`);
    });
  });

  Deno.test(`shardmaster sim: concurrent multi join/leave from 10 clients on an unreliable network (seed ${seed})`, () => {
    const world = masterWorld(seed, true);
    const clerk = world.newMasterClerk();
    // Multi-group join/leave in one call; gid 2's list is unchanged by the leave.
    joinOne(world, clerk, 1, 2);
    checkGroups(query(world, clerk), [1, 2], "multi join");
    joinOne(world, clerk, 3);
    checkGroups(query(world, clerk), [1, 2, 3], "join 3");
    leaveOne(world, clerk, 1, 3);
    const afterLeave = query(world, clerk);
    checkGroups(afterLeave, [2], "multi leave");
    assert.deepEqual(afterLeave.groups.get(2), names(2));

    const gids = Array.from({ length: 10 }, (_, i) => 1000 + i);
    concurrently(
      world,
      gids.map((g) => [
        {
          type: "join",
          groups: [[g, names(g)], [g + 1000, names(g + 1000)], [g + 2000, names(g + 2000)]],
        },
        { type: "leave", gids: [g + 1000, g + 2000] },
      ]),
    );
    const old = [2, ...gids];
    const c1 = query(world, clerk);
    checkGroups(c1, old, "after concurrent multi");
    // Exactly-once on a lossy network: 1 + 1 + 1 configs before, then 10 joins and 10 leaves.
    assert.equal(c1.num, 3 + 20, "every change made exactly one config");

    // Minimal transfers after a multi-join and a multi-leave.
    const added = [11, 12, 13, 14, 15];
    joinOne(world, clerk, ...added);
    const c2 = query(world, clerk);
    checkGroups(c2, [...old, ...added], "after multijoin");
    noneTakenFromOld(c1, c2, old);
    leaveOne(world, clerk, ...added);
    const c3 = query(world, clerk);
    checkGroups(c3, old, "after multileave");
    c2.shards.forEach((gid, shard) => {
      if (old.includes(gid)) assert.equal(c3.shards[shard], gid, `shard ${shard} left old ${gid}`);
    });
  });

  Deno.test(`shardmaster sim: minimal transfers again, and the same config from a new leader (seed ${seed})`, () => {
    const world = masterWorld(seed);
    const clerk = world.newMasterClerk();
    joinOne(world, clerk, 1);
    joinOne(world, clerk, 2);
    const c1 = query(world, clerk);
    joinOne(world, clerk, 3);
    const c2 = query(world, clerk);
    let changed = 0;
    c2.shards.forEach((gid, shard) => {
      if (gid !== 3) assert.equal(gid, c1.shards[shard], `shard ${shard} moved between old groups`);
      if (gid !== c1.shards[shard]) changed++;
    });
    assert.ok(changed <= 4, `${changed} shards moved on a join (at most 4)`);
    leaveOne(world, clerk, 1);
    const c3 = query(world, clerk);
    changed = 0;
    c3.shards.forEach((gid, shard) => {
      if (c2.shards[shard] !== 1) assert.equal(gid, c2.shards[shard], `shard ${shard} moved`);
      if (gid !== c2.shards[shard]) changed++;
    });
    assert.ok(changed <= 4, `${changed} shards moved on a leave (at most 4)`);

    // AgreeConfig: shut the leader down; the new leader answers the identical config.
    const before = query(world, clerk);
    const leader = masterLeader(world);
    assert.ok(leader >= 0, "a master leads");
    world.master.cluster.crash(leader);
    const after = query(world, clerk);
    assert.ok(sameConfig(after, before), "the new leader answers the same config");
    assert.notEqual(masterLeader(world), -1);
  });
}
