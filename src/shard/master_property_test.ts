/**
 * A property test of the shard master over seeded random command sequences (a failure names
 * its seed and step): joins and leaves of one to three groups keeping 1..20 groups (a leave
 * of every group is refused with lastGroup), moves, refused commands and retries, for 10
 * shards and also 1 and 100. After every command it
 * checks what the lab's tests check one case at a time (classic-lab-tests.md §1.5, §3.1):
 * check(groups) after each join and leave, moved shards equal to the optimum, joins and
 * leaves from a balanced config moving no shard between staying groups, a move changing one
 * shard, a refusal or a retry making no config; and at the end that no config changed after
 * it was made, and that a snapshot restores to identical bytes.
 */

import assert from "node:assert/strict";
import { Prng } from "../util/prng.ts";
import type { MasterCommand, MasterReply } from "./master_command.ts";
import { ShardMasterState } from "./master_state.ts";
import { isBalanced, movedShards } from "./rebalance.ts";
import type { ShardConfig } from "./shard_config.ts";
import {
  checkGroups,
  configText,
  history,
  joinOf,
  leaveOf,
  minimumMoves,
  moveOf,
} from "./test_support.ts";

const GID_POOL = 40;
const GROUPS_LIMIT = 20;
const STEPS = 250;
const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8, 20_240_101];

/** One random run; returns the state for the final checks. */
class Run {
  readonly state: ShardMasterState;
  readonly texts: string[] = [];
  #seq = 0;
  #previous: { command: MasterCommand; reply: MasterReply } | null = null;

  constructor(readonly random: Prng, readonly shardCount: number, readonly label: string) {
    this.state = new ShardMasterState(shardCount);
    this.texts.push(configText(this.state.latest()));
  }

  step(index: number): void {
    const label = `${this.label} step ${index}`;
    const before = this.state.latest();
    const live = [...before.groups.keys()];
    const roll = this.random.int(100);
    if (roll < 10 && this.#previous !== null) return this.#retry(label);
    if (roll < 20) return this.#refused(before, live, label);
    if (roll < 35 && live.length > 0) return this.#move(before, live, label);
    const joining = live.length === 0 || (roll < 70 && live.length < GROUPS_LIMIT);
    if (joining) return this.#join(before, live, label);
    return this.#leave(before, live, label);
  }

  #apply(command: MasterCommand): MasterReply {
    const reply = this.state.apply(command);
    this.#previous = { command, reply };
    if (reply.ok) this.texts.push(configText(this.state.latest()));
    return reply;
  }

  #retry(label: string): void {
    const previous = this.#previous as { command: MasterCommand; reply: MasterReply };
    const num = this.state.latest().num;
    assert.deepEqual(this.state.apply(previous.command), previous.reply, `${label}: retry`);
    assert.equal(this.state.latest().num, num, `${label}: a retry makes no config`);
  }

  #refused(before: ShardConfig, live: number[], label: string): void {
    const absent = this.#absentGids(live, 1)[0] as number;
    const choices: MasterCommand[] = [
      leaveOf(1, ++this.#seq, [absent]),
      moveOf(1, ++this.#seq, this.shardCount + this.random.int(3), live[0] ?? 1),
      moveOf(1, ++this.#seq, 0, absent),
    ];
    if (live.length > 0) choices.push(joinOf(1, ++this.#seq, [this.random.pick(live)]));
    const reply = this.#apply(this.random.pick(choices));
    assert.ok(!reply.ok, `${label}: expected a refusal`);
    assert.equal(this.state.latest(), before, `${label}: a refusal makes no config`);
  }

  #move(before: ShardConfig, live: number[], label: string): void {
    const shard = this.random.int(this.shardCount);
    const gid = this.random.pick(live);
    assert.ok(this.#apply(moveOf(1, ++this.#seq, shard, gid)).ok, label);
    const after = this.state.latest();
    assert.equal(after.shards[shard], gid, `${label}: the move is honoured`);
    after.shards.forEach((owner, other) => {
      if (other !== shard) assert.equal(owner, before.shards[other], `${label}: shard ${other}`);
    });
    assert.deepEqual([...after.groups], [...before.groups], `${label}: a move keeps the groups`);
  }

  #join(before: ShardConfig, live: number[], label: string): void {
    const count = 1 + this.random.int(Math.min(3, GROUPS_LIMIT - live.length));
    const joining = this.#absentGids(live, count);
    assert.ok(this.#apply(joinOf(1, ++this.#seq, joining)).ok, label);
    const after = this.#checkRebalanced(before, [...live, ...joining], label);
    if (isBalanced(before.shards, live) && live.length > 0) {
      after.shards.forEach((owner, shard) => {
        const stayed = owner === before.shards[shard] || joining.includes(owner);
        assert.ok(stayed, `${label}: shard ${shard} moved between old groups on a join`);
      });
    }
  }

  #leave(before: ShardConfig, live: number[], label: string): void {
    const count = 1 + this.random.int(Math.min(3, live.length));
    const leaving: number[] = [];
    while (leaving.length < count) {
      const gid = this.random.pick(live);
      if (!leaving.includes(gid)) leaving.push(gid);
    }
    const reply = this.#apply(leaveOf(1, ++this.#seq, leaving));
    if (leaving.length === live.length) {
      assert.ok(!reply.ok && reply.error.code === "lastGroup", `${label}: leaving every group`);
      assert.equal(this.state.latest(), before, `${label}: a refusal makes no config`);
      return;
    }
    assert.ok(reply.ok, label);
    const staying = live.filter((gid) => !leaving.includes(gid));
    const after = this.#checkRebalanced(before, staying, label);
    if (isBalanced(before.shards, live)) {
      after.shards.forEach((owner, shard) => {
        const previous = before.shards[shard] as number;
        const allowed = owner === previous || leaving.includes(previous);
        assert.ok(allowed, `${label}: shard ${shard} of staying gid ${previous} moved`);
      });
    }
  }

  #checkRebalanced(before: ShardConfig, gids: number[], label: string): ShardConfig {
    const after = this.state.latest();
    assert.equal(after.num, before.num + 1, label);
    checkGroups(after, gids, label);
    const moved = movedShards(before.shards, after.shards);
    const sorted = [...gids].sort((a, b) => a - b);
    assert.equal(moved, minimumMoves(before.shards, sorted), `${label}: not minimal`);
    return after;
  }

  #absentGids(live: number[], count: number): number[] {
    const absent: number[] = [];
    while (absent.length < count) {
      const gid = 1 + this.random.int(GID_POOL);
      if (!live.includes(gid) && !absent.includes(gid)) absent.push(gid);
    }
    return absent;
  }
}

for (const shardCount of [10, 1, 100]) {
  Deno.test(`shardmaster property: random joins, leaves, moves, refusals and retries over ${shardCount} shard(s)`, () => {
    for (const seed of SEEDS) {
      const run = new Run(new Prng(seed), shardCount, `shards ${shardCount} seed ${seed}`);
      for (let index = 0; index < STEPS; index++) {
        run.step(index);
        if (index % 50 === 49) run.state.invariants();
      }
      const configs = history(run.state);
      assert.ok(configs.length > STEPS / 2, `seed ${seed}: too few configs to mean anything`);
      assert.deepEqual(configs.map(configText), run.texts, `seed ${seed}: a config changed`);
      for (const config of configs) {
        assert.ok(Object.isFrozen(config) && Object.isFrozen(config.shards), `seed ${seed}`);
      }
      const bytes = run.state.snapshot();
      assert.deepEqual(ShardMasterState.restore(bytes).snapshot(), bytes, `seed ${seed}`);
    }
  });
}
