/**
 * Start-up after a crash in the middle of a write, and after disk corruption: a WAL cut at
 * every byte of its last record reopens to exactly the state before that record (and says so
 * in a warning); a flipped bit in the last record is a torn write too; a flipped bit in any
 * earlier record, or anywhere in an older segment, stops start-up with StorageError
 * "corrupt" naming the file and the offset. Files are cut and flipped by hand, then reopened.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { PersistedState } from "../core/types.ts";
import { batch, commands, hardState, persist } from "../../../tests/contracts/storage_contract.ts";
import { StorageError } from "./storage_error.ts";
import { fileSize, flipBit, openLogged, segmentNames, withTempDir } from "./test_helpers.ts";

/** Writes three batches into one segment; returns the offsets of the last two and the states before them. */
async function threeRecords(dir: string) {
  const { storage } = await openLogged(dir);
  const path = join(dir, segmentNames(dir)[0]!);
  await persist(storage, batch({ entries: commands(1, 3, 1), hardState: hardState(1, 1, 0) }));
  const middleStart = fileSize(path);
  const beforeMiddle = storage.load();
  await persist(storage, batch({ entries: commands(4, 6, 1), hardState: hardState(1, 1, 3) }));
  const lastStart = fileSize(path);
  const beforeLast = storage.load();
  await persist(storage, batch({ entries: commands(5, 9, 2), hardState: hardState(2, 2, 6) }));
  const end = fileSize(path);
  await storage.close();
  return { path, middleStart, lastStart, end, beforeMiddle, beforeLast };
}

async function expectCorrupt(dir: string, file: string, offset: number): Promise<void> {
  const error = await openLogged(dir).then(
    async ({ storage }) => {
      await storage.close();
      return null;
    },
    (error: unknown) => error,
  );
  assert.ok(error instanceof StorageError, `expected StorageError, got ${error}`);
  assert.equal(error.code, "corrupt");
  assert.equal(error.file, file);
  assert.equal(error.offset, offset);
  assert.match(error.message, new RegExp(`${file}.*offset ${offset}`));
}

async function expectState(
  dir: string,
  state: PersistedState,
  tornAt: number | null,
  path: string,
) {
  const { storage, lines } = await openLogged(dir);
  try {
    assert.deepEqual(storage.load(), state);
    const warnings = lines.filter((line) => line.level === "warn");
    if (tornAt === null) {
      assert.equal(warnings.length, 0);
    } else {
      assert.equal(warnings.length, 1);
      assert.equal(warnings[0]!.fields.file, path);
      assert.equal(warnings[0]!.fields.offset, tornAt);
      assert.equal(fileSize(path), tornAt, "the torn tail is cut off");
    }
  } finally {
    await storage.close();
  }
}

Deno.test("wal: a WAL cut at every byte of its last record reopens to the state before that record", async () => {
  await withTempDir(async (dir) => {
    const { path, lastStart, end, beforeLast } = await threeRecords(dir);
    const whole = Deno.readFileSync(path);
    for (let cut = lastStart; cut < end; cut++) {
      Deno.writeFileSync(path, whole.subarray(0, cut));
      await expectState(dir, beforeLast, cut === lastStart ? null : lastStart, path);
    }
  });
});

Deno.test("wal: a WAL whose tail is zero-filled (an extended file with unwritten pages) is a torn tail", async () => {
  await withTempDir(async (dir) => {
    const { path, lastStart, end, beforeLast } = await threeRecords(dir);
    const bytes = Deno.readFileSync(path);
    bytes.fill(0, lastStart + 3, end);
    Deno.writeFileSync(path, bytes);
    await expectState(dir, beforeLast, lastStart, path);
  });
});

Deno.test("wal: a flipped bit in the last record is treated as a torn tail", async () => {
  await withTempDir(async (dir) => {
    const { path, lastStart, end, beforeLast } = await threeRecords(dir);
    const whole = Deno.readFileSync(path);
    for (let offset = lastStart; offset < end; offset++) {
      Deno.writeFileSync(path, whole);
      flipBit(path, offset, offset % 8);
      await expectState(dir, beforeLast, lastStart, path);
    }
  });
});

