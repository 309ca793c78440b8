/**
 * Lab-style plumbing for the kvraft scenarios (kv_generic.ts, kv_test.ts), after the classic
 * lab's kvraft/config.go and test_test.go: a {@link KvWorld} (a simulated KV cluster, the
 * history recorder and a seeded PRNG), clerks with fresh client ids, a blocking `perform` on
 * top of the callback clerk (it runs the simulator until the answer arrives, with a virtual
 * time bound), the lab's checkClntAppends and checkConcurrentAppends, the size readers of the
 * lab's LogSize and SnapshotSize, and the final linearizability check with its figures.
 */

import type { Message } from "../../src/raft/core/messages.ts";
import { Prng } from "../../src/util/prng.ts";
import { checkHistory, HistoryRecorder, type Invocation } from "../linearizability/mod.ts";
import { SimCluster } from "./cluster.ts";
import { SimClerk } from "./kv_clerk.ts";

/** Shards of the KV state machine (the shard controller's NShards). */
export const SHARD_COUNT = 10;
/** Virtual milliseconds a single blocking operation may take before the scenario fails. */
export const OPERATION_WITHIN_MS = 10_000;
/**
 * Wall-clock budget of the final linearizability check. The lab gives porcupine 1 s and counts
 * a timeout as a pass; our histories decide in a few milliseconds, so a larger budget costs
 * nothing on a pass and makes an "unknown" (printed, counted as a pass) very unlikely.
 */
export const CHECK_BUDGET_MS = 5_000;

/** A simulated KV cluster plus what a scenario records about it. */
export interface KvWorld {
  readonly seed: number;
  readonly cluster: SimCluster;
  readonly recorder: HistoryRecorder;
  /** The scenario's own randomness (client choices, partitions), apart from the cluster's. */
  readonly random: Prng;
  /** The next unused client id (ids start at 1 and are never reused). */
  nextClientId: number;
}

/** Settings of a KV world: servers, the lab's maxraftstate, and the network. */
export interface KvWorldOptions {
  readonly seed: number;
  readonly servers: number;
  /** The lab's maxraftstate: snapshot past this many bytes of Raft state; -1 never. */
  readonly maxRaftStateBytes: number;
  readonly unreliable: boolean;
}

/** Builds a KV cluster of `servers` replicas, every one running a KvServer. */
export function makeKvWorld(options: KvWorldOptions): KvWorld {
  const cluster = new SimCluster({
    nodes: options.servers,
    seed: options.seed,
    kv: { shardCount: SHARD_COUNT, snapshotThresholdBytes: options.maxRaftStateBytes },
  });
  cluster.setReliable(!options.unreliable);
  return {
    seed: options.seed,
    cluster,
    recorder: new HistoryRecorder(() => cluster.now),
    random: new Prng(options.seed).fork(),
    nextClientId: 1,
  };
}

/** A clerk with a fresh client id that reaches `reachable` (all servers by default). */
export function newClerk(world: KvWorld, reachable?: readonly number[]): SimClerk {
  const clerk = new SimClerk(
    world.cluster,
    world.nextClientId++,
    world.recorder,
    world.random.fork(),
  );
  if (reachable !== undefined) clerk.reachable = new Set(reachable);
  return clerk;
}

/** An operation started without waiting: `done` flips when the clerk answers. */
export interface Started {
  done: boolean;
  output: string | null;
  readonly invocation: Invocation;
  readonly startedAt: number;
}

/** A simulated client of either simulator: one operation at a time, answered by callback. */
export interface SimClient {
  readonly clientId: number;
  run(invocation: Invocation, done: (output: string | null) => void): void;
}

/** What drives virtual time (a SimCluster, or a sharded world). */
export interface SimClock {
  readonly now: number;
  runUntil(predicate: () => boolean, ms: number): boolean;
}

/** Starts `invocation` on `clerk` and returns at once. */
export function startOn(clock: SimClock, clerk: SimClient, invocation: Invocation): Started {
  const started: Started = { done: false, output: null, invocation, startedAt: clock.now };
  clerk.run(invocation, (output) => {
    started.done = true;
    started.output = output;
  });
  return started;
}

/**
 * Runs `invocation` to completion (at most `withinMs` virtual ms) and returns its output;
 * throws when it does not complete or is refused for good (`context` ends the message).
 */
export function performOn(
  clock: SimClock,
  clerk: SimClient,
  invocation: Invocation,
  withinMs = OPERATION_WITHIN_MS,
  context = "",
): string {
  const started = startOn(clock, clerk, invocation);
  clock.runUntil(() => started.done, withinMs);
  if (!started.done) {
    throw new Error(
      `${describe(invocation)} by client ${clerk.clientId} did not complete within ${withinMs} ` +
        `virtual ms (called at ${started.startedAt.toFixed(0)} ms${context})`,
    );
  }
  if (started.output === null) {
    throw new Error(`${describe(invocation)} by client ${clerk.clientId} was refused for good`);
  }
  return started.output;
}

/** Starts `invocation` on `clerk` and returns at once. */
export function start(world: KvWorld, clerk: SimClerk, invocation: Invocation): Started {
  return startOn(world.cluster, clerk, invocation);
}

/** Runs `invocation` to completion (at most `withinMs` virtual ms) and returns its output. */
export function perform(
  world: KvWorld,
  clerk: SimClerk,
  invocation: Invocation,
  withinMs = OPERATION_WITHIN_MS,
): string {
  return performOn(world.cluster, clerk, invocation, withinMs);
}

