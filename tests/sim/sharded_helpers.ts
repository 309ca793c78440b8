/**
 * Blocking helpers over the callback clients of {@link ShardedWorld}, in the lab's words: each
 * runs the simulator until its answer arrives (within a virtual-time bound) and throws when it
 * does not, or when the master refuses a change.
 */

import type { MasterResponse } from "../../src/shard/master_protocol.ts";
import type { ShardConfig } from "../../src/shard/shard_config.ts";
import type { Invocation } from "../linearizability/mod.ts";
import { performOn, short, type Started, startOn } from "./kv_helpers.ts";
import type { MasterChange, SimMasterClerk, SimShardedClerk } from "./sharded_clerks.ts";
import { SHARDED_OPERATION_WITHIN_MS, type ShardedWorld } from "./sharded_world.ts";

export type { Started };

/** Starts `invocation` on `clerk` and returns at once. */
export function start(
  world: ShardedWorld,
  clerk: SimShardedClerk,
  invocation: Invocation,
): Started {
  return startOn(world, clerk, invocation);
}

/** Runs `invocation` to completion (at most `withinMs` virtual ms) and returns its output. */
export function perform(
  world: ShardedWorld,
  clerk: SimShardedClerk,
  invocation: Invocation,
  withinMs = SHARDED_OPERATION_WITHIN_MS,
): string {
  return performOn(world, clerk, invocation, withinMs, `, seed ${world.seed}`);
}

/** The lab's check(): a get of `key` must read `expected`. */
export function checkGet(
  world: ShardedWorld,
  clerk: SimShardedClerk,
  key: string,
  expected: string,
): void {
  const value = perform(world, clerk, { kind: "get", key });
  if (value !== expected) {
    throw new Error(
      `Get(${JSON.stringify(key)}) = ${short(value)}, expected ${
        short(expected)
      } (seed ${world.seed})`,
    );
  }
}

/** Sends a change through `clerk` and waits for it; returns the new config number. */
export function change(world: ShardedWorld, clerk: SimMasterClerk, what: MasterChange): number {
  const answer: { response: MasterResponse | null } = { response: null };
  clerk.change(what, (response) => (answer.response = response));
  world.runUntil(() => answer.response !== null, SHARDED_OPERATION_WITHIN_MS);
  const response = answer.response;
  if (response === null) throw new Error(`${what.type} did not complete (seed ${world.seed})`);
  if (!response.ok) throw new Error(`${what.type} refused: ${JSON.stringify(response.error)}`);
  return response.num;
}

/** Queries config `num` (-1: the latest) through `clerk` and waits for it. */
export function query(world: ShardedWorld, clerk: SimMasterClerk, num = -1): ShardConfig {
  let config: ShardConfig | null = null;
  clerk.query(num, (answer) => (config = answer));
  world.runUntil(() => config !== null, SHARDED_OPERATION_WITHIN_MS);
  if (config === null) throw new Error(`query ${num} did not complete (seed ${world.seed})`);
  return config;
}

/** Joins the world's groups `gids` (with their replica names) in one call. */
export function join(world: ShardedWorld, clerk: SimMasterClerk, ...gids: number[]): number {
  return change(world, clerk, {
    type: "join",
    groups: gids.map((gid) => [gid, world.group(gid).names] as const),
  });
}

/** Leaves `gids` in one call. */
export function leave(world: ShardedWorld, clerk: SimMasterClerk, ...gids: number[]): number {
  return change(world, clerk, { type: "leave", gids });
}

/** Random lowercase letters, from the world's PRNG (the lab's randstring). */
export function randomString(world: ShardedWorld, length: number): string {
  let out = "";
  for (let i = 0; i < length; i++) out += String.fromCharCode(97 + world.random.int(26));
  return out;
}
