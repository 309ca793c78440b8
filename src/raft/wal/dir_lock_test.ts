/**
 * The data directory lock: a second open in this process, or in another process, fails at
 * once with StorageError "locked" and a message naming the directory and the lock file; the
 * lock is free again after close, and after its holder is killed with SIGKILL (the kernel
 * drops an flock with the process, so no stale lock is left behind).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { FileStorage } from "./file_storage.ts";
import { LOCK_FILE_NAME } from "./dir_lock.ts";
import { StorageError } from "./storage_error.ts";
import { withTempDir } from "./test_helpers.ts";

function isLocked(dir: string) {
  return (error: unknown) =>
    error instanceof StorageError && error.code === "locked" &&
    error.message.startsWith(
      `data directory ${dir} is in use by another process (lock file ${join(dir, LOCK_FILE_NAME)}`,
    );
}

const open = (dir: string) => FileStorage.open({ dir, segmentBytes: 1 << 20, fsync: false });

Deno.test("lock: a second open of the same data directory in this process fails with 'locked'", async () => {
  await withTempDir(async (dir) => {
    const first = await open(dir);
    try {
      await assert.rejects(open(dir), isLocked(dir));
    } finally {
      await first.close();
    }
    const again = await open(dir);
    await again.close();
  });
});

Deno.test("lock: another process cannot open a held directory, and a SIGKILLed holder leaves no stale lock", async () => {
  await withTempDir(async (dir) => {
    const module = new URL("./file_storage.ts", import.meta.url).href;
    const script = `
      import { FileStorage } from ${JSON.stringify(module)};
      await FileStorage.open({ dir: ${JSON.stringify(dir)}, segmentBytes: 1 << 20, fsync: false });
      console.log("holding");
      setInterval(() => {}, 1000);
    `;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["eval", script],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    try {
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let output = "";
      while (!output.includes("holding")) {
        const { value, done } = await reader.read();
        assert.ok(!done, `child exited before taking the lock: ${output}`);
        output += value;
      }
      await assert.rejects(open(dir), (error: unknown) => {
        assert.ok(isLocked(dir)(error), String(error));
        assert.match((error as Error).message, new RegExp(`held by pid ${child.pid}`));
        return true;
      });
      reader.releaseLock();
    } finally {
      child.kill("SIGKILL");
      await child.status;
      await child.stdout.cancel().catch(() => {});
    }
    const storage = await open(dir);
    await storage.close();
  });
});
