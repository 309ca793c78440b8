/**
 * The logical state the WAL describes (hard state, snapshot marker, live entries) and the one
 * function that applies a batch to it. Recovery replays records through it and the running
 * storage applies each durable batch through it, so what start-up rebuilds is by
 * construction what the storage held before the crash.
 *
 * Replay may start in the middle of the log: once a segment is deleted, the first remaining
 * segment's header restates the hard state and snapshot but not the entries before it. Until
 * a snapshot marker or the entries reach back to the snapshot, the state is "unanchored" and
 * entries may begin at any index past the snapshot; `problemAtEnd` then demands that the live
 * entries start right after the snapshot, else entries are missing (corruption).
 *
 * Invariant: snapshotIndex <= base; entries[k].index === base + 1 + k.
 * Invariant: entriesBytes === the sum of encodedEntryBytes over entries.
 * Invariant: origins are sorted by fromIndex, with non-decreasing segment sequences.
 */

import { assert } from "../../util/assert.ts";
import type { Entry, HardState, SnapshotMeta } from "../core/types.ts";
import { type BatchRecord, encodedEntryBytes, type SegmentHeader } from "./record_codec.ts";

/** Entries from `fromIndex` on (up to the next run) were written in segment `sequence`. */
interface OriginRun {
  readonly fromIndex: number;
  readonly sequence: number;
}

/** The batch fields {@link LogState.apply} reads (a {@link BatchRecord} has them all). */
export type BatchChange = Omit<BatchRecord, "kind">;

/** The state a WAL prefix describes. */
export class LogState {
  hardState: HardState;
  snapshot: SnapshotMeta | null;
  /** The index before the first entry held. */
  base: number;
  entries: Entry[] = [];
  entriesBytes = 0;
  #origins: OriginRun[] = [];

  /** The state a segment header restates; the entries before it are not (yet) known. */
  constructor(header: SegmentHeader) {
    this.hardState = header.hardState;
    this.snapshot = header.snapshot;
    this.base = header.firstIndex - 1;
    assert(this.base >= this.snapshotIndex, "segment header: first index inside the snapshot");
  }

  get snapshotIndex(): number {
    return this.snapshot?.index ?? 0;
  }

  get lastIndex(): number {
    return this.base + this.entries.length;
  }

  /** Why `header` cannot follow the records applied so far (a missing or foreign segment). */
  problemWithHeader(header: SegmentHeader): string | null {
    if (header.firstIndex !== this.lastIndex + 1) {
      return `its header starts at index ${header.firstIndex} but the log before it ends at ${this.lastIndex}`;
    }
    if (!sameMeta(header.snapshot, this.snapshot)) {
      return `its header names snapshot ${describe(header.snapshot)}, the log before it ${
        describe(this.snapshot)
      }`;
    }
    if (!sameHardState(header.hardState, this.hardState)) {
      return "its header's hard state differs from the one before it";
    }
    return null;
  }

  /** Why `batch` cannot apply to this state, or null (checked before anything is written). */
  problemWith(batch: BatchChange): string | null {
    const head = batch.entries[0];
    if (head === undefined) return null;
    let snapshotIndex = this.snapshotIndex;
    let base = this.base;
    let length = this.entries.length;
    if (batch.reset !== null) {
      [snapshotIndex, base, length] = [batch.reset.index, batch.reset.index, 0];
    }
    const compaction = batch.compaction;
    if (compaction !== null && compaction.index > snapshotIndex) {
      snapshotIndex = compaction.index;
      if (compaction.index >= base) {
        const dropped = Math.min(length, compaction.index - base);
        [base, length] = [length === dropped ? compaction.index : base + dropped, length - dropped];
      }
    }
    if (head.index <= snapshotIndex) {
      return `entry ${head.index} is at or below the snapshot index ${snapshotIndex}`;
    }
    const unanchored = base > snapshotIndex;
    if (head.index > base + length + 1 && !(unanchored && length === 0)) {
      return `entry ${head.index} leaves a gap after the last index ${base + length}`;
    }
    return null;
  }

  /** Applies a batch written in segment `sequence`; `problemWith(batch)` must be null. */
  apply(batch: BatchChange, sequence: number): void {
    const problem = this.problemWith(batch);
    assert(problem === null, () => `Cannot apply a WAL batch: ${problem}`);
    if (batch.reset !== null) {
      this.snapshot = batch.reset;
      this.#clearEntries(batch.reset.index);
    }
    if (batch.compaction !== null && batch.compaction.index > this.snapshotIndex) {
      this.#compact(batch.compaction);
    }
    if (batch.entries.length > 0) this.#append(batch.entries, sequence);
    if (batch.hardState !== null) this.hardState = batch.hardState;
  }

  /** Why the replayed state is incomplete (entries missing before the live ones), or null. */
  problemAtEnd(): string | null {
    if (this.base === this.snapshotIndex) return null;
    return `the log is missing the entries from ${this.snapshotIndex + 1} to ${this.base}`;
  }

  /**
   * The oldest segment that holds a live entry, or null when no entry is live. Every segment
   * before it (and before the active one) holds nothing the state needs.
   */
  oldestLiveSequence(): number | null {
    const first = this.entries[0];
    if (first === undefined) return null;
    let sequence: number | null = null;
    for (const run of this.#origins) {
      if (run.fromIndex > first.index) break;
      sequence = run.sequence;
    }
    assert(sequence !== null, () => `No segment is recorded for live entry ${first.index}`);
    return sequence;
  }

  #compact(meta: SnapshotMeta): void {
    this.snapshot = meta;
    if (meta.index < this.base) return; // Unanchored: the compacted entries were never seen.
    const drop = Math.min(this.entries.length, meta.index - this.base);
    if (drop === this.entries.length) {
      this.#clearEntries(meta.index);
      return;
    }
    for (const entry of this.entries.splice(0, drop)) this.entriesBytes -= encodedEntryBytes(entry);
    this.base += drop;
  }

  #append(entries: readonly Entry[], sequence: number): void {
    const from = entries[0]!.index;
    if (from <= this.base || (from > this.lastIndex + 1 && this.entries.length === 0)) {
      this.#clearEntries(from - 1); // Unanchored replay: restart the known entries here.
    }
    const keep = from - this.base - 1;
    assert(keep >= 0 && keep <= this.entries.length, () => `WAL batch at ${from} does not fit`);
    for (const entry of this.entries.splice(keep)) this.entriesBytes -= encodedEntryBytes(entry);
    for (const entry of entries) {
      this.entries.push(entry);
      this.entriesBytes += encodedEntryBytes(entry);
    }
    while (this.#origins.length > 0 && this.#origins.at(-1)!.fromIndex >= from) this.#origins.pop();
    if (this.#origins.at(-1)?.sequence !== sequence) {
      this.#origins.push({ fromIndex: from, sequence });
    }
  }

  #clearEntries(base: number): void {
    this.entries = [];
    this.entriesBytes = 0;
    this.base = base;
    this.#origins = [];
  }
}

function sameMeta(a: SnapshotMeta | null, b: SnapshotMeta | null): boolean {
  return a === null || b === null ? a === b : a.index === b.index && a.term === b.term;
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.votedFor === b.votedFor && a.commit === b.commit;
}

function describe(meta: SnapshotMeta | null): string {
  return meta === null ? "none" : `${meta.index}/${meta.term}`;
}
