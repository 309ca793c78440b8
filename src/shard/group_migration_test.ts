/**
 * Shard migration between replica groups at the state-machine level, one test per classic
 * shardkv test it mirrors (classic-lab-tests.md §2.4): two or three GroupStates, a scripted
 * config history, and the shell's moves done by hand by TestCluster (export at the old owner,
 * install at the new, delete at the old, gcDone at the new). Checks: values exact after
 * moves both ways, at most one group serving a shard after every step of a randomized
 * interleaving, no deadlock when two groups trade shards, sessions moving with their shard,
 * challenge 2 (unaffected shards keep serving; a shard serves once its own data arrives),
 * challenge 1 (snapshots hold only what a group serves), and restarts mid-migration.
 */

import assert from "node:assert/strict";
import { Prng } from "../util/prng.ts";
import type { KvCommand } from "../kv/command.ts";
import { GroupState } from "./group_state.ts";
import type { GroupKvReply, MigrationCommand } from "./group_command.ts";
import {
  assertChanged,
  decodeOrFail,
  keyInShard,
  shardsOf,
  TestClient,
  TestCluster,
} from "./group_test_support.ts";

const SHARDS = 10;
const KEYS = Array.from({ length: SHARDS }, (_, shard) => keyInShard(shard, SHARDS));

/** Writes through whichever group serves the key, asserting one does and accepts. */
function write(cluster: TestCluster, command: KvCommand): void {
  const sent = cluster.send(command);
  assert.ok(
    sent !== null && sent.reply.ok,
    `write ${JSON.stringify(command)}: ${JSON.stringify(sent)}`,
  );
}

function checkValues(cluster: TestCluster, expected: Map<string, string>, label = ""): void {
  for (const [key, value] of expected) assert.equal(cluster.read(key), value, `${label} ${key}`);
}

Deno.test("shardkv migration: join then leave moves data both ways, values exact; the group that left holds nothing (JoinLeave5B)", () => {
  const cluster = new TestCluster(SHARDS, [100, 101]);
  const client = new TestClient(1);
  const expected = new Map<string, string>();
  cluster.join(100);
  cluster.settle();
  for (const key of KEYS) {
    write(cluster, client.put(key, key));
    expected.set(key, key);
  }
  const appendAll = (suffix: string) => {
    for (const key of KEYS) {
      write(cluster, client.append(key, suffix));
      expected.set(key, expected.get(key) + suffix);
    }
  };
  cluster.join(101);
  cluster.settle();
  assert.equal(shardsOf(cluster.latest(), 101).length, 5);
  checkValues(cluster, expected, "after join");
  appendAll("+a");
  cluster.leave(100);
  cluster.settle();
  checkValues(cluster, expected, "after leave");
  appendAll("+b");
  assert.deepEqual(cluster.group(100).shardStates(), {});
  cluster.down.add(100);
  checkValues(cluster, expected, "with 100 down");
  assert.ok(cluster.group(100).snapshot().byteLength < 400, "nothing left at the old owner");
});

Deno.test("shardkv migration: two groups trading shards in one config both make progress (no deadlock)", () => {
  const cluster = new TestCluster(SHARDS, [100, 101]);
  cluster.assign([100, 100, 100, 100, 100, 101, 101, 101, 101, 101]);
  cluster.settle();
  const client = new TestClient(1);
  for (const key of KEYS) write(cluster, client.put(key, `v-${key}`));
  cluster.assign([101, 100, 100, 100, 100, 100, 101, 101, 101, 101]); // swap shards 0 and 5
  assertChanged(cluster.offerConfig(100));
  assertChanged(cluster.offerConfig(101));
  cluster.checkOneServer();
  assert.deepEqual([cluster.servingGroups(0), cluster.servingGroups(5)], [[], []], "in flight");
  for (const [gid, pulled, handed] of [[100, 5, 0], [101, 0, 5]] as const) {
    const group = cluster.group(gid);
    assert.equal(group.shardState(pulled)?.kind, "pulling");
    assert.ok(group.exportShard(handed, 2).ok, `${gid} exports ${handed} while pulling`);
  }
  assertChanged(cluster.pull(100, cluster.group(100).shardsToPull()[0]!));
  assertChanged(cluster.pull(101, cluster.group(101).shardsToPull()[0]!));
  assertChanged(cluster.confirm(100, cluster.group(100).shardsToConfirm()[0]!));
  assertChanged(cluster.confirm(101, cluster.group(101).shardsToConfirm()[0]!));
  assert.ok(cluster.group(100).canAcceptNextConfig() && cluster.group(101).canAcceptNextConfig());
  assert.deepEqual(cluster.servingGroups(0), [101]);
  assert.deepEqual(cluster.servingGroups(5), [100]);
  for (const key of KEYS) assert.equal(cluster.read(key), `v-${key}`);
});

