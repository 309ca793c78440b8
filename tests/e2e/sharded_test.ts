/**
 * End-to-end test of the sharded service on real processes: a shard master group and two
 * replica groups started by the harness, driven only through the CLI as a user would
 * (`clerk join / put / get / query`, `status`): keys written while one group serves every
 * shard stay readable after the second group joins and shards move, and `status` shows the
 * configuration and each group's shards.
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
