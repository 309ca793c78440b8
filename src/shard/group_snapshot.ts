/**
 * A replica group's snapshot encoding: the current and previous configs, each shard's state,
 * and each held shard's data and sessions, as one msgpack array. Canonical (shards in
 * ascending order, groups by gid, keys and sessions in map order, which the log decides) so
 * replicas that applied the same log produce byte-identical snapshots.
 *
 *   [version, gid, shardCount, logTimeMs, config, previous | null,
 *    [[shard, stateTag, peerGid, configNum, [data, sessions] | null, received, parts, cut]...],
 *    [[shard, fromGid, configNum, [replicaId...]]...]]      (pending GCs, in (config, shard) order)
 *   config: [num, [gid per shard...], [[gid, [replicaId...]]...]]
 *   stateTag: 0 serving, 1 pulling, 2 handingOff, 3 waitingGc; peerGid and configNum are 0
 *   for serving; the payload (group_payload.ts's layout) is null only for a pulling shard with
 *   no part installed; received, parts and cut are a pulling shard's progress (0 otherwise).
 *   Versions 1 to 3 (development builds before parts, pending GCs and cut digests) are not
 *   restored; such data directories are wiped.
 *
 * Only what the group holds is written: a deleted shard leaves nothing behind, no history
 * of configs or of data (challenge 1 measures exactly this). A snapshot is our own output,
 * checksummed by storage: one that does not decode is a bug, so decoding asserts.
 */

import { decode, encode } from "@msgpack/msgpack";
import { assert, AssertionError, assertNever } from "../util/assert.ts";
import { encodeShard, type ShardData } from "../kv/kv_state.ts";
import { decodeConfigFields, encodeConfigFields } from "./group_command.ts";
import { shardFromValue } from "./group_payload.ts";
import type { PendingGc, ShardState, ShardStateKind } from "./group_state.ts";
import { configFromJson, configToJson, type ShardConfig } from "./shard_config.ts";
import { isCount } from "../util/values.ts";

/** Bump when the layout changes; restore refuses versions it does not know. */
export const GROUP_SNAPSHOT_VERSION = 4;

/** One shard of a snapshot: its state and, unless pulling, its data and sessions. */
export interface SnapshotShard {
  readonly shard: number;
  readonly state: ShardState;
  readonly data: ShardData | null;
}

/** Everything a group snapshot holds. */
export interface GroupSnapshot {
  readonly gid: number;
  readonly shardCount: number;
  readonly logTimeMs: number;
  readonly config: ShardConfig;
  readonly previous: ShardConfig | null;
  readonly shards: readonly SnapshotShard[];
  readonly pendingGc: readonly PendingGc[];
}

const STATE_TAG = {
  serving: 0,
  pulling: 1,
  handingOff: 2,
  waitingGc: 3,
} as const satisfies Record<ShardStateKind, number>;

/** Encodes a snapshot (see the layout above); `shards` must be in ascending order. */
export function encodeGroupSnapshot(snapshot: GroupSnapshot): Uint8Array {
  const rows = snapshot.shards.map(({ shard, state, data }) => {
    const [peerGid, configNum] = peerOf(state);
    return [
      shard,
      STATE_TAG[state.kind],
      peerGid,
      configNum,
      data === null ? null : encodeShard(data),
      state.kind === "pulling" ? state.received : 0,
      state.kind === "pulling" ? state.parts : 0,
      state.kind === "pulling" ? state.cut : 0,
    ];
  });
  return encode([
    GROUP_SNAPSHOT_VERSION,
    snapshot.gid,
    snapshot.shardCount,
    snapshot.logTimeMs,
    encodeConfigFields(configToJson(snapshot.config)),
    snapshot.previous === null ? null : encodeConfigFields(configToJson(snapshot.previous)),
    rows,
    snapshot.pendingGc.map((gc) => [gc.shard, gc.fromGid, gc.configNum, [...gc.servers]]),
  ]);
}

