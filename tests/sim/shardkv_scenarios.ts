/**
 * The classic shardkv tests (shardkv/test_test.go, §2.4 of the lab catalogue) as functions of a
 * seed, on the deterministic simulator: three groups (gids 100, 101, 102) of three replicas and
 * a shard master of three, all running the production servers. Each scenario follows the lab's
 * steps and thresholds; the differences are noted where they occur (keys are one per shard by
 * our FNV-1a routing instead of the lab's first byte; the last group may not leave). Every
 * scenario returns its figures so tests and `deno task sim` can print them.
 */

import assert from "node:assert/strict";
import { shardOf } from "../../src/kv/shard_of.ts";
import { checkLinearizable, type HistoryFigures } from "./kv_helpers.ts";
import { deadOwnerGc, largeShard, randomFaults } from "./shardkv_own_scenarios.ts";
import {
  Appenders,
  assertStillPulling,
  checkAll,
  checkAndAppend,
  checkLogSizes,
  checkNoSnapshots,
  G0,
  G1,
  G2,
  putAll,
  randomClients,
  report,
  type ScenarioReport,
  type Setup,
  setup,
  shardsOwnedBy,
  waitAll,
} from "./shardkv_scenario_support.ts";
import { checkGet, join, leave, perform, randomString, start } from "./sharded_helpers.ts";
import { keysPerShard, SHARDED_SHARD_COUNT, type ShardedWorld } from "./sharded_world.ts";
import type { SimMasterClerk } from "./sharded_clerks.ts";

export type { ScenarioReport };

// ------------------------------------------------------------------ 5A-style tests

/** The static tests' start: groups 100 and 101 joined, one key per shard with 20-letter values. */
function staticSetup(seed: number): { s: Setup; keys: string[]; expected: string[] } {
  const s = setup(seed, -1);
  join(s.world, s.admin, G0);
  join(s.world, s.admin, G1);
  const keys = keysPerShard();
  return { s, keys, expected: putAll(s, keys, () => randomString(s.world, 20)) };
}

/**
 * StaticShards: with group 101 down, exactly the gets of 100's keys finish within 2 s and read
 * correctly; after 101 restarts, every key reads back.
 */
export function staticShards(seed: number): ScenarioReport {
  const { s, keys, expected } = staticSetup(seed);
  const { world, admin } = s;
  checkAll(s, keys, expected);
  world.shutdownGroup(G1);
  checkNoSnapshots(world);
  const ownedBy0 = shardsOwnedBy(world, admin, G0);
  const gets = keys.map((key) => start(world, world.newClerk(), { kind: "get", key }));
  world.run(2_000);
  const finished = gets.filter((get) => get.done);
  assert.equal(finished.length, ownedBy0.length, `exactly ${ownedBy0.length} gets finish in 2 s`);
  gets.forEach((get, i) => {
    if (get.done) {
      assert.ok(ownedBy0.includes(shardOf(keys[i]!, SHARDED_SHARD_COUNT)), "only 100's keys");
      assert.equal(get.output, expected[i], `get ${keys[i]}`);
    }
  });
  world.startGroup(G1);
  waitAll(world, gets);
  gets.forEach((get, i) => assert.equal(get.output, expected[i], `get ${keys[i]} after restart`));
  return report(world, { finishedWhileDown: finished.length });
}

/**
 * Rejection: clerks that use a second shard master, on which only group 100 joined, get the
 * answers of exactly the keys 100 owns under the real config; 100 refuses the rest
 * (wrongGroup), so those never finish and no get reads "".
 */
export function rejection(seed: number): ScenarioReport {
  const { s, keys, expected } = staticSetup(seed);
  const { world, admin } = s;
  const ownedBy0 = shardsOwnedBy(world, admin, G0);
  const other = world.newMasterGroup();
  join(world, world.newMasterClerk(other), G0);
  const gets = keys.map((key) => start(world, world.newClerk(other), { kind: "get", key }));
  world.run(2_000);
  let finished = 0;
  gets.forEach((get, i) => {
    const owned = ownedBy0.includes(shardOf(keys[i]!, SHARDED_SHARD_COUNT));
    assert.equal(get.done, owned, `get ${keys[i]} finished: ${get.done}, owned by 100: ${owned}`);
    if (get.done) {
      finished++;
      assert.equal(get.output, expected[i], `get ${keys[i]} answered for a shard 100 owns`);
    }
  });
  assert.equal(finished, ownedBy0.length);
  return report(world, { finished });
}

// ------------------------------------------------------------------ 5B tests

