/**
 * Limits of a replica group's shard state machine (STYLE.md #5). Relations between them and
 * the Raft and KV limits are asserted at load time.
 *
 * A migrating shard travels in parts of about SHARD_PART_BYTES_TARGET, one installShard
 * entry each, so a shard of any size moves without a Raft entry over ENTRY_BYTES_MAX: a part
 * holds the target's worth of rows plus at most one more row (a 4 KiB key and a 4 MiB stored
 * value; rows are counted in UTF-16 units, at most 3 bytes of UTF-8 each), and part 0 carries
 * the sessions too.
 */

import { assert } from "../util/assert.ts";
import { ENTRY_BYTES_MAX } from "../raft/core/limits.ts";
import { CLIENT_SESSIONS_MAX, KEY_BYTES_MAX, STORED_VALUE_BYTES_MAX } from "../kv/limits.ts";

/** Bytes an installShard entry spends besides the payload: tag, config num, shard, bin header. */
export const INSTALL_HEADER_BYTES_MAX = 32;

/** Largest encoded shard (data + sessions) one installShard command may carry. */
export const SHARD_PAYLOAD_BYTES_MAX = ENTRY_BYTES_MAX - INSTALL_HEADER_BYTES_MAX;

/** A shard part closes once its rows reach this many bytes (estimated from UTF-16 lengths). */
export const SHARD_PART_BYTES_TARGET = 512 * 1024;

/** Most parts one shard may travel in (a sanity bound for decoding: 1 TiB of shard). */
export const SHARD_PARTS_MAX = 1024 * 1024;

/** Most sessions a migrated shard may carry: the same bound as a shard's own table. */
export const PAYLOAD_SESSIONS_MAX = CLIENT_SESSIONS_MAX;

/** Longest key a migrated shard may hold (the KV layer never stores a longer one). */
export const PAYLOAD_KEY_BYTES_MAX = KEY_BYTES_MAX;

/** Longest value a migrated shard may hold (appends may grow a value up to this). */
export const PAYLOAD_VALUE_BYTES_MAX = STORED_VALUE_BYTES_MAX;

assert(SHARD_PAYLOAD_BYTES_MAX > 0, "a shard payload must fit in a Raft entry");
assert(
  SHARD_PAYLOAD_BYTES_MAX + INSTALL_HEADER_BYTES_MAX <= ENTRY_BYTES_MAX,
  "an installShard command must fit in one Raft entry",
);
assert(PAYLOAD_SESSIONS_MAX >= 1, "a migrated shard may carry sessions");
assert(
  // Rows are counted in UTF-16 units (at most 3 UTF-8 bytes each); the row that closes a part
  // is bounded in bytes by the KV limits; a session row is at most about 96 bytes.
  3 * SHARD_PART_BYTES_TARGET + KEY_BYTES_MAX + STORED_VALUE_BYTES_MAX + 64 +
      PAYLOAD_SESSIONS_MAX * 96 <= SHARD_PAYLOAD_BYTES_MAX,
  "a shard part (its rows, one more row, and every session) fits in one installShard entry",
);
