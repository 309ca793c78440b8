/**
 * The commands of one replica group's shard state machine, as they travel in the group's
 * Raft log, and their replies. Everything that changes the group's state goes through the
 * log (classic-lab-tests.md §3.2: all replicas switch configs and install shards "at the
 * same point in the sequence of operations they execute"):
 *
 *   kv           [1, <KV command bytes, src/kv/command.ts>]
 *   config       [2, num, [gid per shard...], [[gid, [replicaId...]]...]]
 *   installShard [3, configNum, shard, part, parts, cut, <payload bytes, group_payload.ts>]
 *   gcDone       [4, configNum, shard]
 *   deleteShard  [5, configNum, shard]
 *
 * A KV write keeps its own codec, nested as bytes: one definition of a write, and an entry
 * costs three bytes more than in an unsharded group. A payload stays opaque bytes in the
 * command (the shell copies what the old owner exported, never parses it); the state
 * machine validates it at apply, deterministically on every replica.
 *
 * The decoder checks types and limits and never throws. What a command means (a shard out
 * of range, a config that is not the next) is judged at apply, which answers with a typed
 * refusal rather than a crash.
 */

import { decode, encode } from "@msgpack/msgpack";
import { assertNever } from "../util/assert.ts";
import { decodeCommand, encodeCommand, type KvCommand, type KvReply } from "../kv/command.ts";
import { SHARD_PARTS_MAX, SHARD_PAYLOAD_BYTES_MAX } from "./group_limits.ts";
import { configFromJson, configToJson, type ShardConfigJson } from "./shard_config.ts";
import { errorMessage, isCount } from "../util/values.ts";

/** A client's write, applied only if its key's shard serves here. */
export type KvGroupCommand = { readonly type: "kv"; readonly command: KvCommand };

/** A step of shard migration, proposed by the group's own shell. */
export type MigrationCommand =
  /** The next configuration, as polled from the shard master. */
  | { readonly type: "config"; readonly config: ShardConfigJson }
  /**
   * Part `part` (of `parts`) of a pulled shard's data and sessions, exported by its previous
   * owner for `configNum`; parts install in order, and the last one completes the shard.
   */
  | {
    readonly type: "installShard";
    readonly configNum: number;
    readonly shard: number;
    readonly part: number;
    readonly parts: number;
    /** The digest of the cut (all parts) the old owner made: every part must agree. */
    readonly cut: number;
    readonly data: Uint8Array;
  }
  /** The previous owner confirmed it deleted the shard it handed off in `configNum`. */
  | { readonly type: "gcDone"; readonly configNum: number; readonly shard: number }
  /** The new owner has the shard lost in `configNum`: drop it (asked by the new owner). */
  | { readonly type: "deleteShard"; readonly configNum: number; readonly shard: number };

/** Every command of a group's log. */
export type GroupCommand = KvGroupCommand | MigrationCommand;

/** A request for a shard this group does not serve now (decided at apply / read time). */
export interface WrongGroupError {
  readonly code: "wrongGroup";
  readonly shard: number;
}

/** The reply to a KV write: the KV layer's, or wrongGroup (and then nothing changed). */
export type GroupKvReply = KvReply | { readonly ok: false; readonly error: WrongGroupError };

/** The reply to a read. */
export type GroupGetReply =
  | { readonly ok: true; readonly value: string }
  | { readonly ok: false; readonly error: WrongGroupError };

/** Why a migration step or an export was refused; every one is normal operation. */
export type MigrationError =
  | { readonly code: "badShard"; readonly shard: number; readonly shardCount: number }
  | { readonly code: "badConfig"; readonly reason: string }
  /** The offered config is this group's current one or older (a duplicate proposal). */
  | { readonly code: "staleConfig"; readonly num: number; readonly currentNum: number }
  /** The offered config would skip one: configs are applied strictly in order. */
  | { readonly code: "configGap"; readonly num: number; readonly currentNum: number }
  /** Shards of the current config are still moving; retry once they are all serving. */
  | { readonly code: "migrating"; readonly currentNum: number; readonly shards: number[] }
  /** This group has not reached `configNum` yet; ask again later (or another replica). */
  | { readonly code: "notReady"; readonly configNum: number; readonly currentNum: number }
  /** This group owns the shard in `configNum`: it has nothing to hand off or delete. */
  | { readonly code: "notHandingOff"; readonly shard: number; readonly configNum: number }
  /** The hand-off of `configNum` is over: the shard was deleted here after its new owner got it. */
  | { readonly code: "handedOff"; readonly shard: number; readonly configNum: number }
  | { readonly code: "badShardData"; readonly reason: string }
  /** A step that does not encode to a valid command (bad numbers from the network). */
  | { readonly code: "badCommand"; readonly reason: string }
  /** A pull asked for a part the shard does not have. */
  | {
    readonly code: "badPart";
    readonly shard: number;
    readonly part: number;
    readonly parts: number;
  };

/** The reply to a migration step: `changed` is false for a duplicate that had no effect. */
export type MigrationReply =
  | { readonly ok: true; readonly changed: boolean }
  | { readonly ok: false; readonly error: MigrationError };

/** Every reply of a group's log. */
export type GroupReply = GroupKvReply | MigrationReply;

/** What the old owner answers to a pull: one part of the payload and the part count, or why not. */
export type ExportReply =
  | { readonly ok: true; readonly data: Uint8Array; readonly parts: number; readonly cut: number }
  | { readonly ok: false; readonly error: MigrationError };

/** The numeric tag of each command kind on the wire. */
export const GROUP_COMMAND_TAG = {
  kv: 1,
  config: 2,
  installShard: 3,
  gcDone: 4,
  deleteShard: 5,
} as const satisfies Record<GroupCommand["type"], number>;

