/**
 * The in-memory Raft log: a snapshot boundary followed by contiguous entries, plus the
 * bookkeeping of which entries have been handed to storage and which storage has confirmed.
 *
 * Invariant: entries[k].index === snapshotIndex + 1 + k, and terms never decrease.
 * Invariant: snapshotIndex <= persistedIndex <= lastIndex, unstableFrom <= lastIndex + 1.
 */

import { assert } from "../../util/assert.ts";
import {
  asIndex,
  type Entry,
  entryBytes,
  type Index,
  type SnapshotMeta,
  type Term,
} from "./types.ts";

/** The log of one core. */
export class RaftLog {
  #snapshotIndex: Index;
  #snapshotTerm: Term;
  #entries: Entry[];
  #entriesBytes = 0;
  /** First index not yet handed to storage through a ready. */
  unstableFrom: Index;
  /** Last index storage has confirmed durable (and that is still in the log). */
  persistedIndex: Index;

  constructor(snapshot: SnapshotMeta | null, entries: readonly Entry[]) {
    this.#snapshotIndex = snapshot?.index ?? asIndex(0);
    this.#snapshotTerm = snapshot?.term ?? (0 as Term);
    this.#entries = [...entries];
    for (const entry of this.#entries) this.#entriesBytes += entryBytes(entry);
    this.unstableFrom = asIndex(this.lastIndex() + 1);
    this.persistedIndex = this.lastIndex();
    this.checkInvariants();
  }

  get snapshotIndex(): Index {
    return this.#snapshotIndex;
  }

  get snapshotTerm(): Term {
    return this.#snapshotTerm;
  }

  /** Bytes of the entries held in memory (after the snapshot). */
  get entriesBytes(): number {
    return this.#entriesBytes;
  }

  /** The index of the first entry still in the log. */
  firstIndex(): Index {
    return asIndex(this.#snapshotIndex + 1);
  }

  lastIndex(): Index {
    return asIndex(this.#snapshotIndex + this.#entries.length);
  }

  lastTerm(): Term {
    return this.#entries.at(-1)?.term ?? this.#snapshotTerm;
  }

  /** The term at `index`, or undefined when it was compacted away or is beyond the end. */
  term(index: Index): Term | undefined {
    if (index === this.#snapshotIndex) return this.#snapshotTerm;
    if (index < this.#snapshotIndex || index > this.lastIndex()) return undefined;
    return this.#entries[index - this.#snapshotIndex - 1]!.term;
  }

  /** The entry at `index`; it must be in the log. */
  entry(index: Index): Entry {
    const entry = this.#entries[index - this.#snapshotIndex - 1];
    assert(
      entry !== undefined,
      () => `Log has no entry ${index} (first ${this.firstIndex()}, last ${this.lastIndex()})`,
    );
    return entry;
  }

  /** True when a log ending at (lastIndex, lastTerm) is at least as up to date as ours (§5.4.1). */
  isUpToDate(lastIndex: Index, lastTerm: Term): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /**
   * Entries from `from`, at most `maxCount` and `maxBytes` (but at least one when any exists,
   * so one large entry still moves). `from` must be >= firstIndex.
   */
  slice(from: Index, maxCount: number, maxBytes: number, until: Index = this.lastIndex()): Entry[] {
    assert(
      from >= this.firstIndex(),
      () => `Cannot slice from ${from}: compacted up to ${this.#snapshotIndex}`,
    );
    const result: Entry[] = [];
    let bytes = 0;
    const end = Math.min(until, this.lastIndex());
    for (let index = from; index <= end && result.length < maxCount; index++) {
      const entry = this.#entries[index - this.#snapshotIndex - 1]!;
      const size = entryBytes(entry);
      if (result.length > 0 && bytes + size > maxBytes) break;
      bytes += size;
      result.push(entry);
    }
    return result;
  }

  /** Appends entries that continue the log exactly (the leader's own proposals). */
  append(entries: readonly Entry[]): void {
    for (const entry of entries) {
      assert(
        entry.index === this.lastIndex() + 1,
        () => `Cannot append entry ${entry.index} after ${this.lastIndex()}`,
      );
      assert(
        entry.term >= this.lastTerm(),
        () => `Cannot append term ${entry.term} after term ${this.lastTerm()}`,
      );
      this.#entries.push(entry);
      this.#entriesBytes += entryBytes(entry);
    }
  }

  /**
   * Merges entries from a leader whose log matches ours at `entries[0].index - 1`: skips those
   * we already have with the same term, truncates at the first conflict, appends the rest (§5.3).
   * Never truncates at or below `commit`: that would lose a committed entry.
   */
  merge(entries: readonly Entry[], commit: Index): void {
    let k = 0;
    for (; k < entries.length; k++) {
      const entry = entries[k]!;
      const ours = this.term(entry.index);
      if (ours === undefined && entry.index <= this.#snapshotIndex) continue;
      if (ours !== entry.term) break;
    }
    if (k === entries.length) return;
    const first = entries[k]!;
    if (first.index <= this.lastIndex()) {
      assert(
        first.index > commit,
        () => `Refusing to truncate committed entry ${first.index} (commit ${commit})`,
      );
      this.truncateFrom(first.index);
    }
    this.append(entries.slice(k));
  }

  /** Removes every entry from `index` on. */
  truncateFrom(index: Index): void {
    assert(
      index > this.#snapshotIndex,
      () => `Cannot truncate at ${index}: snapshot covers ${this.#snapshotIndex}`,
    );
    const keep = index - this.#snapshotIndex - 1;
    for (const entry of this.#entries.splice(keep)) this.#entriesBytes -= entryBytes(entry);
    if (this.unstableFrom > index) this.unstableFrom = index;
    if (this.persistedIndex >= index) this.persistedIndex = asIndex(index - 1);
  }

  /** The first index of the run of entries with the term found at `index` (for rejection hints). */
  firstIndexOfTermAt(index: Index): Index {
    const term = this.term(index);
    assert(term !== undefined, () => `No term at ${index}`);
    // At the snapshot boundary the earlier terms are gone: the snapshot index is the answer.
    let low = asIndex(Math.min(this.firstIndex(), index));
    let high = index;
    // Terms never decrease, so binary search for the first index whose term equals `term`.
    while (low < high) {
      const middle = asIndex(Math.floor((low + high) / 2));
      if (this.term(middle)! < term) low = asIndex(middle + 1);
      else high = middle;
    }
    return low;
  }

  /** The last index holding `term`, or undefined when the log holds no entry of that term. */
  lastIndexOfTerm(term: Term): Index | undefined {
    let low = this.firstIndex();
    let high = this.lastIndex();
    let found: Index | undefined;
    while (low <= high) {
      const middle = asIndex(Math.floor((low + high) / 2));
      const middleTerm = this.term(middle)!;
      if (middleTerm <= term) {
        if (middleTerm === term) found = middle;
        low = asIndex(middle + 1);
      } else {
        high = asIndex(middle - 1);
      }
    }
    if (found === undefined && this.#snapshotTerm === term) return this.#snapshotIndex;
    return found;
  }

  /** Entries handed to storage by the next ready. */
  unstableEntries(): Entry[] {
    if (this.unstableFrom > this.lastIndex()) return [];
    return this.#entries.slice(this.unstableFrom - this.#snapshotIndex - 1);
  }

  /** Records that the next ready hands out everything up to the last index. */
  markHandedOut(): void {
    this.unstableFrom = asIndex(this.lastIndex() + 1);
  }

  /**
   * Storage confirmed the entries of a ready up to `index` with `term`. Entries truncated
   * since then (unstableFrom moved below them) are not durable in their new form.
   */
  markPersisted(index: Index, term: Term): void {
    const durable = Math.min(index, this.unstableFrom - 1);
    if (durable > this.persistedIndex && this.term(asIndex(durable)) !== undefined) {
      // The term check guards against an entry replaced after the ready was taken.
      if (durable < index || this.term(index) === term) this.persistedIndex = asIndex(durable);
    }
  }

  /** Drops entries up to `meta.index`, which a durable snapshot now covers (§7). */
  compact(meta: SnapshotMeta): void {
    assert(
      meta.index > this.#snapshotIndex,
      () => `Snapshot ${meta.index} is not past ${this.#snapshotIndex}`,
    );
    assert(
      meta.index <= this.persistedIndex,
      () => `Cannot compact past persisted index ${this.persistedIndex}`,
    );
    assert(
      this.term(meta.index) === meta.term,
      () => `Snapshot term ${meta.term} does not match the log at ${meta.index}`,
    );
    const drop = meta.index - this.#snapshotIndex;
    for (const entry of this.#entries.splice(0, drop)) this.#entriesBytes -= entryBytes(entry);
    this.#snapshotIndex = meta.index;
    this.#snapshotTerm = meta.term;
  }

  /**
   * Installs a snapshot from the leader. Entries after it are kept when the log already has
   * the snapshot's last entry with its term (§7, "retain following entries"); otherwise the
   * whole log is replaced.
   */
  restore(meta: SnapshotMeta): void {
    assert(
      meta.index > this.#snapshotIndex,
      () => `Snapshot ${meta.index} is not past ${this.#snapshotIndex}`,
    );
    if (this.term(meta.index) === meta.term) {
      const drop = meta.index - this.#snapshotIndex;
      for (const entry of this.#entries.splice(0, drop)) this.#entriesBytes -= entryBytes(entry);
    } else {
      this.#entries = [];
      this.#entriesBytes = 0;
    }
    this.#snapshotIndex = meta.index;
    this.#snapshotTerm = meta.term;
    // Storage replaces its log with the snapshot, so retained entries must be written again.
    this.unstableFrom = asIndex(meta.index + 1);
    this.persistedIndex = meta.index;
  }

  #checks = 0;

  /**
   * Checks the invariants in the class comment. The ends of the log are checked every time;
   * the whole log every 64th call, so that the simulator can call this after every event.
   */
  checkInvariants(): void {
    const first = this.#entries[0];
    const last = this.#entries.at(-1);
    assert(
      first === undefined || first.index === this.#snapshotIndex + 1,
      "first entry must follow the snapshot",
    );
    assert(
      last === undefined || last.index === this.lastIndex(),
      "last entry index must match the length",
    );
    assert(
      first === undefined || first.term >= this.#snapshotTerm,
      "first entry term below snapshot term",
    );
    if (++this.#checks % 64 === 0) this.#checkEveryEntry();
    assert(this.persistedIndex >= this.#snapshotIndex, "persistedIndex below snapshot");
    assert(this.persistedIndex <= this.lastIndex(), "persistedIndex beyond last index");
    assert(this.unstableFrom <= this.lastIndex() + 1, "unstableFrom beyond last index + 1");
  }

  #checkEveryEntry(): void {
    let previousTerm = this.#snapshotTerm;
    for (let k = 0; k < this.#entries.length; k++) {
      const entry = this.#entries[k]!;
      assert(
        entry.index === this.#snapshotIndex + 1 + k,
        () => `Log entry ${k} has index ${entry.index}`,
      );
      assert(entry.term >= previousTerm, () => `Log term decreases at ${entry.index}`);
      previousTerm = entry.term;
    }
  }
}