/** Decodes {@link encodeGroupSnapshot}'s bytes, asserting their shape. */
export function decodeGroupSnapshot(bytes: Uint8Array): GroupSnapshot {
  const value = decode(bytes);
  assert(Array.isArray(value), "A group snapshot is an array");
  assert(
    value[0] === GROUP_SNAPSHOT_VERSION,
    () =>
      `Unknown group snapshot version ${
        String(value[0])
      } (this build reads ${GROUP_SNAPSHOT_VERSION})`,
  );
  assert(value.length === 8, "A group snapshot is an 8-array");
  const [, gid, shardCount, logTimeMs, config, previous, rows, pending] = value as unknown[];
  assert(isCount(gid) && isCount(shardCount) && isCount(logTimeMs), "Snapshot header counts");
  assert(Array.isArray(rows), "A snapshot's shards are an array");
  let last = -1;
  const shards = rows.map((row: unknown): SnapshotShard => {
    const decoded = decodeRow(row);
    assert(decoded.shard > last, "Snapshot shards are in ascending order");
    last = decoded.shard;
    return decoded;
  });
  return {
    gid,
    shardCount,
    logTimeMs,
    config: decodeConfig(config),
    previous: previous === null ? null : decodeConfig(previous),
    shards,
    pendingGc: decodePendingGc(pending),
  };
}

function decodePendingGc(value: unknown): PendingGc[] {
  assert(Array.isArray(value), "A snapshot's pending GCs are an array");
  return value.map((row: unknown): PendingGc => {
    assert(Array.isArray(row) && row.length === 4, "A pending GC is a 4-array");
    const [shard, fromGid, configNum, servers] = row as unknown[];
    assert(isCount(shard) && isCount(fromGid) && isCount(configNum), "Pending GC counts");
    assert(
      Array.isArray(servers) && servers.every((id) => typeof id === "string"),
      "A pending GC names its replicas",
    );
    return { shard, fromGid, configNum, servers: servers as string[] };
  });
}

function peerOf(state: ShardState): [peerGid: number, configNum: number] {
  switch (state.kind) {
    case "serving":
      return [0, 0];
    case "pulling":
    case "waitingGc":
      return [state.fromGid, state.configNum];
    case "handingOff":
      return [state.toGid, state.configNum];
    default:
      return assertNever(state, "shard state");
  }
}

function decodeRow(row: unknown): SnapshotShard {
  assert(Array.isArray(row) && row.length === 8, "A snapshot shard is an 8-array");
  const [shard, tag, peerGid, configNum, payload, received, parts, cut] = row as unknown[];
  assert(
    isCount(shard) && isCount(peerGid) && isCount(configNum) && isCount(received) &&
      isCount(parts) && isCount(cut),
    "Snapshot shard counts",
  );
  const state = stateOf(tag, peerGid, configNum, received, parts, cut);
  if (payload === null) {
    assert(
      state.kind === "pulling" && state.received === 0,
      () => `Snapshot shard ${shard} (${state.kind}) has data`,
    );
    return { shard, state, data: null };
  }
  const decoded = shardFromValue(payload);
  assert(decoded.ok, () => `Snapshot shard ${shard}: ${decoded.ok ? "" : decoded.reason}`);
  return { shard, state, data: decoded.shard };
}

function stateOf(
  tag: unknown,
  peerGid: number,
  configNum: number,
  received: number,
  parts: number,
  cut: number,
): ShardState {
  switch (tag) {
    case STATE_TAG.serving:
      return { kind: "serving" };
    case STATE_TAG.pulling:
      return { kind: "pulling", fromGid: peerGid, configNum, received, parts, cut };
    case STATE_TAG.handingOff:
      return { kind: "handingOff", toGid: peerGid, configNum };
    case STATE_TAG.waitingGc:
      return { kind: "waitingGc", fromGid: peerGid, configNum };
    default:
      throw new AssertionError(`Unknown shard state tag ${String(tag)} in a snapshot`);
  }
}

function decodeConfig(value: unknown): ShardConfig {
  assert(Array.isArray(value), "A snapshot config is an array");
  const json = decodeConfigFields(value);
  assert(typeof json !== "string", () => `Snapshot config: ${json}`);
  const parsed = configFromJson(json);
  assert(parsed.ok, "A snapshot config is well-formed");
  return parsed.config;
}
