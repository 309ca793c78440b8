/**
 * Start-up: rebuild the storage's state from a data directory, repairing only what a crash
 * can explain and refusing everything else.
 *
 * In order: delete snapshot temp files; check that segment sequences are consecutive; scan
 * every segment (record_scan.ts) and cut a torn tail off the last one, or delete the last one
 * if not even its header survived; replay the records through {@link LogState}, checking that
 * each segment header agrees with the log before it; load the snapshot the WAL names; delete
 * snapshot files the WAL does not name (older ones already superseded, newer ones from a
 * write that was never acknowledged) and segments that hold nothing live (a crash between a
 * snapshot and the clean-up it allows).
 */

import { join } from "node:path";
import type { Logger } from "../../util/logger.ts";
import type { Snapshot } from "../core/types.ts";
import { listDataDirectory, type SegmentFile } from "./data_dir.ts";
import { isNotFound, syncDirectory } from "./file_sync.ts";
import { LogState } from "./log_state.ts";
import { encodeRecord, type SegmentHeader } from "./record_codec.ts";
import { judgeScan, scanSegment } from "./record_scan.ts";
import { ActiveSegment } from "./segment.ts";
import { readSnapshotFile, snapshotFileName } from "./snapshot_file.ts";
import { ioError, StorageError } from "./storage_error.ts";
import { asIndex, EMPTY_PERSISTED_STATE } from "../core/types.ts";

/** A segment that stays in the WAL. */
export interface LiveSegment {
  readonly sequence: number;
  readonly name: string;
}

/** Everything the storage runs on after start-up. */
export interface Recovered {
  readonly state: LogState;
  readonly snapshot: Snapshot | null;
  /** Every segment, oldest first; the last one is `active`. */
  readonly segments: LiveSegment[];
  readonly active: ActiveSegment;
  /** True when the active segment holds a batch record (not just its header). */
  readonly activeHasBatches: boolean;
}

/** Rebuilds the state of the data directory `dir` (locked by the caller). */
export async function recover(dir: string, fsync: boolean, logger: Logger): Promise<Recovered> {
  const listing = await listDataDirectory(dir);
  for (const temp of listing.temps) {
    logger.info("removing a snapshot temp file left by a crash", { file: join(dir, temp) });
    await removeFile(dir, temp);
  }
  for (const other of listing.others) {
    logger.info("ignoring an unknown file", { file: join(dir, other) });
  }
  checkConsecutive(dir, listing.segments);
  const replay = await replaySegments(dir, listing.segments, fsync, logger);
  if (replay === null) {
    if (listing.snapshots.length > 0) {
      const file = join(dir, listing.snapshots[0]!.name);
      throw new StorageError("corrupt", `${dir} holds snapshot ${file} but no WAL segment`, {
        file,
      });
    }
    return await createFirstSegment(dir, fsync);
  }
  const { state, segments } = replay;
  const end = state.problemAtEnd();
  if (end !== null) {
    const file = join(dir, segments[0]!.name);
    throw new StorageError("corrupt", `WAL starting at ${file} is incomplete: ${end}`, { file });
  }
  const snapshot = state.snapshot === null ? null : await readSnapshotFile(dir, state.snapshot);
  const current = state.snapshot === null ? null : snapshotFileName(state.snapshot);
  for (const file of listing.snapshots) {
    if (file.name === current) continue;
    const why = state.snapshot !== null && file.meta.index < state.snapshot.index
      ? "superseded by a newer snapshot"
      : "from a write that was never acknowledged";
    logger.info(`removing snapshot file ${why}`, { file: join(dir, file.name) });
    await removeFile(dir, file.name);
  }
  const last = segments.at(-1)!;
  const active = await ActiveSegment.openForAppend(
    dir,
    last.sequence,
    last.name,
    replay.activeSize,
  );
  const recovered = {
    state,
    snapshot,
    segments,
    active,
    activeHasBatches: replay.activeHasBatches,
  };
  try {
    await removeObsoleteSegments(dir, segments, state, fsync, logger);
  } catch (error) {
    active.close();
    throw error;
  }
  return recovered;
}

/** Deletes, oldest first, the segments before the oldest one that holds a live entry. */
export async function removeObsoleteSegments(
  dir: string,
  segments: LiveSegment[],
  state: LogState,
  fsync: boolean,
  logger: Logger,
): Promise<void> {
  const active = segments.at(-1)!.sequence;
  const keepFrom = Math.min(state.oldestLiveSequence() ?? active, active);
  while (segments.length > 1 && segments[0]!.sequence < keepFrom) {
    const segment = segments[0]!;
    logger.debug("removing a WAL segment with no live entries", { file: join(dir, segment.name) });
    await removeFile(dir, segment.name);
    segments.shift();
    // One directory sync per removal keeps the removed segments a prefix even after a power loss.
    if (fsync) await syncDirectory(dir);
  }
}

