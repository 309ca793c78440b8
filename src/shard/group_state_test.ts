/**
 * Tests of one replica group's shard state machine, step by step: which shards serve, how
 * configs are accepted (strictly the next one, only when nothing is moving), and how each
 * migration step answers duplicates, stale and premature requests, at the state-machine
 * level of the classic shardkv tests (classic-lab-tests.md §2.4, §3.2). Groups are driven
 * by hand through TestCluster, which passes every command through the codec; snapshots are
 * checked to restore byte for byte and to be identical on replicas that apply the same log.
 */

import assert from "node:assert/strict";
import { GroupState } from "./group_state.ts";
import type { GroupKvReply } from "./group_command.ts";
import {
  assertChanged,
  assertRefused,
  decodeOrFail,
  keyInShard,
  shardsOf,
  TestClient,
  TestCluster,
} from "./group_test_support.ts";
import { replicasOf } from "./test_support.ts";

const SHARDS = 10;

/** A cluster with 100 on shards 0-4 and 101 on 5-9 (config 1), settled. */
function twoGroups(): TestCluster {
  const cluster = new TestCluster(SHARDS, [100, 101]);
  cluster.assign([100, 100, 100, 100, 100, 101, 101, 101, 101, 101]);
  cluster.settle();
  return cluster;
}

Deno.test("shardkv group: static shards — each group serves exactly its shards, wrongGroup for the others (StaticShards5A, Rejection5A)", () => {
  const cluster = new TestCluster(SHARDS, [100, 101]);
  cluster.join(100);
  cluster.join(101);
  cluster.settle();
  const client = new TestClient(1);
  for (let shard = 0; shard < SHARDS; shard++) {
    const key = keyInShard(shard, SHARDS);
    const owner = cluster.latest().shards[shard] as number;
    const other = owner === 100 ? 101 : 100;
    assert.deepEqual(
      cluster.propose(owner, { type: "kv", command: client.put(key, `v${shard}`) }),
      {
        ok: true,
      },
    );
    assert.deepEqual(cluster.group(owner).get(key), { ok: true, value: `v${shard}` });
    const wrong = { ok: false, error: { code: "wrongGroup", shard } };
    assert.deepEqual(cluster.group(other).get(key), wrong);
    assert.deepEqual(cluster.propose(other, { type: "kv", command: client.put(key, "x") }), wrong);
  }
  for (const gid of [100, 101]) {
    const states = Object.values(cluster.group(gid).shardStates());
    assert.equal(states.length, 5, `gid ${gid} serves exactly half the shards`);
    assert.ok(states.every((kind) => kind === "serving"));
  }
});

Deno.test("shardkv group: configs are applied strictly one at a time and never skipped", () => {
  const cluster = new TestCluster(SHARDS, [100, 101]);
  cluster.join(100);
  cluster.join(101);
  cluster.join(102);
  const offer = (gid: number, num: number) =>
    cluster.propose(gid, { type: "config", config: cluster.configJson(num) });
  assertRefused(offer(100, 2), "configGap", "config num+2 is refused");
  assertChanged(offer(100, 1));
  assertRefused(offer(100, 1), "staleConfig", "a duplicate config is refused");
  assertChanged(offer(100, 2));
  assertRefused(offer(100, 3), "migrating", "a config while handing off is refused");
  assertChanged(offer(101, 1));
  assertChanged(offer(101, 2));
  const refused = offer(101, 3);
  assertRefused(refused, "migrating", "a config while pulling is refused");
  assert.ok(!refused.ok && "shards" in refused.error);
  assert.deepEqual(refused.error.shards, shardsOf(cluster.configs[2]!, 101));
  assert.equal(cluster.group(101).canAcceptNextConfig(), false);
  // Pull everything: installed shards serve while they wait for GC, which does not block the
  // next config; the obligations are carried past it.
  for (const task of cluster.group(101).shardsToPull()) assertChanged(cluster.pull(101, task));
  const gained = shardsOf(cluster.configs[2]!, 101);
  assert.ok(Object.values(cluster.group(101).shardStates()).every((kind) => kind === "waitingGc"));
  assert.equal(cluster.group(101).canAcceptNextConfig(), true);
  assertChanged(offer(101, 3));
  assert.equal(cluster.group(101).currentConfig().num, 3);
  assert.equal(cluster.group(101).pendingGcCount(), gained.length);
  const tasks = cluster.group(101).shardsToConfirm();
  assert.deepEqual(tasks.map((task) => [task.configNum, task.fromGid]), gained.map(() => [2, 100]));
  // The old owner is stuck handing off until it is told to delete; then it moves on.
  assertRefused(offer(100, 3), "migrating", "a config while handing off is refused");
  for (const task of tasks) assertChanged(cluster.confirm(101, task));
  assert.equal(cluster.group(101).pendingGcCount(), 0);
  assert.equal(cluster.group(100).canAcceptNextConfig(), true);
  assertChanged(offer(100, 3));
});

