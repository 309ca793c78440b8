/**
 * Small file-system helpers with the durability rules spelled out: write everything, sync
 * file data, sync a directory so that a create, rename or unlink inside it survives a power
 * loss (POSIX: fsync of the file does not make its directory entry durable).
 */

import { assert } from "../../util/assert.ts";

/** Writes all of `bytes` (Deno.FsFile.write may write fewer bytes than asked). */
export async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    const count = await file.write(bytes.subarray(written));
    assert(count > 0, () => `write made no progress at ${written} of ${bytes.length} bytes`);
    written += count;
  }
}

/**
 * Makes the entries of `dir` (created, renamed, removed files) durable. Linux and macOS let
 * a directory be opened and fsynced. Windows cannot open a directory through Deno's API;
 * NTFS journals its metadata, so there the call is skipped (a known, documented gap).
 */
export async function syncDirectory(dir: string): Promise<void> {
  if (Deno.build.os === "windows") return;
  const handle = await Deno.open(dir, { read: true });
  try {
    await handle.sync();
  } finally {
    handle.close();
  }
}

/** True when `error` is Deno's "file not found". */
export function isNotFound(error: unknown): boolean {
  return error instanceof Deno.errors.NotFound;
}
