/**
 * Unit tests of {@link RaftLog}: term lookups and slices under count and byte limits, the
 * merge of a leader's entries (§5.3: skip what matches, truncate at the first conflict, never
 * below the commit index), the term searches used by fast backtracking (including at the
 * snapshot boundary), compaction and snapshot restore (§7), and the unstable / persisted
 * bookkeeping between `ready()` and `advance()`. Logs are built by hand from lists of terms.
 */

import assert from "node:assert/strict";
import { AssertionError } from "../../util/assert.ts";
import { RaftLog } from "./raft_log.ts";
import { command, entriesWithTerms, run } from "./test_support.ts";
import { asIndex, asTerm, type Entry, entryBytes, type SnapshotMeta } from "./types.ts";

const i = asIndex;
const t = asTerm;

function logOf(terms: readonly number[], snapshot: SnapshotMeta | null = null): RaftLog {
  return new RaftLog(snapshot, entriesWithTerms(terms, (snapshot?.index ?? 0) + 1));
}

function meta(index: number, term: number): SnapshotMeta {
  return { index: i(index), term: t(term) };
}

function indexes(entries: readonly Entry[]): number[] {
  return entries.map((entry) => entry.index);
}

function termsOf(log: RaftLog): number[] {
  const terms: number[] = [];
  for (let index = log.firstIndex(); index <= log.lastIndex(); index++) {
    terms.push(log.term(i(index))!);
  }
  return terms;
}

Deno.test("raft log: term() knows the snapshot boundary and nothing outside the log", () => {
  const log = logOf([3, 3, 4], meta(5, 2));
  assert.equal(log.firstIndex(), 6);
  assert.equal(log.lastIndex(), 8);
  assert.equal(log.lastTerm(), 4);
  assert.equal(log.term(i(5)), 2, "the snapshot's last entry keeps its term");
  assert.equal(log.term(i(4)), undefined, "compacted");
  assert.equal(log.term(i(6)), 3);
  assert.equal(log.term(i(9)), undefined, "beyond the end");
  assert.throws(() => log.entry(i(5)), AssertionError);
  const empty = new RaftLog(null, []);
  assert.equal(empty.term(i(0)), 0, "index 0 is the empty prefix of term 0");
  assert.equal(empty.lastTerm(), 0);
});

Deno.test("raft log: slice stops at the count limit, the byte limit, and `until`", () => {
  const log = new RaftLog(null, [1, 2, 3, 4, 5].map((index) => command(index, 1, 76))); // 100 bytes each
  assert.equal(entryBytes(log.entry(i(1))), 100);
  assert.deepEqual(indexes(log.slice(i(1), 3, 10_000)), [1, 2, 3], "count limit");
  assert.deepEqual(indexes(log.slice(i(2), 10, 250)), [2, 3], "byte limit: a third would be 300");
  assert.deepEqual(indexes(log.slice(i(2), 10, 300)), [2, 3, 4], "the limit is inclusive");
  assert.deepEqual(indexes(log.slice(i(2), 10, 10_000, i(3))), [2, 3], "until");
  assert.deepEqual(indexes(log.slice(i(4), 10, 10_000, i(99))), [4, 5], "until past the end");
  assert.deepEqual(log.slice(i(6), 10, 10_000), [], "from past the end");
});

Deno.test("raft log: slice returns at least one entry even when it alone exceeds the byte limit", () => {
  const log = new RaftLog(null, [command(1, 1, 1000), command(2, 1, 1)]);
  assert.deepEqual(indexes(log.slice(i(1), 10, 10)), [1]);
  assert.deepEqual(indexes(log.slice(i(2), 10, 1)), [2]);
});

Deno.test("raft log: slice refuses to start inside the snapshot", () => {
  const log = logOf([2, 2], meta(3, 2));
  assert.throws(() => log.slice(i(3), 10, 10_000), AssertionError);
  assert.deepEqual(indexes(log.slice(i(4), 10, 10_000)), [4, 5]);
});