Deno.test("shardkv group: a dead old owner stalls only its own deletion; pending GCs survive snapshots and finish when it returns", () => {
  const cluster = new TestCluster(SHARDS, [100, 101]);
  cluster.assign([100, 100, 100, 100, 100, 101, 101, 101, 101, 101]);
  cluster.settle();
  cluster.assign([101, 100, 100, 100, 100, 101, 101, 101, 101, 101]); // shard 0: 100 → 101
  assertChanged(cluster.offerConfig(100));
  assertChanged(cluster.offerConfig(101));
  assertChanged(cluster.pull(101, cluster.group(101).shardsToPull()[0]!));
  cluster.down.add(100); // 100 dies before it hears that 101 has shard 0
  // 101 keeps taking configs: the next one hands shard 5 to 100.
  cluster.assign([101, 100, 100, 100, 100, 100, 101, 101, 101, 101]);
  assertChanged(cluster.offerConfig(101));
  assert.equal(cluster.group(101).currentConfig().num, 3);
  assert.equal(cluster.group(101).pendingGcCount(), 1);
  assert.equal(cluster.group(101).shardState(0)?.kind, "serving");
  const restored = GroupState.restore(cluster.group(101).snapshot());
  assert.deepEqual(restored.snapshot(), cluster.group(101).snapshot(), "snapshot round trip");
  assert.deepEqual(restored.shardsToConfirm()[0], {
    shard: 0,
    fromGid: 100,
    configNum: 2,
    part: 0,
    servers: replicasOf(100),
  });
  cluster.groups.set(101, restored);
  cluster.down.delete(100);
  assertChanged(cluster.confirm(101, restored.shardsToConfirm()[0]!));
  assert.equal(restored.pendingGcCount(), 0);
  assert.equal(cluster.group(100).shardState(0), undefined, "the old copy is gone");
  cluster.settle();
  assert.equal(cluster.group(100).currentConfig().num, 3);
});

Deno.test("shardkv group: a config of another shard count or a malformed one is refused", () => {
  const group = new GroupState(100, SHARDS);
  const five = { num: 1, shards: [100, 100, 100, 100, 100], groups: { "100": replicasOf(100) } };
  assert.equal(group.apply({ type: "config", config: five }).ok, false);
  const orphan = { num: 1, shards: new Array(SHARDS).fill(7), groups: { "100": ["a"] } };
  const reply = group.apply({ type: "config", config: orphan });
  assert.ok(!reply.ok && reply.error.code === "badConfig");
  assert.equal(group.currentConfig().num, 0);
});

Deno.test("shardkv group: a write answered wrongGroup changes nothing; its retry at the right group applies once (§3.2)", () => {
  const cluster = twoGroups();
  const key = keyInShard(7, SHARDS);
  const client = new TestClient(5);
  const command = client.append(key, "x");
  const before = cluster.group(100).snapshot();
  const wrong = cluster.propose(100, { type: "kv", command }) as GroupKvReply;
  assert.deepEqual(wrong, { ok: false, error: { code: "wrongGroup", shard: 7 } });
  assert.deepEqual(cluster.group(100).snapshot(), before, "no session, no log time, no data");
  assert.deepEqual(cluster.propose(101, { type: "kv", command }), { ok: true });
  assert.deepEqual(cluster.propose(101, { type: "kv", command }), { ok: true }, "from the session");
  assert.deepEqual(cluster.group(101).get(key), { ok: true, value: "x" });
});

