/**
 * A shard configuration (MIT 6.824 lab 4): which replica group serves each shard, and which
 * replicas form each group. Configs are numbered from 0 (no groups, every shard on gid 0) and
 * are immutable values: the shard master keeps every one ever made, and aliasing a previous
 * config's groups or replica lists is the lab's classic history-corrupting bug
 * (classic-lab-tests.md §4). So {@link makeConfig} copies everything it is given and freezes
 * the result; the groups map refuses mutation at run time too, not only in the types.
 *
 * Invariant (a well-formed config): `shards.length` is the cluster's shard count; gids are
 * positive; with no groups every shard is on gid 0, and with groups every shard is on one of
 * them; groups iterate in ascending gid order (so output and snapshots are deterministic).
 */

import { assert } from "../util/assert.ts";
import { GROUPS_MAX, REPLICA_ID_BYTES_MAX, REPLICAS_PER_GROUP_MAX, SHARDS_MAX } from "./limits.ts";
import { isCount } from "../util/values.ts";

/** One numbered configuration of the cluster. */
export interface ShardConfig {
  /** The config number: 0 is the initial config, each change makes the next. */
  readonly num: number;
  /** Shard → gid that serves it; 0 means unassigned (only when there are no groups). */
  readonly shards: readonly number[];
  /** Gid → the group's replica ids, in the order they were joined with. */
  readonly groups: ReadonlyMap<number, readonly string[]>;
}

/** The JSON form of a config, for the admin endpoint and the clerk's output. */
export interface ShardConfigJson {
  num: number;
  shards: number[];
  /** Keys are gids in decimal, in ascending order. */
  groups: Record<string, string[]>;
}

/** The gid that means "no group": config 0's owner of every shard. */
export const GID_NONE = 0;

/** A Map that cannot be changed after construction (the configs' groups). */
class FrozenMap<K, V> extends Map<K, V> {
  readonly #frozen: boolean;

  constructor(entries: Iterable<readonly [K, V]>) {
    super();
    for (const [key, value] of entries) super.set(key, value);
    this.#frozen = true;
    Object.freeze(this);
  }

