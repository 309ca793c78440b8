/**
 * The classic (MIT 6.824 lab 4B / 5B) shardkv tests, on the real stack in one process:
 * 3 shard master replicas and 3 groups of 3 replicas (gids 1..3), file storage, TCP.
 * Stopping a replica and restarting it from its data directory simulates a crash.
 */

import assert from "node:assert/strict";
import type { KvRequest } from "../kv/protocol.ts";
import { TimeoutError } from "../kv/clerk.ts";
import { shardOf } from "../kv/shard_of.ts";
import type { ShardedClerk } from "../shard/sharded_clerk.ts";
import { Prng } from "../util/prng.ts";
import {
  GIDS,
  keysCoveringShards,
  membersOf,
  ShardCluster,
  sleep,
} from "./shardkv_test_support.ts";

async function checkAll(
  clerk: ShardedClerk,
  expected: Map<string, string>,
): Promise<void> {
  for (const [key, value] of expected) {
    assert.equal(await clerk.get(key), value, `value of ${key}`);
  }
}

/** For each key, check its value then append a few characters (the classic check-and-append). */
async function checkAndAppend(
  clerk: ShardedClerk,
  expected: Map<string, string>,
  tag: string,
): Promise<void> {
  for (const [key, value] of [...expected]) {
    assert.equal(await clerk.get(key), value, `value of ${key}`);
    const extra = `-${tag}`;
    await clerk.append(key, extra);
    expected.set(key, value + extra);
  }
}

Deno.test("shardkv classic: static shards", async () => {
  // StaticShards: with one group down, only the shards of the live group are served; all come back on restart.
  const cluster = await ShardCluster.start({ snapshotThresholdBytes: -1 });
  try {
    const clerk = cluster.clerk(1);
    await cluster.join(1);
    await cluster.join(2);
    const expected = new Map<string, string>();
    for (let k = 0; k < 10; k++) {
      const key = `static-${k}`;
      const value = `value-${k}-${"x".repeat(12)}`;
      await clerk.put(key, value);
      expected.set(key, value);
    }
    await checkAll(clerk, expected);
    const config = await cluster.waitSettled();
    const ownerOf = (key: string) => config.shards[shardOf(key, config.shards.length)];
    const ofGroup1 = [...expected.keys()].filter((key) => ownerOf(key) === 1);
    const ofGroup2 = [...expected.keys()].filter((key) => ownerOf(key) === 2);
    assert.ok(ofGroup1.length > 0 && ofGroup2.length > 0, "keys on both groups");
    await cluster.stopGroup(2);
    // Fresh clerks, one per key, each with a 2 s deadline.
    const outcomes = await Promise.all(
      [...expected.keys()].map(async (key, c) => {
        const fresh = cluster.clerk(100 + c, 2_000);
        try {
          return { key, value: await fresh.get(key), error: undefined };
        } catch (error) {
          return { key, value: undefined, error };
        }
      }),
    );
    for (const outcome of outcomes) {
      if (ownerOf(outcome.key) === 1) {
        assert.equal(outcome.error, undefined, `group-1 key ${outcome.key} readable`);
        assert.equal(outcome.value, expected.get(outcome.key));
      } else {
        assert.ok(outcome.error instanceof TimeoutError, `group-2 key ${outcome.key} times out`);
      }
    }
    await cluster.startGroup(2);
    await checkAll(clerk, expected);
  } finally {
    await cluster.close();
  }
});

