/**
 * A shard larger than one Raft entry moves in parts (group_limits.ts): how a shard is cut,
 * and how the new owner installs the parts (strictly in order, duplicates and stale parts
 * ignored, a pull interrupted by a snapshot and restart resumed where it stopped).
 */

import assert from "node:assert/strict";
import { encodeGroupCommand } from "./group_command.ts";
import { decodeShardPayload, encodeShardParts } from "./group_payload.ts";
import { ENTRY_BYTES_MAX } from "../raft/core/limits.ts";
import { SHARD_PART_BYTES_TARGET } from "./group_limits.ts";
import { GroupState } from "./group_state.ts";
import { assertChanged, assertRefused, TestClient, TestCluster } from "./group_test_support.ts";
import { shardOf } from "../kv/shard_of.ts";
import { ShardData } from "../kv/kv_state.ts";

const SHARDS = 10;

/** Keys of `shard`, `count` of them. */
function keysOf(shard: number, count: number): string[] {
  const keys: string[] = [];
  for (let i = 0; keys.length < count; i++) {
    if (shardOf(`big${i}`, SHARDS) === shard) keys.push(`big${i}`);
  }
  return keys;
}

/**
 * Group 100 holds shard 0 with `count` values of `valueBytes`, written by client 7; then a
 * config gives shard 0 to 101 (which starts pulling).
 */
function bigShardMoving(count: number, valueBytes: number): {
  cluster: TestCluster;
  keys: string[];
  values: Map<string, string>;
} {
  const cluster = new TestCluster(SHARDS, [100, 101]);
  cluster.assign([100, 100, 100, 100, 100, 101, 101, 101, 101, 101]);
  cluster.settle();
  const client = new TestClient(7);
  const keys = keysOf(0, count);
  const values = new Map<string, string>();
  keys.forEach((key, i) => {
    const value = String.fromCharCode(97 + (i % 26)).repeat(valueBytes);
    values.set(key, value);
    assert.deepEqual(cluster.propose(100, { type: "kv", command: client.put(key, value) }), {
      ok: true,
    });
  });
  cluster.assign([101, 100, 100, 100, 100, 101, 101, 101, 101, 101]);
  assertChanged(cluster.offerConfig(100));
  assertChanged(cluster.offerConfig(101));
  return { cluster, keys, values };
}

Deno.test("shardkv parts: a shard is cut in map order into parts near the target; sessions travel in part 0 only", () => {
  const { cluster, keys } = bigShardMoving(40, 100_000);
  const configNum = cluster.group(101).currentConfig().num;
  const first = cluster.group(100).exportShard(0, configNum, 0);
  assert.ok(first.ok);
  assert.ok(first.parts >= 7 && first.parts <= 9, `${first.parts} parts of 4 MB`);
  const seen: string[] = [];
  for (let part = 0; part < first.parts; part++) {
    const exported = cluster.group(100).exportShard(0, configNum, part);
    assert.ok(exported.ok);
    assert.ok(exported.data.byteLength < SHARD_PART_BYTES_TARGET + 200_000, `part ${part} size`);
    const decoded = decodeShardPayload(exported.data);
    assert.ok(decoded.ok);
    assert.equal(decoded.shard.sessions.size, part === 0 ? 1 : 0, `sessions in part ${part}`);
    seen.push(...decoded.shard.data.keys());
  }
  assert.deepEqual(seen, keys, "every key once, in map order");
  assert.equal(encodeShardParts(new ShardData()).length, 1, "an empty shard is one part");
});

