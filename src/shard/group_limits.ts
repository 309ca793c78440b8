/**
 * Limits of a replica group's shard state machine (STYLE.md #5). Relations between them and
 * the Raft and KV limits are asserted at load time.
 *
 * Known debt: a migrating shard travels in ONE installShard entry, so a shard's exported
 * data and sessions may not exceed SHARD_PAYLOAD_BYTES_MAX (just under one Raft entry). A
 * shard that grows past it cannot move; the exporting shell must report that instead of
 * proposing. Chunked installs (several entries per shard) would lift it.
 */

import { assert } from "../util/assert.ts";
import { ENTRY_BYTES_MAX } from "../raft/core/limits.ts";
import { CLIENT_SESSIONS_MAX, KEY_BYTES_MAX, STORED_VALUE_BYTES_MAX } from "../kv/limits.ts";

/** Bytes an installShard entry spends besides the payload: tag, config num, shard, bin header. */
export const INSTALL_HEADER_BYTES_MAX = 32;

/** Largest encoded shard (data + sessions) one installShard command may carry. */
export const SHARD_PAYLOAD_BYTES_MAX = ENTRY_BYTES_MAX - INSTALL_HEADER_BYTES_MAX;

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