Deno.test("shardkv migration: sessions move with the shard — an append applied before the move and retried after it is answered from the session", () => {
  const cluster = new TestCluster(SHARDS, [100, 101]);
  cluster.join(100);
  cluster.settle();
  cluster.join(101);
  const moved = shardsOf(cluster.latest(), 101)[0]!;
  const key = KEYS[moved]!;
  const client = new TestClient(42);
  const first = client.append(key, "a");
  const second = client.append(key, "b");
  assert.deepEqual(cluster.propose(100, { type: "kv", command: first }), { ok: true });
  assert.deepEqual(cluster.propose(100, { type: "kv", command: second }), { ok: true });
  cluster.settle(); // the reply to `second` was lost; the shard moves to 101
  const retried = cluster.propose(101, { type: "kv", command: second }) as GroupKvReply;
  assert.deepEqual(retried, { ok: true }, "answered from the migrated session");
  assert.equal(cluster.read(key), "ab", "not applied twice");
  const stale = cluster.propose(101, { type: "kv", command: first }) as GroupKvReply;
  assert.ok(!stale.ok && stale.error.code === "staleRequest");
  assert.deepEqual(cluster.propose(100, { type: "kv", command: second }), {
    ok: false,
    error: { code: "wrongGroup", shard: moved },
  });
});

Deno.test("shardkv migration: unaffected shards keep serving while another shard of the config is still pulling (Challenge2Unaffected)", () => {
  const cluster = new TestCluster(SHARDS, [100, 101]);
  const client = new TestClient(1);
  cluster.join(100);
  cluster.settle();
  for (const key of KEYS) write(cluster, client.put(key, "100"));
  cluster.join(101);
  cluster.settle();
  const owned = shardsOf(cluster.latest(), 101);
  for (const shard of owned) write(cluster, client.put(KEYS[shard]!, "101"));
  cluster.down.add(100);
  cluster.leave(100); // 101 can never get 100's shards
  cluster.settle();
  const group = cluster.group(101);
  assert.equal(group.currentConfig().num, 3);
  assert.equal(group.shardsToPull().length, SHARDS - owned.length);
  assert.equal(group.canAcceptNextConfig(), false);
  for (let shard = 0; shard < SHARDS; shard++) {
    const key = KEYS[shard]!;
    if (!owned.includes(shard)) {
      assert.deepEqual(group.get(key), { ok: false, error: { code: "wrongGroup", shard } });
      continue;
    }
    assert.deepEqual(group.get(key), { ok: true, value: "101" });
    assert.deepEqual(cluster.propose(101, { type: "kv", command: client.put(key, "101-1") }), {
      ok: true,
    });
    assert.deepEqual(group.get(key), { ok: true, value: "101-1" });
  }
});