Deno.test("raft log: append continues the log and refuses gaps and decreasing terms", () => {
  const log = logOf([1, 2]);
  log.append([command(3, 2), command(4, 3)]);
  assert.deepEqual(termsOf(log), [1, 2, 2, 3]);
  assert.throws(() => log.append([command(6, 3)]), AssertionError, "gap");
  assert.throws(() => log.append([command(5, 2)]), AssertionError, "term decreases");
  assert.equal(log.entriesBytes, 4 * 25);
});

Deno.test("raft log: merge skips entries that match and appends the rest (§5.3)", () => {
  const log = logOf([1, 1, 2]);
  log.markHandedOut();
  log.merge(entriesWithTerms([1, 2], 2), i(0));
  assert.deepEqual(termsOf(log), [1, 1, 2], "entries that match change nothing");
  assert.deepEqual(log.unstableEntries(), [], "and are not written again");
  log.merge(entriesWithTerms([2, 2, 3], 3), i(0));
  assert.deepEqual(termsOf(log), [1, 1, 2, 2, 3]);
  assert.deepEqual(indexes(log.unstableEntries()), [4, 5], "only the new entries are unstable");
});

Deno.test("raft log: merge truncates at the first conflict, keeping what precedes it (§5.3)", () => {
  const log = logOf([1, 1, 2, 2, 2]);
  assert.equal(log.persistedIndex, 5);
  log.merge(entriesWithTerms([1, 3], 2), i(1));
  assert.deepEqual(termsOf(log), [1, 1, 3], "entries 3..5 of term 2 are gone");
  assert.equal(log.persistedIndex, 2, "the replaced entries are no longer durable");
  assert.deepEqual(indexes(log.unstableEntries()), [3]);
  assert.equal(log.entriesBytes, 3 * 25);
});

Deno.test("raft log: merge refuses to truncate a committed entry (assertion)", () => {
  const log = logOf([1, 1, 2, 2]);
  assert.throws(() => log.merge(entriesWithTerms([3], 3), i(3)), AssertionError);
  assert.deepEqual(termsOf(log), [1, 1, 2, 2], "the log is unchanged");
  log.merge(entriesWithTerms([3], 4), i(3)); // Just above the commit index is allowed.
  assert.deepEqual(termsOf(log), [1, 1, 2, 3]);
});

Deno.test("raft log: merge skips entries the snapshot already covers", () => {
  const log = logOf([2, 2], meta(4, 2));
  log.merge(entriesWithTerms([1, 2, 2, 2, 3], 2), i(4));
  assert.deepEqual(termsOf(log), [2, 3], "entries 2..5 are skipped, 6 replaced");
  assert.equal(log.firstIndex(), 5);
});

Deno.test("raft log: firstIndexOfTermAt finds the start of a run by binary search", () => {
  const log = logOf([1, 1, 2, 2, 2, 5, 5]);
  assert.equal(log.firstIndexOfTermAt(i(1)), 1);
  assert.equal(log.firstIndexOfTermAt(i(2)), 1);
  assert.equal(log.firstIndexOfTermAt(i(3)), 3);
  assert.equal(log.firstIndexOfTermAt(i(5)), 3);
  assert.equal(log.firstIndexOfTermAt(i(6)), 6);
  assert.equal(log.firstIndexOfTermAt(i(7)), 6);
  assert.throws(() => log.firstIndexOfTermAt(i(8)), AssertionError, "beyond the end");
  const single = logOf([4]);
  assert.equal(single.firstIndexOfTermAt(i(1)), 1);
  const long = logOf([...run(1, 1000), ...run(2, 1000)]);
  assert.equal(long.firstIndexOfTermAt(i(1999)), 1001);
  assert.equal(long.firstIndexOfTermAt(i(1000)), 1);
});

Deno.test("raft log: firstIndexOfTermAt stops at the first entry when the run began in the snapshot", () => {
  const log = logOf([2, 2, 5, 5], meta(3, 2));
  assert.equal(log.firstIndexOfTermAt(i(5)), 4, "the run of term 2 began before the log");
  assert.equal(log.firstIndexOfTermAt(i(7)), 6);
});

