/**
 * Sharded scenarios of our own, beyond the lab's: the random bug hunter, a shard larger than
 * one Raft entry, and an old owner that never confirms a deletion. Registered with the lab's
 * in shardkv_scenarios.ts.
 */

import assert from "node:assert/strict";
import { shardOf } from "../../src/kv/shard_of.ts";
import { Prng } from "../../src/util/prng.ts";
import { checkLinearizable, type HistoryFigures } from "./kv_helpers.ts";
import {
  checkAll,
  checkAndAppend,
  G0,
  G1,
  G2,
  putAll,
  randomClients,
  report,
  type ScenarioReport,
  setup,
  shardsOwnedBy,
} from "./shardkv_scenario_support.ts";
import { change, checkGet, join, leave, perform, query, randomString } from "./sharded_helpers.ts";
import { keysPerShard, SHARDED_SHARD_COUNT } from "./sharded_world.ts";

/**
 * A random run (the bug hunter): 5 clients run random operations on 10 keys while joins,
 * leaves, moves, replica crashes, whole-group restarts, partitions inside groups, a master
 * replica's crash and network loss come and go, all drawn from the seed. Then everything heals;
 * every client's last operation must finish, a fresh clerk must read every key, and the whole
 * history must be linearizable.
 */
export function randomFaults(seed: number): ScenarioReport & { readonly check: HistoryFigures } {
  const probe = new Prng(seed);
  // A quarter of the runs write values of up to 300 KB, so shards move in several parts.
  const bigValues = probe.chance(0.25);
  const maxRaftState = bigValues
    ? [-1, 1_000_000][probe.int(2)]!
    : [-1, 1, 100, 1_000, 10_000][probe.int(5)]!;
  const s = setup(seed, maxRaftState, probe.chance(0.5));
  const { world, admin } = s;
  // A third of the runs also hold back Raft replies for up to 2.2 s inside every group.
  const reordering = probe.chance(0.33);
  for (
    const cluster of [
      world.master.cluster,
      ...[...world.groups.values()].map((g) => g.cluster),
    ]
  ) {
    cluster.setLongReordering(reordering);
  }
  const gids = [G0, G1, G2];
  const members = new Set<number>();
  const first = gids[probe.int(3)]!;
  join(world, admin, first);
  members.add(first);
  // Big values need several keys per shard for a shard to span several parts.
  const keys = bigValues ? Array.from({ length: 30 }, (_, k) => `r${k}`) : keysPerShard();
  const clients = randomClients(
    world,
    5,
    keys,
    { appendPermille: 450, putPermille: 100, bigPutBytes: bigValues ? 300_000 : 0 },
    20,
  );
  const faults: string[] = [];
  let masterDown = -1;
  const end = world.now + 15_000;
  while (world.now < end) {
    world.run(200 + probe.int(800));
    const roll = probe.int(100);
    const outside = gids.filter((gid) => !members.has(gid));
    const inside = [...members];
    if (roll < 20 && outside.length > 0) {
      const gid = outside[probe.int(outside.length)]!;
      join(world, admin, gid);
      members.add(gid);
      faults.push(`join ${gid}`);
    } else if (roll < 40 && inside.length > 1) {
      const gid = inside[probe.int(inside.length)]!;
      leave(world, admin, gid);
      members.delete(gid);
      faults.push(`leave ${gid}`);
    } else if (roll < 48) {
      const shard = probe.int(SHARDED_SHARD_COUNT);
      const gid = inside[probe.int(inside.length)]!;
      change(world, admin, { type: "move", shard, gid });
      faults.push(`move ${shard}→${gid}`);
    } else if (roll < 63) {
      const group = world.group(gids[probe.int(3)]!);
      const k = probe.int(group.cluster.n);
      if (group.cluster.replicas[k] === null) group.cluster.start(k);
      else group.cluster.crash(k);
      faults.push(`crash/start ${group.gid}-${k}`);
    } else if (roll < 71) {
      const gid = gids[probe.int(3)]!;
      world.shutdownGroup(gid);
      world.run(probe.int(1_500));
      world.startGroup(gid);
      faults.push(`restart group ${gid}`);
    } else if (roll < 81) {
      const group = world.group(gids[probe.int(3)]!);
      const alone = probe.int(group.cluster.n);
      const rest = [0, 1, 2].filter((k) => k !== alone);
      group.cluster.partition([[alone], rest]);
      world.run(probe.int(2_000));
      group.cluster.connectAll();
      faults.push(`partition ${group.gid}: ${alone} | ${rest}`);
    } else if (roll < 84) {
      // One replica cut off from everything (Raft and RPC), whichever role it has.
      const group = world.group(gids[probe.int(3)]!);
      const k = probe.int(group.cluster.n);
      group.cluster.disconnect(k);
      world.setReachable(group.cluster, k, false);
      world.run(probe.int(2_500));
      world.setReachable(group.cluster, k, true);
      group.cluster.connect(k);
      faults.push(`isolate ${group.gid}-${k}`);
    } else if (roll < 91) {
      const masters = world.master.cluster;
      if (masterDown >= 0) {
        masters.start(masterDown);
        faults.push(`start master ${masterDown}`);
        masterDown = -1;
      } else {
        masterDown = probe.int(masters.n);
        masters.crash(masterDown);
        faults.push(`crash master ${masterDown}`);
      }
    } else {
      world.setReliable(world.unreliable);
      faults.push(world.unreliable ? "unreliable" : "reliable");
    }
  }
  // Heal: every replica runs, the network is reliable; the clients' last operations finish.
  if (masterDown >= 0) world.master.cluster.start(masterDown);
  for (const gid of gids) {
    world.group(gid).cluster.connectAll();
    world.group(gid).cluster.setLongReordering(false);
    world.startGroup(gid);
  }
  world.master.cluster.setLongReordering(false);
  world.setReliable(true);
  clients.stop();
  const reader = world.newClerk();
  for (const key of keys) perform(world, reader, { kind: "get", key });
  const check = checkLinearizable(
    {
      seed,
      recorder: world.recorder,
    } as Parameters<typeof checkLinearizable>[0],
  );
  return {
    ...report(world, {
      faults: faults.length,
      maxRaftState,
      bigValues: String(bigValues),
      reordering: String(reordering),
      verdict: check.verdict,
    }),
    check,
  };
}