/** JoinLeave: data follows the shards to 101; with 100 shut down afterwards, all still read. */
export function joinLeave(seed: number): ScenarioReport {
  const s = setup(seed, -1);
  const { world, admin } = s;
  join(world, admin, G0);
  const keys = keysPerShard();
  const expected = putAll(s, keys, () => randomString(world, 5));
  join(world, admin, G1);
  checkAndAppend(s, keys, expected, 5);
  leave(world, admin, G0);
  checkAndAppend(s, keys, expected, 5);
  world.run(1_000);
  checkNoSnapshots(world);
  world.shutdownGroup(G0);
  checkAll(s, keys, expected);
  return report(world);
}

/** Snapshot: 30 keys through joins and leaves with maxraftstate 1000; all survive a full restart. */
export function snapshot(seed: number): ScenarioReport {
  const maxRaftState = 1_000;
  const s = setup(seed, maxRaftState);
  const { world, admin } = s;
  join(world, admin, G0);
  const keys = Array.from({ length: 30 }, (_, i) => String(i));
  const expected = putAll(s, keys, () => randomString(world, 20));
  join(world, admin, G1);
  join(world, admin, G2);
  leave(world, admin, G0);
  checkAndAppend(s, keys, expected, 20);
  leave(world, admin, G1);
  join(world, admin, G0);
  checkAndAppend(s, keys, expected, 20);
  world.run(1_000);
  checkAll(s, keys, expected);
  world.run(1_000);
  const largest = checkLogSizes(world, maxRaftState);
  for (const gid of [G0, G1, G2]) world.shutdownGroup(gid);
  for (const gid of [G0, G1, G2]) world.startGroup(gid);
  checkAll(s, keys, expected);
  return report(world, { maxRaftStateBytes: largest });
}

/** MissChange: a minority of every group misses config changes and catches up on restart. */
export function missChange(seed: number): ScenarioReport {
  const maxRaftState = 1_000;
  const s = setup(seed, maxRaftState);
  const { world, admin } = s;
  const crashServer = (k: number) => {
    for (const gid of [G0, G1, G2]) world.group(gid).cluster.crash(k);
  };
  const startServer = (k: number) => {
    for (const gid of [G0, G1, G2]) world.group(gid).cluster.start(k);
  };
  join(world, admin, G0);
  const keys = keysPerShard();
  const expected = putAll(s, keys, () => randomString(world, 20));
  join(world, admin, G1);
  crashServer(0);
  join(world, admin, G2);
  leave(world, admin, G1);
  leave(world, admin, G0);
  checkAndAppend(s, keys, expected, 20);
  join(world, admin, G1);
  checkAndAppend(s, keys, expected, 20);
  startServer(0);
  checkAndAppend(s, keys, expected, 20);
  world.run(2_000);
  crashServer(1);
  join(world, admin, G0);
  leave(world, admin, G2);
  checkAndAppend(s, keys, expected, 20);
  startServer(1);
  checkAll(s, keys, expected);
  return report(world, { maxRaftStateBytes: checkLogSizes(world, maxRaftState) });
}

/** Concurrent1: appenders every 10 ms through joins, leaves and a crash of all three groups. */
export function concurrent1(seed: number): ScenarioReport {
  const s = setup(seed, 100);
  const { world, admin } = s;
  join(world, admin, G0);
  const keys = keysPerShard();
  const initial = putAll(s, keys, () => randomString(world, 5));
  const appenders = new Appenders(world, keys, initial, 5, 10);
  world.run(150);
  join(world, admin, G1);
  world.run(500);
  join(world, admin, G2);
  world.run(500);
  leave(world, admin, G0);
  world.shutdownGroup(G0);
  world.run(100);
  world.shutdownGroup(G1);
  world.run(100);
  world.shutdownGroup(G2);
  leave(world, admin, G2);
  world.run(100);
  world.startGroup(G0);
  world.startGroup(G1);
  world.startGroup(G2);
  world.run(100);
  join(world, admin, G0);
  leave(world, admin, G1);
  world.run(500);
  join(world, admin, G1);
  world.run(1_000);
  appenders.stop();
  checkAll(s, keys, appenders.expected);
  return report(world);
}

