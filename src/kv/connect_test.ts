/**
 * The library's config-file helpers (connect.ts), end to end: each test writes a cluster config
 * to a temporary file, starts that cluster's replicas in this process on free loopback ports,
 * and talks to it only through `connectClerkFromConfig` / `connectShardMasterFromConfig`, as a
 * library user would. A sharded file gives a routing clerk that keeps finding its keys while a
 * join moves shards between groups; a single-group file gives the group's plain Clerk; the
 * repository's two example configs give the right kind of client; wrong files are refused.
 */

import assert from "node:assert/strict";
import { ConfigError, loadConfig } from "../config/mod.ts";
import type { Config } from "../config/mod.ts";
import { startGroupReplica } from "../server/group_replica.ts";
import { startKvReplica } from "../server/kv_replica.ts";
import { startShardMasterReplica } from "../server/master_replica.ts";
import { ShardMasterClerk } from "../shard/master_clerk.ts";
import { ShardedClerk } from "../shard/sharded_clerk.ts";
import { portPicker } from "../test_support/free_ports.ts";
import { silentLogger } from "../util/logger.ts";
import { Clerk, type SessionKvClient } from "./clerk.ts";
import { connectClerkFromConfig, connectShardMasterFromConfig } from "./connect.ts";
import { shardOf } from "./shard_of.ts";

const SHARDS = 4;
const EXAMPLE_PATH = new URL("../../cluster.example.toml", import.meta.url).pathname;
const SINGLE_PATH = new URL("../../cluster.single.toml", import.meta.url).pathname;

/** Something started that must be stopped. */
interface Stoppable {
  stop(): Promise<void>;
}

/**
 * Writes a config to `<dir>/cluster.toml`: one replica per `[[groups]]` table (gids 1..groups),
 * plus a one-replica shard master when `sharded`. Answers the path and the loaded config.
 */
async function writeConfig(
  dir: string,
  options: { sharded: boolean; groups: number; replicasPerGroup: number },
): Promise<{ path: string; config: Config }> {
  const ports = portPicker();
  const replica = (table: string, id: string) =>
    `[[${table}.replicas]]\nid = "${id}"\nraft = "127.0.0.1:${ports.next()}"\n` +
    `admin = "127.0.0.1:${ports.next()}"\n`;
  let text = `[cluster]\nsecret = "test-secret-0123456789"\n` +
    `admin_token = "test-admin-token-0123"\nshards = ${SHARDS}\n` +
    `[raft]\ntick_ms = 10\nelection_ticks = 20\nheartbeat_ticks = 2\n` +
    `[storage]\ndata_dir = "${dir}/data"\n[log]\nlevel = "error"\n`;
  if (options.sharded) text += `[shardmaster]\n${replica("shardmaster", "sm1")}`;
  for (let gid = 1; gid <= options.groups; gid++) {
    text += `[[groups]]\ngid = ${gid}\n`;
    for (let k = 1; k <= options.replicasPerGroup; k++) text += replica("groups", `g${gid}-${k}`);
  }
  ports.release(); // Close the listeners before the replicas bind these ports.
  const path = `${dir}/cluster.toml`;
  await Deno.writeTextFile(path, text);
  const loaded = await loadConfig(path);
  if (!loaded.ok) throw loaded.error;
  return { path, config: loaded.config };
}

/** One key per shard, so that every shard holds data when groups change. */
function keyPerShard(): string[] {
  const keys = new Map<number, string>();
  for (let k = 0; keys.size < SHARDS; k++) {
    const shard = shardOf(`key-${k}`, SHARDS);
    if (!keys.has(shard)) keys.set(shard, `key-${k}`);
  }
  return [...keys.values()];
}

/** The replica ids of group `gid`, as the config file lists them. */
function membersOf(config: Config, gid: number): string[] {
  return config.groups.find((group) => group.gid === gid)!.replicas.map((replica) => replica.id);
}

/** Stops everything, closes every client and removes `dir`, even when one step fails. */
async function cleanUp(
  dir: string,
  clients: readonly ({ close(): Promise<void> } | null)[],
  replicas: readonly Stoppable[],
): Promise<void> {
  const results = await Promise.allSettled([
    ...clients.map((client) => client?.close()),
    ...replicas.map((replica) => replica.stop()),
  ]);
  await Deno.remove(dir, { recursive: true });
  const failed = results.find((result) => result.status === "rejected");
  if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
}