Deno.test("shardkv migration: a shard serves as soon as its own data arrives while another is still missing (Challenge2Partial)", () => {
  const cluster = new TestCluster(SHARDS, [100, 101, 102]);
  const client = new TestClient(1);
  cluster.join(100, 101, 102);
  cluster.settle();
  for (const key of KEYS) write(cluster, client.put(key, "100"));
  const from102 = shardsOf(cluster.latest(), 102);
  const from100 = shardsOf(cluster.latest(), 100);
  cluster.down.add(100);
  cluster.leave(100, 102); // 101 inherits everything
  cluster.settle();
  const group = cluster.group(101);
  assert.deepEqual(group.shardsToPull().map((task) => task.shard), from100);
  assert.deepEqual(cluster.group(102).shardStates(), {}, "102 deleted what 101 installed");
  for (const shard of from102) {
    const key = KEYS[shard]!;
    assert.equal(group.shardState(shard)?.kind, "serving");
    assert.deepEqual(group.get(key), { ok: true, value: "100" });
    assert.deepEqual(cluster.propose(101, { type: "kv", command: client.put(key, "100-2") }), {
      ok: true,
    });
    assert.deepEqual(group.get(key), { ok: true, value: "100-2" });
  }
  cluster.down.delete(100);
  cluster.settle();
  assert.ok(group.canAcceptNextConfig(), "100's shards arrive once it is back");
  assert.deepEqual(cluster.group(100).shardStates(), {});
});

Deno.test("shardkv migration: a group that missed configs applies each in order, shards passing through every owner (MissChange5B)", () => {
  const cluster = new TestCluster(SHARDS, [100, 101, 102]);
  const client = new TestClient(1);
  const expected = new Map<string, string>();
  cluster.join(100);
  cluster.settle();
  for (const key of KEYS) {
    write(cluster, client.put(key, key));
    expected.set(key, key);
  }
  cluster.join(101);
  cluster.settle();
  cluster.down.add(102);
  cluster.join(102);
  cluster.leave(101);
  cluster.leave(100);
  cluster.settle(); // 100 and 101 wait, handing off to 102, which is down
  assert.equal(cluster.group(102).currentConfig().num, 2, "102 missed configs 3, 4 and 5");
  assert.equal(cluster.group(100).currentConfig().num, 3, "100 waits for 102 to pull");
  cluster.down.delete(102);
  cluster.settle();
  checkValues(cluster, expected);
  const configNums = cluster.logs.get(102)!.map(decodeOrFail).flatMap((command) =>
    command.type === "config" ? [command.config.num] : []
  );
  assert.deepEqual(configNums, [1, 2, 3, 4, 5], "each config once, in order");
  assert.deepEqual(cluster.group(100).shardStates(), {});
  assert.deepEqual(cluster.group(101).shardStates(), {});
});

Deno.test("shardkv migration: after moving 30 keys of 1,000-byte values back and forth, each snapshot holds only what its group serves (Challenge1Delete)", () => {
  const cluster = new TestCluster(SHARDS, [100, 101, 102]);
  const client = new TestClient(1);
  const keys = Array.from({ length: 30 }, (_, index) => `key-${index}`);
  const value = (key: string) => key.padEnd(1000, ".");
  cluster.join(100);
  cluster.settle();
  for (const key of keys) write(cluster, client.put(key, value(key)));
  const servedBytes = (gid: number) =>
    keys.filter((key) => cluster.group(gid).get(key).ok).length * 1000;
  // Before the deletion, the old owner still holds the moved data; after it, no longer.
  cluster.join(101);
  assertChanged(cluster.offerConfig(100));
  assert.ok(cluster.group(100).snapshot().byteLength > 30_000, "handing off: data still held");
  cluster.settle();
  assert.ok(cluster.group(100).snapshot().byteLength < servedBytes(100) + 2_000, "freed");
  for (let round = 0; round < 2; round++) {
    cluster.leave(100);
    cluster.join(102);
    cluster.settle();
    cluster.leave(101);
    cluster.join(100);
    cluster.leave(102);
    cluster.settle();
    cluster.join(101);
  }
  cluster.join(102);
  cluster.settle();
  let total = 0;
  for (const gid of [100, 101, 102]) {
    const size = cluster.group(gid).snapshot().byteLength;
    const served = servedBytes(gid);
    assert.ok(served > 0, `gid ${gid} serves some keys`);
    assert.ok(size >= served && size < served + 2_000, `gid ${gid}: ${size} B for ${served} B`);
    total += size;
  }
  assert.ok(total < 30_000 + 3 * 2_000, `total ${total} B: one copy of each value`);
  for (const key of keys) assert.equal(cluster.read(key), value(key));
});