Deno.test("raft log: firstIndexOfTermAt(snapshot index) is the snapshot index itself", () => {
  const log = logOf([5, 5], meta(3, 2));
  assert.equal(log.firstIndexOfTermAt(i(3)), 3, "earlier terms are gone with the snapshot");
  assert.equal(log.firstIndexOfTermAt(i(4)), 4);
});

Deno.test("raft log: lastIndexOfTerm finds the end of a run, or nothing", () => {
  const log = logOf([1, 1, 2, 2, 2, 5, 5]);
  assert.equal(log.lastIndexOfTerm(t(1)), 2);
  assert.equal(log.lastIndexOfTerm(t(2)), 5);
  assert.equal(log.lastIndexOfTerm(t(5)), 7);
  assert.equal(log.lastIndexOfTerm(t(3)), undefined, "a term between runs");
  assert.equal(log.lastIndexOfTerm(t(4)), undefined);
  assert.equal(log.lastIndexOfTerm(t(6)), undefined, "a term beyond the last");
  assert.equal(log.lastIndexOfTerm(t(0)), 0, "index 0 has term 0");
  const long = logOf([...run(1, 999), ...run(3, 2), ...run(4, 1000)]);
  assert.equal(long.lastIndexOfTerm(t(3)), 1001);
  assert.equal(long.lastIndexOfTerm(t(2)), undefined);
});

Deno.test("raft log: lastIndexOfTerm sees the snapshot's last entry, and not before it", () => {
  const log = logOf([2, 2, 5, 5], meta(3, 2));
  assert.equal(log.lastIndexOfTerm(t(2)), 5, "a run that continues past the snapshot");
  assert.equal(log.lastIndexOfTerm(t(1)), undefined, "compacted terms are unknown");
  const boundary = logOf([5, 5], meta(5, 2));
  assert.equal(boundary.lastIndexOfTerm(t(2)), 5, "the run ends at the snapshot");
  assert.equal(boundary.lastIndexOfTerm(t(5)), 7);
  const onlySnapshot = new RaftLog(meta(5, 2), []);
  assert.equal(onlySnapshot.lastIndexOfTerm(t(2)), 5);
  assert.equal(onlySnapshot.lastIndexOfTerm(t(3)), undefined);
});

Deno.test("raft log: compact drops entries up to a persisted index and keeps the rest (§7)", () => {
  const log = logOf([1, 1, 2, 2, 3]);
  log.compact(meta(3, 2));
  assert.equal(log.snapshotIndex, 3);
  assert.equal(log.snapshotTerm, 2);
  assert.deepEqual(termsOf(log), [2, 3]);
  assert.equal(log.entriesBytes, 2 * 25);
  assert.equal(log.term(i(3)), 2);
  assert.throws(() => log.compact(meta(3, 2)), AssertionError, "not past the snapshot");
  assert.throws(() => log.compact(meta(4, 3)), AssertionError, "term mismatch");
  log.compact(meta(5, 3));
  assert.equal(log.lastIndex(), 5);
  assert.equal(log.firstIndex(), 6);
  assert.equal(log.lastTerm(), 3, "an empty log ends with the snapshot");
});

Deno.test("raft log: compact refuses to drop entries storage has not confirmed", () => {
  const log = logOf([1, 1]);
  log.append(entriesWithTerms([1, 1], 3));
  assert.equal(log.persistedIndex, 2);
  assert.throws(() => log.compact(meta(3, 1)), AssertionError);
  log.markHandedOut();
  log.markPersisted(i(4), t(1));
  log.compact(meta(3, 1));
  assert.equal(log.snapshotIndex, 3);
});

Deno.test("raft log: restore retains the entries after a snapshot entry it already holds (§7)", () => {
  const log = logOf([1, 1, 2, 2, 3]);
  log.restore(meta(3, 2));
  assert.equal(log.snapshotIndex, 3);
  assert.deepEqual(termsOf(log), [2, 3]);
  assert.equal(log.persistedIndex, 3, "storage replaced its log with the snapshot");
  assert.deepEqual(indexes(log.unstableEntries()), [4, 5], "retained entries are written again");
});

