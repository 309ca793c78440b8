/**
 * Helpers for the group state machine tests: a cluster driven by hand, the way the shell
 * will drive it. It keeps a scripted config history (join / leave rebalance as the shard
 * master does; `assign` writes any mapping, e.g. a swap the master never makes in one step),
 * one GroupState per gid, and does the shell's moves: offer the next config, pull a shard
 * (exportShard at the old owner, installShard at the new), confirm a deletion (deleteShard
 * at the old owner, then gcDone at the new). Every command goes through the group codec into
 * a per-group log, so a test can replay a group's log and compare snapshot bytes.
 */

import assert from "node:assert/strict";
import type { KvCommand } from "../kv/command.ts";
import { shardOf } from "../kv/shard_of.ts";
import {
  decodeGroupCommand,
  encodeGroupCommand,
  type GroupCommand,
  type GroupKvReply,
  type GroupReply,
  type MigrationReply,
} from "./group_command.ts";
import { GroupState, type ShardTask } from "./group_state.ts";
import { rebalance } from "./rebalance.ts";
import {
  configToJson,
  initialConfig,
  makeConfig,
  type ShardConfig,
  type ShardConfigJson,
} from "./shard_config.ts";
import { replicasOf } from "./test_support.ts";

/** A hand-driven sharded cluster (see the file comment). */
export class TestCluster {
  readonly configs: ShardConfig[];
  readonly groups = new Map<number, GroupState>();
  /** Each group's applied log, as encoded entries. */
  readonly logs = new Map<number, Uint8Array[]>();
  /** Groups that are down: they apply nothing and answer no RPC. */
  readonly down = new Set<number>();
  /** Called after every applied command (a test may restart groups there). */
  afterPropose: (gid: number) => void = () => {};

  constructor(readonly shardCount: number, gids: readonly number[]) {
    this.configs = [initialConfig(shardCount)];
    for (const gid of gids) {
      this.groups.set(gid, new GroupState(gid, shardCount));
      this.logs.set(gid, []);
    }
  }

  /** The newest config. */
  latest(): ShardConfig {
    return this.configs[this.configs.length - 1] as ShardConfig;
  }

  /** A config with `gids` added, rebalanced; returns its number. */
  join(...gids: number[]): number {
    const groups = new Set([...this.latest().groups.keys(), ...gids]);
    return this.#push(groups, (sorted) => rebalance(this.latest().shards, sorted));
  }

  /** A config with `gids` removed, rebalanced; returns its number. */
  leave(...gids: number[]): number {
    const groups = new Set([...this.latest().groups.keys()].filter((gid) => !gids.includes(gid)));
    return this.#push(groups, (sorted) => rebalance(this.latest().shards, sorted));
  }

  /** A config with exactly this shard → gid mapping; returns its number. */
  assign(shards: readonly number[]): number {
    return this.#push(new Set(shards.filter((gid) => gid !== 0)), () => [...shards]);
  }

  /** The JSON form of config `num`. */
  configJson(num: number): ShardConfigJson {
    return configToJson(this.configs[num] as ShardConfig);
  }

  group(gid: number): GroupState {
    const group = this.groups.get(gid);
    assert.ok(group !== undefined, `no group ${gid}`);
    return group;
  }

  /** Commits one command to a group's log and applies it, through the codec. */
  propose(gid: number, command: GroupCommand): GroupReply {
    assert.ok(!this.down.has(gid), `group ${gid} is down`);
    const bytes = encodeGroupCommand(command);
    this.logs.get(gid)?.push(bytes);
    const decoded = decodeGroupCommand(bytes);
    assert.ok(decoded.ok, decoded.ok ? "" : decoded.reason);
    const group = this.group(gid);
    const reply = group.apply(decoded.command);
    group.invariants();
    this.afterPropose(gid);
    return reply;
  }

  /** Offers a group its next config, if there is one; null when there is none or it is down. */
  offerConfig(gid: number): MigrationReply | null {
    const next = this.configs[this.group(gid).currentConfig().num + 1];
    if (next === undefined || this.down.has(gid)) return null;
    return this.propose(gid, { type: "config", config: configToJson(next) }) as MigrationReply;
  }

  /**
   * Pulls one shard as the shell would, every part in turn; null when the source is down or
   * not ready. Returns the last part's reply.
   */
  pull(gid: number, task: ShardTask): MigrationReply | null {
    if (this.down.has(gid) || this.down.has(task.fromGid)) return null;
    assert.deepEqual(task.servers, replicasOf(task.fromGid), "pull from the source's replicas");
    const { shard, configNum } = task;
    for (let part = task.part;; part++) {
      const exported = this.group(task.fromGid).exportShard(shard, configNum, part);
      if (!exported.ok) return null;
      const reply = this.propose(gid, {
        type: "installShard",
        configNum,
        shard,
        part,
        parts: exported.parts,
        cut: exported.cut,
        data: exported.data,
      }) as MigrationReply;
      if (!reply.ok || part + 1 >= exported.parts) return reply;
    }
  }

  /** Asks the old owner to delete, then proposes gcDone; null when the old owner is down. */
  confirm(gid: number, task: ShardTask): MigrationReply | null {
    if (this.down.has(gid) || this.down.has(task.fromGid)) return null;
    const { shard, configNum } = task;
    const deleted = this.propose(task.fromGid, { type: "deleteShard", configNum, shard });
    if (!deleted.ok) return null;
    return this.propose(gid, { type: "gcDone", configNum, shard }) as MigrationReply;
  }

