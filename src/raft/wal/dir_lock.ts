/**
 * An exclusive lock on a data directory, so that two replicas never append to one WAL.
 *
 * Mechanism: an advisory `flock(LOCK_EX | LOCK_NB)` on `<dir>/LOCK`, through Deno's
 * `FsFile.tryLock(true)` (non-blocking; `lock()` would block). The kernel ties the lock to the
 * open file description and drops it when the holder exits for any reason, `kill -9`
 * included, so a stale lock cannot outlive its process and no pid-liveness guessing is needed
 * (a pid file with O_EXCL would need exactly that, and pids are reused). A second
 * `FileStorage.open` in the same process opens a new description and is refused too. The
 * holder's pid is written into the file for the error message only. The file is never
 * deleted: unlinking it would let a third process lock a fresh inode while a second still
 * holds the old one. Caveat: advisory locks on NFS depend on the server; use a local disk.
 */

import { join } from "node:path";
import { ioError, StorageError } from "./storage_error.ts";

/** Name of the lock file inside the data directory. */
export const LOCK_FILE_NAME = "LOCK";

/** A held lock; `release` gives it back. */
export class DirectoryLock {
  readonly path: string;
  #file: Deno.FsFile | null;

  private constructor(path: string, file: Deno.FsFile) {
    this.path = path;
    this.#file = file;
  }

  /** Takes the lock on `dir` or throws StorageError "locked" at once (never waits). */
  static async acquire(dir: string): Promise<DirectoryLock> {
    const path = join(dir, LOCK_FILE_NAME);
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true, write: true, create: true });
    } catch (error) {
      throw ioError("open lock file", path, error);
    }
    let locked: boolean;
    try {
      locked = await file.tryLock(true);
    } catch (error) {
      file.close();
      throw ioError("lock", path, error);
    }
    if (!locked) {
      file.close();
      const holder = await readHolder(path);
      throw new StorageError(
        "locked",
        `data directory ${dir} is in use by another process (lock file ${path}${holder})`,
        { file: path },
      );
    }
    try {
      await file.truncate(0);
      await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
    } catch (error) {
      file.close();
      throw ioError("write lock file", path, error);
    }
    return new DirectoryLock(path, file);
  }

  /** Releases the lock (closing the descriptor releases it; unlock first to be explicit). */
  async release(): Promise<void> {
    const file = this.#file;
    if (file === null) return;
    this.#file = null;
    try {
      await file.unlock();
    } finally {
      file.close();
    }
  }
}

async function readHolder(path: string): Promise<string> {
  try {
    const text = (await Deno.readTextFile(path)).trim();
    return /^\d+$/.test(text) ? `, held by pid ${text}` : "";
  } catch {
    return ""; // The pid is only a hint for the message.
  }
}