Deno.test("shardkv migration: restarting every group from its snapshot after every step resumes the migration exactly (Snapshot5B)", () => {
  const cluster = new TestCluster(SHARDS, [100, 101, 102]);
  const client = new TestClient(1);
  const expected = new Map<string, string>();
  cluster.join(100);
  cluster.settle();
  for (const key of KEYS) {
    write(cluster, client.put(key, key));
    expected.set(key, key);
  }
  let restarts = 0;
  cluster.afterPropose = () => {
    for (const gid of cluster.groups.keys()) cluster.restart(gid);
    restarts++;
  };
  cluster.join(101);
  cluster.join(102);
  cluster.leave(100);
  cluster.settle();
  checkValues(cluster, expected, "after restarts");
  for (const key of KEYS) {
    write(cluster, client.append(key, "+"));
    expected.set(key, expected.get(key) + "+");
  }
  cluster.leave(101);
  cluster.join(100);
  cluster.settle();
  checkValues(cluster, expected, "after more restarts");
  assert.ok(restarts > 50, `only ${restarts} restarts`);
});

Deno.test("shardkv migration: at most one group serves a shard after every step of a randomized interleaving (down groups, GCs carried past configs); values exact; logs replay to the same bytes", () => {
  for (const seed of [1, 2, 3, 20_240_707]) runInterleaving(seed);
});

/** One client's write in flight: retried with the same seq until some group answers it. */
interface Pending {
  readonly command: KvCommand;
  answered: boolean;
}