  /** One round of every live group's shell; true when anything changed. */
  round(): boolean {
    let changed = false;
    for (const gid of this.groups.keys()) {
      if (this.down.has(gid)) continue;
      // this.group(gid) each time: a restart hook may have replaced the object.
      if (this.group(gid).canAcceptNextConfig()) {
        changed = isChange(this.offerConfig(gid)) || changed;
      }
      for (const task of this.group(gid).shardsToPull()) {
        changed = isChange(this.pull(gid, task)) || changed;
      }
      for (const task of this.group(gid).shardsToConfirm()) {
        changed = isChange(this.confirm(gid, task)) || changed;
      }
    }
    return changed;
  }

  /** Runs rounds until nothing changes. */
  settle(maxRounds = 200): void {
    for (let round = 0; round < maxRounds; round++) if (!this.round()) return;
    assert.fail(`the cluster did not settle in ${maxRounds} rounds`);
  }

  /** Crashes a group and restarts it from its snapshot (as a replica that restores does). */
  restart(gid: number): void {
    const bytes = this.group(gid).snapshot();
    const restored = GroupState.restore(bytes);
    assert.deepEqual(restored.snapshot(), bytes, "restore then snapshot is the identity");
    this.groups.set(gid, restored);
  }

  /** The gids that answer a read of `shard` now (a correct cluster has at most one). */
  servingGroups(shard: number): number[] {
    const key = keyInShard(shard, this.shardCount);
    return [...this.groups].filter(([, group]) => group.get(key).ok).map(([gid]) => gid);
  }

  /** Asserts that no shard is served by two groups. */
  checkOneServer(label = ""): void {
    for (let shard = 0; shard < this.shardCount; shard++) {
      const serving = this.servingGroups(shard);
      assert.ok(serving.length <= 1, `${label} shard ${shard} served by ${serving.join(", ")}`);
    }
  }

  /** Reads a key from whichever live group serves it; null when none does. */
  read(key: string): string | null {
    for (const [gid, group] of this.groups) {
      if (this.down.has(gid)) continue;
      const reply = group.get(key);
      if (reply.ok) return reply.value;
    }
    return null;
  }

  /** Sends a write to each live group in turn until one does not answer wrongGroup. */
  send(command: KvCommand): { gid: number; reply: GroupKvReply } | null {
    for (const gid of this.groups.keys()) {
      if (this.down.has(gid)) continue;
      const reply = this.propose(gid, { type: "kv", command }) as GroupKvReply;
      if (!reply.ok && reply.error.code === "wrongGroup") continue;
      return { gid, reply };
    }
    return null;
  }

  #push(groups: Set<number>, shardsFor: (sortedGids: number[]) => number[]): number {
    const sorted = [...groups].sort((a, b) => a - b);
    const num = this.configs.length;
    this.configs.push(
      makeConfig(num, shardsFor(sorted), sorted.map((gid) => [gid, replicasOf(gid)])),
    );
    return num;
  }
}

/** A client that numbers its writes 1, 2, 3, … and keeps the number when it retries. */
export class TestClient {
  #seq = 0;
  constructor(readonly clientId: number) {}

  /** The next write (a new sequence number). */
  put(key: string, value: string): KvCommand {
    return { type: "put", clientId: this.clientId, seq: ++this.#seq, key, value, timeMs: 0 };
  }

  /** The next append (a new sequence number). */
  append(key: string, value: string): KvCommand {
    return { type: "append", clientId: this.clientId, seq: ++this.#seq, key, value, timeMs: 0 };
  }
}

const keyCache = new Map<string, string>();

/** A key of `shard` among `shardCount` shards (k0, k1, … until one falls in it). */
export function keyInShard(shard: number, shardCount: number): string {
  const cached = keyCache.get(`${shard}/${shardCount}`);
  if (cached !== undefined) return cached;
  for (let index = 0; index < 100_000; index++) {
    const key = `k${index}`;
    if (shardOf(key, shardCount) !== shard) continue;
    keyCache.set(`${shard}/${shardCount}`, key);
    return key;
  }
  throw new Error(`no key found for shard ${shard}`);
}

/** The shards config `config` gives `gid`. */
export function shardsOf(config: ShardConfig, gid: number): number[] {
  return config.shards.flatMap((owner, shard) => owner === gid ? [shard] : []);
}

/** Asserts that a migration step was accepted and changed the state. */
export function assertChanged(reply: GroupReply | null, label = ""): void {
  assert.deepEqual(reply, { ok: true, changed: true }, label);
}

/** Asserts that a step was refused with `code`. */
export function assertRefused(reply: GroupReply | null, code: string, label = ""): void {
  assert.ok(reply !== null && !reply.ok, `${label} expected ${code}, got ${JSON.stringify(reply)}`);
  assert.equal(reply.error.code, code, label);
}

/** Decodes a logged entry, failing the test if it does not decode. */
export function decodeOrFail(bytes: Uint8Array): GroupCommand {
  const decoded = decodeGroupCommand(bytes);
  assert.ok(decoded.ok, decoded.ok ? "" : decoded.reason);
  return decoded.command;
}

function isChange(reply: MigrationReply | null): boolean {
  return reply !== null && reply.ok && reply.changed;
}
