/**
 * The classic kvraft lab's tests (4A without snapshots, 4B with maxraftstate = 1000; §1.4 and
 * table 2.2 of the lab catalogue), run on the deterministic simulator with the production
 * KvServer on every replica and the production clerk retry logic in every client. Most are
 * the lab's GenericTest (kv_generic.ts) with the lab's parameters: clients, servers, an
 * unreliable network, random partitions, crashes of every server, maxraftstate and random
 * keys; each checks every client's own value exactly, checkClntAppends, the Raft-state bound
 * (8 × maxraftstate) and the linearizability of the whole history. The rest follow the lab's
 * dedicated tests step by step: UnreliableOneKey, OnePartition, SnapshotRPC, SnapshotSize
 * and Speed, with the lab's thresholds in virtual time. The two 7-server, 15-client tests also
 * run on the clients' own keys, where every read is checked exactly as well. Every scenario
 * runs under fixed seeds; a failure names its seed and how to replay it; `SIM_VERBOSE=1`
 * prints the figures.
 */

import assert from "node:assert/strict";
import { describeReport, type GenericOptions, genericTest } from "./kv_generic.ts";
import type { SimClerk } from "./kv_clerk.ts";
import {
  appendElement,
  checkClntAppends,
  checkConcurrentAppends,
  checkGet,
  checkLinearizable,
  checkSizes,
  countInstallSnapshots,
  makeKvWorld,
  maxSnapshotBytes,
  newClerk,
  perform,
  start,
} from "./kv_helpers.ts";
import { note, scenario } from "./scenario_helpers.ts";

const FILE = "tests/sim/kv_test.ts";
/** The lab's 4B maxraftstate. */
const MAXRAFTSTATE = 1000;
/** GenericTest's fixed settings; each scenario names only what it changes. */
const PLAIN = {
  servers: 5,
  clients: 1,
  unreliable: false,
  crash: false,
  partitions: false,
  maxRaftStateBytes: -1,
  randomKeys: false,
} as const satisfies Omit<GenericOptions, "seed">;

/** Registers one GenericTest scenario. */
function generic(
  name: string,
  seeds: readonly number[],
  options: Partial<Omit<GenericOptions, "seed">>,
): void {
  scenario({ name, file: FILE, seeds }, (seed) => {
    note(seed, describeReport(genericTest({ ...PLAIN, ...options, seed })));
  });
}

// ---------------------------------------------------------------- 4A: no snapshots

generic(
  "kvraft: one client reads exactly what it wrote, linearizably (lab Basic4A)",
  [1, 2, 3],
  {},
);

generic(
  "kvraft: five concurrent clients each read exactly their own appends (lab Concurrent4A)",
  [1, 2],
  { clients: 5 },
);

generic(
  "kvraft: every write applies exactly once although messages are lost, duplicated and delayed (lab Unreliable4A)",
  [1, 2, 3],
  { clients: 5, unreliable: true },
);

scenario({
  name:
    "kvraft: five clients appending to one key leave every element exactly once, each client's in order (lab UnreliableOneKey4A)",
  file: FILE,
}, (seed) => {
  const world = makeKvWorld({ seed, servers: 3, maxRaftStateBytes: -1, unreliable: true });
  perform(world, newClerk(world), { kind: "put", key: "k", value: "" });
  const counts = [0, 0, 0, 0, 0];
  counts.forEach((_, client) => {
    const clerk = newClerk(world);
    const next = (): void => {
      if (counts[client]! === 10) return;
      const value = appendElement(client, counts[client]!);
      clerk.run({ kind: "append", key: "k", value }, () => {
        counts[client]!++;
        next();
      });
    };
    next();
  });
  const finished = world.cluster.runUntil(() => counts.every((count) => count === 10), 60_000);
  assert.ok(finished, `appends did not finish in 60 s virtual: ${counts.join(", ")} of 10`);
  const value = perform(world, newClerk(world), { kind: "get", key: "k" });
  checkConcurrentAppends(value, counts);
  assert.equal(value.length, 50 * appendElement(0, 0).length, `foreign text in ${value}`);
  // Like the lab, no linearizability check here: with 50 overlapping appends and one final get
  // the checker's search gives up (1.5 M steps in 5 s, seeds 1 and 2; the get lies beyond its
  // LOOKAHEAD_ENTRIES_MAX), and checkConcurrentAppends decides this history exactly anyway.
  note(seed, `${world.recorder.size} operations, ${world.cluster.now.toFixed(0)} ms virtual`);
});