/** Concurrent2: slow appenders while every group moves out and back; two groups restart. */
export function concurrent2(seed: number): ScenarioReport {
  const s = setup(seed, -1);
  const { world, admin } = s;
  join(world, admin, G1);
  join(world, admin, G0);
  join(world, admin, G2);
  const keys = keysPerShard();
  const initial = putAll(s, keys, () => randomString(world, 1));
  const appenders = new Appenders(world, keys, initial, 1, 50);
  leave(world, admin, G0);
  leave(world, admin, G2);
  world.run(3_000);
  join(world, admin, G0);
  join(world, admin, G2);
  leave(world, admin, G1);
  world.run(3_000);
  join(world, admin, G1);
  leave(world, admin, G0);
  leave(world, admin, G2);
  world.run(3_000);
  world.shutdownGroup(G1);
  world.shutdownGroup(G2);
  world.run(1_000);
  world.startGroup(G1);
  world.startGroup(G2);
  world.run(2_000);
  appenders.stop();
  checkAll(s, keys, appenders.expected);
  return report(world);
}

/** Concurrent3: appenders with no pause for 12 s of joins, leaves and restarts of every group. */
export function concurrent3(seed: number): ScenarioReport {
  const s = setup(seed, 300);
  const { world, admin } = s;
  join(world, admin, G0);
  const keys = keysPerShard();
  const initial = putAll(s, keys, () => randomString(world, 1));
  const appenders = new Appenders(world, keys, initial, 1, 0);
  const end = world.now + 12_000;
  let rounds = 0;
  while (world.now < end) {
    join(world, admin, G2);
    join(world, admin, G1);
    world.run(world.random.int(900));
    for (const gid of [G0, G1, G2]) world.shutdownGroup(gid);
    for (const gid of [G0, G1, G2]) world.startGroup(gid);
    world.run(world.random.int(900));
    leave(world, admin, G1);
    leave(world, admin, G2);
    world.run(world.random.int(900));
    rounds++;
  }
  world.run(2_000);
  appenders.stop();
  checkAll(s, keys, appenders.expected);
  return report(world, { rounds });
}

/** Unreliable1: check-and-append rounds on a lossy network while the shards move twice. */
export function unreliable1(seed: number): ScenarioReport {
  const s = setup(seed, 100, true);
  const { world, admin } = s;
  join(world, admin, G0);
  const keys = keysPerShard();
  const expected = putAll(s, keys, () => randomString(world, 5));
  join(world, admin, G1);
  join(world, admin, G2);
  leave(world, admin, G0);
  for (let round = 0; round < 20; round++) checkAndAppend(s, keys, expected, 5);
  join(world, admin, G0);
  leave(world, admin, G1);
  for (let round = 0; round < 20; round++) checkAll(s, keys, expected);
  return report(world);
}

/** The config schedule of Unreliable2 and Unreliable3, while clients run. */
function unreliableSchedule(world: ShardedWorld, admin: SimMasterClerk): void {
  world.run(150);
  join(world, admin, G1);
  world.run(500);
  join(world, admin, G2);
  world.run(500);
  leave(world, admin, G0);
  world.run(500);
  leave(world, admin, G1);
  world.run(500);
  join(world, admin, G1);
  join(world, admin, G0);
  world.run(2_000);
}

/** Unreliable2: appenders with no pause on a lossy network through the schedule; exact values. */
export function unreliable2(seed: number): ScenarioReport {
  const s = setup(seed, 100, true);
  const { world, admin } = s;
  join(world, admin, G0);
  const keys = keysPerShard();
  const initial = putAll(s, keys, () => randomString(world, 5));
  const appenders = new Appenders(world, keys, initial, 5, 0);
  unreliableSchedule(world, admin);
  world.setReliable(true);
  appenders.stop();
  checkAll(s, keys, appenders.expected);
  return report(world);
}

/**
 * Unreliable3: 10 clients run random operations on random keys (50 % append; of the rest about
 * 10 % put, otherwise get) on a lossy network through the schedule; the whole history must be
 * linearizable.
 */
export function unreliable3(seed: number): ScenarioReport & { readonly check: HistoryFigures } {
  const s = setup(seed, 100, true);
  const { world, admin } = s;
  join(world, admin, G0);
  const keys = keysPerShard();
  putAll(s, keys, () => randomString(world, 5));
  const clients = randomClients(world, 10, keys, { appendPermille: 500, putPermille: 50 }, 0);
  unreliableSchedule(world, admin);
  world.setReliable(true);
  clients.stop();
  const check = checkLinearizable(
    {
      seed,
      recorder: world.recorder,
    } as Parameters<typeof checkLinearizable>[0],
  );
  return { ...report(world, { verdict: check.verdict }), check };
}

/**
 * Challenge1Delete: 30 keys of 1000-byte values moved around repeatedly with a snapshot after
 * every entry; the persisted bytes of all 9 replicas stay within 117,000.
 */
