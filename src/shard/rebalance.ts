/**
 * Spreading shards over groups after a Join or Leave, as the lab asks (classic-lab-tests.md
 * §3.1): "as evenly as possible" (shard counts differ by at most 1) and moving "as few
 * shards as possible". Pure and deterministic: every replica of the shard master must compute
 * the same config (the lab's AgreeConfig), so nothing here depends on Map or Set iteration
 * order; groups are taken in ascending gid order and ties are broken by gid.
 *
 * The algorithm, for N shards over G groups:
 * 1. Targets: every group gets floor(N / G); the N mod G groups that hold the most shards now
 *    (ties to the lower gid) get one more. Giving the extra shard to the fullest groups is
 *    what makes the movement minimal: any other choice leaves a fuller group over target.
 * 2. Pool: shards on no live group (gid 0, or a group that left) and, from each group over
 *    its target, its highest-numbered shards down to the target.
 * 3. Groups under their target, by ascending gid, take the lowest-numbered shards of the pool.
 * A shard moves only if it is in the pool, and the pool holds exactly the shards that must
 * move for any balanced assignment with those targets, so the number moved is the minimum.
 * Cost: O(N + G log G).
 */

import { assert } from "../util/assert.ts";
import { GID_NONE } from "./shard_config.ts";

/**
 * The balanced assignment closest to `shards` (shard → gid) over `gids` (ascending, positive,
 * distinct). Returns a new array; with no gids every shard goes to gid 0 (the shard master
 * never asks for that, as it refuses a Leave of the last group; the group tests do).
 */
export function rebalance(shards: readonly number[], gids: readonly number[]): number[] {
  assert(shards.length >= 1, "Cannot rebalance: a cluster has at least one shard");
  assert(
    gids.every((gid, index) => gid > GID_NONE && (index === 0 || gid > (gids[index - 1] ?? 0))),
    () => `Cannot rebalance: gids must be positive and ascending, got ${gids.join(",")}`,
  );
  if (gids.length === 0) return new Array<number>(shards.length).fill(GID_NONE);

  const owned = shardsByGroup(shards, gids);
  const targets = shardTargets(shards.length, gids, owned);
  const pool: number[] = [];
  for (let shard = 0; shard < shards.length; shard++) {
    if (!owned.has(shards[shard] as number)) pool.push(shard);
  }
  for (const gid of gids) {
    const held = owned.get(gid) as number[];
    const target = targets.get(gid) as number;
    // `held` is ascending, so the excess cut from its end is the highest-numbered shards.
    if (held.length > target) pool.push(...held.splice(target));
  }
  pool.sort((a, b) => a - b);

  const result = [...shards];
  let next = 0;
  for (const gid of gids) {
    const held = owned.get(gid) as number[];
    const target = targets.get(gid) as number;
    while (held.length < target) {
      const shard = pool[next++];
      assert(shard !== undefined, "Cannot rebalance: the pool ran out before every target");
      result[shard] = gid;
      held.push(shard);
    }
  }
  assert(next === pool.length, () => `Cannot rebalance: ${pool.length - next} shards left over`);
  assert(isBalanced(result, gids), "Rebalance must leave counts within one of each other");
  return result;
}

/** Each live group's shards, ascending; shards on other gids are in no list. */
function shardsByGroup(shards: readonly number[], gids: readonly number[]): Map<number, number[]> {
  const owned = new Map<number, number[]>(gids.map((gid) => [gid, []]));
  shards.forEach((gid, shard) => owned.get(gid)?.push(shard));
  return owned;
}

/** floor(N/G) each, plus one for the N mod G fullest groups (ties to the lower gid). */
function shardTargets(
  shardCount: number,
  gids: readonly number[],
  owned: ReadonlyMap<number, readonly number[]>,
): Map<number, number> {
  const base = Math.floor(shardCount / gids.length);
  const extra = shardCount % gids.length;
  const fullestFirst = [...gids].sort((a, b) =>
    (owned.get(b)?.length ?? 0) - (owned.get(a)?.length ?? 0) || a - b
  );
  const targets = new Map<number, number>();
  fullestFirst.forEach((gid, rank) => targets.set(gid, base + (rank < extra ? 1 : 0)));
  return targets;
}

/** Shard counts of `gids` (0 for a group with none), in the order of `gids`. */
export function shardCounts(shards: readonly number[], gids: readonly number[]): number[] {
  const counts = new Map<number, number>(gids.map((gid) => [gid, 0]));
  for (const gid of shards) {
    const count = counts.get(gid);
    if (count !== undefined) counts.set(gid, count + 1);
  }
  return gids.map((gid) => counts.get(gid) as number);
}

/**
 * True when every shard is on one of `gids` and their counts differ by at most one (with no
 * gids: every shard on gid 0). The lab's check(groups), items 3 and 4.
 */
export function isBalanced(shards: readonly number[], gids: readonly number[]): boolean {
  if (gids.length === 0) return shards.every((gid) => gid === GID_NONE);
  const counts = shardCounts(shards, gids);
  const total = counts.reduce((sum, count) => sum + count, 0);
  return total === shards.length && Math.max(...counts) - Math.min(...counts) <= 1;
}

/** How many shards have a different owner in `after` than in `before`. */
export function movedShards(before: readonly number[], after: readonly number[]): number {
  assert(before.length === after.length, "Cannot compare assignments of different shard counts");
  return before.reduce((moved, gid, shard) => moved + (after[shard] === gid ? 0 : 1), 0);
}
