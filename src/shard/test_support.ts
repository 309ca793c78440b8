/**
 * Helpers for the shard master tests: a clerk that numbers its own commands, the lab's
 * check(groups), replica lists, and an independent formula for the fewest shards a
 * rebalance can move (so minimality is checked against the optimum, not against the code).
 */

import assert from "node:assert/strict";
import type { MasterCommand, MasterReply } from "./master_command.ts";
import type { ShardMasterState } from "./master_state.ts";
import { configToJson, type ShardConfig } from "./shard_config.ts";

/** The replica ids the tests give group `gid`, in order. */
export function replicasOf(gid: number): string[] {
  return [`g${gid}-a`, `g${gid}-b`, `g${gid}-c`];
}

/** A join of `gids`, each with {@link replicasOf}. */
export function joinOf(clientId: number, seq: number, gids: number[], timeMs = 0): MasterCommand {
  return { type: "join", clientId, seq, timeMs, groups: gids.map((gid) => [gid, replicasOf(gid)]) };
}

/** A leave of `gids`. */
export function leaveOf(clientId: number, seq: number, gids: number[], timeMs = 0): MasterCommand {
  return { type: "leave", clientId, seq, timeMs, gids };
}

/** A move of `shard` to `gid`. */
export function moveOf(
  clientId: number,
  seq: number,
  shard: number,
  gid: number,
  timeMs = 0,
): MasterCommand {
  return { type: "move", clientId, seq, timeMs, shard, gid };
}

/** A client of one state machine that numbers its commands 1, 2, 3, … (as a clerk does). */
export class TestClerk {
  #seq = 0;
  constructor(readonly state: ShardMasterState, readonly clientId: number) {}

  join(...gids: number[]): MasterReply {
    return this.state.apply(joinOf(this.clientId, ++this.#seq, gids));
  }

  leave(...gids: number[]): MasterReply {
    return this.state.apply(leaveOf(this.clientId, ++this.#seq, gids));
  }

  move(shard: number, gid: number): MasterReply {
    return this.state.apply(moveOf(this.clientId, ++this.#seq, shard, gid));
  }
}

/**
 * The lab's check(groups) (classic-lab-tests.md §1.5): exactly these groups, every shard on
 * one of them (when there are any), shard counts within one of each other (0 counts too).
 */
export function checkGroups(config: ShardConfig, gids: readonly number[], label = ""): void {
  const expected = [...gids].sort((a, b) => a - b);
  assert.deepEqual([...config.groups.keys()].sort((a, b) => a - b), expected, `${label} groups`);
  if (expected.length === 0) {
    assert.ok(config.shards.every((gid) => gid === 0), `${label} no groups: every shard on 0`);
    return;
  }
  for (const gid of config.shards) {
    assert.ok(config.groups.has(gid), `${label} shard on gid ${gid}, not a group`);
  }
  const counts = expected.map((gid) => config.shards.filter((owner) => owner === gid).length);
  assert.ok(
    Math.max(...counts) - Math.min(...counts) <= 1,
    `${label} unbalanced counts ${counts.join(",")}`,
  );
}

/** Asserts that a reply accepted the command and made config `num` (when given). */
export function assertAccepted(reply: MasterReply, num?: number): number {
  assert.ok(reply.ok, `expected acceptance, got ${JSON.stringify(reply)}`);
  if (num !== undefined) assert.equal(reply.num, num);
  return reply.num;
}

/** Asserts that a reply refused the command with `code`. */
export function assertRefused(reply: MasterReply, code: string): void {
  assert.ok(!reply.ok, `expected refusal ${code}, got ${JSON.stringify(reply)}`);
  assert.equal(reply.error.code, code, reply.error.message);
}

/**
 * The fewest shards any balanced assignment over `gids` can move from `before`, by a formula
 * independent of rebalance.ts: with base = floor(N/G) and extra = N mod G, a group can keep
 * at most min(count, base) shards, plus one more for up to `extra` groups holding more than
 * base. Everything not kept moves.
 */
export function minimumMoves(before: readonly number[], gids: readonly number[]): number {
  if (gids.length === 0) return before.filter((gid) => gid !== 0).length;
  const base = Math.floor(before.length / gids.length);
  const extra = before.length % gids.length;
  const counts = gids.map((gid) => before.filter((owner) => owner === gid).length);
  const kept = counts.reduce((sum, count) => sum + Math.min(count, base), 0) +
    Math.min(extra, counts.filter((count) => count > base).length);
  return before.length - kept;
}

/** A config as a string, for checking that nothing changed it later. */
export function configText(config: ShardConfig): string {
  return JSON.stringify(configToJson(config));
}

/** Every config of a state's history, 0..latest. */
export function history(state: ShardMasterState): ShardConfig[] {
  return Array.from({ length: state.latest().num + 1 }, (_, num) => state.query(num));
}