Deno.test("wal: a flipped bit in a record followed by valid ones fails start-up as corrupt, naming file and offset", async () => {
  await withTempDir(async (dir) => {
    const { path, middleStart, lastStart } = await threeRecords(dir);
    const whole = Deno.readFileSync(path);
    for (let offset = middleStart; offset < lastStart; offset++) {
      Deno.writeFileSync(path, whole);
      flipBit(path, offset, offset % 8);
      await expectCorrupt(dir, path, middleStart);
    }
    Deno.writeFileSync(path, whole);
    flipBit(path, 2, 0); // The segment header itself.
    await expectCorrupt(dir, path, 0);
  });
});

Deno.test("wal: damage at the end of an older segment is corruption, not a torn tail", async () => {
  await withTempDir(async (dir) => {
    const { storage } = await openLogged(dir, { segmentBytes: 512 });
    for (let round = 0; round < 40; round++) {
      await persist(storage, batch({ entries: commands(round * 4 + 1, round * 4 + 4, 1) }));
    }
    await storage.close();
    const names = segmentNames(dir);
    assert.ok(names.length >= 3, `${names.length} segments`);
    const path = join(dir, names[0]!);
    const lastStart = await lastRecordStart(path);
    assert.ok(lastStart !== null && lastStart > 0);
    Deno.truncateSync(path, fileSize(path) - 1);
    await expectCorrupt(dir, path, lastStart);
  });
});

Deno.test("wal: a segment torn while being created is removed and the previous one continues", async () => {
  await withTempDir(async (dir) => {
    const { storage } = await openLogged(dir, { segmentBytes: 512 });
    let before = storage.load();
    for (let round = 0; segmentNames(dir).length === 1; round++) {
      before = storage.load();
      await persist(storage, batch({ entries: commands(round * 4 + 1, round * 4 + 4, 1) }));
    }
    await storage.close();
    const [first, rolled] = segmentNames(dir) as [string, string];
    const path = join(dir, rolled);
    const whole = Deno.readFileSync(path);
    const headerEnd = (await import("./record_scan.ts")).scanSegment(whole).records[0]!.end;
    for (let cut = 0; cut < whole.length; cut++) {
      Deno.writeFileSync(path, whole.subarray(0, cut));
      const { storage, lines } = await openLogged(dir, { segmentBytes: 512 });
      assert.deepEqual(storage.load(), before, `cut at ${cut}`);
      assert.equal(lines.filter((line) => line.level === "warn").length, cut === headerEnd ? 0 : 1);
      await storage.close();
      assert.deepEqual(segmentNames(dir), cut < headerEnd ? [first] : [first, rolled]);
    }
  });
});

Deno.test("wal: a missing segment in the middle, or a missing first segment, fails start-up as corrupt", async () => {
  await withTempDir(async (dir) => {
    const { storage } = await openLogged(dir, { segmentBytes: 512 });
    for (let round = 0; round < 40; round++) {
      await persist(storage, batch({ entries: commands(round * 4 + 1, round * 4 + 4, 1) }));
    }
    await storage.close();
    const names = segmentNames(dir);
    const middle = Deno.readFileSync(join(dir, names[1]!));
    Deno.removeSync(join(dir, names[1]!));
    await assert.rejects(
      openLogged(dir),
      (error: unknown) =>
        error instanceof StorageError && error.code === "corrupt" &&
        error.file === join(dir, names[2]!),
    );
    Deno.writeFileSync(join(dir, names[1]!), middle);
    Deno.removeSync(join(dir, names[0]!));
    await assert.rejects(
      openLogged(dir),
      (error: unknown) =>
        error instanceof StorageError && error.code === "corrupt" &&
        /missing the entries from 1/.test(error.message),
    );
  });
});

/** The offset of the last whole record of a segment, found by walking its frames. */
async function lastRecordStart(path: string): Promise<number | null> {
  const { scanSegment } = await import("./record_scan.ts");
  return scanSegment(await Deno.readFile(path)).records.at(-1)?.offset ?? null;
}