function runInterleaving(seed: number): void {
  const random = new Prng(seed);
  const gids = [100, 101, 102];
  const cluster = new TestCluster(SHARDS, gids);
  cluster.join(100);
  const clients = [1, 2, 3].map((id) => new TestClient(id));
  const pending = new Map<number, Pending>();
  const expected = new Map<string, string>(KEYS.map((key) => [key, ""]));
  const sent: [number, MigrationCommand][] = [];
  const label = (step: number) => `seed ${seed} step ${step}`;
  const changes = { installShard: 0, deleteShard: 0, gcDone: 0, config: 0 };
  const propose = (gid: number, command: MigrationCommand) => {
    sent.push([gid, command]);
    const reply = cluster.propose(gid, command);
    if (reply.ok && "changed" in reply && reply.changed) changes[command.type]++;
    return reply;
  };
  const gidOf = () => random.pick(gids);
  const up = (gid: number) => !cluster.down.has(gid);
  let carried = 0;
  for (let step = 0; step < 3_000; step++) {
    const gid = gidOf();
    const group = cluster.group(gid);
    const action = random.int(9);
    if (action === 7) { // a group goes down, or comes back (at most one down at a time)
      if (cluster.down.has(gid)) cluster.down.delete(gid);
      else if (cluster.down.size === 0) cluster.down.add(gid);
    }
    if (!up(gid) && action !== 0) continue;
    switch (action) {
      case 0: { // the master makes a config (never without a group)
        if (cluster.configs.length > 40 || !random.chance(0.3)) break;
        const members = [...cluster.latest().groups.keys()];
        if (members.includes(gid) && members.length > 1) cluster.leave(gid);
        else if (!members.includes(gid)) cluster.join(gid);
        break;
      }
      case 1: {
        const next = cluster.configs[group.currentConfig().num + 1];
        if (next !== undefined) {
          propose(gid, { type: "config", config: cluster.configJson(next.num) });
        }
        break;
      }
      case 2: {
        const tasks = group.shardsToPull();
        if (tasks.length === 0) break;
        const task = random.pick(tasks);
        const { shard, configNum, part } = task;
        if (!up(task.fromGid)) break;
        const exported = cluster.group(task.fromGid).exportShard(shard, configNum, part);
        if (!exported.ok) break;
        const { data, parts, cut } = exported;
        propose(gid, { type: "installShard", configNum, shard, part, parts, cut, data });
        break;
      }
      case 3: { // the shell's two halves of a confirmation may be far apart: delete, later gcDone
        const tasks = group.shardsToConfirm();
        if (tasks.length === 0) break;
        const { shard, configNum, fromGid } = random.pick(tasks);
        if (!up(fromGid)) break;
        const deleted = propose(fromGid, { type: "deleteShard", configNum, shard });
        if (deleted.ok && random.chance(0.5)) propose(gid, { type: "gcDone", configNum, shard });
        break;
      }
      case 4: { // a duplicate of any earlier migration command, to the group it went to
        if (sent.length === 0) break;
        const [target, command] = random.pick(sent);
        if (!up(target)) break;
        const reply = cluster.propose(target, command);
        assert.ok(
          reply.ok || command.type === "config",
          `${label(step)}: ${JSON.stringify(reply)}`,
        );
        break;
      }
      case 5:
      case 6: {
        const client = random.pick(clients);
        let write = pending.get(client.clientId);
        if (write === undefined) {
          const key = random.pick(KEYS);
          write = { command: client.append(key, `${client.clientId}.${step};`), answered: false };
          pending.set(client.clientId, write);
        }
        const reply = cluster.propose(gid, { type: "kv", command: write.command }) as GroupKvReply;
        if (!reply.ok) {
          assert.equal(reply.error.code, "wrongGroup", label(step));
          break;
        }
        if (!write.answered && write.command.type === "append") {
          const key = write.command.key;
          expected.set(key, expected.get(key) + write.command.value);
        }
        write.answered = true;
        if (random.chance(0.7)) pending.delete(client.clientId); // else the reply was "lost"
        break;
      }
      case 7:
        break;
      default:
        cluster.restart(gid);
    }
    cluster.checkOneServer(label(step));
    for (const each of cluster.groups.values()) each.invariants();
    carried += checkPendingGcs(cluster, label(step));
  }
  cluster.down.clear();
  cluster.settle();
  for (const gid of gids) {
    assert.equal(cluster.group(gid).pendingGcCount(), 0, `seed ${seed}: ${gid}'s GCs all done`);
  }
  assert.ok(carried >= 10, `seed ${seed}: only ${carried} steps had a GC carried past its config`);
  for (const write of pending.values()) {
    const sent = cluster.send(write.command);
    assert.ok(sent?.reply.ok, `seed ${seed}: the last writes are answered`);
    if (!write.answered && write.command.type === "append") {
      expected.set(write.command.key, expected.get(write.command.key) + write.command.value);
    }
  }
  for (const [key, value] of expected) {
    assert.equal(cluster.read(key), value, `seed ${seed} ${key}`);
  }
  for (const gid of gids) {
    const replica = new GroupState(gid, SHARDS);
    for (const bytes of cluster.logs.get(gid)!) replica.apply(decodeOrFail(bytes));
    assert.deepEqual(replica.snapshot(), cluster.group(gid).snapshot(), `seed ${seed} gid ${gid}`);
  }
  assert.ok(cluster.configs.length > 10, `seed ${seed}: only ${cluster.configs.length} configs`);
  for (const [type, count] of Object.entries(changes)) {
    assert.ok(count >= 10, `seed ${seed}: only ${count} ${type} steps took effect`);
  }
}

/**
 * Every GC a group still owes for an earlier config N points at an old owner that cannot have
 * moved past N without deleting: it is at N or later, and at N it still hands the shard to this
 * group. Returns how many such pending GCs there are now.
 */
function checkPendingGcs(cluster: TestCluster, label: string): number {
  let count = 0;
  for (const [gid, group] of cluster.groups) {
    const current = group.currentConfig().num;
    for (const task of group.shardsToConfirm()) {
      if (task.configNum === current) continue; // this config's own waitingGc
      count++;
      const old = cluster.group(task.fromGid);
      const oldNum = old.currentConfig().num;
      assert.ok(oldNum >= task.configNum, `${label}: ${task.fromGid} behind a pending GC`);
      if (oldNum === task.configNum) {
        const state = old.shardState(task.shard);
        assert.ok(
          state === undefined || (state.kind === "handingOff" && state.toGid === gid),
          `${label}: ${task.fromGid} holds shard ${task.shard} as ${JSON.stringify(state)}`,
        );
      }
    }
  }
  return count;
}
