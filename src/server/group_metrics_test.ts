/**
 * Migration in GET /metrics, on the real stack in one process (shardkv_test_support.ts): group 1
 * joins and takes every key, group 2 joins and pulls half the shards from it. The new owner's
 * /metrics must then show the parts and bytes it installed, the GC it confirmed, the config it
 * applied and its shards by state; the shard master's must show its latest config number.
 */

import assert from "node:assert/strict";
import { keysCoveringShards, membersOf, ShardCluster, waitFor } from "./shardkv_test_support.ts";

/** The samples of a Prometheus text page, by name with labels (`a{state="serving"}`). */
function parseSamples(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

async function scrape(port: number): Promise<Map<string, number>> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(response.status, 200);
  return parseSamples(await response.text());
}

function sample(samples: ReadonlyMap<string, number>, name: string): number {
  const value = samples.get(name);
  assert.ok(value !== undefined, `/metrics lacks ${name}`);
  return value;
}

const SHARD_STATES = ["serving", "pulling", "handingOff", "waitingGc"] as const;

Deno.test("group metrics: the new owner's /metrics counts the parts and bytes it pulled, and its gauges match its shards", async () => {
  const cluster = await ShardCluster.start({ snapshotThresholdBytes: -1 });
  try {
    const clerk = cluster.clerk(1);
    await cluster.join(1);
    const shardCount = cluster.config.cluster.shards;
    for (const key of keysCoveringShards("metrics", shardCount)) {
      await clerk.put(key, `${key}-${"v".repeat(200)}`);
    }
    await cluster.join(2);
    const config = await cluster.waitSettled();
    const owned = config.shards.filter((gid) => gid === 2).length;
    assert.ok(owned > 0, "group 2 gained shards");

    const group2 = cluster.runningReplicas().filter((replica) => replica.server.state.gid === 2);
    assert.equal(group2.length, membersOf(2).length);
    const leader = group2.find((replica) => replica.server.node.core.role === "leader");
    assert.ok(leader !== undefined, "group 2 has a leader");
    const leaderSamples = await scrape(leader.adminPort);
    const scraped = await Promise.all(group2.map((replica) => scrape(replica.adminPort)));
    for (const samples of scraped) {
      assert.equal(sample(samples, "shardkv_group_config_num"), config.num);
      const byState = SHARD_STATES.map((state) =>
        sample(samples, `shardkv_group_shards{state="${state}"}`)
      );
      assert.equal(byState.reduce((sum, count) => sum + count, 0), owned);
      assert.equal(sample(samples, 'shardkv_group_shards{state="serving"}'), owned);
      assert.ok(sample(samples, "shardkv_shard_pull_failures_total") >= 0);
    }
    // Each counter counts on the replica that led the work; summed over the group, a leadership
    // change during the test cannot hide it (a deposed leader's proposal may go uncounted, so
    // the sums are bounded, not exact).
    const total = (name: string) =>
      scraped.reduce((sum, samples) => sum + sample(samples, name), 0);
    const parts = total("shardkv_shard_parts_installed_total");
    assert.ok(parts >= 1, `${parts} parts installed`);
    const bytes = total("shardkv_shard_bytes_installed_total");
    assert.ok(bytes >= 200 * parts, `${bytes} bytes in ${parts} parts of 200-byte values`);
    const confirmed = total("shardkv_shard_gc_confirmed_total");
    assert.ok(confirmed >= 1 && confirmed <= owned, `${confirmed} GCs of ${owned} shards`);
    const changes = total("shardkv_config_changes_total");
    assert.ok(changes >= 1 && changes <= config.num, `${changes} config changes`);
    assert.ok(sample(leaderSamples, "shardkv_shard_parts_installed_total") > 0);
    assert.ok(sample(leaderSamples, "shardkv_shard_bytes_installed_total") > 0);

    // The old owner handed off and deleted what it lost; it pulled nothing.
    for (const id of membersOf(1)) {
      const samples = await scrape(cluster.running(id)!.adminPort);
      assert.equal(sample(samples, "shardkv_group_config_num"), config.num);
      assert.equal(sample(samples, 'shardkv_group_shards{state="serving"}'), shardCount - owned);
      assert.equal(sample(samples, 'shardkv_group_shards{state="handingOff"}'), 0);
      assert.equal(sample(samples, "shardkv_shard_parts_installed_total"), 0);
    }

    // Every shard master replica reaches the latest config (followers apply a little later).
    for (const replica of cluster.config.shardmaster!.replicas) {
      await waitFor(
        async () =>
          sample(await scrape(replica.admin.port), "shardkv_master_config_num") === config.num,
        10_000,
        `${replica.id} to report config ${config.num}`,
      );
    }
  } finally {
    await cluster.close();
  }
});
