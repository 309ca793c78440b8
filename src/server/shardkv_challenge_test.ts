/**
 * The classic shardkv challenge tests, on the real stack in one process (see
 * shardkv_test_support.ts): shards unaffected by a stuck migration keep being served
 * (Challenge2Unaffected), a shard gained from a live group serves as soon as its own data is
 * installed while shards of the same config from a dead group are still missing
 * (Challenge2Partial), and a history of concurrent clients across joins and leaves is
 * linearizable.
 */

import assert from "node:assert/strict";
import { TimeoutError } from "../kv/clerk.ts";
import { shardOf } from "../kv/shard_of.ts";
import type { ShardedClerk } from "../shard/sharded_clerk.ts";
import { Prng } from "../util/prng.ts";
import { checkHistory, HistoryRecorder } from "../../tests/linearizability/mod.ts";
import {
  keysCoveringShards,
  membersOf,
  ShardCluster,
  sleep,
  waitFor,
} from "./shardkv_test_support.ts";

async function checkAll(clerk: ShardedClerk, expected: Map<string, string>): Promise<void> {
  for (const [key, value] of expected) {
    assert.equal(await clerk.get(key), value, `value of ${key}`);
  }
}

Deno.test("shardkv challenge 2, unaffected shards", async () => {
  // Challenge2Unaffected: with group 2 dead, a join of group 3 cannot move group 2's shards, but
  // the shards group 1 owns before and after the join stay readable and writable.
  const cluster = await ShardCluster.start({ snapshotThresholdBytes: -1 });
  try {
    const clerk = cluster.clerk(11);
    await cluster.join(1);
    await cluster.join(2);
    const before = await cluster.waitSettled();
    const shardCount = before.shards.length;
    // Two keys in every shard.
    const expected = new Map<string, string>();
    const perShard = new Array<number>(shardCount).fill(0);
    for (let k = 0; perShard.some((count) => count < 2); k++) {
      const key = `unaffected-${k}`;
      const shard = shardOf(key, shardCount);
      if (perShard[shard]! >= 2) continue;
      perShard[shard]!++;
      const value = `v${k}-${"y".repeat(8)}`;
      await clerk.put(key, value);
      expected.set(key, value);
    }
    await checkAll(clerk, expected);

    await cluster.stopGroup(2);
    await cluster.join(3);
    const after = await cluster.admin.query(-1);
    assert.ok(after.num > before.num, "the join made a new config");
    const shardOfKey = (key: string) => shardOf(key, shardCount);
    const stays1 = [...expected.keys()].filter((key) =>
      before.shards[shardOfKey(key)] === 1 && after.shards[shardOfKey(key)] === 1
    );
    const moves2to3 = [...expected.keys()].filter((key) =>
      before.shards[shardOfKey(key)] === 2 && after.shards[shardOfKey(key)] === 3
    );
    console.log(
      `unaffected: config ${before.num} [${before.shards}] -> ${after.num} [${after.shards}]; ` +
        `${stays1.length} keys stay on group 1, ${moves2to3.length} move 2->3`,
    );
    assert.ok(stays1.length > 0, "some shards stay on group 1");
    assert.ok(moves2to3.length > 0, "some shards move from group 2 to group 3");

    // Fresh clerks, one per operation, each with a 2 s deadline.
    let seed = 1_000;
    const fresh = () => cluster.clerk(seed++, 2_000);
    const started = performance.now();
    const stayOutcomes = await Promise.all(stays1.map(async (key) => {
      const t0 = performance.now();
      try {
        const read = await fresh().get(key);
        const extra = "-c2";
        await fresh().append(key, extra);
        const reread = await fresh().get(key);
        return { key, read, reread, extra, error: undefined, ms: performance.now() - t0 };
      } catch (error) {
        return { key, read: "", reread: "", extra: "", error, ms: performance.now() - t0 };
      }
    }));
    const moveOutcomes = await Promise.all(moves2to3.map(async (key) => {
      try {
        return { key, value: await fresh().get(key), error: undefined };
      } catch (error) {
        return { key, value: undefined, error };
      }
    }));
    const slowest = Math.max(...stayOutcomes.map((outcome) => outcome.ms));
    console.log(
      `unaffected: group-1 keys get+append+get slowest ${slowest.toFixed(0)} ms; ` +
        `all checks ${(performance.now() - started).toFixed(0)} ms`,
    );
    for (const outcome of stayOutcomes) {
      assert.equal(outcome.error, undefined, `group-1 key ${outcome.key} served: ${outcome.error}`);
      assert.equal(outcome.read, expected.get(outcome.key), `value of ${outcome.key}`);
      expected.set(outcome.key, expected.get(outcome.key)! + outcome.extra);
      assert.equal(outcome.reread, expected.get(outcome.key), `appended value of ${outcome.key}`);
    }
    for (const outcome of moveOutcomes) {
      assert.ok(
        outcome.error instanceof TimeoutError,
        `key ${outcome.key} moving from dead group 2 is not served (got ${
          outcome.error ?? JSON.stringify(outcome.value)
        })`,
      );
    }

    await cluster.startGroup(2);
    await cluster.waitSettled(30_000);
    await checkAll(clerk, expected);
    await checkAll(cluster.clerk(2_000), expected);
  } finally {
    await cluster.close();
  }
});

