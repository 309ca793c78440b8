/**
 * Shard master commands as they travel in Raft entries (Join / Leave / Move of the lab), and
 * their replies. Each carries a session tag for exactly-once (Raft thesis §6.3) and the
 * leader's clock when proposed (log time, which expires sessions deterministically), like
 * the KV commands in src/kv/command.ts. Query is not a command: it changes nothing.
 *
 * Encoded as msgpack arrays with a numeric tag:
 *   join  [1, clientId, seq, timeMs, [[gid, [replicaId, ...]], ...]]
 *   leave [2, clientId, seq, timeMs, [gid, ...]]
 *   move  [3, clientId, seq, timeMs, shard, gid]
 * The decoder checks types only and never throws. What a command means (gid 0, a gid already
 * present, a shard out of range, limits) is judged by {@link commandProblem} and by the state
 * machine, which answer with a typed error: a server that proposes a client's command without
 * checking it must get a refusal at apply time, never a crash.
 */

import { encode } from "@msgpack/msgpack";
import { decodeTaggedCommand } from "../service/command_header.ts";
import { assertNever } from "../util/assert.ts";
import type { SessionTag } from "../kv/command.ts";
import { GROUPS_MAX } from "./limits.ts";
import { GID_NONE, replicaListProblem } from "./shard_config.ts";
import { isCount } from "../util/values.ts";

/** The session tag and log time every master command carries. */
export type MasterCommandHeader = SessionTag & { readonly timeMs: number };

/** A change to the configuration, replicated through the shard master's log. */
export type MasterCommand =
  | MasterCommandHeader & {
    readonly type: "join";
    /** The new groups: gid → replica ids, in the order the group's clients should try them. */
    readonly groups: readonly (readonly [gid: number, replicas: readonly string[]])[];
  }
  | MasterCommandHeader & { readonly type: "leave"; readonly gids: readonly number[] }
  | MasterCommandHeader & { readonly type: "move"; readonly shard: number; readonly gid: number };

/** Why a command was refused; a refused command creates no config. */
export type MasterErrorCode =
  | "groupExists"
  | "unknownGroup"
  | "lastGroup"
  | "badShard"
  | "badGroup"
  | "duplicateGroup"
  | "tooManyGroups"
  | "staleRequest"
  | "tooManySessions";

/** A refusal: normal operation, reported to the client (STYLE.md #3). */
export interface MasterError {
  readonly code: MasterErrorCode;
  readonly message: string;
}

/** The reply to an applied command: the number of the config it created, or why not. */
export type MasterReply =
  | { readonly ok: true; readonly num: number }
  | { readonly ok: false; readonly error: MasterError };

/** The numeric tag of each command kind on the wire. */
export const MASTER_COMMAND_TAG = { join: 1, leave: 2, move: 3 } as const satisfies Record<
  MasterCommand["type"],
  number
>;

/** A refusal reply. */
export function refuse(code: MasterErrorCode, message: string): MasterReply {
  return { ok: false, error: { code, message } };
}

/** Encodes a command for a Raft entry. */
export function encodeMasterCommand(command: MasterCommand): Uint8Array {
  const header = [MASTER_COMMAND_TAG[command.type], command.clientId, command.seq, command.timeMs];
  switch (command.type) {
    case "join":
      return encode([...header, command.groups.map(([gid, replicas]) => [gid, [...replicas]])]);
    case "leave":
      return encode([...header, [...command.gids]]);
    case "move":
      return encode([...header, command.shard, command.gid]);
    default:
      return assertNever(command, "shard master command");
  }
}

