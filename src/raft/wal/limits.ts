/**
 * Hard limits of the write-ahead log and snapshot files (STYLE.md #5). Every length read
 * from disk is checked against one of these before anything is allocated, so a corrupt
 * length field becomes a "corrupt" error, never an out-of-memory crash.
 */

import { assert } from "../../util/assert.ts";
import { ENTRY_BYTES_MAX, INFLIGHT_BYTES_MAX, SNAPSHOT_BYTES_MAX } from "../core/limits.ts";

const KIB = 1024;
const MIB = 1024 * KIB;
const GIB = 1024 * MIB;

/**
 * Smallest segment the storage accepts. The config asks for at least 64 KiB; the storage
 * itself allows less so that tests can roll segments over after a few records.
 */
export const WAL_SEGMENT_BYTES_MIN = 256;
/** Largest segment (matches the config's `SEGMENT_BYTES_MAX`). */
export const WAL_SEGMENT_BYTES_MAX = GIB;
/**
 * Largest WAL record, i.e. largest single persisted batch (one ready). A batch is one record
 * so that only the last record of the WAL can ever be torn (see record_scan.ts); a follower's
 * batch is bounded by the inflight window of its leader.
 */
export const RECORD_BYTES_MAX = 2 * GIB - 1;
/** Bytes of the record frame: CRC32C (u32) and body length (u32). */
export const RECORD_FRAME_BYTES = 8;
/** Smallest record body: a kind byte and a flags byte. */
export const RECORD_BODY_BYTES_MIN = 2;
/** Most entries one batch record may carry (a decoded count beyond this is corruption). */
export const RECORD_ENTRIES_MAX = 16 * 1024 * 1024;
/** Most bytes a varint may take: 8 × 7 bits cover every safe integer (53 bits). */
export const VARINT_BYTES_MAX = 8;
/** Bytes of the snapshot file header. */
export const SNAPSHOT_HEADER_BYTES = 40;
/** Most segments a data directory may hold at start-up (a sanity bound on the listing). */
export const SEGMENTS_MAX = 1_000_000;
/** Largest entry data the decoder accepts. */
export const WAL_ENTRY_BYTES_MAX = ENTRY_BYTES_MAX;
/** Largest snapshot data a snapshot file may hold. */
export const WAL_SNAPSHOT_BYTES_MAX = SNAPSHOT_BYTES_MAX;

assert(WAL_SEGMENT_BYTES_MIN < WAL_SEGMENT_BYTES_MAX, "segment bounds must be ordered");
assert(
  INFLIGHT_BYTES_MAX * 2 <= RECORD_BYTES_MAX,
  "a batch of a whole inflight window (plus framing) must fit in one record",
);
assert(ENTRY_BYTES_MAX < RECORD_BYTES_MAX, "one entry must fit in one record");
assert(RECORD_BYTES_MAX <= 0xffff_ffff, "record length must fit in a u32");