Deno.test("shardkv challenge 2, partial shards", async () => {
  // Challenge2Partial (§3.2): after groups 1 (dead) and 3 leave together, group 2 gains shards
  // from both; each serves as soon as its own data is installed, so group 3's shards are
  // readable and writable while group 1's are still pulling (no whole-config barrier).
  const cluster = await ShardCluster.start({ snapshotThresholdBytes: -1 });
  try {
    const clerk = cluster.clerk(21);
    await cluster.join(1, 2, 3);
    const before = await cluster.waitSettled();
    const shardCount = before.shards.length;
    const expected = new Map<string, string>();
    for (const [k, key] of keysCoveringShards("partial", shardCount, 2).entries()) {
      const value = `v${k}-${"p".repeat(8)}`;
      await clerk.put(key, value);
      expected.set(key, value);
    }
    await checkAll(clerk, expected);
    const shardsOf = (gid: number) =>
      before.shards.flatMap((owner, shard) => owner === gid ? [shard] : []);
    const from1 = shardsOf(1);
    const from3 = shardsOf(3);
    assert.ok(from1.length > 0 && from3.length > 0, "groups 1 and 3 both own shards");
    const keysOf3 = [...expected.keys()].filter((key) => from3.includes(shardOf(key, shardCount)));
    const keysOf1 = [...expected.keys()].filter((key) => from1.includes(shardOf(key, shardCount)));

    await cluster.stopGroup(1);
    await cluster.leave(1, 3);
    const after = await cluster.latest();
    assert.ok(after.shards.every((gid) => gid === 2), "group 2 inherits every shard");
    console.log(
      `partial: config ${before.num} [${before.shards}] -> ${after.num} [${after.shards}]; ` +
        `${keysOf3.length} keys in group 3's shards [${from3}], ${keysOf1.length} in dead ` +
        `group 1's [${from1}]`,
    );

    // The lab waits 1 s here; waiting for the condition instead: groups 2 and 3 have applied
    // the leave, so group 3 refuses its old shards and only group 2 can answer for them.
    const movedOn = async (id: string) => (await cluster.shardStatus(id)).config === after.num;
    for (const id of [...membersOf(2), ...membersOf(3)]) {
      await waitFor(() => movedOn(id), 10_000, `${id} applying config ${after.num}`);
    }

    // For every key of group 3's shards: get, put value+"-2", get. No deadline of their own
    // (the lab has none), only the clerk's default.
    const started = performance.now();
    const opMs: number[] = [];
    for (const key of keysOf3) {
      const t0 = performance.now();
      assert.equal(await clerk.get(key), expected.get(key), `value of ${key}`);
      const value = expected.get(key)! + "-2";
      await clerk.put(key, value);
      expected.set(key, value);
      assert.equal(await clerk.get(key), value, `new value of ${key}`);
      opMs.push(performance.now() - t0);
    }
    const firstMs = opMs[0] ?? 0;
    console.log(
      `partial: group-3 keys get+put+get: first ${firstMs.toFixed(0)} ms (may wait for the ` +
        `pull), slowest other ${Math.max(0, ...opMs.slice(1)).toFixed(0)} ms; all ` +
        `${(performance.now() - started).toFixed(0)} ms`,
    );

    // They were served while group 1's shards are still missing: every replica of group 2 is
    // at the new config with group 1's shards pulling (they cannot leave that state while
    // group 1 is down, so this also held during the operations above).
    for (const id of membersOf(2)) {
      const status = await cluster.shardStatus(id);
      assert.equal(status.config, after.num, `${id} applied config ${after.num}`);
      for (const shard of from1) {
        assert.equal(status.shards[shard], "pulling", `${id} still pulls shard ${shard}`);
      }
      for (const shard of from3) {
        assert.ok(
          status.shards[shard] === "serving" || status.shards[shard] === "waitingGc",
          `${id} serves shard ${shard} (${status.shards[shard]})`,
        );
      }
    }
    // And the missing shards are not served (no "" for a key that was put): fresh clerks, 2 s.
    let seed = 2_100;
    const missing = await Promise.all(keysOf1.map(async (key) => {
      try {
        return { key, value: await cluster.clerk(seed++, 2_000).get(key), error: undefined };
      } catch (error) {
        return { key, value: undefined, error };
      }
    }));
    for (const outcome of missing) {
      assert.ok(
        outcome.error instanceof TimeoutError,
        `key ${outcome.key} of dead group 1 is not served (got ${
          outcome.error ?? JSON.stringify(outcome.value)
        })`,
      );
    }

    const restarted = performance.now();
    await cluster.startGroup(1);
    await cluster.waitSettled(30_000);
    console.log(
      `partial: group 1 restarted, settled after ${(performance.now() - restarted).toFixed(0)} ms`,
    );
    await checkAll(clerk, expected);
    await checkAll(cluster.clerk(2_200), expected);
  } finally {
    await cluster.close();
  }
});