scenario({
  name:
    "kvraft: a minority holding the old leader completes nothing, and its operations complete once the partition heals (lab OnePartition4A)",
  file: FILE,
}, (seed) => {
  const world = makeKvWorld({ seed, servers: 5, maxRaftStateBytes: -1, unreliable: false });
  const cluster = world.cluster;
  const clerk = newClerk(world);
  perform(world, clerk, { kind: "put", key: "1", value: "13" });
  // The lab's make_partition: the leader plus n/2 - 1 others form the minority.
  const leader = cluster.checkOneLeader();
  const minority = [leader, (leader + 1) % 5];
  const majority = [0, 1, 2, 3, 4].filter((k) => !minority.includes(k));
  cluster.partition([majority, minority]);
  const majorityClerk = newClerk(world, majority);
  perform(world, majorityClerk, { kind: "put", key: "1", value: "14" });
  checkGet(world, majorityClerk, "1", "14");

  const minorityClerks = [newClerk(world, minority), newClerk(world, minority)];
  const put = start(world, minorityClerks[0]!, { kind: "put", key: "1", value: "15" });
  const get = start(world, minorityClerks[1]!, { kind: "get", key: "1" });
  checkGet(world, majorityClerk, "1", "14");
  perform(world, majorityClerk, { kind: "put", key: "1", value: "16" });
  checkGet(world, majorityClerk, "1", "16");
  cluster.run(1000);
  assert.ok(!put.done, "a put sent only to the minority completed");
  assert.ok(!get.done, "a get sent only to the minority completed");

  // Heal, and let the minority's clerks reach every server (the lab's ConnectClient).
  cluster.connectAll();
  const healedAt = cluster.now;
  for (const minorityClerk of minorityClerks) minorityClerk.reachable = new Set([0, 1, 2, 3, 4]);
  const completed = cluster.runUntil(() => put.done && get.done, 1000 + 3000);
  assert.ok(completed, `after healing, in 4 s: put done ${put.done}, get done ${get.done}`);
  const tookMs = cluster.now - healedAt;
  checkGet(world, clerk, "1", "15");
  const figures = checkLinearizable(world);
  note(
    seed,
    `minority operations done ${
      tookMs.toFixed(0)
    } ms after healing; ${figures.operations} operations`,
  );
});

generic(
  "kvraft: one client stays exact and linearizable while servers are partitioned at random (lab ManyPartitionsOneClient4A)",
  [1, 2, 3],
  { partitions: true },
);

generic(
  "kvraft: five clients stay exact and linearizable while servers are partitioned at random (lab ManyPartitionsManyClients4A)",
  [1, 2],
  { clients: 5, partitions: true },
);

generic(
  "kvraft: one client's data survives a crash of every server during load (lab PersistOneClient4A)",
  [1, 2, 3],
  { crash: true },
);

generic(
  "kvraft: five clients' data survives a crash of every server during load (lab PersistConcurrent4A)",
  [1, 2],
  { clients: 5, crash: true },
);

generic(
  "kvraft: data survives crashes of every server on an unreliable network (lab PersistConcurrentUnreliable4A)",
  [1, 2, 3],
  { clients: 5, crash: true, unreliable: true },
);

generic(
  "kvraft: data survives crashes of every server amid random partitions (lab PersistPartition4A)",
  [1, 2],
  { clients: 5, crash: true, partitions: true },
);

generic(
  "kvraft: data survives crashes and random partitions on an unreliable network (lab PersistPartitionUnreliable4A)",
  [1, 2, 3],
  { clients: 5, crash: true, partitions: true, unreliable: true },
);

