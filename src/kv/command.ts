/**
 * KV commands as they travel in Raft entries, and their replies. Encoded as msgpack arrays
 * with a numeric tag (compact: a put of a 16-byte key and 100-byte value costs ~140 bytes).
 * Decoding validates every field; a bad entry is a bug (only leaders write entries, after
 * validating the client's request), so it fails an assertion rather than being skipped.
 */

import { encode } from "@msgpack/msgpack";
import { decodeTaggedCommand } from "../service/command_header.ts";
import { assertNever } from "../util/assert.ts";
import { KEY_BYTES_MAX, VALUE_BYTES_MAX } from "./limits.ts";

/** Who sent a write, for exactly-once (Raft thesis §6.3): a client id and its sequence number. */
export interface SessionTag {
  readonly clientId: number;
  readonly seq: number;
}

/** A write, replicated through the log. `timeMs` is the leader's clock when proposed (log time). */
export type KvCommand =
  | SessionTag & {
    readonly type: "put";
    readonly key: string;
    readonly value: string;
    readonly timeMs: number;
  }
  | SessionTag & {
    readonly type: "append";
    readonly key: string;
    readonly value: string;
    readonly timeMs: number;
  }
  | SessionTag & { readonly type: "delete"; readonly key: string; readonly timeMs: number };

/** Why a request was refused: every one is normal operation, reported to the client. */
export type KvError =
  | { readonly code: "tooManySessions"; readonly sessions: number }
  | { readonly code: "staleRequest"; readonly seq: number; readonly lastSeq: number }
  | { readonly code: "keyTooLarge"; readonly bytes: number; readonly maxBytes: number }
  | { readonly code: "valueTooLarge"; readonly bytes: number; readonly maxBytes: number };

/** The reply to an applied write. */
export type KvReply = { readonly ok: true } | { readonly ok: false; readonly error: KvError };

const TAG = { put: 1, append: 2, delete: 3 } as const satisfies Record<KvCommand["type"], number>;

/** Encodes a command for a Raft entry. */
export function encodeCommand(command: KvCommand): Uint8Array {
  switch (command.type) {
    case "put":
    case "append":
      return encode([
        TAG[command.type],
        command.clientId,
        command.seq,
        command.timeMs,
        command.key,
        command.value,
      ]);
    case "delete":
      return encode([TAG.delete, command.clientId, command.seq, command.timeMs, command.key]);
    default:
      return assertNever(command, "KV command");
  }
}

/** Decodes a command, or explains why the bytes are not one. */
export function decodeCommand(
  bytes: Uint8Array,
): { ok: true; command: KvCommand } | { ok: false; reason: string } {
  const decoded = decodeTaggedCommand(bytes, "command");
  if (!decoded.ok) return decoded;
  const { tag, header, rest } = decoded.command;
  const [key, payload] = rest;
  const length = rest.length + 4;
  if (typeof key !== "string") return { ok: false, reason: "key must be a string" };
  const base = { ...header, key };
  switch (tag) {
    case TAG.put:
    case TAG.append:
      if (length !== 6 || typeof payload !== "string") {
        return { ok: false, reason: "value must be a string" };
      }
      return {
        ok: true,
        command: { ...base, type: tag === TAG.put ? "put" : "append", value: payload },
      };
    case TAG.delete:
      if (length !== 5) return { ok: false, reason: "delete takes no value" };
      return { ok: true, command: { ...base, type: "delete" } };
    default:
      return { ok: false, reason: `unknown command tag ${String(tag)}` };
  }
}

const encoder = new TextEncoder();

/** Checks a request's key and value sizes before anything is proposed. */
export function checkSizes(key: string, value: string | null): KvError | null {
  const keyBytes = encoder.encode(key).byteLength;
  if (keyBytes > KEY_BYTES_MAX) {
    return { code: "keyTooLarge", bytes: keyBytes, maxBytes: KEY_BYTES_MAX };
  }
  if (value !== null) {
    const valueBytes = encoder.encode(value).byteLength;
    if (valueBytes > VALUE_BYTES_MAX) {
      return { code: "valueTooLarge", bytes: valueBytes, maxBytes: VALUE_BYTES_MAX };
    }
  }
  return null;
}