Deno.test("shardkv parts: a 12 MB shard (over one Raft entry) moves part by part, with its sessions", () => {
  const { cluster, keys, values } = bigShardMoving(12, 1_000_000);
  const [task] = cluster.group(101).shardsToPull();
  assert.ok(task !== undefined && task.shard === 0 && task.part === 0);
  const first = cluster.group(100).exportShard(0, task.configNum, 0);
  assert.ok(first.ok);
  assert.equal(first.parts, 12, "one part per 1 MB value (the target is 512 KiB)");
  for (let part = 0; part < first.parts; part++) {
    const exported = cluster.group(100).exportShard(0, task.configNum, part);
    assert.ok(exported.ok);
    const command = {
      type: "installShard" as const,
      configNum: task.configNum,
      shard: 0,
      part,
      parts: exported.parts,
      cut: exported.cut,
      data: exported.data,
    };
    assert.ok(encodeGroupCommand(command).byteLength <= ENTRY_BYTES_MAX, "a part fits an entry");
    assertChanged(cluster.propose(101, command), `part ${part}`);
    const state = cluster.group(101).shardState(0);
    if (part < first.parts - 1) {
      assert.deepEqual(state, {
        kind: "pulling",
        fromGid: 100,
        configNum: task.configNum,
        received: part + 1,
        parts: first.parts,
        cut: first.cut,
      });
      assert.equal(cluster.group(101).shardsToPull()[0]?.part, part + 1, "the next task");
      assert.equal(cluster.group(101).get(keys[0]!).ok, false, "a partial shard does not serve");
    } else {
      assert.equal(state?.kind, "waitingGc");
    }
  }
  for (const key of keys) {
    assert.deepEqual(cluster.group(101).get(key), { ok: true, value: values.get(key) });
  }
  // The session moved: client 7's last put (seq 12), retried, is answered from it, not re-applied.
  const client = new TestClient(7);
  for (let seq = 1; seq < keys.length; seq++) client.put("unused", "");
  const last = keys.at(-1)!;
  const retry = client.put(last, "again");
  assert.deepEqual(cluster.propose(101, { type: "kv", command: retry }), { ok: true });
  assert.deepEqual(cluster.group(101).get(last), { ok: true, value: values.get(last) });
});

Deno.test("shardkv parts: duplicate, out-of-order and inconsistent parts change nothing; a pull survives a restart mid-way", () => {
  const { cluster, keys, values } = bigShardMoving(8, 300_000);
  const configNum = cluster.group(101).currentConfig().num;
  const exportPart = (part: number) => {
    const exported = cluster.group(100).exportShard(0, configNum, part);
    assert.ok(exported.ok);
    return exported;
  };
  const { parts, cut } = exportPart(0);
  assert.equal(parts, 4, "two 300 KB values per part");
  const install = (part: number, partCount = parts, data = exportPart(part).data, digest = cut) =>
    cluster.propose(101, {
      type: "installShard",
      configNum,
      shard: 0,
      part,
      parts: partCount,
      cut: digest,
      data,
    });
  assertRefused(cluster.group(100).exportShard(0, configNum, parts), "badPart");
  assert.deepEqual(install(1), { ok: true, changed: false }, "part 1 before part 0");
  assertChanged(install(0));
  assert.deepEqual(install(0), { ok: true, changed: false }, "part 0 again");
  assertRefused(install(1, parts + 1), "badShardData");
  assertRefused(install(1, parts, exportPart(0).data), "badShardData"); // sessions in part 1
  assertRefused(install(1, parts, undefined, (cut ^ 1) >>> 0), "badShardData"); // another cut's part
  assertChanged(install(1));

  // A snapshot mid-pull restores the parts so far; the pull goes on from part 2.
  const restored = GroupState.restore(cluster.group(101).snapshot());
  assert.deepEqual(restored.snapshot(), cluster.group(101).snapshot());
  cluster.groups.set(101, restored);
  assert.equal(restored.shardsToPull()[0]?.part, 2);
  for (let part = 2; part < parts; part++) assertChanged(install(part));
  assert.equal(cluster.group(101).shardState(0)?.kind, "waitingGc");
  for (const key of keys) {
    assert.deepEqual(cluster.group(101).get(key), { ok: true, value: values.get(key) });
  }
});
