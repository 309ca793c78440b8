/**
 * The durable {@link Storage} of one replica: a segmented write-ahead log plus snapshot
 * files in one locked data directory (layout in data_dir.ts, formats in record_codec.ts and
 * snapshot_file.ts, start-up in recovery.ts).
 *
 * A write makes one batch durable in this order, and calls `done` only at the end:
 *   1. a received snapshot, then a compaction snapshot, each written to a temp file,
 *      fsynced, renamed, directory fsynced (a file alone changes nothing: see 3);
 *   2. a roll to a new segment when the batch would overflow `segmentBytes`, or when it
 *      installs a received snapshot (so every older segment becomes garbage at once);
 *   3. ONE batch record (reset marker, compaction marker, entries, hard state) with one
 *      write and one fdatasync: this is the commit point; the WAL names the current snapshot;
 *   4. clean-up after a new snapshot: older snapshot files, then segments with no live
 *      entry, oldest first. A crash anywhere leaves either the old or the new state, and
 *      start-up finishes the clean-up.
 * Truncation ("entries replace the stored ones from their first index on") is a later record
 * overriding earlier ones, never a rewrite in place.
 *
 * After any I/O error the WAL's tail is unknown, so the storage fails every later write
 * instead of appending after a possibly partial record.
 */

import { assert, AssertionError } from "../../util/assert.ts";
import { type Logger, silentLogger } from "../../util/logger.ts";
import { asIndex, type PersistedState, type Snapshot, type SnapshotMeta } from "../core/types.ts";
import type { PersistBatch, Storage } from "../storage.ts";
import { DirectoryLock } from "./dir_lock.ts";
import { WAL_SEGMENT_BYTES_MAX, WAL_SEGMENT_BYTES_MIN } from "./limits.ts";
import type { BatchChange, LogState } from "./log_state.ts";
import { encodedHardStateBytes, encodeRecord } from "./record_codec.ts";
import { type LiveSegment, recover, removeObsoleteSegments } from "./recovery.ts";
import { ActiveSegment, type AppendResult } from "./segment.ts";
import { snapshotFileName, writeSnapshotFile } from "./snapshot_file.ts";
import { ioError, StorageError } from "./storage_error.ts";
import { isNotFound } from "./file_sync.ts";
import { join } from "node:path";

/** How to open a {@link FileStorage}. */
export interface FileStorageOptions {
  /** The replica's data directory; created if missing, locked while open. */
  readonly dir: string;
  /** A segment rolls over when the next record would take it past this size. */
  readonly segmentBytes: number;
  /** `false` skips every fsync: for tests only, as acknowledged writes die with the OS. */
  readonly fsync: boolean;
  readonly logger?: Logger;
  /** Called after each WAL fdatasync with its latency and the bytes it made durable. */
  readonly onSync?: (latencyMs: number, bytes: number) => void;
}

/** A WAL + snapshot files {@link Storage}; see the module comment for the write protocol. */
export class FileStorage implements Storage {
  readonly #dir: string;
  readonly #segmentBytes: number;
  readonly #fsync: boolean;
  readonly #logger: Logger;
  readonly #onSync: (latencyMs: number, bytes: number) => void;
  readonly #lock: DirectoryLock;
  readonly #state: LogState;
  // Invariant: #snapshot?.meta equals #state.snapshot; #segments ends with #active.
  #snapshot: Snapshot | null;
  readonly #segments: LiveSegment[];
  #active: ActiveSegment;
  #activeHasBatches: boolean;
  #pending: Promise<StorageError | null> | null = null;
  #failure: StorageError | null = null;
  #closed = false;

  private constructor(
    options: FileStorageOptions,
    lock: DirectoryLock,
    logger: Logger,
    recovered: Awaited<ReturnType<typeof recover>>,
  ) {
    this.#dir = options.dir;
    this.#segmentBytes = options.segmentBytes;
    this.#fsync = options.fsync;
    this.#logger = logger;
    this.#onSync = options.onSync ?? (() => {});
    this.#lock = lock;
    this.#state = recovered.state;
    this.#snapshot = recovered.snapshot;
    this.#segments = recovered.segments;
    this.#active = recovered.active;
    this.#activeHasBatches = recovered.activeHasBatches;
    this.invariants();
  }