  override set(key: K, value: V): this {
    assert(!this.#frozen, "Cannot change a config's groups: configs are immutable");
    return super.set(key, value);
  }

  override delete(_key: K): boolean {
    assert(false, "Cannot change a config's groups: configs are immutable");
  }

  override clear(): void {
    assert(false, "Cannot change a config's groups: configs are immutable");
  }
}

/**
 * Builds a frozen config from copies of `shards` and `groups` (never aliases them), with the
 * groups in ascending gid order. Asserts the config invariant: callers pass checked values.
 */
export function makeConfig(
  num: number,
  shards: readonly number[],
  groups: Iterable<readonly [number, readonly string[]]>,
): ShardConfig {
  const entries = [...groups].map(([gid, replicas]) =>
    [gid, Object.freeze([...replicas])] as const
  );
  entries.sort((a, b) => a[0] - b[0]);
  const config: ShardConfig = Object.freeze({
    num,
    shards: Object.freeze([...shards]),
    groups: new FrozenMap(entries),
  });
  const problem = configProblem(config);
  assert(problem === null, () => `Cannot make config ${num}: ${problem}`);
  return config;
}

/** Config 0 of a cluster of `shardCount` shards: no groups, every shard on gid 0. */
export function initialConfig(shardCount: number): ShardConfig {
  return makeConfig(0, new Array<number>(shardCount).fill(GID_NONE), []);
}

/** What is wrong with a config, or null when it is well-formed (see the invariant above). */
export function configProblem(config: ShardConfig): string | null {
  if (!isCount(config.num)) return `config number ${config.num} is not a non-negative integer`;
  const shardCount = config.shards.length;
  if (shardCount < 1 || shardCount > SHARDS_MAX) {
    return `${shardCount} shards is outside 1..${SHARDS_MAX}`;
  }
  if (config.groups.size > GROUPS_MAX) {
    return `${config.groups.size} groups is more than ${GROUPS_MAX}`;
  }
  let previousGid = GID_NONE;
  for (const [gid, replicas] of config.groups) {
    if (!isCount(gid) || gid <= previousGid) {
      return `gid ${gid} is not a positive integer in ascending order`;
    }
    previousGid = gid;
    const replicasProblem = replicaListProblem(replicas);
    if (replicasProblem !== null) return `group ${gid}: ${replicasProblem}`;
  }
  for (let shard = 0; shard < shardCount; shard++) {
    const gid = config.shards[shard];
    const valid = config.groups.size === 0 ? gid === GID_NONE : config.groups.has(gid as number);
    if (!valid) return `shard ${shard} is on gid ${gid}, which is not a group of the config`;
  }
  return null;
}

/** What is wrong with a group's replica list, or null when it is usable. */
export function replicaListProblem(replicas: readonly unknown[]): string | null {
  if (replicas.length < 1 || replicas.length > REPLICAS_PER_GROUP_MAX) {
    return `${replicas.length} replicas is outside 1..${REPLICAS_PER_GROUP_MAX}`;
  }
  const seen = new Set<string>();
  for (const replica of replicas) {
    if (typeof replica !== "string" || replica.length === 0) {
      return "a replica id is not a non-empty string";
    }
    const bytes = encoder.encode(replica).byteLength;
    if (bytes > REPLICA_ID_BYTES_MAX) {
      return `replica id of ${bytes} bytes is longer than ${REPLICA_ID_BYTES_MAX}`;
    }
    if (seen.has(replica)) return `replica id ${JSON.stringify(replica)} appears twice`;
    seen.add(replica);
  }
  return null;
}

/** The JSON form: `{"num": N, "shards": [gid, ...], "groups": {"gid": ["replica", ...]}}`. */
export function configToJson(config: ShardConfig): ShardConfigJson {
  const groups: Record<string, string[]> = {};
  for (const gid of [...config.groups.keys()].sort((a, b) => a - b)) {
    groups[String(gid)] = [...(config.groups.get(gid) as readonly string[])];
  }
  return { num: config.num, shards: [...config.shards], groups };
}

/** Validates a parsed JSON value as a config; never throws. */
export function configFromJson(
  value: unknown,
): { ok: true; config: ShardConfig } | { ok: false; reason: string } {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, reason: "a config is an object" };
  }
  const { num, shards, groups } = value as Record<string, unknown>;
  if (!isCount(num)) return { ok: false, reason: "num must be a non-negative integer" };
  if (!Array.isArray(shards) || shards.length < 1 || shards.length > SHARDS_MAX) {
    return { ok: false, reason: `shards must be an array of 1..${SHARDS_MAX} gids` };
  }
  if (!shards.every(isCount)) return { ok: false, reason: "every shard's gid must be an integer" };
  if (typeof groups !== "object" || groups === null || Array.isArray(groups)) {
    return { ok: false, reason: "groups must be an object of gid → replica ids" };
  }
  const entries: [number, string[]][] = [];
  for (const [key, replicas] of Object.entries(groups)) {
    const gid = Number(key);
    if (!isCount(gid) || gid === GID_NONE || String(gid) !== key) {
      return { ok: false, reason: `group key ${JSON.stringify(key)} is not a positive gid` };
    }
    if (!Array.isArray(replicas)) {
      return { ok: false, reason: `group ${gid}'s replicas must be an array` };
    }
    entries.push([gid, replicas as string[]]);
  }
  if (entries.length > GROUPS_MAX) {
    return { ok: false, reason: `${entries.length} groups is more than ${GROUPS_MAX}` };
  }
  for (const [gid, replicas] of entries) {
    const problem = replicaListProblem(replicas);
    if (problem !== null) return { ok: false, reason: `group ${gid}: ${problem}` };
  }
  entries.sort((a, b) => a[0] - b[0]);
  // Check before makeConfig, whose assertion is for bugs, not for bad input.
  const candidate: ShardConfig = { num, shards, groups: new Map(entries) };
  const problem = configProblem(candidate);
  if (problem !== null) return { ok: false, reason: problem };
  return { ok: true, config: makeConfig(num, shards, entries) };
}

/** True when two configs are the same value (the lab's check_same_config, order included). */
export function sameConfig(a: ShardConfig, b: ShardConfig): boolean {
  if (a.num !== b.num || a.shards.length !== b.shards.length) return false;
  if (a.shards.some((gid, shard) => b.shards[shard] !== gid)) return false;
  if (a.groups.size !== b.groups.size) return false;
  for (const [gid, replicas] of a.groups) {
    const other = b.groups.get(gid);
    if (other === undefined || other.length !== replicas.length) return false;
    if (replicas.some((replica, index) => other[index] !== replica)) return false;
  }
  return true;
}

const encoder = new TextEncoder();