export function challenge1Delete(seed: number): ScenarioReport {
  const s = setup(seed, 1);
  const { world, admin } = s;
  join(world, admin, G0);
  const keys = Array.from({ length: 30 }, (_, i) => String(i));
  const expected = putAll(s, keys, () => randomString(world, 1_000));
  const checkFirst3 = () =>
    keys.slice(0, 3).forEach((key, i) => checkGet(world, s.clerk, key, expected[i]!));
  for (let i = 0; i < 2; i++) {
    join(world, admin, G1);
    leave(world, admin, G0);
    join(world, admin, G2);
    world.run(3_000);
    checkFirst3();
    leave(world, admin, G1);
    join(world, admin, G0);
    leave(world, admin, G2);
    world.run(3_000);
    checkFirst3();
  }
  join(world, admin, G1);
  join(world, admin, G2);
  for (let i = 0; i < 3; i++) {
    world.run(1_000);
    checkFirst3();
  }
  const total = world.persistedBytes();
  const bound = 3 * ((30 - 3) * 1_000 + 2 * 3 * 1_000 + 6_000);
  assert.ok(total <= bound, `persisted ${total} B over 9 replicas > ${bound} (seed ${seed})`);
  checkAll(s, keys, expected);
  return report(world, { persistedBytes: total, bound });
}

/**
 * Challenge2Unaffected: with group 100 dead and left, 101 keeps serving the shards it already
 * owned (get, put, get) while the shards it should receive from 100 stay stuck.
 */
export function challenge2Unaffected(seed: number): ScenarioReport {
  const s = setup(seed, 100, true);
  const { world, admin } = s;
  join(world, admin, G0);
  const keys = keysPerShard();
  const expected = putAll(s, keys, () => "100");
  join(world, admin, G1);
  const owned = shardsOwnedBy(world, admin, G1);
  world.run(1_000);
  for (const shard of owned) {
    expected[shard] = "101";
    perform(world, s.clerk, { kind: "put", key: keys[shard]!, value: "101" });
  }
  world.shutdownGroup(G0);
  leave(world, admin, G0);
  world.run(1_000);
  let worstMs = 0;
  for (const shard of owned) {
    const key = keys[shard]!;
    const began = world.now;
    checkGet(world, s.clerk, key, expected[shard]!);
    perform(world, s.clerk, { kind: "put", key, value: expected[shard] + "-1" });
    checkGet(world, s.clerk, key, expected[shard] + "-1");
    worstMs = Math.max(worstMs, world.now - began);
  }
  assertStillPulling(world, G1, G0);
  return report(world, { unaffectedShards: owned.length, worstVirtualMs: Math.round(worstMs) });
}

/**
 * Challenge2Partial: 101 inherits 100's and 102's shards while 100 is dead; it serves the ones
 * from 102 as soon as they arrive, with 100's still missing.
 */
export function challenge2Partial(seed: number): ScenarioReport {
  const s = setup(seed, 100, true);
  const { world, admin } = s;
  join(world, admin, G0, G1, G2);
  world.run(1_000);
  const keys = keysPerShard();
  const expected = putAll(s, keys, () => "100");
  const from102 = shardsOwnedBy(world, admin, G2);
  world.shutdownGroup(G0);
  leave(world, admin, G0, G2);
  world.run(1_000);
  for (const shard of from102) {
    const key = keys[shard]!;
    checkGet(world, s.clerk, key, expected[shard]!);
    perform(world, s.clerk, { kind: "put", key, value: expected[shard] + "-2" });
    checkGet(world, s.clerk, key, expected[shard] + "-2");
    expected[shard] += "-2";
  }
  assertStillPulling(world, G1, G0);
  // Once 100 is back, its shards arrive too and every key reads exact.
  world.startGroup(G0);
  keys.forEach((key, i) => checkGet(world, s.clerk, key, expected[i]!));
  return report(world, { partialShards: from102.length });
}

/** Every scenario by name, for the test file and the CLI. */
export const SHARDKV_SCENARIOS = {
  staticShards,
  rejection,
  joinLeave,
  snapshot,
  missChange,
  concurrent1,
  concurrent2,
  concurrent3,
  unreliable1,
  unreliable2,
  unreliable3,
  challenge1Delete,
  challenge2Unaffected,
  challenge2Partial,
  randomFaults,
  largeShard,
  deadOwnerGc,
} as const satisfies Record<string, (seed: number) => ScenarioReport>;
