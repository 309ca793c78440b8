/**
 * The contract every {@link Storage} implementation passes (STYLE.md #7): what a replica
 * finds after a restart is exactly what it had persisted, with the ordering rules of
 * src/raft/storage.ts (received snapshot, compaction, entries, hard state). Each test writes
 * batches, waits for `done`, "crashes" (the harness reopens the storage as a restarted
 * process would) and compares `load()` before and after. The last test drives a seeded random
 * sequence of batches shaped like the ones the Raft core produces and checks every state
 * against {@link MemoryStorage}, the reference implementation.
 */

import assert from "node:assert/strict";
import { MemoryStorage } from "../../src/raft/memory_storage.ts";
import {
  asIndex,
  asNodeId,
  asTerm,
  EMPTY_PERSISTED_STATE,
  type Entry,
  type HardState,
  type Snapshot,
} from "../../src/raft/core/types.ts";
import type { PersistBatch, Storage } from "../../src/raft/storage.ts";
import { Prng } from "../../src/util/prng.ts";

/** One storage under test, and a way to restart it. */
export interface StorageHarness {
  /** The storage as currently open. */
  readonly storage: Storage;
  /** Restarts after everything acknowledged so far, as a crashed process would; returns the new one. */
  reopen(): Promise<Storage>;
  /** Closes the storage and removes whatever it created. */
  dispose(): Promise<void>;
}

/** Creates a fresh, empty storage. */
export type StorageFactory = () => Promise<StorageHarness>;

/** A command entry with `text` as its data. */
export function command(index: number, term: number, text = `${index}@${term}`): Entry {
  return {
    type: "command",
    term: asTerm(term),
    index: asIndex(index),
    data: new TextEncoder().encode(text),
  };
}

/** A no-op entry. */
export function noop(index: number, term: number): Entry {
  return { type: "noop", term: asTerm(term), index: asIndex(index) };
}

/** A hard state. */
export function hardState(term: number, votedFor: number | null, commit: number): HardState {
  return {
    term: asTerm(term),
    votedFor: votedFor === null ? null : asNodeId(votedFor),
    commit: asIndex(commit),
  };
}

/** A snapshot whose data is `bytes` bytes derived from its index. */
export function snapshot(index: number, term: number, bytes = 64): Snapshot {
  const data = new Uint8Array(bytes).map((_, k) => (index * 31 + k) & 0xff);
  return { meta: { index: asIndex(index), term: asTerm(term) }, data };
}

/** A batch with everything absent unless given. */
export function batch(parts: Partial<PersistBatch>): PersistBatch {
  return { hardState: null, entries: [], received: null, compaction: null, ...parts };
}

/** Writes `item` and resolves once `done` was called; fails if `done` reports an error. */
export function persist(storage: Storage, item: PersistBatch): Promise<void> {
  return new Promise((resolve, reject) => {
    storage.write(item, (error) => (error === null ? resolve() : reject(error)));
  });
}

/** Entries `from..to` (inclusive) of `term`. */
export function commands(from: number, to: number, term: number): Entry[] {
  const entries: Entry[] = [];
  for (let index = from; index <= to; index++) entries.push(command(index, term));
  return entries;
}

