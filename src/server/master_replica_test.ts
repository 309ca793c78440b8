/**
 * The shard master assembled from its real parts (file storage, TCP, admin endpoint) in one
 * process, exercised as the classic shard master tests do: join and leave with the balance
 * check, move, historical queries after each replica restarts, the same configs from a new
 * leader, concurrent clerks, and the admin routes with their token.
 */

import assert from "node:assert/strict";
import { portPicker } from "../test_support/free_ports.ts";
import { type Config, parseConfig } from "../config/mod.ts";
import { ShardMasterClerk } from "../shard/master_clerk.ts";
import { configToJson, type ShardConfig } from "../shard/shard_config.ts";
import { isBalanced } from "../shard/rebalance.ts";
import { silentLogger } from "../util/logger.ts";
import { main } from "../cli/commands.ts";
import { joinGroupsOnStart } from "../supervisor/join_on_start.ts";
import { type ShardMasterReplica, startShardMasterReplica } from "./master_replica.ts";

function masterConfigText(dataDir: string): string {
  const ports = portPicker();
  const freePort = () => ports.next();
  const masters = [1, 2, 3].map((k) =>
    `[[shardmaster.replicas]]\nid = "sm${k}"\nraft = "127.0.0.1:${freePort()}"\nadmin = "127.0.0.1:${freePort()}"`
  );
  const groups = [1, 2, 3].map((gid) =>
    `[[groups]]\ngid = ${gid}\n` +
    [1, 2, 3].map((k) =>
      `[[groups.replicas]]\nid = "g${gid}-${k}"\nraft = "127.0.0.1:${freePort()}"\nadmin = "127.0.0.1:${freePort()}"`
    )
      .join("\n")
  );
  const text =
    `[cluster]\nsecret = "test-secret-0123456789"\nadmin_token = "test-admin-token-0123"\n` +
    `[raft]\ntick_ms = 10\nelection_ticks = 20\nheartbeat_ticks = 2\n[storage]\ndata_dir = "${dataDir}"\n` +
    `[log]\nlevel = "error"\n[shardmaster]\n${masters.join("\n")}\n${groups.join("\n")}\n`;
  ports.release(); // Close the listeners before the replicas bind these ports.
  return text;
}

function masterConfig(text: string): Config {
  const parsed = parseConfig(text);
  if (!parsed.ok) throw new Error(parsed.error.problems.join("\n"));
  return parsed.config;
}

/** The lab's check(groups): the expected groups, every shard on one of them, balanced. */
function check(config: ShardConfig, gids: readonly number[]): void {
  assert.deepEqual([...config.groups.keys()].sort(), [...gids].sort());
  if (gids.length > 0) {
    for (const gid of config.shards) assert.ok(gids.includes(gid), `shard on ${gid}`);
  }
  assert.ok(isBalanced(config.shards, [...config.groups.keys()]), `unbalanced: ${config.shards}`);
}