  /** Creates `options.dir` if needed, locks it and recovers its state (see recovery.ts). */
  static async open(options: FileStorageOptions): Promise<FileStorage> {
    assert(
      Number.isSafeInteger(options.segmentBytes) && options.segmentBytes >= WAL_SEGMENT_BYTES_MIN &&
        options.segmentBytes <= WAL_SEGMENT_BYTES_MAX,
      () =>
        `segmentBytes must be in [${WAL_SEGMENT_BYTES_MIN}, ${WAL_SEGMENT_BYTES_MAX}]: ${options.segmentBytes}`,
    );
    const logger = (options.logger ?? silentLogger).child({
      component: "storage",
      dir: options.dir,
    });
    try {
      await Deno.mkdir(options.dir, { recursive: true });
    } catch (error) {
      throw ioError("create data directory", options.dir, error);
    }
    const lock = await DirectoryLock.acquire(options.dir);
    try {
      const recovered = await recover(options.dir, options.fsync, logger);
      const storage = new FileStorage(options, lock, logger, recovered);
      logger.info("storage opened", {
        segments: recovered.segments.length,
        snapshotIndex: recovered.state.snapshotIndex,
        lastIndex: recovered.state.lastIndex,
      });
      return storage;
    } catch (error) {
      await lock.release();
      throw error;
    }
  }