/** Registers the contract tests for the implementation called `name`. */
export function runStorageContract(name: string, factory: StorageFactory): void {
  const test = (title: string, body: (harness: StorageHarness) => Promise<void>) =>
    Deno.test(`storage contract (${name}): ${title}`, async () => {
      const harness = await factory();
      try {
        await body(harness);
      } finally {
        await harness.dispose();
      }
    });

  test("an empty store loads term 0, no vote, no snapshot and no entries", async (harness) => {
    assert.deepEqual(harness.storage.load(), EMPTY_PERSISTED_STATE);
    assert.deepEqual((await harness.reopen()).load(), EMPTY_PERSISTED_STATE);
  });

  test("entries and hard state written survive a restart unchanged", async (harness) => {
    await persist(
      harness.storage,
      batch({ entries: [noop(1, 1), ...commands(2, 4, 1)], hardState: hardState(1, 2, 0) }),
    );
    await persist(
      harness.storage,
      batch({ entries: commands(5, 6, 1), hardState: hardState(1, 2, 4) }),
    );
    await persist(harness.storage, batch({ hardState: hardState(2, null, 4) }));
    const before = harness.storage.load();
    assert.deepEqual(before, {
      hardState: hardState(2, null, 4),
      snapshot: null,
      entries: [noop(1, 1), ...commands(2, 6, 1)],
    });
    assert.deepEqual((await harness.reopen()).load(), before);
  });

  test("entries written at a stored index replace it and every entry after it (§5.3)", async (harness) => {
    await persist(
      harness.storage,
      batch({ entries: commands(1, 10, 1), hardState: hardState(1, 1, 3) }),
    );
    await persist(
      harness.storage,
      batch({ entries: commands(6, 7, 2), hardState: hardState(2, 3, 3) }),
    );
    const expected = {
      hardState: hardState(2, 3, 3),
      snapshot: null,
      entries: [...commands(1, 5, 1), ...commands(6, 7, 2)],
    };
    assert.deepEqual(harness.storage.load(), expected);
    assert.deepEqual((await harness.reopen()).load(), expected);
    await persist(harness.storage, batch({ entries: commands(1, 1, 3) }));
    await persist(harness.storage, batch({ entries: commands(2, 3, 3) }));
    assert.deepEqual((await harness.reopen()).load().entries, commands(1, 3, 3));
  });

  test("a snapshot received from the leader replaces the whole log and the previous snapshot (§7)", async (harness) => {
    await persist(
      harness.storage,
      batch({ entries: commands(1, 20, 1), hardState: hardState(1, 1, 10) }),
    );
    await persist(harness.storage, batch({ compaction: snapshot(5, 1) }));
    await persist(
      harness.storage,
      batch({ received: snapshot(30, 3, 500), hardState: hardState(3, null, 30) }),
    );
    const expected = {
      hardState: hardState(3, null, 30),
      snapshot: snapshot(30, 3, 500),
      entries: [],
    };
    assert.deepEqual(harness.storage.load(), expected);
    assert.deepEqual((await harness.reopen()).load(), expected);
    await persist(
      harness.storage,
      batch({ entries: commands(31, 33, 3), hardState: hardState(3, null, 32) }),
    );
    await persist(
      harness.storage,
      batch({ received: snapshot(32, 3), entries: commands(33, 33, 3) }),
    );
    assert.deepEqual((await harness.reopen()).load(), {
      hardState: hardState(3, null, 32),
      snapshot: snapshot(32, 3),
      entries: commands(33, 33, 3),
    });
  });

  test("a compaction drops the entries it covers and keeps the later ones (§7)", async (harness) => {
    await persist(
      harness.storage,
      batch({ entries: commands(1, 30, 2), hardState: hardState(2, 1, 25) }),
    );
    await persist(
      harness.storage,
      batch({ compaction: snapshot(12, 2, 300), entries: commands(31, 32, 2) }),
    );
    const expected = {
      hardState: hardState(2, 1, 25),
      snapshot: snapshot(12, 2, 300),
      entries: commands(13, 32, 2),
    };
    assert.deepEqual(harness.storage.load(), expected);
    assert.deepEqual((await harness.reopen()).load(), expected);
    await persist(harness.storage, batch({ compaction: snapshot(32, 2, 10) }));
    await persist(harness.storage, batch({ compaction: snapshot(20, 2) })); // Older: changes nothing.
    const reopened = (await harness.reopen()).load();
    assert.deepEqual(reopened, {
      hardState: hardState(2, 1, 25),
      snapshot: snapshot(32, 2, 10),
      entries: [],
    });
    await persist(harness.storage, batch({ entries: commands(33, 34, 3) }));
    assert.deepEqual((await harness.reopen()).load().entries, commands(33, 34, 3));
  });

  test("many batches across segment rollovers, truncations and compactions survive restarts", async (harness) => {
    let last = 0;
    for (let round = 1; round <= 60; round++) {
      const entries = commands(last + 1, last + 5, round);
      last += 5;
      await persist(harness.storage, batch({ entries, hardState: hardState(round, 1, last - 2) }));
      if (round % 7 === 0) {
        last -= 3; // A new leader overwrites the last three entries.
        await persist(harness.storage, batch({ entries: commands(last + 1, last + 2, round + 1) }));
        last += 2;
        await persist(harness.storage, batch({ hardState: hardState(round + 1, 2, last - 4) }));
      }
      if (round % 20 === 0) {
        const index = last - 10;
        const term = harness.storage.load().entries.find((entry) => entry.index === index)!.term;
        await persist(harness.storage, batch({ compaction: snapshot(index, term) }));
      }
    }
    const before = harness.storage.load();
    assert.equal(before.entries.at(-1)?.index, last);
    assert.deepEqual((await harness.reopen()).load(), before);
    assert.deepEqual((await harness.reopen()).load(), before);
  });

  test("done is called exactly once per write, also for a batch with nothing to persist", async (harness) => {
    const batches = [
      batch({}),
      batch({ entries: commands(1, 3, 1) }),
      batch({ hardState: hardState(1, 1, 1) }),
      batch({ compaction: snapshot(2, 1) }),
      batch({}),
    ];
    for (const item of batches) {
      let calls = 0;
      await new Promise<void>((resolve, reject) => {
        harness.storage.write(item, (error) => {
          calls++;
          if (error === null) resolve();
          else reject(error);
        });
      });
      await new Promise((resolve) => setTimeout(resolve, 1));
      assert.equal(calls, 1);
    }
  });

  test("raftStateBytes counts the live log and hard state; snapshotBytes the snapshot data", async (harness) => {
    const empty = harness.storage.raftStateBytes();
    assert.equal(harness.storage.snapshotBytes(), 0);
    await persist(
      harness.storage,
      batch({ entries: commands(1, 50, 1), hardState: hardState(1, 1, 50) }),
    );
    const full = harness.storage.raftStateBytes();
    assert.ok(full > empty + 50 * 4, `${full} bytes for 50 entries`);
    await persist(harness.storage, batch({ compaction: snapshot(40, 1, 1234) }));
    assert.ok(harness.storage.raftStateBytes() < full);
    assert.equal(harness.storage.snapshotBytes(), 1234);
    const storage = await harness.reopen();
    assert.equal(storage.snapshotBytes(), 1234);
    assert.ok(storage.raftStateBytes() < full);
  });

  for (const seed of RANDOM_SEEDS) {
    test(`a random sequence of batches shaped like the core's agrees with MemoryStorage across restarts (seed ${seed})`, async (harness) => {
      const random = new Prng(seed);
      const model = new MemoryStorage();
      for (let step = 0; step < RANDOM_STEPS; step++) {
        const item = randomBatch(random, model);
        await persist(model, item);
        await persist(harness.storage, item);
        assert.deepEqual(harness.storage.load(), model.load(), `seed ${seed} step ${step}`);
        if (random.chance(0.1)) {
          assert.deepEqual(
            (await harness.reopen()).load(),
            model.load(),
            `seed ${seed} restart at ${step}`,
          );
        }
      }
      assert.deepEqual((await harness.reopen()).load(), model.load(), `seed ${seed} final restart`);
    });
  }
}

