/**
 * Sharded KV on the real stack in one process: a shard master group and two replica groups
 * (file storage, TCP, the groups polling the master, pulling shards from each other and
 * garbage-collecting them), driven by the routing clerk through joins and leaves while
 * clients append concurrently. Values must be exact (nothing lost, nothing doubled) and a
 * group that left must end up holding no shard.
 */

import assert from "node:assert/strict";
import { portPicker } from "../test_support/free_ports.ts";
import { addressBook, type Config, parseConfig } from "../config/mod.ts";
import { ShardMasterClerk } from "../shard/master_clerk.ts";
import { ShardedClerk } from "../shard/sharded_clerk.ts";
import { silentLogger } from "../util/logger.ts";
import { Prng } from "../util/prng.ts";
import { type GroupReplica, startGroupReplica } from "./group_replica.ts";
import { type ShardMasterReplica, startShardMasterReplica } from "./master_replica.ts";

function shardedConfig(dataDir: string): Config {
  const ports = portPicker();
  const freePort = () => ports.next();
  const replica = (table: string, id: string) =>
    `[[${table}.replicas]]\nid = "${id}"\nraft = "127.0.0.1:${freePort()}"\nadmin = "127.0.0.1:${freePort()}"`;
  const masters = [1, 2, 3].map((k) => replica("shardmaster", `sm${k}`)).join("\n");
  const groups = [1, 2].map((gid) =>
    `[[groups]]\ngid = ${gid}\n` +
    [1, 2, 3].map((k) => replica("groups", `g${gid}-${k}`)).join("\n")
  )
    .join("\n");
  const text =
    `[cluster]\nsecret = "test-secret-0123456789"\nadmin_token = "test-admin-token-0123"\n` +
    `[raft]\ntick_ms = 10\nelection_ticks = 20\nheartbeat_ticks = 2\nsnapshot_threshold_bytes = 4000\n` +
    `[storage]\ndata_dir = "${dataDir}"\n[log]\nlevel = "error"\n[shardmaster]\n${masters}\n${groups}\n`;
  ports.release(); // Close the listeners before the replicas bind these ports.
  const parsed = parseConfig(text);
  if (!parsed.ok) throw new Error(parsed.error.problems.join("\n"));
  return parsed.config;
}

function shardedClerk(config: Config, seed: number): ShardedClerk {
  const master = ShardMasterClerk.connect({
    servers: config.shardmaster!.replicas.map((replica) => replica.raft),
    clusterName: config.cluster.name,
    secret: config.cluster.secret,
  });
  return new ShardedClerk({
    master,
    addressOf: addressBook(config),
    clusterName: config.cluster.name,
    secret: config.cluster.secret,
    random: new Prng(seed),
    defaultTimeoutMs: 30_000,
  });
}

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

Deno.test("sharded kv: groups join and leave while clients append; values are exact and a departed group is garbage-collected", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "shardkv-sharded-test-" });
  const config = shardedConfig(dataDir);
  const masters: ShardMasterReplica[] = [];
  const groups: GroupReplica[] = [];
  const admin = ShardMasterClerk.connect({
    servers: config.shardmaster!.replicas.map((replica) => replica.raft),
    clusterName: config.cluster.name,
    secret: config.cluster.secret,
  });
  const clerks = [1, 2, 3, 4].map((seed) => shardedClerk(config, seed));
  try {
    for (const replica of config.shardmaster!.replicas) {
      masters.push(
        await startShardMasterReplica({
          config,
          replicaId: replica.id,
          logger: silentLogger,
          onFatal: () => {},
        }),
      );
    }
    for (const group of config.groups) {
      for (const replica of group.replicas) {
        groups.push(
          await startGroupReplica({
            config,
            replicaId: replica.id,
            logger: silentLogger,
            onFatal: () => {},
          }),
        );
      }
    }
    const [writer, ...appenders] = clerks as [ShardedClerk, ...ShardedClerk[]];
    await admin.join([[1, ["g1-1", "g1-2", "g1-3"]]]);
    for (let k = 0; k < 20; k++) await writer.put(`key-${k}`, `value-${k}`);
    // Appenders run through the join of group 2 and the leave of group 1.
    let stop = false;
    const counts = appenders.map(() => 0);
    const loops = appenders.map(async (clerk, c) => {
      for (let j = 0; !stop; j++) {
        await clerk.append(`list-${c}`, `x ${c} ${j} y `);
        counts[c]!++;
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await admin.join([[2, ["g2-1", "g2-2", "g2-3"]]]);
    const serving = (gid: number) =>
      groups.filter((group) =>
        group.server.state.gid === gid && group.server.node.core.role === "leader"
      )
        .map((group) => Object.values(group.server.state.shardStates()));
    await waitFor(
      () =>
        serving(2).some((states) =>
          states.length >= 5 && states.every((state) => state === "serving")
        ),
      20_000,
      "group 2 to serve its shards",
    );
    for (let k = 0; k < 20; k++) assert.equal(await writer.get(`key-${k}`), `value-${k}`);
    await admin.leave([1]);
    await waitFor(
      () =>
        serving(2).some((states) =>
          states.length === 10 && states.every((state) => state === "serving")
        ),
      20_000,
      "group 2 to serve every shard",
    );
    stop = true;
    await Promise.all(loops);
    for (let k = 0; k < 20; k++) assert.equal(await writer.get(`key-${k}`), `value-${k}`);
    console.log(`sharded kv: appends per client ${counts}`);
    for (const [c, count] of counts.entries()) {
      const expected = Array.from({ length: count }, (_, j) => `x ${c} ${j} y `).join("");
      assert.equal(
        await writer.get(`list-${c}`),
        expected,
        `client ${c}'s ${count} appends, each once and in order`,
      );
      assert.ok(count > 0);
    }
    // Garbage collection: group 1 deletes what it handed off, on every replica, and the new
    // owners owe it no confirmation any more.
    await waitFor(
      () =>
        groups.every((group) =>
          group.server.state.pendingGcCount() === 0 &&
          (group.server.state.gid !== 1 ||
            Object.keys(group.server.state.shardStates()).length === 0)
        ),
      20_000,
      "group 1 to delete the shards it handed off",
    );
  } finally {
    for (const clerk of clerks) await clerk.close();
    await admin.close();
    for (const group of groups) await group.stop();
    for (const master of masters) await master.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});
