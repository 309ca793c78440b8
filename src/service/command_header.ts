/**
 * The header every replicated command starts with: `[tag, clientId, seq, timeMs, ...]`, the
 * session tag that makes it exactly-once and the leader's clock as log time. The KV and shard
 * master codecs share this decoding; each then reads its own fields from `rest`.
 */

import { decode } from "@msgpack/msgpack";
import { errorMessage, isCount } from "../util/values.ts";

/** The session tag and log time of a command. */
export interface CommandHeader {
  readonly clientId: number;
  readonly seq: number;
  readonly timeMs: number;
}

/** A command whose header decoded, with its tag and the fields after the header. */
export interface TaggedCommand {
  readonly tag: unknown;
  readonly header: CommandHeader;
  readonly rest: readonly unknown[];
}

/**
 * Decodes msgpack bytes into a tag, a validated header and the remaining fields; explains why
 * when the bytes are not a command (`what` names the kind in the reason). Never throws.
 */
export function decodeTaggedCommand(
  bytes: Uint8Array,
  what: string,
): { ok: true; command: TaggedCommand } | { ok: false; reason: string } {
  let value: unknown;
  try {
    value = decode(bytes);
  } catch (error) {
    return {
      ok: false,
      reason: `not msgpack: ${errorMessage(error)}`,
    };
  }
  if (!Array.isArray(value) || value.length < 5) {
    return { ok: false, reason: `not a ${what} array` };
  }
  const [tag, clientId, seq, timeMs, ...rest] = value as unknown[];
  if (!isCount(clientId) || !isCount(seq) || !isCount(timeMs)) {
    return { ok: false, reason: "client id, sequence and time must be non-negative safe integers" };
  }
  return { ok: true, command: { tag, header: { clientId, seq, timeMs }, rest } };
}