// Seeds 1-6 once failed here, and SnapshotRPC on seed 1: sessions were per shard and a shard
// accepted an unknown client only at seq 1, so a clerk's first write to a second shard was
// refused as `sessionExpired` (fixed in 2d65e87, "a client unknown to a shard starts a session").
const LINEARIZABLE_7_15 = {
  servers: 7,
  clients: 15,
  unreliable: true,
  crash: true,
  partitions: true,
  randomKeys: true,
} as const;
generic(
  "kvraft: 15 clients on random keys see a linearizable history through crashes, partitions and an unreliable network (lab PersistPartitionUnreliableLinearizable4A)",
  [1, 2, 3],
  LINEARIZABLE_7_15,
);

// The same fault mix and scale on the clients' own keys: every get is also checked exactly.
generic(
  "kvraft: 15 clients on 7 servers stay exact and linearizable through crashes, partitions and an unreliable network (lab PersistPartitionUnreliableLinearizable4A, own keys)",
  [1, 2, 3],
  { ...LINEARIZABLE_7_15, randomKeys: false },
);

/** The lab's Speed test: 1000 sequential appends within 1000 × 100 ms / 3 (33.3 s). */
function speed(seed: number, maxRaftStateBytes: number): void {
  const world = makeKvWorld({ seed, servers: 3, maxRaftStateBytes, unreliable: false });
  const clerk = newClerk(world);
  perform(world, clerk, { kind: "get", key: "x" });
  const began = world.cluster.now;
  let count = 0;
  const next = (): void => {
    if (count === 1000) return;
    clerk.run({ kind: "append", key: "x", value: appendElement(0, count) }, () => {
      count++;
      next();
    });
  };
  next();
  world.cluster.runUntil(() => count === 1000, 60_000);
  const tookMs = world.cluster.now - began;
  assert.equal(count, 1000, `only ${count} of 1000 appends completed in 60 s virtual`);
  checkClntAppends(0, perform(world, clerk, { kind: "get", key: "x" }), 1000);
  assert.ok(tookMs <= 1000 * 100 / 3, `Operations completed too slowly: ${tookMs} ms virtual`);
  checkSizes(world, maxRaftStateBytes);
  note(seed, `1000 appends in ${(tookMs / 1000).toFixed(2)} s virtual`);
}

scenario({
  name: "kvraft: 1000 sequential appends take at most a third of a heartbeat each (lab Speed4A)",
  file: FILE,
}, (seed) => speed(seed, -1));

// ---------------------------------------------------------------- 4B: snapshots

/** The lab's SnapshotRPC: one clerk per side of each partition writes keys of many shards. */
function snapshotRpc(seed: number): void {
  const world = makeKvWorld({
    seed,
    servers: 3,
    maxRaftStateBytes: MAXRAFTSTATE,
    unreliable: false,
  });
  const cluster = world.cluster;
  const clerks = new Map<string, SimClerk>();
  const put = (reach: readonly number[], key: string, value: string) => {
    const name = String(reach);
    if (!clerks.has(name)) clerks.set(name, newClerk(world, reach));
    perform(world, clerks.get(name)!, { kind: "put", key, value });
  };
  const check = (reach: readonly number[], pairs: readonly (readonly [string, string])[]) => {
    const clerk = newClerk(world, reach);
    for (const [key, value] of pairs) checkGet(world, clerk, key, value);
  };
  put([0, 1, 2], "a", "A");
  check([0, 1, 2], [["a", "A"]]);

  cluster.partition([[0, 1], [2]]);
  for (let i = 0; i < 50; i++) put([0, 1], String(i), String(i));
  cluster.run(1000);
  put([0, 1], "b", "B");
  checkSizes(world, MAXRAFTSTATE);
  const trimmedBytes = cluster.maxRaftStateBytes();

  // Server 2 is needed now: {0, 2} can make progress only once it has caught up.
  const installs = countInstallSnapshots(cluster, 2);
  cluster.partition([[0, 2], [1]]);
  put([0, 2], "c", "C");
  put([0, 2], "d", "D");
  check([0, 2], [["a", "A"], ["b", "B"], ["1", "1"], ["49", "49"]]);
  assert.ok(installs.count > 0, "server 2 caught up without an InstallSnapshot");
  assert.equal(cluster.replicas[2]?.kv?.state.get("49"), "49", "server 2 lacks key 49");

  cluster.connectAll();
  put([0, 1, 2], "e", "E");
  check([0, 1, 2], [["c", "C"], ["e", "E"], ["1", "1"]]);
  checkSizes(world, MAXRAFTSTATE);
  const figures = checkLinearizable(world);
  note(
    seed,
    `Raft state ${trimmedBytes} B after 50 puts, ${installs.count} InstallSnapshot chunks to ` +
      `server 2, snapshot ${maxSnapshotBytes(cluster)} B, ${figures.operations} operations`,
  );
}

