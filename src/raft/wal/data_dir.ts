/**
 * The layout of a data directory:
 *
 *   LOCK                                        the directory lock (dir_lock.ts)
 *   wal-<sequence:16>-<firstIndex:20>.log       WAL segments, in sequence order
 *   snapshot-<index:20>-<term:20>.snap          snapshots (snapshot_file.ts)
 *   snapshot-….snap.tmp                         a snapshot being written (deleted at start-up)
 *
 * Segments are ordered by a sequence number, not by their first index alone: when a new
 * leader truncates the log back across a segment boundary, a newer segment starts at a lower
 * index than an older one, so an index-only name (`wal-<firstIndex>.log`) would replay the
 * segments in the wrong order. The first index stays in the name for operators.
 */

import { asIndex, type Index, type SnapshotMeta } from "../core/types.ts";
import { LOCK_FILE_NAME } from "./dir_lock.ts";
import { SEGMENTS_MAX } from "./limits.ts";
import { parseSnapshotFileName, TEMP_SUFFIX } from "./snapshot_file.ts";
import { ioError, StorageError } from "./storage_error.ts";

const SEGMENT_PATTERN = /^wal-(\d{16})-(\d{20})\.log$/;

/** A segment file found in the directory. */
export interface SegmentFile {
  readonly sequence: number;
  readonly firstIndex: Index;
  readonly name: string;
}

/** A snapshot file found in the directory. */
export interface SnapshotFile {
  readonly meta: SnapshotMeta;
  readonly name: string;
}

/** What a data directory holds, by kind. */
export interface DirectoryListing {
  /** Sorted by sequence. */
  readonly segments: SegmentFile[];
  /** Sorted by index. */
  readonly snapshots: SnapshotFile[];
  /** Snapshot temp files a crash left behind. */
  readonly temps: string[];
  /** Anything else (left alone, logged). */
  readonly others: string[];
}

/** The file name of segment `sequence` whose first entry would be `firstIndex`. */
export function segmentFileName(sequence: number, firstIndex: number): string {
  return `wal-${String(sequence).padStart(16, "0")}-${String(firstIndex).padStart(20, "0")}.log`;
}

function parseSegmentFileName(name: string): SegmentFile | null {
  const match = SEGMENT_PATTERN.exec(name);
  if (match === null) return null;
  const sequence = Number(match[1]);
  const firstIndex = Number(match[2]);
  if (!Number.isSafeInteger(sequence) || !Number.isSafeInteger(firstIndex)) return null;
  if (sequence < 1 || firstIndex < 1) return null;
  return { sequence, firstIndex: asIndex(firstIndex), name };
}

/** Lists and classifies the files of `dir`. */
export async function listDataDirectory(dir: string): Promise<DirectoryListing> {
  const listing: DirectoryListing = { segments: [], snapshots: [], temps: [], others: [] };
  try {
    for await (const item of Deno.readDir(dir)) {
      if (!item.isFile) {
        listing.others.push(item.name);
        continue;
      }
      const segment = parseSegmentFileName(item.name);
      const snapshot = parseSnapshotFileName(item.name);
      if (segment !== null) listing.segments.push(segment);
      else if (snapshot !== null) listing.snapshots.push({ meta: snapshot, name: item.name });
      else if (item.name.endsWith(TEMP_SUFFIX)) listing.temps.push(item.name);
      else if (item.name !== LOCK_FILE_NAME) listing.others.push(item.name);
      if (listing.segments.length > SEGMENTS_MAX) {
        throw new StorageError("corrupt", `${dir} holds more than ${SEGMENTS_MAX} WAL segments`);
      }
    }
  } catch (error) {
    throw error instanceof StorageError ? error : ioError("list data directory", dir, error);
  }
  listing.segments.sort((a, b) => a.sequence - b.sequence);
  listing.snapshots.sort((a, b) => a.meta.index - b.meta.index || a.meta.term - b.meta.term);
  return listing;
}