/** Seeds of the randomized contract test (add any seed that ever failed). */
const RANDOM_SEEDS = [1, 2, 3, 4];
/** Batches per randomized run. */
const RANDOM_STEPS = 200;

/** A batch the Raft core could produce next for a replica whose durable state is `model`'s. */
function randomBatch(random: Prng, model: MemoryStorage): PersistBatch {
  const state = model.load();
  const snapshotIndex = state.snapshot?.meta.index ?? 0;
  const lastEntry = state.entries.at(-1);
  const lastIndex = lastEntry?.index ?? snapshotIndex;
  const lastTerm = lastEntry?.term ?? state.snapshot?.meta.term ?? 0;
  const term = Math.max(state.hardState.term, lastTerm) + (random.chance(0.1) ? 1 : 0);
  const roll = random.int(100);
  let received: Snapshot | null = null;
  let compaction: Snapshot | null = null;
  let entries: Entry[] = [];
  if (roll < 8) {
    const index = lastIndex + 1 + random.int(20);
    received = snapshot(index, term, random.int(200));
  } else if (roll < 18 && lastIndex > snapshotIndex) {
    const index = snapshotIndex + 1 + random.int(lastIndex - snapshotIndex);
    const entry = state.entries[index - snapshotIndex - 1]!;
    compaction = snapshot(index, entry.term, random.int(200));
  }
  const base = received?.meta.index ?? lastIndex;
  if (random.chance(0.7)) {
    const from = received !== null || !random.chance(0.2) ? base + 1 : Math.max(
      (compaction?.meta.index ?? snapshotIndex) + 1,
      lastIndex + 1 - random.int(6),
    );
    const count = 1 + random.int(12);
    entries = Array.from(
      { length: count },
      (_, k) =>
        random.chance(0.1)
          ? noop(from + k, term)
          : command(from + k, term, "x".repeat(random.int(300))),
    );
  }
  const vote = random.chance(0.5) ? 1 + random.int(5) : null;
  const hard = random.chance(0.6)
    ? hardState(term, vote, Math.min(lastIndex, random.int(lastIndex + 1)))
    : null;
  return { received, compaction, entries, hardState: hard };
}
