/**
 * End-to-end test of the sharded service on real processes: a shard master group and two
 * replica groups started by the harness, driven only through the CLI as a user would
 * (`clerk join / put / get / query`, `status`): keys written while one group serves every
 * shard stay readable after the second group joins and shards move, and `status` shows the
 * configuration and each group's shards; and a kill -9 of both groups' leaders right after a
 * join loses no acknowledged write and still ends with the migration finished.
 */

import assert from "node:assert/strict";
import { E2ECluster } from "./harness.ts";

Deno.test("sharded e2e: keys survive a join that moves shards between real processes, seen through the CLI and status", async () => {
  await using cluster = await E2ECluster.start({ groups: [3, 3], shardmaster: 3 });
  await cluster.waitFor(() => cluster.leader("shardmaster"), 15_000, "a shard master leader");
  const clerk = async (...args: string[]) => {
    const result = await cluster.spawnCli(["clerk", "--timeout-ms", "20000", ...args]);
    assert.equal(result.code, 0, `clerk ${args.join(" ")}: ${result.stderr}`);
    return result.stdout;
  };
  await clerk("join", "1");
  for (let k = 0; k < 10; k++) await clerk("put", `key-${k}`, `value-${k}`);
  await clerk("join", "2");
  const config = JSON.parse(await clerk("query"));
  assert.equal(config.num, 2);
  assert.deepEqual(Object.keys(config.groups).sort(), ["1", "2"]);
  assert.equal(
    config.shards.filter((gid: number) => gid === 2).length,
    5,
    "a join takes half the shards",
  );
  // Group 2 serves its shards once their data has moved; reads go wherever the config says.
  for (let k = 0; k < 10; k++) assert.equal(await clerk("get", `key-${k}`), `value-${k}\n`);
  await cluster.waitFor(
    async () => {
      const status = await cluster.spawnCli(["status"]);
      return status.code === 0 && /serving/.test(status.stdout) &&
          status.stdout.includes("group 2: leader")
        ? status
        : null;
    },
    15_000,
    "status to show both groups serving",
  );
  const status = await cluster.spawnCli(["status"]);
  assert.match(status.stdout, /CONFIG/);
  assert.match(status.stdout, /shardmaster: leader sm-\d \(term \d+\); 3\/3 reachable/);
});

Deno.test("sharded e2e: kill -9 of both groups' leaders during a migration loses no acknowledged write", async () => {
  await using cluster = await E2ECluster.start({ groups: [3, 3], shardmaster: 3 });
  await cluster.waitFor(() => cluster.leader("shardmaster"), 15_000, "a shard master leader");
  const run = async (args: string[], stdin?: string) => {
    const result = await cluster.spawnCli(["clerk", "--timeout-ms", "30000", ...args], stdin, {
      timeoutMs: 120_000,
    });
    assert.equal(result.code, 0, `clerk ${args.join(" ")}: ${result.stderr}`);
    return result.stdout;
  };
  await run(["join", "1"]);
  const keys = Array.from({ length: 300 }, (_, k) => `k${k}`);
  const lines = (op: "put" | "get") =>
    keys.map((key) => JSON.stringify(op === "put" ? { op, key, value: `v-${key}` } : { op, key }))
      .join("\n") + "\n";
  const written = (await run(["--stdin"], lines("put"))).trim().split("\n");
  assert.equal(written.length, keys.length);
  assert.ok(written.every((line) => JSON.parse(line).ok === true), "every put acknowledged");

  // Join group 2 and, while its shards move, kill -9 the leaders of both groups.
  const leader1 = await cluster.waitFor(() => cluster.leader(1), 15_000, "group 1's leader");
  const leader2 = await cluster.waitFor(() => cluster.leader(2), 15_000, "group 2's leader");
  await run(["join", "2"]);
  await cluster.kill9(leader1);
  await cluster.kill9(leader2);
  await cluster.restart(leader1);
  await cluster.restart(leader2);

  const read = (await run(["--stdin"], lines("get"))).trim().split("\n").map((line) =>
    JSON.parse(line)
  );
  read.forEach((answer, k) =>
    assert.deepEqual(answer, { ok: true, value: `v-${keys[k]}` }, `get ${keys[k]}`)
  );
  // Every replica ends on config 2 with its shards serving: the migration finished and the
  // old owner deleted what it handed off, despite the crashes.
  await cluster.waitFor(
    async () => {
      const status = await cluster.spawnCli(["status"]);
      const rows = status.stdout.split("\n").filter((line) => /^g\d/.test(line));
      return rows.length === 6 &&
          rows.every((row) => /\s2\s+\d+-\d+:serving\s*$/.test(row))
        ? rows
        : null;
    },
    30_000,
    "every group replica on config 2 with only serving shards",
  );
});
