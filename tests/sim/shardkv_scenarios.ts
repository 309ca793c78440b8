/**
 * The classic shardkv tests (shardkv/test_test.go, §2.4 of the lab catalogue) as functions of a
 * seed, on the deterministic simulator: three groups (gids 100, 101, 102) of three replicas and
 * a shard master of three, all running the production servers. Each scenario follows the lab's
 * steps and thresholds; the differences are noted where they occur (keys are one per shard by
 * our FNV-1a routing instead of the lab's first byte; the last group may not leave). Every
 * scenario returns its figures so tests and `deno task sim` can print them.
 */

import assert from "node:assert/strict";
import type { Invocation } from "../linearizability/mod.ts";
import { checkLinearizable, type HistoryFigures, short } from "./kv_helpers.ts";
import { Prng } from "../../src/util/prng.ts";
import {
  change,
  checkGet,
  join,
  leave,
  perform,
  query,
  randomString,
  start,
  type Started,
} from "./sharded_helpers.ts";
import {
  keysPerShard,
  SHARDED_SHARD_COUNT,
  ShardedWorld,
  type SimMasterClerk,
  type SimShardedClerk,
} from "./sharded_world.ts";
import { shardOf } from "../../src/kv/shard_of.ts";

/** What a scenario measured. */
export interface ScenarioReport {
  /** Client operations completed. */
  readonly operations: number;
  /** Virtual milliseconds the scenario took. */
  readonly virtualMs: number;
  /** Extra figures (sizes, counts) by name. */
  readonly figures: Readonly<Record<string, number | string>>;
}

const G0 = 100;
const G1 = 101;
const G2 = 102;

interface Setup {
  readonly world: ShardedWorld;
  readonly admin: SimMasterClerk;
  readonly clerk: SimShardedClerk;
}

function setup(seed: number, maxRaftStateBytes: number, unreliable = false): Setup {
  const world = new ShardedWorld({ seed, maxRaftStateBytes, unreliable });
  return { world, admin: world.newMasterClerk(), clerk: world.newClerk() };
}

function report(
  world: ShardedWorld,
  figures: Record<string, number | string> = {},
): ScenarioReport {
  return { operations: world.recorder.operations().length, virtualMs: world.now, figures };
}

/** Puts `value(i)` into every key; returns the expected values. */
function putAll(
  { world, clerk }: Setup,
  keys: readonly string[],
  value: (i: number) => string,
): string[] {
  return keys.map((key, i) => {
    const v = value(i);
    perform(world, clerk, { kind: "put", key, value: v });
    return v;
  });
}

/** The lab's "check and append" round over every key. */
function checkAndAppend(
  { world, clerk }: Setup,
  keys: readonly string[],
  expected: string[],
  length: number,
): void {
  keys.forEach((key, i) => {
    checkGet(world, clerk, key, expected[i]!);
    const suffix = randomString(world, length);
    perform(world, clerk, { kind: "append", key, value: suffix });
    expected[i] += suffix;
  });
}

function checkAll({ world, clerk }: Setup, keys: readonly string[], expected: readonly string[]) {
  keys.forEach((key, i) => checkGet(world, clerk, key, expected[i]!));
}

/** The lab's checklogs when snapshots are off: no replica may have a snapshot. */
function checkNoSnapshots(world: ShardedWorld): void {
  for (const group of world.groups.values()) {
    for (const storage of group.cluster.storages) {
      assert.equal(
        storage.snapshotBytes(),
        0,
        `group ${group.gid} snapshotted with maxraftstate -1`,
      );
    }
  }
}

/** The lab's checklogs with snapshots: Raft state at most 8 × maxraftstate (2021+). */
function checkLogSizes(world: ShardedWorld, maxRaftStateBytes: number): number {
  const largest = world.maxRaftStateBytes();
  assert.ok(
    largest <= 8 * maxRaftStateBytes,
    `Raft state ${largest} B > 8 × ${maxRaftStateBytes} (logs not trimmed, seed ${world.seed})`,
  );
  return largest;
}

function shardsOwnedBy(world: ShardedWorld, admin: SimMasterClerk, gid: number): number[] {
  const config = query(world, admin);
  return config.shards.flatMap((owner, shard) => (owner === gid ? [shard] : []));
}

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

/**
 * Simulated clients, each running operations in a loop until stopped: `next` picks client c's
 * next operation, `onDone` sees its answer, and a client pauses `pauseMs()` between two.
 */