/** A decoded command, or why the bytes are not one. */
export type DecodedGroupCommand =
  | { readonly ok: true; readonly command: GroupCommand }
  | { readonly ok: false; readonly reason: string };

/** Encodes a command for a Raft entry. */
export function encodeGroupCommand(command: GroupCommand): Uint8Array {
  const tag = GROUP_COMMAND_TAG[command.type];
  switch (command.type) {
    case "kv":
      return encode([tag, encodeCommand(command.command)]);
    case "config":
      return encode([tag, ...encodeConfigFields(command.config)]);
    case "installShard":
      return encode([
        tag,
        command.configNum,
        command.shard,
        command.part,
        command.parts,
        command.cut,
        command.data,
      ]);
    case "gcDone":
    case "deleteShard":
      return encode([tag, command.configNum, command.shard]);
    default:
      return assertNever(command, "group command");
  }
}

/** Decodes a command, or explains why the bytes are not one. Never throws. */
export function decodeGroupCommand(bytes: Uint8Array): DecodedGroupCommand {
  let value: unknown;
  try {
    value = decode(bytes);
  } catch (error) {
    return fail(`not msgpack: ${errorMessage(error)}`);
  }
  if (!Array.isArray(value) || value.length < 2) return fail("not a group command array");
  const [tag, ...fields] = value as unknown[];
  switch (tag) {
    case GROUP_COMMAND_TAG.kv:
      return decodeKv(fields);
    case GROUP_COMMAND_TAG.config: {
      const config = decodeConfigFields(fields);
      if (typeof config === "string") return fail(config);
      return { ok: true, command: { type: "config", config } };
    }
    case GROUP_COMMAND_TAG.installShard:
      return decodeInstall(fields);
    case GROUP_COMMAND_TAG.gcDone:
    case GROUP_COMMAND_TAG.deleteShard: {
      const [configNum, shard] = fields;
      if (fields.length !== 2 || !isCount(configNum) || !isCount(shard)) {
        return fail("gcDone and deleteShard take a config number and a shard, both counts");
      }
      const type = tag === GROUP_COMMAND_TAG.gcDone ? "gcDone" : "deleteShard";
      return { ok: true, command: { type, configNum, shard } };
    }
    default:
      return fail(`unknown group command tag ${String(tag)}`);
  }
}

/** A config as the array fields [num, shards, [[gid, replicas]...]] (commands and snapshots). */
export function encodeConfigFields(config: ShardConfigJson): [number, number[], unknown[]] {
  const groups = Object.entries(config.groups)
    .map(([gid, replicas]): [number, string[]] => [Number(gid), [...replicas]])
    .sort((a, b) => a[0] - b[0]);
  return [config.num, [...config.shards], groups];
}

/** The inverse of {@link encodeConfigFields}: a validated, normalised config, or why not. */
export function decodeConfigFields(fields: readonly unknown[]): ShardConfigJson | string {
  if (fields.length !== 3) return "a config is num, shards and groups";
  const [num, shards, groups] = fields;
  if (!Array.isArray(groups)) return "a config's groups are an array of [gid, replicas]";
  const record: Record<string, unknown> = {};
  for (const entry of groups as unknown[]) {
    if (!Array.isArray(entry) || entry.length !== 2 || !isCount(entry[0])) {
      return "a config group is [gid, replicas]";
    }
    const key = String(entry[0]);
    if (Object.hasOwn(record, key)) return `gid ${key} appears twice in the config`;
    record[key] = entry[1];
  }
  // configFromJson checks everything else (gids, replica lists, shards on groups) and never throws.
  const parsed = configFromJson({ num, shards, groups: record });
  return parsed.ok ? configToJson(parsed.config) : `bad config: ${parsed.reason}`;
}

function decodeKv(fields: readonly unknown[]): DecodedGroupCommand {
  const [inner] = fields;
  if (fields.length !== 1 || !(inner instanceof Uint8Array)) {
    return fail("a kv command carries the KV command's bytes");
  }
  const decoded = decodeCommand(inner);
  if (!decoded.ok) return fail(`bad kv command: ${decoded.reason}`);
  return { ok: true, command: { type: "kv", command: decoded.command } };
}

function decodeInstall(fields: readonly unknown[]): DecodedGroupCommand {
  const [configNum, shard, part, parts, cut, data] = fields;
  if (
    fields.length !== 6 || !isCount(configNum) || !isCount(shard) || !isCount(part) ||
    !isCount(parts) || !isCount(cut) || cut > 0xffff_ffff
  ) {
    return fail(
      "installShard takes a config number, a shard, a part, a part count, a cut digest and bytes",
    );
  }
  if (parts < 1 || parts > SHARD_PARTS_MAX || part >= parts) {
    return fail(`installShard's part ${part} of ${parts} is out of range (1..${SHARD_PARTS_MAX})`);
  }
  if (!(data instanceof Uint8Array)) return fail("installShard's payload is bytes");
  if (data.byteLength > SHARD_PAYLOAD_BYTES_MAX) {
    return fail(`a payload of ${data.byteLength} bytes is over ${SHARD_PAYLOAD_BYTES_MAX}`);
  }
  return {
    ok: true,
    command: { type: "installShard", configNum, shard, part, parts, cut, data },
  };
}

/** The wrongGroup reply for `shard`. */
export function wrongGroup(shard: number): { ok: false; error: WrongGroupError } {
  return { ok: false, error: { code: "wrongGroup", shard } };
}

/** A refusal of a migration step. */
export function refuseStep(error: MigrationError): { ok: false; error: MigrationError } {
  return { ok: false, error };
}

function fail(reason: string): DecodedGroupCommand {
  return { ok: false, reason };
}