/**
 * A shard of 12 MB (more than one Raft entry of 8 MiB) moves between groups part by part on
 * an unreliable network; every value reads back exact at the new owner, and the old owner
 * deletes its copy.
 */
export function largeShard(seed: number): ScenarioReport {
  const s = setup(seed, -1, true);
  const { world, admin } = s;
  join(world, admin, G0);
  join(world, admin, G1);
  const shard = shardsOwnedBy(world, admin, G0)[0]!;
  const keys: string[] = [];
  for (let i = 0; keys.length < 12; i++) {
    if (shardOf(`large${i}`, SHARDED_SHARD_COUNT) === shard) keys.push(`large${i}`);
  }
  const expected = keys.map((_, i) => String.fromCharCode(97 + i).repeat(1_000_000));
  keys.forEach((key, i) => perform(world, s.clerk, { kind: "put", key, value: expected[i]! }));
  change(world, admin, { type: "move", shard, gid: G1 });
  const began = world.now;
  keys.forEach((key, i) => checkGet(world, s.clerk, key, expected[i]!));
  const movedMs = world.now - began;
  const deleted = world.runUntil(
    () =>
      world.group(G0).servers.every((server, k) =>
        world.group(G0).cluster.replicas[k] === null ||
        server?.state.shardState(shard) === undefined
      ),
    10_000,
  );
  assert.ok(deleted, `group ${G0} still holds shard ${shard} (seed ${seed})`);
  return report(world, { shardBytes: 12_000_000, movedVirtualMs: Math.round(movedMs) });
}

/**
 * The old owner never confirms a deletion (it answers no deleteShard) while configs go on:
 * the new owner serves what it installed and keeps taking configs (the obligation is carried
 * as a pending GC) instead of stalling; once the old owner answers again, every pending GC
 * completes, the old owner drops its copies and catches up, and every value is exact.
 */
export function deadOwnerGc(seed: number): ScenarioReport {
  const s = setup(seed, 1_000, true);
  const { world, admin } = s;
  join(world, admin, G0);
  const keys = keysPerShard();
  const expected = putAll(s, keys, () => randomString(world, 10));
  const target = world.group(G0).peerTarget;
  const honest = target.submit.bind(target);
  target.submit = (k, request, respond) => {
    if (request.type === "deleteShard") return; // never answered: the caller's timeout fires
    honest(k, request, respond);
  };
  join(world, admin, G1);
  checkAndAppend(s, keys, expected, 5);
  join(world, admin, G2);
  const latest = query(world, admin).num;
  const reached = world.runUntil(
    () => world.group(G1).server(0)?.state.currentConfig().num === latest,
    10_000,
  );
  assert.ok(reached, `group ${G1} reached config ${latest} with GCs pending (seed ${seed})`);
  const pending = Math.max(
    ...world.group(G1).servers.map((server) => server?.state.pendingGcCount() ?? 0),
  );
  assert.ok(pending > 0, `group ${G1} carries its pending GCs`);
  checkAndAppend(s, keys, expected, 5);
  target.submit = honest;
  const settled = world.runUntil(
    () =>
      [G0, G1].every((gid) =>
        world.group(gid).servers.every((server) =>
          server !== null && server.state.pendingGcCount() === 0 &&
          server.state.currentConfig().num === latest
        )
      ),
    20_000,
  );
  assert.ok(settled, `pending GCs completed and ${G0} caught up (seed ${seed})`);
  checkAll(s, keys, expected);
  return report(world, { pendingWhileDead: pending });
}
