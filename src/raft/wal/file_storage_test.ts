/**
 * FileStorage behaviour the contract does not cover: one fdatasync per batch (group commit,
 * also across a segment rollover), no I/O for a batch with nothing to persist, and an I/O
 * failure that poisons the storage so that nothing is ever appended after a partial record.
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
import { FileStorage } from "./file_storage.ts";
import { snapshotFileName } from "./snapshot_file.ts";
import { StorageError } from "./storage_error.ts";
import { segmentNames, withTempDir } from "./test_helpers.ts";

Deno.test("file storage: every batch is one fdatasync, across rollovers too; an empty batch is none", async () => {
  await withTempDir(async (dir) => {
    const syncs: number[] = [];
    const storage = await FileStorage.open({
      dir,
      segmentBytes: 1024,
      fsync: true,
      onSync: (latencyMs, bytes) => {
        assert.ok(latencyMs >= 0);
        syncs.push(bytes);
      },
    });
    try {
      for (let round = 0; round < 40; round++) {
        await persist(
          storage,
          batch({
            entries: commands(round * 8 + 1, round * 8 + 8, 1),
            hardState: hardState(1, 1, round),
          }),
        );
        await persist(storage, batch({}));
      }
      assert.equal(syncs.length, 40);
      assert.ok(segmentNames(dir).length > 3, "the batches rolled over several segments");
      // Everything on disk went through those syncs, except the first header (written at open).
      const onDisk = segmentNames(dir).reduce(
        (sum, name) => sum + Deno.statSync(join(dir, name)).size,
        0,
      );
      const firstHeader = onDisk - syncs.reduce((sum, bytes) => sum + bytes, 0);
      assert.ok(firstHeader > 0 && firstHeader < 64, `${firstHeader} bytes unaccounted for`);
    } finally {
      await storage.close();
    }
  });
});

Deno.test("file storage: after an I/O error every later write fails too, and nothing is appended", async () => {
  await withTempDir(async (dir) => {
    const storage = await FileStorage.open({ dir, segmentBytes: 1 << 20, fsync: false });
    try {
      await persist(storage, batch({ entries: commands(1, 5, 1) }));
      // A directory where the snapshot's temp file must go makes the snapshot write fail.
      Deno.mkdirSync(join(dir, snapshotFileName(snapshot(3, 1).meta) + ".tmp"));
      const size = Deno.statSync(join(dir, segmentNames(dir)[0]!)).size;
      await assert.rejects(
        persist(storage, batch({ compaction: snapshot(3, 1) })),
        (error: unknown) =>
          error instanceof StorageError && error.code === "io" && error.file !== undefined,
      );
      await assert.rejects(persist(storage, batch({ entries: commands(6, 6, 1) })), StorageError);
      assert.equal(Deno.statSync(join(dir, segmentNames(dir)[0]!)).size, size);
      assert.deepEqual(storage.load().entries, commands(1, 5, 1));
    } finally {
      await storage.close();
    }
  });
});

Deno.test("file storage: close waits for the outstanding write, whose done runs first", async () => {
  await withTempDir(async (dir) => {
    const storage = await FileStorage.open({ dir, segmentBytes: 1 << 20, fsync: true });
    const events: string[] = [];
    storage.write(batch({ entries: commands(1, 100, 1) }), (error) => events.push(`done ${error}`));
    await storage.close();
    events.push("closed");
    assert.deepEqual(events, ["done null", "closed"]);
    const reopened = await FileStorage.open({ dir, segmentBytes: 1 << 20, fsync: true });
    assert.equal(reopened.load().entries.length, 100);
    await reopened.close();
  });
});