Deno.test("shardkv group: a shard gained from gid 0 serves at once; one lost to gid 0 (every group left) is dropped without blocking", () => {
  const cluster = new TestCluster(SHARDS, [100]);
  cluster.join(100);
  assertChanged(cluster.offerConfig(100));
  assert.deepEqual(cluster.group(100).shardsToPull(), [], "nothing to pull from gid 0");
  const key = keyInShard(3, SHARDS);
  cluster.propose(100, { type: "kv", command: new TestClient(1).put(key, "v") });
  cluster.leave(100);
  assertChanged(cluster.offerConfig(100));
  assert.deepEqual(cluster.group(100).shardStates(), {});
  assert.equal(cluster.group(100).canAcceptNextConfig(), true, "nothing waits for a pull");
  cluster.join(100);
  assertChanged(cluster.offerConfig(100));
  assert.deepEqual(cluster.group(100).get(key), { ok: true, value: "" }, "the data had no home");
});

Deno.test("shardkv group: installShard applies only to a pulling shard of the current config; duplicates, stale and bad data change nothing", () => {
  const cluster = twoGroups();
  cluster.assign([101, 100, 100, 100, 100, 101, 101, 101, 101, 101]); // shard 0: 100 → 101
  assertChanged(cluster.offerConfig(100));
  assertChanged(cluster.offerConfig(101));
  const exported = cluster.group(100).exportShard(0, 2);
  assert.ok(exported.ok);
  const install = (configNum: number, shard: number, data: Uint8Array) =>
    cluster.propose(101, {
      type: "installShard",
      configNum,
      shard,
      part: 0,
      parts: 1,
      cut: 0,
      data,
    });
  assertRefused(install(3, 0, exported.data), "notReady");
  assert.deepEqual(install(1, 0, exported.data), { ok: true, changed: false }, "stale config");
  assert.deepEqual(install(2, 6, exported.data), { ok: true, changed: false }, "not pulling");
  assertRefused(install(2, SHARDS, exported.data), "badShard");
  const before = cluster.group(101).snapshot();
  assertRefused(install(2, 0, new Uint8Array([0x92, 0x90, 0x91])), "badShardData");
  assert.deepEqual(cluster.group(101).snapshot(), before);
  assert.equal(cluster.group(101).shardState(0)?.kind, "pulling");
  assertChanged(install(2, 0, exported.data));
  assert.deepEqual(cluster.group(101).shardState(0), {
    kind: "waitingGc",
    fromGid: 100,
    configNum: 2,
  });
  assert.deepEqual(install(2, 0, exported.data), { ok: true, changed: false }, "a duplicate");
});

Deno.test("shardkv group: exportShard and deleteShard at the old owner answer premature, owned and repeated requests", () => {
  const cluster = twoGroups();
  cluster.assign([101, 100, 100, 100, 100, 101, 101, 101, 101, 101]);
  assertChanged(cluster.offerConfig(100));
  const old = cluster.group(100);
  const remove = (configNum: number, shard: number) =>
    cluster.propose(100, { type: "deleteShard", configNum, shard });
  assertRefused(old.exportShard(0, 3), "notReady");
  assertRefused(old.exportShard(1, 2), "notHandingOff", "shard 1 is still 100's");
  assertRefused(old.exportShard(5, 2), "notHandingOff", "shard 5 was never 100's");
  assert.ok(old.exportShard(0, 2).ok);
  assertRefused(remove(3, 0), "notReady");
  assertRefused(remove(2, 1), "notHandingOff", "never delete an owned shard");
  assert.equal(old.shardState(1)?.kind, "serving");
  assertChanged(remove(2, 0));
  assert.equal(old.shardState(0), undefined);
  assert.deepEqual(remove(2, 0), { ok: true, changed: false }, "a retried delete is ok");
  assert.deepEqual(remove(1, 0), { ok: true, changed: false }, "an older config's copy is gone");
  assertRefused(old.exportShard(0, 2), "handedOff");
  cluster.assign([101, 100, 100, 100, 100, 101, 101, 101, 101, 101]);
  assertChanged(cluster.offerConfig(100));
  assertRefused(old.exportShard(0, 2), "handedOff", "past the config");
  assert.deepEqual(remove(2, 0), { ok: true, changed: false }, "past the config");
});

