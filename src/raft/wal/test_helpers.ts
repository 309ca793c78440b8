/**
 * Helpers shared by the file storage tests: temp directories, reading and rewriting the
 * files of a data directory (to stage the state a crash would leave), and opening storages
 * that log into memory.
 */

import { join } from "node:path";
import { type LogLevel, memoryLogger } from "../../util/logger.ts";
import { FileStorage, type FileStorageOptions } from "./file_storage.ts";

/** Runs `body` with a fresh temp directory, removed afterwards whatever happens. */
export async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "shardkv-wal-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The names of the WAL segments in `dir`, in sequence order. */
export function segmentNames(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((item) => item.name).filter((name) =>
    name.startsWith("wal-")
  )
    .sort();
}

/** The names of the snapshot files (complete or temporary) in `dir`. */
export function snapshotNames(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((item) => item.name)
    .filter((name) => name.startsWith("snapshot-")).sort();
}

/** Every segment's bytes, by name: a copy of the WAL as it is now. */
export function captureSegments(dir: string): Map<string, Uint8Array> {
  return new Map(segmentNames(dir).map((name) => [name, Deno.readFileSync(join(dir, name))]));
}

/** Makes the WAL of `dir` exactly `captured` (segments not in it are deleted). */
export function restoreSegments(dir: string, captured: Map<string, Uint8Array>): void {
  for (const name of segmentNames(dir)) if (!captured.has(name)) Deno.removeSync(join(dir, name));
  for (const [name, bytes] of captured) Deno.writeFileSync(join(dir, name), bytes);
}

/** Flips bit `bit` of the byte at `offset` of `path`. */
export function flipBit(path: string, offset: number, bit: number): void {
  const bytes = Deno.readFileSync(path);
  bytes[offset]! ^= 1 << bit;
  Deno.writeFileSync(path, bytes);
}

/** Opens a storage on `dir` (fsync off unless asked: these tests stage crashes by hand). */
export async function openLogged(
  dir: string,
  options: Partial<FileStorageOptions> = {},
  level: LogLevel = "info",
): Promise<{ storage: FileStorage; lines: ReturnType<typeof memoryLogger>["lines"] }> {
  const { logger, lines } = memoryLogger(level);
  const storage = await FileStorage.open({
    dir,
    segmentBytes: 1 << 20,
    fsync: false,
    logger,
    ...options,
  });
  return { storage, lines };
}

/** The size of `path` in bytes. */
export function fileSize(path: string): number {
  return Deno.statSync(path).size;
}