async function withMasters(
  body: (
    config: Config,
    replicas: (ShardMasterReplica | null)[],
    clerk: ShardMasterClerk,
    configPath: string,
  ) => Promise<void>,
): Promise<void> {
  const dataDir = await Deno.makeTempDir({ prefix: "shardkv-master-test-" });
  const text = masterConfigText(dataDir);
  const config = masterConfig(text);
  const configPath = `${dataDir}/cluster.toml`;
  await Deno.writeTextFile(configPath, text);
  const replicas: (ShardMasterReplica | null)[] = [];
  const clerk = ShardMasterClerk.connect({
    servers: config.shardmaster!.replicas.map((replica) => replica.raft),
    clusterName: config.cluster.name,
    secret: config.cluster.secret,
  });
  try {
    for (const replica of config.shardmaster!.replicas) {
      replicas.push(
        await startShardMasterReplica({
          config,
          replicaId: replica.id,
          logger: silentLogger,
          onFatal: () => {},
        }),
      );
    }
    await body(config, replicas, clerk, configPath);
  } finally {
    await clerk.close();
    for (const replica of replicas) await replica?.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
}

Deno.test("shard master: join, leave and move over the real stack; past configs survive a restart of each replica; a new leader answers the same", async () => {
  await withMasters(async (config, replicas, clerk) => {
    const zero = await clerk.query(0);
    assert.equal(zero.num, 0);
    assert.ok(zero.shards.every((gid) => gid === 0));
    assert.equal(await clerk.join([[1, ["g1-1", "g1-2", "g1-3"]]]), 1);
    check(await clerk.query(), [1]);
    await clerk.join([[2, ["g2-1"]], [3, ["g3-1"]]]);
    check(await clerk.query(), [1, 2, 3]);
    await clerk.leave([3]);
    check(await clerk.query(), [1, 2]);
    const moved = await clerk.move(0, 2);
    assert.equal((await clerk.query(moved)).shards[0], 2, "a move is honoured");
    const history: ShardConfig[] = [];
    for (let num = 0; num <= moved; num++) history.push(await clerk.query(num));
    // Historical queries: restart each replica in turn, then every past config reads the same.
    for (const [k, replica] of config.shardmaster!.replicas.entries()) {
      await replicas[k]!.stop();
      replicas[k] = await startShardMasterReplica({
        config,
        replicaId: replica.id,
        logger: silentLogger,
        onFatal: () => {},
      });
      for (const past of history) {
        assert.deepEqual(configToJson(await clerk.query(past.num)), configToJson(past));
      }
    }
    // Stop the leader: the next leader answers the same latest config.
    const leader = replicas.findIndex((replica) => replica?.server.node.core.role === "leader");
    assert.ok(leader >= 0);
    await replicas[leader]!.stop();
    replicas[leader] = null;
    assert.deepEqual(configToJson(await clerk.query()), configToJson(history.at(-1)!));
    assert.equal(
      (await clerk.query(1_000)).num,
      moved,
      "a number past the latest answers the latest",
    );
  });
});

Deno.test("shard master: ten concurrent clerks joining and leaving leave a consistent, balanced config", async () => {
  await withMasters(async (config) => {
    const servers = config.shardmaster!.replicas.map((replica) => replica.raft);
    const clerks = Array.from(
      { length: 10 },
      () =>
        ShardMasterClerk.connect({
          servers,
          clusterName: config.cluster.name,
          secret: config.cluster.secret,
        }),
    );
    try {
      // Group 1 stays throughout: without it, a leave applied before any other clerk's join
      // would be the last group's, which is refused (lastGroup).
      await clerks[0]!.join([[1, ["anchor"]]]);
      await Promise.all(clerks.map(async (clerk, c) => {
        const gid = 100 + c;
        await clerk.join([[gid, [`x${c}`]]]);
        if (c % 2 === 1) await clerk.leave([gid]);
      }));
      const latest = await clerks[0]!.query();
      check(latest, [1, 100, 102, 104, 106, 108]);
      assert.equal(latest.num, 16, "eleven joins and five leaves made sixteen configs");
    } finally {
      for (const clerk of clerks) await clerk.close();
    }
  });
});

Deno.test("shard master: the admin routes join groups of the config file, move, and read configs; changes need the token; leaving every group is a 409", async () => {
  await withMasters(async (config, replicas, clerk) => {
    await clerk.query();
    const leader = replicas.find((replica) => replica!.server.node.core.role === "leader")!;
    const follower = replicas.find((replica) => replica!.server.node.core.role !== "leader")!;
    const base = `http://127.0.0.1:${leader.adminPort}`;
    const auth = {
      authorization: `Bearer ${config.cluster.adminToken}`,
      "content-type": "application/json",
    };
    const denied = await fetch(`${base}/join`, {
      method: "POST",
      body: JSON.stringify({ gids: [1] }),
    });
    assert.equal(denied.status, 401);
    await denied.body?.cancel();
    const joined = await fetch(`${base}/join`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ gids: [1, 2] }),
    });
    assert.equal(joined.status, 200);
    assert.deepEqual(await joined.json(), { num: 1 });
    const unknown = await fetch(`${base}/join`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ gids: [9] }),
    });
    assert.equal(unknown.status, 400);
    await unknown.body?.cancel();
    const moved = await fetch(`${base}/move`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ shard: 3, gid: 2 }),
    });
    assert.deepEqual(await moved.json(), { num: 2 });
    const lastGroups = await fetch(`${base}/leave`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ gids: [1, 2] }),
    });
    assert.equal(lastGroups.status, 409);
    assert.deepEqual(await lastGroups.json(), {
      error: "lastGroup",
      message: "Cannot leave gids 1, 2: no group would remain to own the 10 shards, and their " +
        "data would be lost; join another group first",
    });
    const latest = await (await fetch(`${base}/config/latest`)).json();
    assert.equal(latest.num, 2);
    assert.equal(latest.shards[3], 2);
    assert.deepEqual(latest.groups, {
      "1": ["g1-1", "g1-2", "g1-3"],
      "2": ["g2-1", "g2-2", "g2-3"],
    });
    const notLeader = await fetch(`http://127.0.0.1:${follower.adminPort}/config/1`);
    assert.equal(notLeader.status, 503);
    assert.equal((await notLeader.json()).error, "notLeader");
  });
});