Deno.test("shardkv challenge: linearizable history across joins and leaves", async () => {
  const cluster = await ShardCluster.start({ snapshotThresholdBytes: 4_000 });
  try {
    await cluster.join(1);
    const keys = [0, 1, 2, 3, 4].map((k) => `lin-${k}`);
    const recorder = new HistoryRecorder(() => performance.now());
    const counts = { get: 0, put: 0, append: 0, timeout: 0, configChanges: 0 };
    const clerks = [0, 1, 2, 3].map((c) => cluster.clerk(300 + c));
    let stop = false;
    const loops = clerks.map(async (clerk, c) => {
      const random = new Prng(400 + c);
      for (let j = 0; !stop; j++) {
        const key = keys[random.int(keys.length)]!;
        const roll = random.int(10);
        const value = `${c}.${j};`;
        if (roll < 4) {
          const handle = recorder.begin(c, { kind: "get", key });
          try {
            const output = await clerk.get(key, { timeoutMs: 5_000 });
            recorder.end(handle, output);
            counts.get++;
          } catch (error) {
            if (!(error instanceof TimeoutError)) throw error;
            recorder.timeout(handle);
            counts.timeout++;
          }
        } else {
          const kind = roll < 7 ? "put" : "append";
          const handle = recorder.begin(c, { kind, key, value });
          try {
            if (kind === "put") await clerk.put(key, value, { timeoutMs: 5_000 });
            else await clerk.append(key, value, { timeoutMs: 5_000 });
            recorder.end(handle);
            counts[kind]++;
          } catch (error) {
            if (!(error instanceof TimeoutError)) throw error;
            recorder.timeout(handle);
            counts.timeout++;
          }
        }
      }
    });
    try {
      const random = new Prng(77);
      const joined = new Set<number>([1]);
      const until = Date.now() + 5_000;
      while (Date.now() < until) {
        const gid = 2 + random.int(2);
        if (joined.has(gid)) {
          await cluster.leave(gid);
          joined.delete(gid);
        } else {
          await cluster.join(gid);
          joined.add(gid);
        }
        counts.configChanges++;
        await sleep(100 + random.int(400));
      }
    } finally {
      stop = true;
      await Promise.all(loops);
    }
    const config = await cluster.waitSettled(30_000);
    // One final read of every key, after everything settled.
    const reader = cluster.clerk(399);
    for (const key of keys) {
      const handle = recorder.begin(99, { kind: "get", key });
      recorder.end(handle, await reader.get(key));
      counts.get++;
    }
    const operations = recorder.operations();
    const checkStarted = performance.now();
    const result = checkHistory(operations, { budgetMs: 30_000 });
    console.log(
      `linearizability: ${operations.length} operations ${JSON.stringify(counts)}, ` +
        `final config ${config.num} [${config.shards}], check ${result.result} in ${
          (performance.now() - checkStarted).toFixed(0)
        } ms${result.result === "unknown" ? ` (${result.reason})` : ""}`,
    );
    if (result.result === "illegal") console.log(result.explanation);
    assert.notEqual(result.result, "illegal", "the history is linearizable");
    assert.ok(counts.get + counts.put + counts.append > 20, "clients made progress");
  } finally {
    await cluster.close();
  }
});
