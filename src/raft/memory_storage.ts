/**
 * Storage in memory, with an optional simulated fsync: writes become durable only when the
 * injected scheduler fires, and `crash()` drops every write not yet durable, as a disk
 * loses its page cache. The simulator uses it; so do unit tests.
 */

import { assert } from "../util/assert.ts";
import {
  asIndex,
  EMPTY_PERSISTED_STATE,
  type Entry,
  entryBytes,
  type HardState,
  type PersistedState,
  type Snapshot,
} from "./core/types.ts";
import type { PersistBatch, Storage } from "./storage.ts";

/** Runs `callback` after a simulated fsync latency; returns nothing (the simulator owns time). */
export type SyncScheduler = (callback: () => void) => void;

/** Bytes a hard state takes when persisted (term, vote, commit as 8-byte integers). */
const HARD_STATE_BYTES = 24;

/** An in-memory {@link Storage}. */
export class MemoryStorage implements Storage {
  #hardState: HardState;
  #snapshot: Snapshot | null;
  #entries: Entry[];
  #entriesBytes = 0;
  readonly #schedule: SyncScheduler | null;
  #generation = 0;
  #pending = 0;

  /** `schedule` null makes every write durable at once. */
  constructor(
    state: PersistedState = EMPTY_PERSISTED_STATE,
    schedule: SyncScheduler | null = null,
  ) {
    this.#hardState = state.hardState;
    this.#snapshot = state.snapshot;
    this.#entries = [...state.entries];
    for (const entry of this.#entries) this.#entriesBytes += entryBytes(entry);
    this.#schedule = schedule;
  }

  load(): PersistedState {
    return { hardState: this.#hardState, snapshot: this.#snapshot, entries: [...this.#entries] };
  }

  write(batch: PersistBatch, done: (error: Error | null) => void): void {
    assert(this.#pending === 0, "MemoryStorage: one write at a time");
    if (this.#schedule === null) {
      this.#apply(batch);
      done(null);
      return;
    }
    const generation = this.#generation;
    this.#pending++;
    this.#schedule(() => {
      if (generation !== this.#generation) return; // Lost in a crash.
      this.#pending--;
      this.#apply(batch);
      done(null);
    });
  }

  /** Drops writes not yet durable; the storage then holds what a restarted process would find. */
  crash(): void {
    this.#generation++;
    this.#pending = 0;
  }

  /** The term of the durable entry at `index` (the snapshot's term at its index), or undefined. */
  durableTerm(index: number): number | undefined {
    const snapshotIndex = this.#snapshot?.meta.index ?? 0;
    if (index === snapshotIndex && this.#snapshot !== null) return this.#snapshot.meta.term;
    if (index < snapshotIndex) return -1; // Covered by the snapshot: durable, term no longer known.
    return this.#entries[index - snapshotIndex - 1]?.term;
  }

  raftStateBytes(): number {
    return HARD_STATE_BYTES + this.#entriesBytes;
  }

  snapshotBytes(): number {
    return this.#snapshot?.data.byteLength ?? 0;
  }

  #apply(batch: PersistBatch): void {
    if (batch.received !== null) {
      this.#snapshot = batch.received;
      this.#entries = [];
      this.#entriesBytes = 0;
    }
    if (batch.compaction !== null) {
      const index = batch.compaction.meta.index;
      const first = this.#firstIndex();
      const drop = Math.max(0, Math.min(this.#entries.length, index - first + 1));
      for (const entry of this.#entries.splice(0, drop)) this.#entriesBytes -= entryBytes(entry);
      if (this.#snapshot === null || this.#snapshot.meta.index < index) {
        this.#snapshot = batch.compaction;
      }
    }
    const head = batch.entries[0];
    if (head !== undefined) {
      const first = this.#firstIndex();
      assert(
        head.index >= first,
        () => `MemoryStorage: entry ${head.index} is below first index ${first}`,
      );
      const keep = head.index - first;
      assert(keep <= this.#entries.length, () => `MemoryStorage: gap before entry ${head.index}`);
      for (const entry of this.#entries.splice(keep)) this.#entriesBytes -= entryBytes(entry);
      for (const entry of batch.entries) {
        this.#entries.push(entry);
        this.#entriesBytes += entryBytes(entry);
      }
    }
    if (batch.hardState !== null) this.#hardState = batch.hardState;
  }

  #firstIndex(): number {
    return asIndex((this.#snapshot?.meta.index ?? 0) + 1);
  }
}