Deno.test("shard master: the clerk CLI joins groups of the config file, moves, queries JSON, and reports refusals", async () => {
  await withMasters(async (_config, _replicas, _clerk, configPath) => {
    const run = async (...args: string[]) => {
      let stdout = "";
      let stderr = "";
      const code = await main(["clerk", "--config", configPath, ...args], {
        stdout: (text) => (stdout += text),
        stderr: (text) => (stderr += text),
      });
      return { code, stdout, stderr };
    };
    assert.deepEqual(await run("join", "1", "2"), { code: 0, stdout: "", stderr: "" });
    assert.equal((await run("move", "0", "2")).code, 0);
    const query = await run("query");
    assert.equal(query.code, 0, query.stderr);
    const config = JSON.parse(query.stdout);
    assert.equal(config.num, 2);
    assert.equal(config.shards[0], 2);
    assert.deepEqual(Object.keys(config.groups), ["1", "2"]);
    assert.equal(JSON.parse((await run("query", "1")).stdout).num, 1);
    const refused = await run("leave", "3");
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /leave failed: unknownGroup/);
    const last = await run("leave", "1", "2");
    assert.equal(last.code, 1);
    assert.match(
      last.stderr,
      /leave failed: lastGroup: Cannot leave gids 1, 2: no group would remain .*join another group first/,
    );
    assert.equal(JSON.parse((await run("query")).stdout).num, 2, "the refusal made no config");
    const notInFile = await run("join", "7");
    assert.equal(notInFile.code, 1);
    assert.match(notInFile.stderr, /group 7 is not among the \[\[groups\]\]/);
  });
});

Deno.test("shard master: local's join on start joins the groups of the config once, and again is a no-op", async () => {
  await withMasters(async (config, _replicas, clerk) => {
    const lines: string[] = [];
    const abort = new AbortController();
    await joinGroupsOnStart(config, abort.signal, (line) => lines.push(line));
    const joined = await clerk.query();
    assert.deepEqual([...joined.groups.keys()], [1, 2, 3]);
    assert.match(lines[0] ?? "", /joined groups 1, 2, 3 to the shard master \(config 1\)/);
    await joinGroupsOnStart(config, abort.signal, (line) => lines.push(line));
    assert.equal((await clerk.query()).num, 1, "nothing left to join: no new config");
    assert.equal(lines.length, 1);
  });
});
