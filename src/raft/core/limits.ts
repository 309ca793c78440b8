/**
 * Hard limits of the Raft core (STYLE.md #5). Configuration may choose smaller values;
 * nothing may choose larger ones. Relations between limits are asserted at load time.
 */

import { assert } from "../../util/assert.ts";

/** Most voters one group may have. Seven tolerates three failures; more only adds latency. */
export const VOTERS_MAX = 9;
/** Most entries one append message carries. */
export const APPEND_ENTRIES_MAX = 4096;
/** Most entry bytes one append message carries. */
export const APPEND_BYTES_MAX = 16 * 1024 * 1024;
/** Most append messages in flight to one follower (the pipelining window). */
export const INFLIGHT_APPENDS_MAX = 1024;
/** Most entry bytes in flight to one follower. */
export const INFLIGHT_BYTES_MAX = 256 * 1024 * 1024;
/** Largest single entry a proposal may create. */
export const ENTRY_BYTES_MAX = 8 * 1024 * 1024;
/** Largest snapshot chunk. */
export const SNAPSHOT_CHUNK_BYTES_MAX = 16 * 1024 * 1024;
/** Largest whole snapshot a follower accepts (it allocates the buffer once). */
export const SNAPSHOT_BYTES_MAX = 2 * 1024 * 1024 * 1024 - 1;
/** Most pending ReadIndex requests a leader holds. */
export const PENDING_READS_MAX = 65_536;

assert(APPEND_BYTES_MAX <= INFLIGHT_BYTES_MAX, "one append must fit in the inflight window");
assert(ENTRY_BYTES_MAX <= APPEND_BYTES_MAX, "one entry must fit in one append");
assert(SNAPSHOT_CHUNK_BYTES_MAX <= SNAPSHOT_BYTES_MAX, "a chunk must fit in a snapshot");
