/**
 * The KV replica assembled from its real parts (file storage, TCP transport and server,
 * admin endpoint) in one process: three replicas on free loopback ports elect a leader,
 * serve a clerk over TCP, and keep their data across a stop and restart.
 */

import assert from "node:assert/strict";
import { portPicker } from "../test_support/free_ports.ts";
import { parseConfig } from "../config/mod.ts";
import type { Config } from "../config/mod.ts";
import { Clerk } from "../kv/clerk.ts";
import { connectClerk } from "../kv/connect.ts";
import { silentLogger } from "../util/logger.ts";
import { type KvReplica, startKvReplica } from "./kv_replica.ts";

function testConfig(dataDir: string): Config {
  const ports = portPicker();
  const freePort = () => ports.next();
  const replicas: string[] = [];
  for (let k = 1; k <= 3; k++) {
    replicas.push(
      `[[groups.replicas]]\nid = "r${k}"\nraft = "127.0.0.1:${freePort()}"\nadmin = "127.0.0.1:${freePort()}"`,
    );
  }
  const text =
    `[cluster]\nsecret = "test-secret-0123456789"\nadmin_token = "test-admin-token-0123"\n` +
    `[raft]\ntick_ms = 10\nelection_ticks = 20\nheartbeat_ticks = 2\n` +
    `[storage]\ndata_dir = "${dataDir}"\n[log]\nlevel = "error"\n[[groups]]\ngid = 1\n${
      replicas.join("\n")
    }\n`;
  ports.release(); // Close the listeners before the replicas bind these ports.
  const parsed = parseConfig(text);
  if (!parsed.ok) throw new Error(parsed.error.problems.join("\n"));
  return parsed.config;
}

function clerkFor(config: Config): Clerk {
  // Through the public entry point, with "host:port" strings as a library user would write.
  return connectClerk({
    servers: config.groups[0]!.replicas.map((replica) =>
      `${replica.raft.host}:${replica.raft.port}`
    ),
    clusterName: config.cluster.name,
    secret: config.cluster.secret,
  });
}

Deno.test("replica: three real replicas elect a leader, serve a clerk over TCP, and survive a restart", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "shardkv-replica-test-" });
  const config = testConfig(dataDir);
  const replicas: (KvReplica | null)[] = [];
  const clerk = clerkFor(config);
  try {
    for (const replica of config.groups[0]!.replicas) {
      replicas.push(
        await startKvReplica({
          config,
          replicaId: replica.id,
          logger: silentLogger,
          onFatal: () => {},
        }),
      );
    }
    await clerk.put("greeting", "hello");
    await clerk.append("greeting", ", world");
    assert.equal(await clerk.get("greeting"), "hello, world");
    assert.equal(await clerk.get("missing"), "");
    await clerk.delete("greeting");
    assert.equal(await clerk.get("greeting"), "");
    await clerk.put("kept", "across restarts");
    const status = await (await fetch(`http://127.0.0.1:${replicas[0]!.adminPort}/status`)).json();
    assert.equal(status.id, "r1");
    assert.ok(["leader", "follower"].includes(status.role));
    assert.equal(typeof status.raft.commit, "number");
    const leaderReplica = replicas.find((replica) => replica?.kv.node.core.role === "leader")!;
    const metrics = await (await fetch(`http://127.0.0.1:${leaderReplica.adminPort}/metrics`))
      .text();
    for (
      const name of [
        "shardkv_raft_term ",
        "shardkv_raft_leader_changes_total",
        "shardkv_raft_commit_index ",
        "shardkv_raft_applied_index ",
        "shardkv_kv_proposals_total ",
        "shardkv_storage_append_ms_bucket",
        "shardkv_storage_fsync_ms_bucket",
        'shardkv_net_peer_bytes_sent{peer="',
        'shardkv_net_peer_bytes_received{peer="',
        'shardkv_raft_messages_sent_total{type="append"}',
        "shardkv_raft_snapshots_received_total",
      ]
    ) assert.ok(metrics.includes(name), `/metrics lacks ${name}`);
    const missing = await fetch(`http://127.0.0.1:${leaderReplica.adminPort}/nope`);
    assert.equal(missing.status, 404);
    assert.equal((await missing.json()).error, "notFound");
    // Stop everything and start again from the data directories.
    for (const [k, replica] of replicas.entries()) {
      await replica?.stop();
      replicas[k] = null;
    }
    for (const [k, replica] of config.groups[0]!.replicas.entries()) {
      replicas[k] = await startKvReplica({
        config,
        replicaId: replica.id,
        logger: silentLogger,
        onFatal: () => {},
      });
    }
    assert.equal(await clerk.get("kept"), "across restarts");
  } finally {
    await clerk.close();
    for (const replica of replicas) await replica?.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("replica: connectClerk refuses an address that is not host:port", () => {
  assert.throws(
    () => connectClerk({ servers: ["localhost"], secret: "x".repeat(16) }),
    /"localhost" is not host:port/,
  );
  assert.throws(
    () => connectClerk({ servers: ["h:99999"], secret: "x".repeat(16) }),
    /is not host:port/,
  );
});