class ClientLoops {
  #running = true;
  #inFlight = 0;

  constructor(
    readonly world: ShardedWorld,
    count: number,
    next: (c: number, random: Prng) => Invocation,
    pauseMs: (random: Prng) => number,
    onDone: (c: number, invocation: Invocation, output: string | null) => void = () => {},
  ) {
    for (let c = 0; c < count; c++) {
      const clerk = world.newClerk();
      const random = world.random.fork();
      const loop = (): void => {
        if (!this.#running) return;
        const invocation = next(c, random);
        this.#inFlight++;
        clerk.run(invocation, (output) => {
          this.#inFlight--;
          onDone(c, invocation, output);
          const pause = pauseMs(random);
          if (pause > 0) world.scheduler.at(pause, loop);
          else loop();
        });
      };
      loop();
    }
  }

  /** Stops starting operations, and waits for those in flight. */
  stop(withinMs = 60_000): void {
    this.#running = false;
    this.world.runUntil(() => this.#inFlight === 0, withinMs);
    assert.equal(this.#inFlight, 0, `operations still in flight (seed ${this.world.seed})`);
  }
}

/**
 * The lab's concurrent appenders: client i appends `length` random letters to key i every
 * `pauseMs`; its expected value grows only when an append is acknowledged.
 */
class Appenders {
  readonly expected: string[];
  readonly #loops: ClientLoops;

  constructor(
    world: ShardedWorld,
    keys: readonly string[],
    initial: readonly string[],
    length: number,
    pauseMs: number,
  ) {
    this.expected = [...initial];
    this.#loops = new ClientLoops(
      world,
      keys.length,
      (c) => ({ kind: "append", key: keys[c]!, value: randomString(world, length) }),
      () => pauseMs,
      (c, invocation, output) => {
        assert.ok(output !== null, `append to ${keys[c]} refused for good (seed ${world.seed})`);
        if (invocation.kind === "append") this.expected[c] += invocation.value;
      },
    );
  }

  stop(): void {
    this.#loops.stop();
  }
}

/** A put's value: short, or (a third of the time, when `bigBytes` > 0) `bigBytes` long. */
function putValue(c: number, random: Prng, bigBytes: number): string {
  const tag = `p ${c} ${random.int(1_000_000)}`;
  return bigBytes > 0 && random.chance(1 / 3) ? tag + " " + "z".repeat(bigBytes) : tag;
}

/**
 * The lab's random-key clients: appends and puts in the given shares (per mille), gets
 * otherwise, on random keys; only the linearizability checker judges them.
 */
function randomClients(
  world: ShardedWorld,
  count: number,
  keys: readonly string[],
  mix: {
    readonly appendPermille: number;
    readonly putPermille: number;
    /** When positive, a put carries this many bytes a third of the time. */
    readonly bigPutBytes?: number;
  },
  maxPauseMs: number,
): ClientLoops {
  return new ClientLoops(world, count, (c, random) => {
    const key = keys[random.int(keys.length)]!;
    const roll = random.int(1000);
    return roll < mix.appendPermille
      ? { kind: "append", key, value: `x ${c} ${random.int(1_000_000)} y` }
      : roll < mix.appendPermille + mix.putPermille
      ? { kind: "put", key, value: putValue(c, random, mix.bigPutBytes ?? 0) }
      : { kind: "get", key };
  }, (random) => (maxPauseMs > 0 ? random.int(maxPauseMs) : 0));
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

/**
 * The test's premise: `gid` is stuck on the dead `fromGid`. Either it still pulls shards from
 * it, or it waits for it to confirm a deletion (waitingGc) and so cannot reach the latest config.
 */
function assertStillPulling(world: ShardedWorld, gid: number, fromGid: number): void {
  const latest = query(world, world.newMasterClerk()).num;
  const stuck = world.group(gid).servers.some((server) =>
    server !== null &&
    (server.state.currentConfig().num < latest ||
      Object.values(server.state.shardStates()).some((state) => state === "pulling"))
  );
  assert.ok(stuck, `group ${gid} is stuck on the dead ${fromGid} (the test's premise)`);
}

function waitAll(world: ShardedWorld, started: readonly Started[]): void {
  world.runUntil(() => started.every((op) => op.done), 20_000);
  const stuck = started.filter((op) => !op.done);
  assert.equal(
    stuck.length,
    0,
    `${stuck.length} operations did not finish: ${stuck.map((op) => short(op.invocation.key))}`,
  );
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

/**
 * A random run (the bug hunter): 5 clients run random operations on 10 keys while joins,
 * leaves, moves, replica crashes, whole-group restarts, partitions inside groups, a master
 * replica's crash and network loss come and go, all drawn from the seed. Then everything heals;
 * every client's last operation must finish, a fresh clerk must read every key, and the whole
 * history must be linearizable.
 */
export function randomFaults(seed: number): ScenarioReport & { readonly check: HistoryFigures } {
  const probe = new Prng(seed);
  // A quarter of the runs write values of up to 300 KB, so shards move in several parts.
  const bigValues = probe.chance(0.25);
  const maxRaftState = bigValues
    ? [-1, 1_000_000][probe.int(2)]!
    : [-1, 1, 100, 1_000, 10_000][probe.int(5)]!;
  const s = setup(seed, maxRaftState, probe.chance(0.5));
  const { world, admin } = s;
  // A third of the runs also hold back Raft replies for up to 2.2 s inside every group.
  const reordering = probe.chance(0.33);
  for (
    const cluster of [
      world.master.cluster,
      ...[...world.groups.values()].map((g) => g.cluster),
    ]
  ) {
    cluster.setLongReordering(reordering);
  }
  const gids = [G0, G1, G2];
  const members = new Set<number>();
  const first = gids[probe.int(3)]!;
  join(world, admin, first);
  members.add(first);
  // Big values need several keys per shard for a shard to span several parts.
  const keys = bigValues ? Array.from({ length: 30 }, (_, k) => `r${k}`) : keysPerShard();
  const clients = randomClients(
    world,
    5,
    keys,
    { appendPermille: 450, putPermille: 100, bigPutBytes: bigValues ? 300_000 : 0 },
    20,
  );
  const faults: string[] = [];
  let masterDown = -1;
  const end = world.now + 15_000;
  while (world.now < end) {
    world.run(200 + probe.int(800));
    const roll = probe.int(100);
    const outside = gids.filter((gid) => !members.has(gid));
    const inside = [...members];
    if (roll < 20 && outside.length > 0) {
      const gid = outside[probe.int(outside.length)]!;
      join(world, admin, gid);
      members.add(gid);
      faults.push(`join ${gid}`);
    } else if (roll < 40 && inside.length > 1) {
      const gid = inside[probe.int(inside.length)]!;
      leave(world, admin, gid);
      members.delete(gid);
      faults.push(`leave ${gid}`);
    } else if (roll < 48) {
      const shard = probe.int(SHARDED_SHARD_COUNT);
      const gid = inside[probe.int(inside.length)]!;
      change(world, admin, { type: "move", shard, gid });
      faults.push(`move ${shard}→${gid}`);
    } else if (roll < 63) {
      const group = world.group(gids[probe.int(3)]!);
      const k = probe.int(group.cluster.n);
      if (group.cluster.replicas[k] === null) group.cluster.start(k);
      else group.cluster.crash(k);
      faults.push(`crash/start ${group.gid}-${k}`);
    } else if (roll < 71) {
      const gid = gids[probe.int(3)]!;
      world.shutdownGroup(gid);
      world.run(probe.int(1_500));
      world.startGroup(gid);
      faults.push(`restart group ${gid}`);
    } else if (roll < 81) {
      const group = world.group(gids[probe.int(3)]!);
      const alone = probe.int(group.cluster.n);
      const rest = [0, 1, 2].filter((k) => k !== alone);
      group.cluster.partition([[alone], rest]);
      world.run(probe.int(2_000));
      group.cluster.connectAll();
      faults.push(`partition ${group.gid}: ${alone} | ${rest}`);
    } else if (roll < 84) {
      // One replica cut off from everything (Raft and RPC), whichever role it has.
      const group = world.group(gids[probe.int(3)]!);
      const k = probe.int(group.cluster.n);
      group.cluster.disconnect(k);
      world.setReachable(group.cluster, k, false);
      world.run(probe.int(2_500));
      world.setReachable(group.cluster, k, true);
      group.cluster.connect(k);
      faults.push(`isolate ${group.gid}-${k}`);
    } else if (roll < 91) {
      const masters = world.master.cluster;
      if (masterDown >= 0) {
        masters.start(masterDown);
        faults.push(`start master ${masterDown}`);
        masterDown = -1;
      } else {
        masterDown = probe.int(masters.n);
        masters.crash(masterDown);
        faults.push(`crash master ${masterDown}`);
      }
    } else {
      world.setReliable(world.unreliable);
      faults.push(world.unreliable ? "unreliable" : "reliable");
    }
  }
  // Heal: every replica runs, the network is reliable; the clients' last operations finish.
  if (masterDown >= 0) world.master.cluster.start(masterDown);
  for (const gid of gids) {
    world.group(gid).cluster.connectAll();
    world.group(gid).cluster.setLongReordering(false);
    world.startGroup(gid);
  }
  world.master.cluster.setLongReordering(false);
  world.setReliable(true);
  clients.stop();
  const reader = world.newClerk();
  for (const key of keys) perform(world, reader, { kind: "get", key });
  const check = checkLinearizable(
    {
      seed,
      recorder: world.recorder,
    } as Parameters<typeof checkLinearizable>[0],
  );
  return {
    ...report(world, {
      faults: faults.length,
      maxRaftState,
      bigValues: String(bigValues),
      reordering: String(reordering),
      verdict: check.verdict,
    }),
    check,
  };
}

/**
 * A shard of 12 MB (more than one Raft entry of 8 MiB) moves between groups part by part on
 * an unreliable network; every value reads back exact at the new owner, and the old owner
 * deletes its copy.
 */
export function largeShard(seed: number): ScenarioReport {
  const s = setup(seed, -1, true);
  const { world, admin } = s;
  join(world, admin, G0);
  join(world, admin, G1);
  const shard = shardsOwnedBy(world, admin, G0)[0]!;
  const keys: string[] = [];
  for (let i = 0; keys.length < 12; i++) {
    if (shardOf(`large${i}`, SHARDED_SHARD_COUNT) === shard) keys.push(`large${i}`);
  }
  const expected = keys.map((_, i) => String.fromCharCode(97 + i).repeat(1_000_000));
  keys.forEach((key, i) => perform(world, s.clerk, { kind: "put", key, value: expected[i]! }));
  change(world, admin, { type: "move", shard, gid: G1 });
  const began = world.now;
  keys.forEach((key, i) => checkGet(world, s.clerk, key, expected[i]!));
  const movedMs = world.now - began;
  const deleted = world.runUntil(
    () =>
      world.group(G0).servers.every((server, k) =>
        world.group(G0).cluster.replicas[k] === null ||
        server?.state.shardState(shard) === undefined
      ),
    10_000,
  );
  assert.ok(deleted, `group ${G0} still holds shard ${shard} (seed ${seed})`);
  return report(world, { shardBytes: 12_000_000, movedVirtualMs: Math.round(movedMs) });
}

/**
 * The old owner never confirms a deletion (it answers no deleteShard) while configs go on:
 * the new owner serves what it installed and keeps taking configs (the obligation is carried
 * as a pending GC) instead of stalling; once the old owner answers again, every pending GC
 * completes, the old owner drops its copies and catches up, and every value is exact.
 */
export function deadOwnerGc(seed: number): ScenarioReport {
  const s = setup(seed, 1_000, true);
  const { world, admin } = s;
  join(world, admin, G0);
  const keys = keysPerShard();
  const expected = putAll(s, keys, () => randomString(world, 10));
  const target = world.group(G0).peerTarget;
  const honest = target.submit.bind(target);
  target.submit = (k, request, respond) => {
    if (request.type === "deleteShard") return; // never answered: the caller's timeout fires
    honest(k, request, respond);
  };
  join(world, admin, G1);
  checkAndAppend(s, keys, expected, 5);
  join(world, admin, G2);
  const latest = query(world, admin).num;
  const reached = world.runUntil(
    () => world.group(G1).server(0)?.state.currentConfig().num === latest,
    10_000,
  );
  assert.ok(reached, `group ${G1} reached config ${latest} with GCs pending (seed ${seed})`);
  const pending = Math.max(
    ...world.group(G1).servers.map((server) => server?.state.pendingGcCount() ?? 0),
  );
  assert.ok(pending > 0, `group ${G1} carries its pending GCs`);
  checkAndAppend(s, keys, expected, 5);
  target.submit = honest;
  const settled = world.runUntil(
    () =>
      [G0, G1].every((gid) =>
        world.group(gid).servers.every((server) =>
          server !== null && server.state.pendingGcCount() === 0 &&
          server.state.currentConfig().num === latest
        )
      ),
    20_000,
  );
  assert.ok(settled, `pending GCs completed and ${G0} caught up (seed ${seed})`);
  checkAll(s, keys, expected);
  return report(world, { pendingWhileDead: pending });
}
