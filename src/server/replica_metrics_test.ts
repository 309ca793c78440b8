/**
 * Tests of the service-specific metrics of a replica process, on hand-driven state machines
 * (group_test_support.ts) rather than a running cluster, so that a migration can be scraped
 * half-way: shards handing off at the old owner, pulling at the new one.
 */

import assert from "node:assert/strict";
import { TestCluster } from "../shard/group_test_support.ts";
import type { MigrationCounters } from "../shard/group_server.ts";
import { MetricsRegistry } from "../util/metrics.ts";
import { registerGroupMetrics } from "./replica_metrics.ts";

function noMigration(): MigrationCounters {
  return {
    partsInstalled: 0,
    bytesInstalled: 0,
    pullFailures: 0,
    gcConfirmed: 0,
    configChanges: 0,
  };
}

Deno.test("replica metrics: a group's shards are counted by state, every state present, half-way through a migration", () => {
  const cluster = new TestCluster(10, [100, 101]);
  cluster.assign(new Array(10).fill(100));
  cluster.settle();
  cluster.assign([100, 100, 100, 100, 100, 101, 101, 101, 101, 101]);
  cluster.offerConfig(100);
  cluster.offerConfig(101);
  const render = (gid: number, migrationCounters: MigrationCounters) => {
    const registry = new MetricsRegistry();
    registerGroupMetrics(registry, { state: cluster.group(gid), migrationCounters });
    return registry.render();
  };
  const oldOwner = render(100, noMigration());
  assert.match(oldOwner, /\nshardkv_group_config_num 2\n/);
  assert.match(
    oldOwner,
    /shardkv_group_shards\{state="serving"\} 5\nshardkv_group_shards\{state="pulling"\} 0\nshardkv_group_shards\{state="handingOff"\} 5\nshardkv_group_shards\{state="waitingGc"\} 0\n/,
  );
  const newOwner = render(101, { ...noMigration(), partsInstalled: 3, bytesInstalled: 120 });
  assert.match(newOwner, /shardkv_group_shards\{state="serving"\} 0\n/);
  assert.match(newOwner, /shardkv_group_shards\{state="pulling"\} 5\n/);
  assert.match(
    newOwner,
    /# TYPE shardkv_shard_parts_installed_total counter\nshardkv_shard_parts_installed_total 3\n/,
  );
  assert.match(newOwner, /\nshardkv_shard_bytes_installed_total 120\n/);
  assert.match(newOwner, /\nshardkv_shard_pull_failures_total 0\n/);
  assert.match(newOwner, /\nshardkv_group_pending_gc 0\n/);
  // Installed, then carried into the next config before the old owner confirmed: pending.
  for (const task of cluster.group(101).shardsToPull()) cluster.pull(101, task);
  cluster.assign([100, 100, 100, 100, 100, 101, 101, 101, 101, 100]);
  cluster.offerConfig(101);
  assert.match(render(101, noMigration()), /\nshardkv_group_pending_gc 5\n/);
});