/** Decodes a command, or explains why the bytes are not one. Never throws. */
export function decodeMasterCommand(
  bytes: Uint8Array,
): { ok: true; command: MasterCommand } | { ok: false; reason: string } {
  const decoded = decodeTaggedCommand(bytes, "shard master command");
  if (!decoded.ok) return decoded;
  const { tag, header, rest } = decoded.command;
  const [first, second] = rest;
  const length = rest.length + 4;
  switch (tag) {
    case MASTER_COMMAND_TAG.join: {
      if (length !== 5) return { ok: false, reason: "join takes one list of groups" };
      const groups = decodeGroups(first);
      if (typeof groups === "string") return { ok: false, reason: groups };
      return { ok: true, command: { ...header, type: "join", groups } };
    }
    case MASTER_COMMAND_TAG.leave:
      if (length !== 5) return { ok: false, reason: "leave takes one list of gids" };
      if (!Array.isArray(first) || !first.every(isCount)) {
        return { ok: false, reason: "leave's gids must be non-negative safe integers" };
      }
      return { ok: true, command: { ...header, type: "leave", gids: first } };
    case MASTER_COMMAND_TAG.move:
      if (length !== 6 || !isCount(first) || !isCount(second)) {
        return { ok: false, reason: "move takes a shard and a gid, non-negative safe integers" };
      }
      return { ok: true, command: { ...header, type: "move", shard: first, gid: second } };
    default:
      return { ok: false, reason: `unknown shard master command tag ${String(tag)}` };
  }
}

/** Join's groups, type-checked, or why not. */
function decodeGroups(value: unknown): [number, string[]][] | string {
  if (!Array.isArray(value)) return "join's groups must be an array";
  const groups: [number, string[]][] = [];
  for (const entry of value as unknown[]) {
    if (!Array.isArray(entry) || entry.length !== 2) return "a joined group is [gid, replicas]";
    const [gid, replicas] = entry as unknown[];
    if (!isCount(gid)) return "a joined gid must be a non-negative safe integer";
    if (!Array.isArray(replicas) || !replicas.every((id) => typeof id === "string")) {
      return `group ${gid}'s replica ids must be strings`;
    }
    groups.push([gid, replicas as string[]]);
  }
  return groups;
}

/**
 * What is wrong with a command on its own, whatever the configuration: gids that cannot
 * exist, repeated gids, replica lists out of limits, a shard out of range. A server may call
 * it before proposing; the state machine calls it again at apply. Null when nothing is.
 */
export function commandProblem(command: MasterCommand, shardCount: number): MasterError | null {
  switch (command.type) {
    case "join": {
      if (command.groups.length === 0) return error("badGroup", "a join names no group");
      if (command.groups.length > GROUPS_MAX) {
        return error("tooManyGroups", `a join of ${command.groups.length} groups is too many`);
      }
      const gidProblem = gidListProblem(command.groups.map(([gid]) => gid), "join");
      if (gidProblem !== null) return gidProblem;
      for (const [gid, replicas] of command.groups) {
        const problem = replicaListProblem(replicas);
        if (problem !== null) return error("badGroup", `Cannot join group ${gid}: ${problem}`);
      }
      return null;
    }
    case "leave":
      if (command.gids.length === 0) return error("badGroup", "a leave names no group");
      return gidListProblem(command.gids, "leave");
    case "move":
      if (!Number.isSafeInteger(command.shard) || command.shard < 0) {
        return error("badShard", `Cannot move shard ${command.shard}: not a shard number`);
      }
      if (command.shard >= shardCount) {
        return error(
          "badShard",
          `Cannot move shard ${command.shard}: the cluster has shards 0..${shardCount - 1}`,
        );
      }
      if (!isGid(command.gid)) {
        return error("badGroup", `Cannot move to gid ${command.gid}: gids are positive integers`);
      }
      return null;
    default:
      return assertNever(command, "shard master command");
  }
}

function gidListProblem(gids: readonly number[], verb: "join" | "leave"): MasterError | null {
  const seen = new Set<number>();
  for (const gid of gids) {
    if (!isGid(gid)) {
      return error("badGroup", `Cannot ${verb} gid ${gid}: gids are positive integers`);
    }
    if (seen.has(gid)) {
      return error("duplicateGroup", `Cannot ${verb}: gid ${gid} is named twice`);
    }
    seen.add(gid);
  }
  return null;
}

function error(code: MasterErrorCode, message: string): MasterError {
  return { code, message };
}

function isGid(value: number): boolean {
  return Number.isSafeInteger(value) && value > GID_NONE;
}
