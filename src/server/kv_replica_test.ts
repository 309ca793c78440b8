/**
 * The KV replica assembled from its real parts (file storage, TCP transport and server,
 * admin endpoint) in one process: three replicas on free loopback ports elect a leader,
 * serve a clerk over TCP, and keep their data across a stop and restart.
 */

import assert from "node:assert/strict";
import { parseConfig } from "../config/mod.ts";
import type { Config } from "../config/mod.ts";
import { Clerk } from "../kv/clerk.ts";
import { RpcKvTransport } from "../kv/rpc_transport.ts";
import { silentLogger } from "../util/logger.ts";
import { Prng } from "../util/prng.ts";
import { type KvReplica, startKvReplica } from "./kv_replica.ts";

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function testConfig(dataDir: string): Promise<Config> {
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
  const parsed = parseConfig(text);
  if (!parsed.ok) throw new Error(parsed.error.problems.join("\n"));
  return parsed.config;
}

function clerkFor(config: Config): Clerk {
  const transport = new RpcKvTransport({
    servers: config.groups[0]!.replicas.map((replica) => replica.raft),
    clusterName: config.cluster.name,
    secret: config.cluster.secret,
    logger: silentLogger,
  });
  return new Clerk({ transport, random: new Prng(1) });
}

Deno.test("replica: three real replicas elect a leader, serve a clerk over TCP, and survive a restart", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "shardkv-replica-test-" });
  const config = await testConfig(dataDir);
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