Deno.test("shardkv classic: rejection", async () => {
  // Rejection5A (§3.2): a group decides ownership by its own current config at apply time, so
  // clerks routing by a second shard master that gives every shard to group 1 get answers only
  // for group 1's real shards; for the rest group 1 says wrongGroup and never "".
  const cluster = await ShardCluster.start({ snapshotThresholdBytes: -1 });
  try {
    const clerk = cluster.clerk(7);
    await cluster.join(1);
    await cluster.join(2);
    const shardCount = cluster.config.cluster.shards;
    const expected = new Map<string, string>();
    for (const [k, key] of keysCoveringShards("reject", shardCount).entries()) {
      const value = `value-${k}-${"r".repeat(12)}`;
      await clerk.put(key, value);
      expected.set(key, value);
    }
    await checkAll(clerk, expected);
    const config = await cluster.waitSettled();
    const ownerOf = (key: string) => config.shards[shardOf(key, shardCount)];

    const other = await cluster.startOtherMaster("other-sm");
    await other.admin.join([[1, membersOf(1)]]);
    const otherConfig = await other.admin.query(-1);
    assert.ok(otherConfig.shards.every((gid) => gid === 1), "the other master gives group 1 all");

    // Fresh clerks routing by the other master, one per key, each with a 2 s deadline.
    const started = performance.now();
    const outcomes = await Promise.all(
      [...expected.keys()].map(async (key, c) => {
        const fresh = cluster.clerk(200 + c, 2_000, other);
        const t0 = performance.now();
        try {
          const value = await fresh.get(key);
          return { key, value, error: undefined, ms: performance.now() - t0 };
        } catch (error) {
          return { key, value: undefined, error, ms: performance.now() - t0 };
        }
      }),
    );
    const completed = outcomes.filter((outcome) => outcome.error === undefined);
    const ownedBy1 = [...expected.keys()].filter((key) => ownerOf(key) === 1);
    console.log(
      `rejection: config ${config.num} [${config.shards}]; ${completed.length} of ` +
        `${outcomes.length} gets completed (group 1 owns ${ownedBy1.length} keys), slowest ` +
        `completed ${Math.max(0, ...completed.map((o) => o.ms)).toFixed(0)} ms; all ` +
        `${(performance.now() - started).toFixed(0)} ms`,
    );
    for (const outcome of outcomes) {
      assert.notEqual(outcome.value, "", `${outcome.key} was put: "" means a wrong group answered`);
      if (ownerOf(outcome.key) === 1) {
        assert.equal(outcome.error, undefined, `group-1 key ${outcome.key} readable`);
        assert.equal(outcome.value, expected.get(outcome.key), `value of ${outcome.key}`);
      } else {
        assert.ok(
          outcome.error instanceof TimeoutError,
          `group-2 key ${outcome.key} is refused by group 1 (got ${
            outcome.error ?? JSON.stringify(outcome.value)
          })`,
        );
      }
    }
    assert.equal(completed.length, ownedBy1.length, "exactly group 1's keys complete");
    // And straight from the group: the refusal is wrongGroup, naming the shard.
    for (const key of expected.keys()) {
      if (ownerOf(key) === 1) continue;
      assert.deepEqual(
        await cluster.groupRequest(1, { type: "get", key }),
        { ok: false, error: { code: "wrongGroup", shard: shardOf(key, shardCount) } },
        `group 1 refuses ${key}`,
      );
    }
    // Malformed requests between groups (negative numbers, a missing part) are refused as bad
    // requests, and the group keeps serving: nothing reached its log.
    for (
      const bad of [
        { type: "deleteShard", configNum: -1, shard: 0 },
        { type: "deleteShard", configNum: 1, shard: -1 },
        { type: "pullShard", configNum: 1, shard: 0 },
      ]
    ) {
      const answer = await cluster.groupRequest(1, bad as unknown as KvRequest);
      assert.equal(answer.ok, false, JSON.stringify(bad));
      assert.equal(!answer.ok && answer.error.code, "badRequest", JSON.stringify(bad));
    }
    // The cluster's own clerks still read everything.
    await checkAll(cluster.clerk(8), expected);
  } finally {
    await cluster.close();
  }
});