Deno.test("raft log: restore replaces the whole log when the snapshot entry differs or is missing", () => {
  const conflicting = logOf([1, 1, 2, 2, 3]);
  conflicting.restore(meta(3, 3));
  assert.equal(conflicting.lastIndex(), 3);
  assert.equal(conflicting.lastTerm(), 3);
  assert.equal(conflicting.entriesBytes, 0);
  assert.deepEqual(conflicting.unstableEntries(), []);
  const short = logOf([1, 1]);
  short.restore(meta(10, 4));
  assert.equal(short.firstIndex(), 11);
  assert.equal(short.lastIndex(), 10);
  assert.equal(short.persistedIndex, 10);
  const compacted = logOf([2], meta(5, 2));
  assert.throws(() => compacted.restore(meta(5, 2)), AssertionError, "not past the snapshot");
});

Deno.test("raft log: entries are unstable until handed out, and durable once persisted", () => {
  const log = logOf([1, 1]);
  assert.equal(log.persistedIndex, 2, "entries loaded from storage are durable");
  assert.deepEqual(log.unstableEntries(), []);
  log.append(entriesWithTerms([2, 2], 3));
  assert.deepEqual(indexes(log.unstableEntries()), [3, 4]);
  log.markHandedOut();
  assert.deepEqual(log.unstableEntries(), []);
  assert.equal(log.persistedIndex, 2, "handed out is not yet durable");
  log.append(entriesWithTerms([2], 5)); // Arrives between ready and advance.
  log.markPersisted(i(4), t(2));
  assert.equal(log.persistedIndex, 4);
  assert.deepEqual(indexes(log.unstableEntries()), [5]);
});

Deno.test("raft log: entries truncated between ready and advance are not marked durable", () => {
  const log = logOf([1, 1, 1]);
  log.append(entriesWithTerms([1, 1, 1], 4));
  log.markHandedOut(); // The ready carries 4..6 of term 1.
  log.merge(entriesWithTerms([2, 2], 5), i(3)); // A new leader replaces 5..6 before advance.
  assert.equal(log.unstableFrom, 5);
  log.markPersisted(i(6), t(1)); // advance() for the ready that carried 4..6 of term 1.
  assert.equal(log.persistedIndex, 4, "only entry 4 is durable in its current form");
  assert.deepEqual(log.unstableEntries().map((entry) => entry.term), [2, 2]);
  log.markHandedOut();
  log.markPersisted(i(6), t(2));
  assert.equal(log.persistedIndex, 6);
});

Deno.test("raft log: a restore between ready and advance is not undone by the advance", () => {
  const log = logOf([1, 1]);
  log.append(entriesWithTerms([1, 1], 3));
  log.markHandedOut();
  log.restore(meta(10, 2));
  log.markPersisted(i(4), t(1));
  assert.equal(log.persistedIndex, 10);
  log.checkInvariants();
  const retained = logOf([1, 1]);
  retained.append(entriesWithTerms([1, 1], 3));
  retained.markHandedOut();
  retained.restore(meta(3, 1)); // Retains 4, which must be written again.
  retained.markPersisted(i(4), t(1));
  assert.equal(retained.persistedIndex, 3);
  assert.deepEqual(indexes(retained.unstableEntries()), [4]);
});

Deno.test("raft log: a persisted index with a different term than the log's is ignored", () => {
  const log = logOf([1]);
  log.append(entriesWithTerms([1], 2));
  log.markHandedOut();
  log.markPersisted(i(2), t(7));
  assert.equal(log.persistedIndex, 1);
});

Deno.test("raft log: checkInvariants accepts every log built through the public methods", () => {
  const log = new RaftLog(null, []);
  for (let index = 1; index <= 200; index++) {
    log.append([command(index, 1 + Math.floor(index / 50))]);
    if (index % 7 === 0) {
      log.markHandedOut();
      log.markPersisted(i(index), log.term(i(index))!);
    }
    if (index % 40 === 0) log.compact(meta(index - 10, log.term(i(index - 10))!));
    log.checkInvariants();
  }
  assert.equal(log.lastIndex(), 200);
});
