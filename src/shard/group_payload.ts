/**
 * One shard's data and dedup sessions as they travel from the group that lost the shard to
 * the group that gained it (classic-lab-tests.md §3.2, "dedup across migration": the last
 * sequence per client moves with the data, so a write applied before the move and retried
 * after it is answered from the session, never applied twice).
 *
 * The layout is kv_state.ts's encodeShard, as msgpack:
 *   [[[key, value]...], [[clientId, seq, reply, lastUsedMs]...]]   reply: 0 (ok) or a KvError
 * Key and session order is the source's map order, so every replica of the new owner builds
 * the same maps and takes byte-identical snapshots.
 *
 * The bytes come from another group over the network, so decoding validates everything and
 * never throws: a bad payload is refused with a reason, identically on every replica.
 */

import { decode, encode } from "@msgpack/msgpack";
import type { KvError } from "../kv/command.ts";
import { decodeShard, encodeShard, ShardData } from "../kv/kv_state.ts";
import {
  PAYLOAD_KEY_BYTES_MAX,
  PAYLOAD_SESSIONS_MAX,
  PAYLOAD_VALUE_BYTES_MAX,
  SHARD_PART_BYTES_TARGET,
  SHARD_PAYLOAD_BYTES_MAX,
} from "./group_limits.ts";
import { errorMessage, isCount } from "../util/values.ts";

/** A decoded payload, or why the bytes are not one. */
export type PayloadResult =
  | { readonly ok: true; readonly shard: ShardData }
  | { readonly ok: false; readonly reason: string };

/**
 * The numeric fields of each cached error reply. A session caches the reply of the write it
 * applied; a table keyed by every code makes a new KvError fail to compile until it is known.
 */
const KV_ERROR_FIELDS = {
  tooManySessions: ["sessions"],
  staleRequest: ["seq", "lastSeq"],
  keyTooLarge: ["bytes", "maxBytes"],
  valueTooLarge: ["bytes", "maxBytes"],
} as const satisfies Record<KvError["code"], readonly string[]>;

const encoder = new TextEncoder();

/**
 * Splits a shard into parts for its next owner, each a payload of the layout above: rows in
 * map order, cut once a part reaches `targetBytes`; part 0 also carries every session, the
 * others none. Every replica of the old owner holds the same maps in the same order, so any
 * of them cuts the same parts. An empty shard is one part.
 */
export function encodeShardParts(
  shard: ShardData,
  targetBytes = SHARD_PART_BYTES_TARGET,
): Uint8Array[] {
  const [dataRows, sessionRows] = encodeShard(shard);
  const parts: Uint8Array[] = [];
  let rows: unknown[] = [];
  let bytes = 0;
  let sessions: unknown[] = sessionRows;
  for (const row of dataRows) {
    const [key, value] = row as [string, string];
    if (rows.length > 0 && bytes >= targetBytes) {
      parts.push(encode([rows, sessions]));
      rows = [];
      bytes = 0;
      sessions = [];
    }
    rows.push(row);
    bytes += key.length + value.length + 8;
  }
  parts.push(encode([rows, sessions]));
  return parts;
}

/** Encodes a shard's data and sessions as one payload (the layout above). */
export function encodeShardPayload(shard: ShardData): Uint8Array {
  return encode(encodeShard(shard));
}

/** Decodes and validates {@link encodeShardPayload}'s bytes. Never throws. */
export function decodeShardPayload(bytes: Uint8Array): PayloadResult {
  if (bytes.byteLength > SHARD_PAYLOAD_BYTES_MAX) {
    return fail(`a payload of ${bytes.byteLength} bytes is over ${SHARD_PAYLOAD_BYTES_MAX}`);
  }
  let value: unknown;
  try {
    value = decode(bytes);
  } catch (error) {
    return fail(`not msgpack: ${errorMessage(error)}`);
  }
  return shardFromValue(value);
}

/** Validates an already-decoded payload value (also used by the group snapshot). */
export function shardFromValue(value: unknown): PayloadResult {
  if (!Array.isArray(value) || value.length !== 2) return fail("a payload is [data, sessions]");
  const [data, sessions] = value as unknown[];
  const dataProblem = dataRowsProblem(data);
  if (dataProblem !== null) return fail(dataProblem);
  const sessionProblem = sessionRowsProblem(sessions);
  if (sessionProblem !== null) return fail(sessionProblem);
  // Both lists are checked row by row above, so decodeShard's casts hold.
  return { ok: true, shard: decodeShard(data, sessions) };
}

/** An empty shard (a shard gained from gid 0 starts with nothing). */
export function emptyShard(): ShardData {
  return new ShardData();
}

function dataRowsProblem(data: unknown): string | null {
  if (!Array.isArray(data)) return "a payload's data is an array of [key, value]";
  const seen = new Set<string>();
  for (const row of data as unknown[]) {
    if (!Array.isArray(row) || row.length !== 2) return "a data row is [key, value]";
    const [key, value] = row as unknown[];
    if (typeof key !== "string" || typeof value !== "string") {
      return "a data row's key and value are strings";
    }
    if (encoder.encode(key).byteLength > PAYLOAD_KEY_BYTES_MAX) {
      return `a key is longer than ${PAYLOAD_KEY_BYTES_MAX} bytes`;
    }
    if (encoder.encode(value).byteLength > PAYLOAD_VALUE_BYTES_MAX) {
      return `a value is longer than ${PAYLOAD_VALUE_BYTES_MAX} bytes`;
    }
    if (seen.has(key)) return `key ${JSON.stringify(key.slice(0, 64))} appears twice`;
    seen.add(key);
  }
  return null;
}

function sessionRowsProblem(sessions: unknown): string | null {
  if (!Array.isArray(sessions)) return "a payload's sessions are an array";
  if (sessions.length > PAYLOAD_SESSIONS_MAX) {
    return `${sessions.length} sessions is more than ${PAYLOAD_SESSIONS_MAX}`;
  }
  const seen = new Set<number>();
  for (const row of sessions as unknown[]) {
    if (!Array.isArray(row) || row.length !== 4) {
      return "a session row is [clientId, seq, reply, lastUsedMs]";
    }
    const [clientId, seq, reply, lastUsedMs] = row as unknown[];
    if (!isCount(clientId) || !isCount(seq) || !isCount(lastUsedMs)) {
      return "a session's client id, sequence and time are non-negative safe integers";
    }
    if (reply !== 0 && !isKvError(reply)) return "a session's reply is 0 (ok) or a KV error";
    if (seen.has(clientId)) return `client ${clientId} has two sessions`;
    seen.add(clientId);
  }
  return null;
}

/** True for exactly the shape of a KvError: a known code and its numeric fields, nothing else. */
function isKvError(value: unknown): value is KvError {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  if (value instanceof Uint8Array) return false;
  const record = value as Record<string, unknown>;
  const code = record.code;
  if (typeof code !== "string" || !Object.hasOwn(KV_ERROR_FIELDS, code)) return false;
  const fields: readonly string[] = KV_ERROR_FIELDS[code as KvError["code"]];
  if (Object.keys(record).length !== fields.length + 1) return false;
  return fields.every((field) => isCount(record[field]));
}

function fail(reason: string): PayloadResult {
  return { ok: false, reason };
}