scenario({
  name:
    "kvraft: a server partitioned away catches up by InstallSnapshot once the majority needs it (lab SnapshotRPC4B)",
  file: FILE,
}, snapshotRpc);

scenario({
  name:
    "kvraft: Raft state stays within 8 × maxraftstate and a one-key snapshot within 500 bytes (lab SnapshotSize4B)",
  file: FILE,
}, (seed) => {
  const world = makeKvWorld({
    seed,
    servers: 3,
    maxRaftStateBytes: MAXRAFTSTATE,
    unreliable: false,
  });
  const clerk = newClerk(world);
  let maxRaftState = 0;
  for (let i = 0; i < 200; i++) {
    for (const value of ["0", "1"]) {
      perform(world, clerk, { kind: "put", key: "x", value });
      checkGet(world, clerk, "x", value);
      maxRaftState = Math.max(maxRaftState, world.cluster.maxRaftStateBytes());
    }
  }
  checkSizes(world, MAXRAFTSTATE);
  const snapshotBytes = maxSnapshotBytes(world.cluster);
  assert.ok(snapshotBytes > 0, "no server took a snapshot");
  assert.ok(snapshotBytes <= 500, `snapshot too large: ${snapshotBytes} > 500 bytes`);
  note(
    seed,
    `800 operations in ${(world.cluster.now / 1000).toFixed(1)} s virtual; max Raft state ` +
      `${maxRaftState} B, snapshot ${snapshotBytes} B`,
  );
});

scenario({
  name: "kvraft: 1000 sequential appends stay fast while snapshots are taken (lab Speed4B)",
  file: FILE,
}, (seed) => speed(seed, MAXRAFTSTATE));

const SNAPSHOTS = { maxRaftStateBytes: MAXRAFTSTATE } as const;

generic(
  "kvraft: a restart of every server recovers from snapshot plus log (lab SnapshotRecover4B)",
  [1, 2, 3],
  { ...SNAPSHOTS, crash: true },
);

generic(
  "kvraft: twenty clients' data and sessions survive restarts through snapshots (lab SnapshotRecoverManyClients4B)",
  [1],
  { ...SNAPSHOTS, clients: 20, crash: true },
);

generic(
  "kvraft: snapshots keep duplicate detection on an unreliable network (lab SnapshotUnreliable4B)",
  [1, 2, 3],
  { ...SNAPSHOTS, clients: 5, unreliable: true },
);

generic(
  "kvraft: snapshots, restarts and an unreliable network together lose and repeat nothing (lab SnapshotUnreliableRecover4B)",
  [1, 2, 3],
  { ...SNAPSHOTS, clients: 5, unreliable: true, crash: true },
);

generic(
  "kvraft: snapshots, restarts, partitions and an unreliable network together lose and repeat nothing (lab SnapshotUnreliableRecoverConcurrentPartition4B)",
  [1, 2, 3],
  { ...SNAPSHOTS, clients: 5, unreliable: true, crash: true, partitions: true },
);

generic(
  "kvraft: 15 clients on random keys see a linearizable history with snapshots, crashes, partitions and an unreliable network (lab SnapshotUnreliableRecoverConcurrentPartitionLinearizable4B)",
  [1, 2, 3],
  { ...LINEARIZABLE_7_15, ...SNAPSHOTS },
);

generic(
  "kvraft: 15 clients on 7 servers stay exact and linearizable with snapshots, crashes, partitions and an unreliable network (lab SnapshotUnreliableRecoverConcurrentPartitionLinearizable4B, own keys)",
  [1, 2, 3],
  { ...LINEARIZABLE_7_15, ...SNAPSHOTS, randomKeys: false },
);
