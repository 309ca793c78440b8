/**
 * What the driver needs from durable storage. Implementations: {@link MemoryStorage} (tests,
 * the simulator) and the file-backed write-ahead log of the node runtime. Both must pass the
 * same contract tests.
 *
 * Ordering and durability rules:
 * - `write` makes one batch durable as a unit, in this order: `received` (replaces the
 *   whole log and the previous snapshot), `compaction` (drops the entries it covers, keeps
 *   the rest), `entries` (the first entry's index may be at or below the last stored index:
 *   that entry and everything after it are replaced), `hardState`.
 * - `done` is called once the batch is durable (after fdatasync), or with an error. A
 *   batch whose `done` was not called may be lost whole or in part on a crash, but never
 *   reordered with an earlier batch.
 * - At most one write is outstanding; the driver waits for `done` before the next.
 */

import type { Entry, HardState, PersistedState, Snapshot } from "./core/types.ts";

/** One ready's worth of state to make durable. */
export interface PersistBatch {
  readonly hardState: HardState | null;
  readonly entries: readonly Entry[];
  /** A snapshot received from the leader: it replaces the log. */
  readonly received: Snapshot | null;
  /** A snapshot the application made: entries up to its index are dropped. */
  readonly compaction: Snapshot | null;
}

/** Durable storage for one replica. */
export interface Storage {
  /** The state recovered at start-up. */
  load(): PersistedState;
  /** Makes `batch` durable, then calls `done` (see the ordering rules above). */
  write(batch: PersistBatch, done: (error: Error | null) => void): void;
  /** Bytes the persisted Raft state takes (log and hard state, snapshot excluded). */
  raftStateBytes(): number;
  /** Bytes of the persisted snapshot. */
  snapshotBytes(): number;
}