Deno.test("shardkv classic: join/leave, then the old group shut down", async () => {
  // JoinLeave: after a leave the data lives on the new owner, so the old group can be shut down.
  const cluster = await ShardCluster.start({ snapshotThresholdBytes: -1 });
  try {
    const clerk = cluster.clerk(2);
    await cluster.join(1);
    const expected = new Map<string, string>();
    for (let k = 0; k < 10; k++) {
      await clerk.put(`jl-${k}`, `v${k}`);
      expected.set(`jl-${k}`, `v${k}`);
    }
    await cluster.join(2);
    await checkAndAppend(clerk, expected, "a");
    await cluster.leave(1);
    await checkAndAppend(clerk, expected, "b");
    const config = await cluster.waitSettled();
    assert.ok(config.shards.every((gid) => gid === 2), "group 2 owns every shard");
    await cluster.stopGroup(1);
    await checkAll(clerk, expected);
  } finally {
    await cluster.close();
  }
});

Deno.test("shardkv classic: snapshots survive a full restart", async () => {
  // Snapshot: with snapshots on, every value (and shard ownership) survives restarting all groups.
  const cluster = await ShardCluster.start({ snapshotThresholdBytes: 1_000 });
  try {
    const clerk = cluster.clerk(3);
    await cluster.join(1);
    const expected = new Map<string, string>();
    for (let k = 0; k < 30; k++) {
      await clerk.put(`snap-${k}`, `v${k}`);
      expected.set(`snap-${k}`, `v${k}`);
    }
    await cluster.join(2);
    await cluster.join(3);
    await cluster.leave(1);
    await checkAndAppend(clerk, expected, "a");
    await cluster.leave(2);
    await cluster.join(1);
    await checkAndAppend(clerk, expected, "b");
    await cluster.waitSettled();
    let snapshots = 0;
    for (const gid of GIDS) {
      for (const id of membersOf(gid)) {
        const raft = (await cluster.status(id)).raft as {
          raftStateBytes: number;
          snapshotBytes: number;
        };
        if (raft.snapshotBytes > 0) snapshots++;
        // The lab bound: the Raft state stays within 8 × maxraftstate.
        assert.ok(raft.raftStateBytes <= 8_000, `${id} raft state ${raft.raftStateBytes} bytes`);
      }
    }
    assert.ok(snapshots > 0, "some replica took a snapshot");
    for (const gid of GIDS) await cluster.stopGroup(gid);
    await cluster.stopMasters();
    await cluster.startMasters();
    for (const gid of GIDS) await cluster.startGroup(gid);
    await checkAll(clerk, expected);
    await checkAndAppend(clerk, expected, "c");
    await checkAll(clerk, expected);
  } finally {
    await cluster.close();
  }
});

Deno.test("shardkv classic: missed config changes", async () => {
  // MissChange: groups progress with a replica down, and restarted replicas catch up on missed configs.
  const cluster = await ShardCluster.start({ snapshotThresholdBytes: 1_000 });
  try {
    const clerk = cluster.clerk(4);
    await cluster.join(1);
    const expected = new Map<string, string>();
    for (let k = 0; k < 10; k++) {
      await clerk.put(`miss-${k}`, `v${k}`);
      expected.set(`miss-${k}`, `v${k}`);
    }
    await cluster.join(2);
    for (const gid of GIDS) await cluster.stopReplica(`g${gid}-1`);
    await cluster.join(3);
    await cluster.leave(2);
    await cluster.leave(1);
    await checkAndAppend(clerk, expected, "a");
    await cluster.join(2);
    await checkAndAppend(clerk, expected, "b");
    for (const gid of GIDS) await cluster.startReplica(`g${gid}-1`);
    await checkAndAppend(clerk, expected, "c");
    // The restarted replicas catch up on the configs they missed.
    await cluster.waitSettled();
    for (const gid of GIDS) await cluster.stopReplica(`g${gid}-2`);
    await cluster.join(1);
    await cluster.leave(3);
    await checkAndAppend(clerk, expected, "d");
    for (const gid of GIDS) await cluster.startReplica(`g${gid}-2`);
    await checkAll(clerk, expected);
    await cluster.waitSettled();
  } finally {
    await cluster.close();
  }
});