/** The lab's check(): a get of `key` must read `expected`. */
export function checkGet(world: KvWorld, clerk: SimClerk, key: string, expected: string): void {
  const value = perform(world, clerk, { kind: "get", key });
  if (value !== expected) {
    throw new Error(`Get(${JSON.stringify(key)}) = ${short(value)}, expected ${short(expected)}`);
  }
}

/** The value client `client` appends the `j`th time, as the lab's "x <c> <j> y". */
export function appendElement(client: number, j: number): string {
  return `x ${client} ${j} y`;
}

/**
 * The lab's checkClntAppends: each of client `client`'s elements 0..count-1 appears in
 * `value` exactly once, each after the one before it.
 */
export function checkClntAppends(client: number, value: string, count: number): void {
  let lastOffset = -1;
  for (let j = 0; j < count; j++) {
    const wanted = appendElement(client, j);
    const offset = value.indexOf(wanted);
    if (offset < 0) {
      throw new Error(`client ${client}: missing element ${short(wanted)} in ${short(value)}`);
    }
    if (value.lastIndexOf(wanted) !== offset) {
      throw new Error(`client ${client}: duplicate element ${short(wanted)} in ${short(value)}`);
    }
    if (offset <= lastOffset) {
      throw new Error(`client ${client}: wrong order for element ${short(wanted)}`);
    }
    lastOffset = offset;
  }
}

/** The lab's checkConcurrentAppends: checkClntAppends for every client, in one value. */
export function checkConcurrentAppends(value: string, counts: readonly number[]): void {
  counts.forEach((count, client) => checkClntAppends(client, value, count));
}

/** The largest snapshot any server persists (the lab's SnapshotSize, over all servers). */
export function maxSnapshotBytes(cluster: SimCluster): number {
  return Math.max(...cluster.storages.map((storage) => storage.snapshotBytes()));
}

/**
 * The lab's LogSize and SnapshotSize checks: Raft state ≤ 8 × maxraftstate when snapshots are
 * on (2021+ bound, "logs were not trimmed"), no snapshot at all when maxraftstate = -1.
 */
export function checkSizes(world: KvWorld, maxRaftStateBytes: number): void {
  const raftStateBytes = world.cluster.maxRaftStateBytes();
  const snapshotBytes = maxSnapshotBytes(world.cluster);
  if (maxRaftStateBytes > 0 && raftStateBytes > 8 * maxRaftStateBytes) {
    throw new Error(
      `logs were not trimmed: Raft state ${raftStateBytes} bytes > 8 × ${maxRaftStateBytes}`,
    );
  }
  if (maxRaftStateBytes < 0 && snapshotBytes !== 0) {
    throw new Error(`snapshot of ${snapshotBytes} bytes should not be used when maxraftstate = -1`);
  }
}

/**
 * Counts InstallSnapshot messages sent to server `k` from now on over a link that is up (a
 * leader cut off from `k` keeps offering its snapshot; those are not counted).
 */
export function countInstallSnapshots(cluster: SimCluster, k: number): { count: number } {
  const counter = { count: 0 };
  const network = cluster.network;
  const send = network.send.bind(network);
  network.send = (messages: readonly Message[]) => {
    for (const message of messages) {
      if (message.type !== "installSnapshot" || message.to - 1 !== k) continue;
      if (network.linkUp(message.from - 1, k)) counter.count++;
    }
    send(messages);
  };
  return counter;
}

/** What the final linearizability check measured. */
export interface HistoryFigures {
  readonly operations: number;
  /** Operations whose outcome the history does not know (never answered). */
  readonly unknownOutcome: number;
  readonly verdict: "ok" | "unknown";
  readonly checkerMs: number;
}

/**
 * Checks every recorded operation for linearizability (lab 2021+: porcupine over every
 * GenericTest). "illegal" fails with the checker's window; "unknown" (budget spent) passes, as
 * in the lab, but is printed.
 */
export function checkLinearizable(world: KvWorld, budgetMs = CHECK_BUDGET_MS): HistoryFigures {
  const operations = world.recorder.operations();
  const began = performance.now();
  const verdict = checkHistory(operations, { budgetMs });
  const checkerMs = performance.now() - began;
  if (verdict.result === "illegal") {
    throw new Error(
      `history is not linearizable (key ${JSON.stringify(verdict.key)}):\n${verdict.explanation}`,
    );
  }
  if (verdict.result === "unknown") {
    console.log(`  seed ${world.seed}: linearizability unknown, assuming ok: ${verdict.reason}`);
  }
  return {
    operations: operations.length,
    unknownOutcome: operations.filter((operation) => operation.return === undefined).length,
    verdict: verdict.result,
    checkerMs,
  };
}

/** An invocation in the lab's words, for failure messages. */
export function describe(invocation: Invocation): string {
  const key = JSON.stringify(invocation.key);
  switch (invocation.kind) {
    case "get":
    case "delete":
      return `${invocation.kind}(${key})`;
    case "put":
    case "append":
      return `${invocation.kind}(${key}, ${short(invocation.value)})`;
  }
}

/** A value short enough for a message: its head and tail when long. */
export function short(value: string): string {
  return JSON.stringify(value.length <= 80 ? value : `${value.slice(0, 40)}…${value.slice(-36)}`);
}