Deno.test("shardkv group: gcDone turns waitingGc into serving, once; before the install it changes nothing", () => {
  const cluster = twoGroups();
  cluster.assign([101, 100, 100, 100, 100, 101, 101, 101, 101, 101]);
  assertChanged(cluster.offerConfig(100));
  assertChanged(cluster.offerConfig(101));
  const done = () => cluster.propose(101, { type: "gcDone", configNum: 2, shard: 0 });
  assert.deepEqual(done(), { ok: true, changed: false }, "still pulling");
  assert.equal(cluster.group(101).shardState(0)?.kind, "pulling");
  assertChanged(cluster.pull(101, cluster.group(101).shardsToPull()[0]!));
  assertChanged(cluster.confirm(101, cluster.group(101).shardsToConfirm()[0]!));
  assert.deepEqual(done(), { ok: true, changed: false }, "a duplicate");
  assert.equal(cluster.group(101).shardState(0)?.kind, "serving");
  assertRefused(cluster.propose(101, { type: "gcDone", configNum: 3, shard: 0 }), "notReady");
});

Deno.test("shardkv group: shardsToPull names the source's replicas from the previous config, even when it left", () => {
  const cluster = twoGroups();
  cluster.assign(new Array(SHARDS).fill(101)); // 100 leaves
  assertChanged(cluster.offerConfig(101));
  const tasks = cluster.group(101).shardsToPull();
  assert.deepEqual(tasks.map((task) => task.shard), [0, 1, 2, 3, 4]);
  for (const task of tasks) {
    assert.deepEqual({ ...task, servers: [...task.servers] }, {
      shard: task.shard,
      fromGid: 100,
      configNum: 2,
      part: 0,
      servers: replicasOf(100),
    });
  }
});

Deno.test("shardkv group: a snapshot with every shard state restores to the same bytes and behaviour", () => {
  const cluster = twoGroups();
  const client = new TestClient(9);
  for (let shard = 0; shard < SHARDS; shard++) {
    assert.ok(cluster.send(client.put(keyInShard(shard, SHARDS), `v${shard}`))?.reply.ok);
  }
  // 101 gains 0 and 1 from 100, loses 5 to 100, keeps 6-9.
  cluster.assign([101, 101, 100, 100, 100, 100, 101, 101, 101, 101]);
  assertChanged(cluster.offerConfig(100));
  assertChanged(cluster.offerConfig(101));
  assertChanged(cluster.pull(101, cluster.group(101).shardsToPull()[0]!));
  const group = cluster.group(101);
  assert.deepEqual(Object.values(group.shardStates()).sort(), [
    "handingOff",
    "pulling",
    "serving",
    "serving",
    "serving",
    "serving",
    "waitingGc",
  ]);
  const bytes = group.snapshot();
  const restored = GroupState.restore(bytes);
  assert.deepEqual(restored.snapshot(), bytes);
  assert.equal(restored.gid, 101);
  assert.deepEqual(restored.shardStates(), group.shardStates());
  assert.deepEqual(restored.shardsToPull(), group.shardsToPull());
  assert.deepEqual(restored.shardsToConfirm(), group.shardsToConfirm());
  assert.deepEqual(restored.exportShard(5, 2), group.exportShard(5, 2));
  assert.equal(restored.logTimeMs, group.logTimeMs);
  for (let shard = 0; shard < SHARDS; shard++) {
    const key = keyInShard(shard, SHARDS);
    assert.deepEqual(restored.get(key), group.get(key), `key of shard ${shard}`);
  }
});

Deno.test("shardkv group: replicas that apply the same log hold byte-identical snapshots, one restored mid-log too", () => {
  const cluster = twoGroups();
  const client = new TestClient(3);
  for (let round = 0; round < 3; round++) {
    for (let shard = 0; shard < SHARDS; shard++) {
      cluster.send(client.append(keyInShard(shard, SHARDS), `${round}.`));
    }
    cluster.assign(cluster.latest().shards.map((gid) => gid === 100 ? 101 : 100));
    cluster.settle();
  }
  for (const gid of [100, 101]) {
    const log = cluster.logs.get(gid)!;
    const replica = new GroupState(gid, SHARDS);
    let restarted = new GroupState(gid, SHARDS);
    log.forEach((bytes, index) => {
      const decoded = decodeOrFail(bytes);
      replica.apply(decoded);
      restarted.apply(decoded);
      if (index === Math.floor(log.length / 2)) {
        restarted = GroupState.restore(restarted.snapshot());
      }
    });
    const expected = cluster.group(gid).snapshot();
    assert.deepEqual(replica.snapshot(), expected, `gid ${gid} replica`);
    assert.deepEqual(restarted.snapshot(), expected, `gid ${gid} restored mid-log`);
  }
});