Deno.test("shardkv classic: concurrent appends through joins, leaves and replica restarts", async () => {
  // Concurrent1/2/3: appends racing config changes and crashes are each applied exactly once, in order.
  const cluster = await ShardCluster.start({ snapshotThresholdBytes: 2_000 });
  try {
    const writer = cluster.clerk(5);
    await cluster.join(1);
    const appenders = [0, 1, 2].map((c) => cluster.clerk(50 + c));
    let stop = false;
    const counts = appenders.map(() => 0);
    const loops = appenders.map(async (clerk, c) => {
      for (let j = 0; !stop; j++) {
        await clerk.append(`conc-${c}`, `x ${c} ${j} y `);
        counts[c]!++;
      }
    });
    try {
      const random = new Prng(7);
      const until = Date.now() + 6_000;
      let step = 0;
      while (Date.now() < until) {
        if (step % 2 === 0) await cluster.join(2, 3);
        else await cluster.leave(2, 3);
        // Crash one random replica of every group (a minority each), then restart them.
        const victims = GIDS.map((gid) => `g${gid}-${1 + random.int(3)}`);
        for (const victim of victims) await cluster.stopReplica(victim);
        await sleep(200 + random.int(400));
        for (const victim of victims) await cluster.startReplica(victim);
        await sleep(random.int(400));
        step++;
      }
    } finally {
      stop = true;
      await Promise.all(loops);
    }
    await cluster.waitSettled();
    console.log(`concurrent: appends per client ${counts}`);
    for (const [c, count] of counts.entries()) {
      assert.ok(count > 0);
      const expected = Array.from({ length: count }, (_, j) => `x ${c} ${j} y `).join("");
      assert.equal(await writer.get(`conc-${c}`), expected, `client ${c}'s ${count} appends`);
    }
  } finally {
    await cluster.close();
  }
});

Deno.test("shardkv classic: GC keeps total storage bounded (Challenge1Delete)", async () => {
  // Challenge1Delete: shards handed off are deleted, so all 9 replicas together stay ≤ 117,000 bytes.
  const cluster = await ShardCluster.start({ snapshotThresholdBytes: 1 });
  try {
    const clerk = cluster.clerk(6);
    await cluster.join(1);
    const expected = new Map<string, string>();
    for (let k = 0; k < 30; k++) {
      const value = `${k}:`.padEnd(1_000, String.fromCharCode(97 + (k % 26)));
      await clerk.put(`gc-${k}`, value);
      expected.set(`gc-${k}`, value);
    }
    const check3 = async () => {
      for (let k = 0; k < 3; k++) assert.equal(await clerk.get(`gc-${k}`), expected.get(`gc-${k}`));
    };
    for (let round = 0; round < 2; round++) {
      await cluster.join(2);
      await cluster.leave(1);
      await cluster.join(3);
      await cluster.waitSettled();
      await check3();
      await cluster.leave(2);
      await cluster.join(1);
      await cluster.leave(3);
      await cluster.waitSettled();
      await check3();
    }
    await cluster.join(2);
    await cluster.join(3);
    await cluster.waitSettled();
    await check3();
    // Let every replica snapshot past the last entries before measuring.
    await sleep(500);
    let total = 0;
    const parts: string[] = [];
    for (const gid of GIDS) {
      for (const id of membersOf(gid)) {
        const raft = (await cluster.status(id)).raft as {
          raftStateBytes: number;
          snapshotBytes: number;
        };
        total += raft.raftStateBytes + raft.snapshotBytes;
        parts.push(`${id}=${raft.raftStateBytes}+${raft.snapshotBytes}`);
      }
    }
    console.log(`gc: total ${total} bytes (${parts.join(" ")})`);
    assert.ok(total <= 117_000, `total storage ${total} bytes exceeds 117,000`);
    await checkAll(clerk, expected);
  } finally {
    await cluster.close();
  }
});
