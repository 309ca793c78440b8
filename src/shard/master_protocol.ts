/**
 * The shard master's client protocol: requests a ShardMasterClerk sends over RPC (or the
 * admin endpoint builds) and the responses. Plain msgpack maps; every request is validated
 * into the typed union before it is used.
 */

import type { NotLeader } from "../raft/core/types.ts";
import type { MasterError } from "./master_command.ts";
import { configFromJson, type ShardConfigJson } from "./shard_config.ts";

/** A request. Changes carry a session tag (client id, sequence) for exactly-once. */
export type MasterRequest =
  | {
    readonly type: "join";
    readonly groups: readonly (readonly [number, readonly string[]])[];
    readonly clientId: number;
    readonly seq: number;
  }
  | {
    readonly type: "leave";
    readonly gids: readonly number[];
    readonly clientId: number;
    readonly seq: number;
  }
  | {
    readonly type: "move";
    readonly shard: number;
    readonly gid: number;
    readonly clientId: number;
    readonly seq: number;
  }
  /** Config `num`; -1 (or any number past the latest) is the latest. */
  | { readonly type: "query"; readonly num: number };

/** Every way a request can fail. */
export type MasterResponseError =
  | MasterError
  | NotLeader
  | { readonly code: "busy"; readonly message: string }
  | { readonly code: "badRequest"; readonly message: string };

/** A change answers the config number it created; a query answers a config. */
export type MasterResponse =
  | { readonly ok: true; readonly num: number; readonly config?: ShardConfigJson }
  | { readonly ok: false; readonly error: MasterResponseError };

/** Validates an RPC body into a request (types only; the state machine judges the rest). */
export function parseMasterRequest(
  body: unknown,
): { ok: true; request: MasterRequest } | { ok: false; message: string } {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return { ok: false, message: "request must be a map" };
  }
  const fields = body as Record<string, unknown>;
  if (fields.type === "query") {
    return isInteger(fields.num)
      ? { ok: true, request: { type: "query", num: fields.num } }
      : { ok: false, message: "num must be an integer" };
  }
  const { clientId, seq } = fields;
  if (!isPositive(clientId) || !isPositive(seq)) {
    return { ok: false, message: "clientId and seq must be positive safe integers" };
  }
  switch (fields.type) {
    case "join": {
      if (!Array.isArray(fields.groups)) {
        return { ok: false, message: "groups must be an array of [gid, [replica ids]]" };
      }
      const groups: [number, string[]][] = [];
      for (const entry of fields.groups as unknown[]) {
        if (
          !Array.isArray(entry) || entry.length !== 2 || !isInteger(entry[0]) ||
          !Array.isArray(entry[1])
        ) {
          return { ok: false, message: "each group must be [gid, [replica ids]]" };
        }
        if (!(entry[1] as unknown[]).every((id) => typeof id === "string")) {
          return { ok: false, message: "replica ids must be strings" };
        }
        groups.push([entry[0], entry[1] as string[]]);
      }
      return { ok: true, request: { type: "join", groups, clientId, seq } };
    }
    case "leave":
      if (!Array.isArray(fields.gids) || !(fields.gids as unknown[]).every(isInteger)) {
        return { ok: false, message: "gids must be an array of integers" };
      }
      return { ok: true, request: { type: "leave", gids: fields.gids as number[], clientId, seq } };
    case "move":
      if (!isInteger(fields.shard) || !isInteger(fields.gid)) {
        return { ok: false, message: "shard and gid must be integers" };
      }
      return {
        ok: true,
        request: { type: "move", shard: fields.shard, gid: fields.gid, clientId, seq },
      };
    default:
      return { ok: false, message: `unknown request type ${JSON.stringify(fields.type)}` };
  }
}

/** Validates a response body; null when it is not one. */
export function parseMasterResponse(body: unknown): MasterResponse | null {
  if (typeof body !== "object" || body === null) return null;
  const fields = body as Record<string, unknown>;
  if (fields.ok === true) {
    if (!isInteger(fields.num)) return null;
    if (fields.config === undefined) return { ok: true, num: fields.num };
    const parsed = configFromJson(fields.config);
    return parsed.ok
      ? { ok: true, num: fields.num, config: fields.config as ShardConfigJson }
      : null;
  }
  if (fields.ok !== false || typeof fields.error !== "object" || fields.error === null) return null;
  const error = fields.error as Record<string, unknown>;
  if (typeof error.code !== "string") return null;
  if (error.code === "notLeader") {
    const hint = error.leaderHint;
    if (hint !== null && !(isInteger(hint) && hint > 0)) return null;
  } else if (typeof error.message !== "string") {
    return null;
  }
  return { ok: false, error: error as never };
}

function isInteger(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value);
}

function isPositive(value: unknown): value is number {
  return isInteger(value) && value > 0;
}