async function createFirstSegment(dir: string, fsync: boolean): Promise<Recovered> {
  const header: SegmentHeader = {
    kind: "segmentHeader",
    sequence: 1,
    firstIndex: asIndex(1),
    hardState: EMPTY_PERSISTED_STATE.hardState,
    snapshot: null,
  };
  const { segment } = await ActiveSegment.create(
    dir,
    1,
    header.firstIndex,
    encodeRecord(header),
    fsync,
  );
  return {
    state: new LogState(header),
    snapshot: null,
    segments: [{ sequence: 1, name: segment.name }],
    active: segment,
    activeHasBatches: false,
  };
}

function checkConsecutive(dir: string, segments: readonly SegmentFile[]): void {
  for (let k = 1; k < segments.length; k++) {
    const [previous, segment] = [segments[k - 1]!, segments[k]!];
    if (segment.sequence !== previous.sequence + 1) {
      const file = join(dir, segment.name);
      throw new StorageError(
        "corrupt",
        `WAL segment ${file} follows ${previous.name}: the segments between them are missing`,
        { file },
      );
    }
  }
}

interface Replay {
  state: LogState;
  segments: LiveSegment[];
  activeSize: number;
  activeHasBatches: boolean;
}

async function replaySegments(
  dir: string,
  files: readonly SegmentFile[],
  fsync: boolean,
  logger: Logger,
): Promise<Replay | null> {
  let state: LogState | null = null;
  const segments: LiveSegment[] = [];
  let activeSize = 0;
  let activeHasBatches = false;
  for (const [k, segment] of files.entries()) {
    const path = join(dir, segment.name);
    const isLast = k === files.length - 1;
    const corrupt = (offset: number, why: string) =>
      new StorageError("corrupt", `WAL segment ${path} is corrupt at offset ${offset}: ${why}`, {
        file: path,
        offset,
      });
    const bytes = await readFile(path);
    const scan = scanSegment(bytes);
    const verdict = judgeScan(scan, isLast);
    const damage = scan.damage;
    if (verdict === "corrupt" && damage !== null) {
      const after = damage.nextValidOffset === null
        ? isLast ? "" : " (not the last segment, so not a torn write)"
        : ` (a valid record follows at offset ${damage.nextValidOffset}, so not a torn write)`;
      throw corrupt(damage.offset, damage.reason + after);
    }
    if (isLast && scan.records.length === 0) {
      // The crash came while the segment was being created (it may even be empty): nothing in
      // it was acknowledged. Only the very first segment may be the only one, since the
      // segment before the active one is never deleted.
      logger.warn("WAL segment was torn while being created; removing it", {
        file: path,
        bytes: bytes.length,
      });
      if (k === 0 && segment.sequence !== 1) throw corrupt(0, "the only segment has no header");
      await removeFile(dir, segment.name);
      if (fsync) await syncDirectory(dir);
      break;
    }
    if (verdict === "tornTail" && damage !== null) {
      logger.warn("WAL has a torn tail from a crash; truncating it", {
        file: path,
        offset: damage.offset,
        bytes: bytes.length - damage.offset,
        reason: damage.reason,
      });
      await truncateFile(path, damage.offset, fsync);
    }
    const [first, ...rest] = scan.records;
    if (first === undefined) throw corrupt(0, "the segment is empty");
    const header = first.record;
    if (header.kind !== "segmentHeader") {
      throw corrupt(0, "the segment does not start with a header");
    }
    if (header.sequence !== segment.sequence || header.firstIndex !== segment.firstIndex) {
      throw corrupt(0, `its header says segment ${header.sequence} at ${header.firstIndex}`);
    }
    if (state === null) {
      state = new LogState(header);
    } else {
      const problem = state.problemWithHeader(header);
      if (problem !== null) throw corrupt(0, problem);
    }
    for (const { offset, record } of rest) {
      if (record.kind !== "batch") throw corrupt(offset, "a segment header inside the segment");
      const problem = state.problemWith(record);
      if (problem !== null) throw corrupt(offset, problem);
      state.apply(record, segment.sequence);
    }
    segments.push({ sequence: segment.sequence, name: segment.name });
    activeSize = scan.goodEnd;
    activeHasBatches = rest.length > 0;
  }
  if (state === null) return null; // No segment, or only a first one torn while created.
  return { state, segments, activeSize, activeHasBatches };
}

async function readFile(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (error) {
    throw ioError("read WAL segment", path, error);
  }
}

async function truncateFile(path: string, size: number, fsync: boolean): Promise<void> {
  try {
    const file = await Deno.open(path, { write: true });
    try {
      await file.truncate(size);
      if (fsync) await file.syncData();
    } finally {
      file.close();
    }
  } catch (error) {
    throw ioError("truncate torn WAL tail of", path, error);
  }
}

async function removeFile(dir: string, name: string): Promise<void> {
  const path = join(dir, name);
  try {
    await Deno.remove(path);
  } catch (error) {
    if (!isNotFound(error)) throw ioError("remove", path, error);
  }
}
