/**
 * The shard master's snapshot encoding: the whole config history, the sessions in least
 * recently used order, and the log time, as one msgpack array. The encoding is canonical
 * (groups in ascending gid order, sessions in table order, no maps) so that replicas that
 * applied the same log produce byte-identical snapshots.
 *
 *   [version, shardCount, logTimeMs,
 *    [[num, [gid per shard...], [[gid, [replicaId...]]...]]...],
 *    [[clientId, seq, lastUsedMs, reply]...]]      reply: num (ok) or [code, message]
 *
 * A snapshot is our own output, checksummed by storage: one that does not decode is a bug or
 * a corrupted disk, so decoding asserts rather than reports.
 */

import { decode, encode } from "@msgpack/msgpack";
import { assert } from "../util/assert.ts";
import type { Session } from "../kv/session_table.ts";
import type { MasterErrorCode, MasterReply } from "./master_command.ts";
import { makeConfig, type ShardConfig } from "./shard_config.ts";
import { isCount } from "../util/values.ts";

/** Bump when the layout changes; restore refuses versions it does not know. */
export const MASTER_SNAPSHOT_VERSION = 1;

/** Everything a shard master snapshot holds. */
export interface MasterSnapshot {
  readonly shardCount: number;
  readonly logTimeMs: number;
  readonly configs: readonly ShardConfig[];
  readonly sessions: readonly Session<MasterReply>[];
}

const ERROR_CODES = {
  groupExists: true,
  unknownGroup: true,
  lastGroup: true,
  badShard: true,
  badGroup: true,
  duplicateGroup: true,
  tooManyGroups: true,
  staleRequest: true,
  tooManySessions: true,
} as const satisfies Record<MasterErrorCode, true>;

/** Encodes a snapshot (see the layout above). */
export function encodeMasterSnapshot(snapshot: MasterSnapshot): Uint8Array {
  const configs = snapshot.configs.map((config) => [
    config.num,
    [...config.shards],
    [...config.groups].map(([gid, replicas]) => [gid, [...replicas]]),
  ]);
  const sessions = snapshot.sessions.map((session) => [
    session.clientId,
    session.seq,
    session.lastUsedMs,
    session.reply.ok ? session.reply.num : [session.reply.error.code, session.reply.error.message],
  ]);
  return encode([
    MASTER_SNAPSHOT_VERSION,
    snapshot.shardCount,
    snapshot.logTimeMs,
    configs,
    sessions,
  ]);
}

/** Decodes {@link encodeMasterSnapshot}'s bytes, asserting their shape. */
export function decodeMasterSnapshot(bytes: Uint8Array): MasterSnapshot {
  const value = decode(bytes);
  assert(Array.isArray(value) && value.length === 5, "A shard master snapshot is a 5-array");
  const [version, shardCount, logTimeMs, configs, sessions] = value as unknown[];
  assert(
    version === MASTER_SNAPSHOT_VERSION,
    () => `Unknown shard master snapshot version ${String(version)}`,
  );
  assert(isCount(shardCount) && isCount(logTimeMs), "Snapshot shard count and time are counts");
  assert(Array.isArray(configs) && Array.isArray(sessions), "Snapshot lists are arrays");
  return {
    shardCount,
    logTimeMs,
    configs: configs.map(decodeConfig),
    sessions: sessions.map(decodeSession),
  };
}

function decodeConfig(row: unknown): ShardConfig {
  assert(Array.isArray(row) && row.length === 3, "A snapshot config is [num, shards, groups]");
  const [num, shards, groups] = row as unknown[];
  assert(isCount(num), "A snapshot config's num is a count");
  assert(Array.isArray(shards) && shards.every(isCount), "A snapshot config's shards are gids");
  assert(Array.isArray(groups), "A snapshot config's groups are an array");
  const entries = groups.map((group: unknown): [number, string[]] => {
    assert(Array.isArray(group) && group.length === 2, "A snapshot group is [gid, replicas]");
    const [gid, replicas] = group as unknown[];
    assert(isCount(gid), "A snapshot group's gid is a count");
    assert(
      Array.isArray(replicas) && replicas.every((id) => typeof id === "string"),
      "A snapshot group's replicas are strings",
    );
    return [gid, replicas as string[]];
  });
  // makeConfig asserts the config invariant (gids, replica limits, every shard on a group).
  return makeConfig(num, shards, entries);
}

function decodeSession(row: unknown): Session<MasterReply> {
  assert(Array.isArray(row) && row.length === 4, "A snapshot session is a 4-array");
  const [clientId, seq, lastUsedMs, encodedReply] = row as unknown[];
  assert(isCount(clientId) && isCount(seq) && isCount(lastUsedMs), "Session fields are counts");
  return { clientId, seq, lastUsedMs, reply: decodeReply(encodedReply) };
}

function decodeReply(value: unknown): MasterReply {
  if (isCount(value)) return { ok: true, num: value };
  assert(Array.isArray(value) && value.length === 2, "A snapshot error reply is [code, message]");
  const [code, message] = value as unknown[];
  assert(
    typeof code === "string" && Object.hasOwn(ERROR_CODES, code) && typeof message === "string",
    () => `Unknown shard master error code ${String(code)} in a snapshot`,
  );
  return { ok: false, error: { code: code as MasterErrorCode, message } };
}
