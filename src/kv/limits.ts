/** Limits of the KV service (STYLE.md #5): checked on every request before anything is written. */

import { assert } from "../util/assert.ts";
import { ENTRY_BYTES_MAX } from "../raft/core/limits.ts";

/** Longest key, in UTF-8 bytes. */
export const KEY_BYTES_MAX = 4096;
/** Longest value a put or append may carry, in UTF-8 bytes. */
export const VALUE_BYTES_MAX = 1024 * 1024;
/**
 * Longest value a key may grow to by appends. Bounded well below a Raft entry so that a shard
 * part holding such a value still fits in one entry when the shard migrates (group_limits.ts).
 */
export const STORED_VALUE_BYTES_MAX = 4 * 1024 * 1024;
/** Most client sessions one shard remembers; past it the least recently used is dropped. */
export const CLIENT_SESSIONS_MAX = 10_000;
/** A session idle this long in log time (leader timestamps in the log) expires. */
export const SESSION_IDLE_MS_MAX = 10 * 60 * 1000;
/**
 * A full table evicts its least recently used session only if it has been idle this long,
 * far longer than any clerk retries one write; otherwise new clients are refused for now.
 */
export const SESSION_EVICT_IDLE_MS_MIN = 60 * 1000;
/** Most shards a cluster may have. */
export const SHARDS_MAX = 1024;

// A command carries a key, a value and a small header; it must fit in one Raft entry.
assert(
  KEY_BYTES_MAX + VALUE_BYTES_MAX + 64 <= ENTRY_BYTES_MAX,
  "a KV command must fit in one Raft entry",
);
assert(VALUE_BYTES_MAX <= STORED_VALUE_BYTES_MAX, "one value must fit in a stored value");
assert(
  SESSION_EVICT_IDLE_MS_MIN < SESSION_IDLE_MS_MAX,
  "eviction must not wait longer than expiry",
);
