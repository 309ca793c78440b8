/**
 * What the shardkv scenarios (shardkv_scenarios.ts, shardkv_own_scenarios.ts) share: a world
 * with its admin and client clerks, the lab's check-and-append steps and size checks, and the
 * simulated clients that run in loops (the lab's appenders and random-key clients).
 */

import assert from "node:assert/strict";
import type { Prng } from "../../src/util/prng.ts";
import type { Invocation } from "../linearizability/mod.ts";
import { short } from "./kv_helpers.ts";
import { checkGet, perform, query, randomString, type Started } from "./sharded_helpers.ts";
import type { SimMasterClerk, SimShardedClerk } from "./sharded_clerks.ts";
import { ShardedWorld } from "./sharded_world.ts";

/** What a scenario measured. */
export interface ScenarioReport {
  /** Client operations completed. */
  readonly operations: number;
  /** Virtual milliseconds the scenario took. */
  readonly virtualMs: number;
  /** Extra figures (sizes, counts) by name. */
  readonly figures: Readonly<Record<string, number | string>>;
}

export const G0 = 100;
export const G1 = 101;
export const G2 = 102;

export interface Setup {
  readonly world: ShardedWorld;
  readonly admin: SimMasterClerk;
  readonly clerk: SimShardedClerk;
}

export function setup(seed: number, maxRaftStateBytes: number, unreliable = false): Setup {
  const world = new ShardedWorld({ seed, maxRaftStateBytes, unreliable });
  return { world, admin: world.newMasterClerk(), clerk: world.newClerk() };
}

export function report(
  world: ShardedWorld,
  figures: Record<string, number | string> = {},
): ScenarioReport {
  return { operations: world.recorder.operations().length, virtualMs: world.now, figures };
}

/** Puts `value(i)` into every key; returns the expected values. */
export function putAll(
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
export function checkAndAppend(
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

export function checkAll(
  { world, clerk }: Setup,
  keys: readonly string[],
  expected: readonly string[],
): void {
  keys.forEach((key, i) => checkGet(world, clerk, key, expected[i]!));
}

/** The lab's checklogs when snapshots are off: no replica may have a snapshot. */
export function checkNoSnapshots(world: ShardedWorld): void {
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
export function checkLogSizes(world: ShardedWorld, maxRaftStateBytes: number): number {
  const largest = world.maxRaftStateBytes();
  assert.ok(
    largest <= 8 * maxRaftStateBytes,
    `Raft state ${largest} B > 8 × ${maxRaftStateBytes} (logs not trimmed, seed ${world.seed})`,
  );
  return largest;
}

export function shardsOwnedBy(world: ShardedWorld, admin: SimMasterClerk, gid: number): number[] {
  const config = query(world, admin);
  return config.shards.flatMap((owner, shard) => (owner === gid ? [shard] : []));
}

/**
 * Simulated clients, each running operations in a loop until stopped: `next` picks client c's
 * next operation, `onDone` sees its answer, and a client pauses `pauseMs()` between two.
 */
export class ClientLoops {
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
export class Appenders {
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
export function putValue(c: number, random: Prng, bigBytes: number): string {
  const tag = `p ${c} ${random.int(1_000_000)}`;
  return bigBytes > 0 && random.chance(1 / 3) ? tag + " " + "z".repeat(bigBytes) : tag;
}

/**
 * The lab's random-key clients: appends and puts in the given shares (per mille), gets
 * otherwise, on random keys; only the linearizability checker judges them.
 */
export function randomClients(
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

/**
 * The test's premise: `gid` is stuck on the dead `fromGid`. Either it still pulls shards from
 * it, or it waits for it to confirm a deletion (waitingGc) and so cannot reach the latest config.
 */
export function assertStillPulling(world: ShardedWorld, gid: number, fromGid: number): void {
  const latest = query(world, world.newMasterClerk()).num;
  const stuck = world.group(gid).servers.some((server) =>
    server !== null &&
    (server.state.currentConfig().num < latest ||
      Object.values(server.state.shardStates()).some((state) => state === "pulling"))
  );
  assert.ok(stuck, `group ${gid} is stuck on the dead ${fromGid} (the test's premise)`);
}

export function waitAll(world: ShardedWorld, started: readonly Started[]): void {
  world.runUntil(() => started.every((op) => op.done), 20_000);
  const stuck = started.filter((op) => !op.done);
  assert.equal(
    stuck.length,
    0,
    `${stuck.length} operations did not finish: ${stuck.map((op) => short(op.invocation.key))}`,
  );
}