  load(): PersistedState {
    return {
      hardState: this.#state.hardState,
      snapshot: this.#snapshot,
      entries: [...this.#state.entries],
    };
  }

  write(batch: PersistBatch, done: (error: Error | null) => void): void {
    assert(!this.#closed, "FileStorage: write after close");
    assert(this.#pending === null, "FileStorage: one write at a time");
    const change = this.#changeOf(batch);
    const problem = this.#state.problemWith(change);
    assert(problem === null, () => `FileStorage: cannot persist this batch: ${problem}`);
    const isEmpty = change.reset === null && change.compaction === null &&
      change.entries.length === 0 && change.hardState === null;
    // Encoded here, synchronously, so that a broken limit fails the caller's call at once.
    const record = isEmpty ? null : encodeRecord({ kind: "batch", ...change });
    let pending: Promise<StorageError | null>;
    if (this.#failure !== null) pending = Promise.resolve(this.#failure);
    else if (record === null) pending = Promise.resolve(null); // Only messages: nothing to persist.
    else pending = this.#persist(batch, change, record).then(() => null, (e) => this.#fail(e));
    this.#pending = pending;
    // `done` runs outside the promise chain above, so an exception in it is not mistaken for
    // a storage failure (it surfaces as an unhandled rejection, as a bug should).
    void pending.then((error) => {
      this.#pending = null;
      done(error);
    });
  }

  raftStateBytes(): number {
    return encodedHardStateBytes(this.#state.hardState) + this.#state.entriesBytes;
  }

  snapshotBytes(): number {
    return this.#snapshot?.data.byteLength ?? 0;
  }

  /** Waits for the outstanding write (its `done` runs first), closes the files, unlocks. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#pending !== null) await this.#pending;
    this.#active.close();
    await this.#lock.release();
  }

  /** Checks the invariants above the fields; cheap enough to call after every write. */
  invariants(): void {
    assert(
      sameMeta(this.#snapshot?.meta ?? null, this.#state.snapshot),
      "FileStorage: snapshot data and WAL marker disagree",
    );
    assert(this.#segments.at(-1)?.sequence === this.#active.sequence, "active segment is not last");
    assert(this.#state.base >= this.#state.snapshotIndex, "entries start inside the snapshot");
    assert(this.#state.entriesBytes >= 0, "negative entry bytes");
  }

  /** The batch as the WAL records it: a compaction older than the snapshot changes nothing. */
  #changeOf(batch: PersistBatch): BatchChange {
    const snapshotIndex = batch.received?.meta.index ?? this.#state.snapshotIndex;
    const compaction = batch.compaction !== null && batch.compaction.meta.index > snapshotIndex
      ? batch.compaction.meta
      : null;
    return {
      reset: batch.received?.meta ?? null,
      compaction,
      entries: batch.entries,
      hardState: batch.hardState,
    };
  }

  async #persist(batch: PersistBatch, change: BatchChange, record: Uint8Array): Promise<void> {
    const previousSnapshot = this.#snapshot;
    if (batch.received !== null) await writeSnapshotFile(this.#dir, batch.received, this.#fsync);
    if (change.compaction !== null) {
      await writeSnapshotFile(this.#dir, batch.compaction!, this.#fsync);
    }
    const rollForReset = change.reset !== null && this.#activeHasBatches;
    const overflow = this.#active.size + record.length > this.#segmentBytes &&
      this.#activeHasBatches;
    const result = rollForReset || overflow
      ? await this.#rollWith(record)
      : await this.#active.append(record, this.#fsync);
    if (this.#fsync) this.#onSync(result.syncMs, result.bytes);
    this.#activeHasBatches = true;
    this.#state.apply(change, this.#active.sequence);
    if (change.compaction !== null) this.#snapshot = batch.compaction;
    else if (batch.received !== null) this.#snapshot = batch.received;
    this.invariants();
    if (this.#snapshot !== previousSnapshot) {
      // The files that may now be stale: the previous snapshot, and a received one that a
      // newer compaction in the same batch superseded at once.
      const candidates = [previousSnapshot?.meta ?? null, batch.received?.meta ?? null];
      await this.#cleanUp(candidates.filter((meta) => meta !== null));
    }
  }

  /** Creates the next segment with its header and `record` in one durable append. */
  async #rollWith(record: Uint8Array): Promise<AppendResult> {
    const state = this.#state;
    const sequence = this.#active.sequence + 1;
    const header = encodeRecord({
      kind: "segmentHeader",
      sequence,
      firstIndex: asIndex(state.lastIndex + 1),
      hardState: state.hardState,
      snapshot: state.snapshot,
    });
    const bytes = new Uint8Array(header.length + record.length);
    bytes.set(header);
    bytes.set(record, header.length);
    const { segment, result } = await ActiveSegment.create(
      this.#dir,
      sequence,
      state.lastIndex + 1,
      bytes,
      this.#fsync,
    );
    this.#active.close();
    this.#active = segment;
    this.#segments.push({ sequence, name: segment.name });
    this.#logger.debug("rolled over to a new WAL segment", { file: segment.path });
    return result;
  }

  /** Best effort: what is left behind is removed by the next clean-up or start-up. */
  async #cleanUp(staleSnapshots: readonly SnapshotMeta[]): Promise<void> {
    try {
      for (const meta of staleSnapshots) {
        if (sameMeta(meta, this.#state.snapshot)) continue;
        await Deno.remove(join(this.#dir, snapshotFileName(meta))).catch((error) => {
          if (!isNotFound(error)) throw error;
        });
      }
      await removeObsoleteSegments(
        this.#dir,
        this.#segments,
        this.#state,
        this.#fsync,
        this.#logger,
      );
    } catch (error) {
      if (error instanceof AssertionError) throw error;
      this.#logger.warn("could not remove obsolete files after a snapshot", {
        error: String(error),
      });
    }
  }

  /** Records a failed write; a failed assertion is a bug and is rethrown, not reported as I/O. */
  #fail(error: unknown): StorageError {
    if (error instanceof AssertionError) throw error;
    const failure = error instanceof StorageError
      ? error
      : new StorageError("io", `Storage write failed: ${String(error)}`, { cause: error });
    if (this.#failure === null) {
      this.#logger.error("storage write failed; refusing further writes", {
        error: failure.message,
      });
    }
    this.#failure = failure;
    return failure;
  }
}

function sameMeta(a: SnapshotMeta | null, b: SnapshotMeta | null): boolean {
  return a === null || b === null ? a === b : a.index === b.index && a.term === b.term;
}