Deno.test("connect: a sharded config file gives a routing clerk that follows shards through a join", async () => {
  const dir = await Deno.makeTempDir({ prefix: "shardkv-connect-test-" });
  const { path, config } = await writeConfig(dir, {
    sharded: true,
    groups: 2,
    replicasPerGroup: 1,
  });
  const replicas: Stoppable[] = [];
  let master: ShardMasterClerk | null = null;
  let clerk: SessionKvClient | null = null;
  try {
    const start = { config, logger: silentLogger, onFatal: () => {} };
    replicas.push(await startShardMasterReplica({ ...start, replicaId: "sm1" }));
    for (const gid of [1, 2]) {
      for (const id of membersOf(config, gid)) {
        replicas.push(await startGroupReplica({ ...start, replicaId: id }));
      }
    }
    master = await connectShardMasterFromConfig(path, { defaultTimeoutMs: 20_000 });
    clerk = await connectClerkFromConfig(path, { defaultTimeoutMs: 30_000 });
    assert.ok(clerk instanceof ShardedClerk, "a [shardmaster] section gives the routing clerk");

    await master.join([[1, membersOf(config, 1)]]);
    const keys = keyPerShard();
    for (const key of keys) await clerk.put(key, `${key}=v`);
    for (const key of keys) assert.equal(await clerk.get(key), `${key}=v`);

    // Group 2 takes half the shards. The clerk's cached config still says group 1 holds them
    // all, so it must refresh on wrongGroup to reach the keys that moved.
    await master.join([[2, membersOf(config, 2)]]);
    const latest = await master.query();
    assert.deepEqual([...latest.groups.keys()].sort(), [1, 2]);
    assert.equal(latest.shards.filter((gid) => gid === 2).length, SHARDS / 2);
    for (const key of keys) await clerk.append(key, "+");
    for (const key of keys) assert.equal(await clerk.get(key), `${key}=v+`);
    await clerk.delete(keys[0]!);
    assert.equal(await clerk.get(keys[0]!), "");
  } finally {
    await cleanUp(dir, [clerk, master], replicas);
  }
});

Deno.test("connect: a single-group config file gives that group's Clerk", async () => {
  const dir = await Deno.makeTempDir({ prefix: "shardkv-connect-test-" });
  const { path, config } = await writeConfig(dir, {
    sharded: false,
    groups: 1,
    replicasPerGroup: 3,
  });
  const replicas: Stoppable[] = [];
  let clerk: SessionKvClient | null = null;
  try {
    for (const id of membersOf(config, 1)) {
      replicas.push(
        await startKvReplica({ config, replicaId: id, logger: silentLogger, onFatal: () => {} }),
      );
    }
    clerk = await connectClerkFromConfig(path, { defaultTimeoutMs: 20_000 });
    assert.ok(clerk instanceof Clerk, "no [shardmaster] section gives the plain Clerk");
    await clerk.put("greeting", "hello");
    await clerk.append("greeting", ", world");
    assert.equal(await clerk.get("greeting"), "hello, world");
    assert.equal(await clerk.get("missing"), "");
    await assert.rejects(
      () => connectShardMasterFromConfig(path),
      /Cannot connect to the shard master: .*cluster\.toml has no \[shardmaster\] section/,
    );
  } finally {
    await cleanUp(dir, [clerk], replicas);
  }
});

Deno.test("connect: the example configs give a routing clerk (cluster.example.toml) and a Clerk (cluster.single.toml)", async () => {
  // Making a client does not contact the cluster, so none needs to run here.
  const sharded = await connectClerkFromConfig(EXAMPLE_PATH);
  const master = await connectShardMasterFromConfig(EXAMPLE_PATH);
  const single = await connectClerkFromConfig(SINGLE_PATH);
  try {
    assert.ok(sharded instanceof ShardedClerk);
    assert.ok(master instanceof ShardMasterClerk);
    assert.ok(single instanceof Clerk);
  } finally {
    await Promise.all([sharded.close(), master.close(), single.close()]);
  }
});

Deno.test("connect: an invalid or missing config file is refused with every problem listed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "shardkv-connect-test-" });
  try {
    const path = `${dir}/bad.toml`;
    await Deno.writeTextFile(path, `[cluster]\nsecret = "short"\n`);
    await assert.rejects(() => connectClerkFromConfig(path), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.ok(error.problems.length >= 2, "both the short secret and the missing groups");
      return true;
    });
    await assert.rejects(() => connectShardMasterFromConfig(`${dir}/nope.toml`), ConfigError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
