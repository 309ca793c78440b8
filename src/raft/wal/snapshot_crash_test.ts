/**
 * Crashes around snapshots, staged by putting the directory into the state a crash at that
 * point leaves: a snapshot temp file (deleted at start-up); a complete snapshot file whose WAL
 * record never became durable (the old state, the orphan deleted); a durable snapshot whose
 * clean-up did not run (the new state, old segments and snapshot files deleted); a received
 * snapshot at the same three points; and a damaged or missing current snapshot ("corrupt").
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  batch,
  commands,
  hardState,
  persist,
  snapshot,
} from "../../../tests/contracts/storage_contract.ts";
import { snapshotFileName } from "./snapshot_file.ts";
import { StorageError } from "./storage_error.ts";
import type { FileStorage } from "./file_storage.ts";
import {
  captureSegments,
  flipBit,
  openLogged,
  restoreSegments,
  segmentNames,
  snapshotNames,
  withTempDir,
} from "./test_helpers.ts";

const SMALL_SEGMENTS = { segmentBytes: 512 };

/** Fills several segments with entries 1..count of term 1. */
async function fill(storage: FileStorage, count: number): Promise<void> {
  for (let index = 1; index <= count; index += 5) {
    await persist(
      storage,
      batch({ entries: commands(index, index + 4, 1), hardState: hardState(1, 1, index) }),
    );
  }
}

Deno.test("snapshot: a temp file left by a crash while writing a snapshot is deleted at start-up", async () => {
  await withTempDir(async (dir) => {
    const { storage } = await openLogged(dir);
    await fill(storage, 10);
    const before = storage.load();
    await storage.close();
    const temp = join(dir, snapshotFileName(snapshot(5, 1).meta) + ".tmp");
    Deno.writeFileSync(temp, new Uint8Array(17));
    const reopened = await openLogged(dir);
    assert.deepEqual(reopened.storage.load(), before);
    assert.deepEqual(snapshotNames(dir), []);
    assert.ok(reopened.lines.some((line) => line.fields.file === temp));
    await reopened.storage.close();
  });
});

Deno.test("snapshot: a crash after the snapshot rename but before its WAL record recovers the old state", async () => {
  await withTempDir(async (dir) => {
    const { storage } = await openLogged(dir, SMALL_SEGMENTS);
    await fill(storage, 60);
    await persist(storage, batch({ compaction: snapshot(20, 1) }));
    const before = storage.load();
    const oldName = snapshotFileName(before.snapshot!.meta);
    const oldSnapshot = Deno.readFileSync(join(dir, oldName));
    const wal = captureSegments(dir);
    await persist(storage, batch({ compaction: snapshot(50, 1, 999) }));
    await storage.close();
    // The state a crash leaves: the new snapshot file durable, its WAL record not, no clean-up.
    restoreSegments(dir, wal);
    Deno.writeFileSync(join(dir, oldName), oldSnapshot);
    assert.deepEqual(snapshotNames(dir), [oldName, snapshotFileName(snapshot(50, 1).meta)]);
    const reopened = await openLogged(dir, SMALL_SEGMENTS);
    assert.deepEqual(reopened.storage.load(), before);
    assert.deepEqual(snapshotNames(dir), [oldName]);
    await reopened.storage.close();
  });
});

Deno.test("snapshot: a crash after the WAL record but before the clean-up recovers the new state and cleans up", async () => {
  await withTempDir(async (dir) => {
    const { storage } = await openLogged(dir, SMALL_SEGMENTS);
    await fill(storage, 60);
    await persist(storage, batch({ compaction: snapshot(20, 1) }));
    const oldSnapshot = Deno.readFileSync(join(dir, snapshotNames(dir)[0]!));
    const wal = captureSegments(dir);
    await persist(storage, batch({ compaction: snapshot(50, 1, 999) }));
    const after = storage.load();
    const live = segmentNames(dir);
    assert.ok(live.length < wal.size, "the compaction removed covered segments");
    await storage.close();
    for (const [name, bytes] of wal) {
      if (!live.includes(name)) Deno.writeFileSync(join(dir, name), bytes);
    }
    Deno.writeFileSync(join(dir, snapshotFileName(snapshot(20, 1).meta)), oldSnapshot);
    const reopened = await openLogged(dir, SMALL_SEGMENTS);
    assert.deepEqual(reopened.storage.load(), after);
    assert.deepEqual(segmentNames(dir), live);
    assert.deepEqual(snapshotNames(dir), [snapshotFileName(snapshot(50, 1).meta)]);
    await reopened.storage.close();
  });
});

Deno.test("snapshot: a received snapshot replaces the log at every crash point", async () => {
  await withTempDir(async (dir) => {
    const { storage } = await openLogged(dir, SMALL_SEGMENTS);
    await fill(storage, 40);
    const before = storage.load();
    const oldWal = captureSegments(dir);
    await persist(
      storage,
      batch({
        received: snapshot(100, 3, 777),
        entries: commands(101, 102, 3),
        hardState: hardState(3, null, 100),
      }),
    );
    const after = storage.load();
    const newWal = captureSegments(dir);
    assert.equal(newWal.size, 1, "every older segment is deleted once the reset is durable");
    await storage.close();
    // Crash before the clean-up: old segments still there, the reset record durable.
    restoreSegments(dir, new Map([...oldWal, ...newWal]));
    let reopened = await openLogged(dir, SMALL_SEGMENTS);
    assert.deepEqual(reopened.storage.load(), after);
    assert.deepEqual(segmentNames(dir), [...newWal.keys()]);
    await reopened.storage.close();
    // Crash before the reset record: the snapshot file is an orphan.
    restoreSegments(dir, oldWal);
    reopened = await openLogged(dir, SMALL_SEGMENTS);
    assert.deepEqual(reopened.storage.load(), before);
    assert.deepEqual(snapshotNames(dir), []);
    await reopened.storage.close();
  });
});

Deno.test("snapshot: a damaged or missing current snapshot fails start-up as corrupt, naming the file", async () => {
  await withTempDir(async (dir) => {
    const { storage } = await openLogged(dir);
    await fill(storage, 10);
    await persist(storage, batch({ compaction: snapshot(8, 1, 100) }));
    await storage.close();
    const path = join(dir, snapshotFileName(snapshot(8, 1).meta));
    const whole = Deno.readFileSync(path);
    for (const offset of [0, 12, 39, 40, 90, whole.length - 1]) {
      Deno.writeFileSync(path, whole);
      flipBit(path, offset, 3);
      await assert.rejects(
        openLogged(dir),
        (error: unknown) =>
          error instanceof StorageError && error.code === "corrupt" && error.file === path &&
          error.message.includes(path),
      );
    }
    Deno.removeSync(path);
    await assert.rejects(
      openLogged(dir),
      (error: unknown) =>
        error instanceof StorageError && error.code === "corrupt" && /missing/.test(error.message),
    );
    Deno.writeFileSync(path, whole);
    const reopened = await openLogged(dir);
    assert.deepEqual(reopened.storage.load().snapshot, snapshot(8, 1, 100));
    await reopened.storage.close();
  });
});
