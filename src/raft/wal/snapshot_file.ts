/**
 * Snapshot files: `snapshot-<index>-<term>.snap` (both zero-padded to 20 digits so names
 * sort by index), a 40-byte header and the data:
 *
 *   magic "SKVS" u32 | version u8 | 3 zero bytes | index u64 | term u64 | data length u64
 *   | data crc32c u32 | header crc32c u32 (of the 36 bytes before it)      (little-endian)
 *
 * Written as `<name>.tmp`, fsynced, renamed, then the directory fsynced: a crash leaves either
 * no file, a `.tmp` that start-up deletes, or the complete file. The WAL, not the file, decides
 * which snapshot is current (see file_storage.ts), so a complete file whose WAL record never
 * became durable is an orphan that start-up deletes too.
 */

import { join } from "node:path";
import { asIndex, asTerm, type Snapshot, type SnapshotMeta } from "../core/types.ts";
import { ByteReader, ByteWriter, DecodeError } from "./bytes.ts";
import { crc32c } from "./crc32c.ts";
import { syncDirectory, writeAll } from "./file_sync.ts";
import { SNAPSHOT_HEADER_BYTES, WAL_SNAPSHOT_BYTES_MAX } from "./limits.ts";
import { ioError, StorageError } from "./storage_error.ts";

/** "SKVS" little-endian. */
const SNAPSHOT_MAGIC = 0x53564b53;
const SNAPSHOT_VERSION = 1;
const NAME_PATTERN = /^snapshot-(\d{20})-(\d{20})\.snap$/;
/** Suffix of a snapshot being written; such a file is never read, only deleted. */
export const TEMP_SUFFIX = ".tmp";

/** The file name of the snapshot with `meta`. */
export function snapshotFileName(meta: SnapshotMeta): string {
  return `snapshot-${String(meta.index).padStart(20, "0")}-${
    String(meta.term).padStart(20, "0")
  }.snap`;
}

/** The meta a snapshot file name stands for, or null when `name` is not one. */
export function parseSnapshotFileName(name: string): SnapshotMeta | null {
  const match = NAME_PATTERN.exec(name);
  if (match === null) return null;
  const index = Number(match[1]);
  const term = Number(match[2]);
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(term) || index < 1) return null;
  return { index: asIndex(index), term: asTerm(term) };
}

/** Writes `snapshot` durably under its final name; returns that name. */
export async function writeSnapshotFile(
  dir: string,
  snapshot: Snapshot,
  fsync: boolean,
): Promise<string> {
  const name = snapshotFileName(snapshot.meta);
  const path = join(dir, name);
  const temp = path + TEMP_SUFFIX;
  try {
    const file = await Deno.open(temp, { write: true, create: true, truncate: true });
    try {
      await writeAll(file, encodeSnapshotHeader(snapshot));
      await writeAll(file, snapshot.data);
      if (fsync) await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(temp, path);
    if (fsync) await syncDirectory(dir);
  } catch (error) {
    throw error instanceof StorageError ? error : ioError("write snapshot", path, error);
  }
  return name;
}

function encodeSnapshotHeader(snapshot: Snapshot): Uint8Array {
  const writer = new ByteWriter(new Uint8Array(SNAPSHOT_HEADER_BYTES));
  writer.u32(SNAPSHOT_MAGIC);
  writer.u8(SNAPSHOT_VERSION);
  writer.raw(new Uint8Array(3));
  writer.u64(snapshot.meta.index);
  writer.u64(snapshot.meta.term);
  writer.u64(snapshot.data.byteLength);
  writer.u32(crc32c(snapshot.data));
  writer.u32(crc32c(writer.bytes, 0, writer.offset));
  return writer.bytes;
}

/**
 * Reads the snapshot `meta` names and checks it against its header and checksums. Throws
 * StorageError "corrupt" (naming the file) when it is missing, short, or fails a check.
 */
export async function readSnapshotFile(dir: string, meta: SnapshotMeta): Promise<Snapshot> {
  const name = snapshotFileName(meta);
  const path = join(dir, name);
  const corrupt = (why: string) =>
    new StorageError("corrupt", `Snapshot file ${path} is corrupt: ${why}`, { file: path });
  let size: number;
  try {
    size = (await Deno.stat(path)).size;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new StorageError("corrupt", `Snapshot file ${path} named by the WAL is missing`, {
        file: path,
      });
    }
    throw ioError("stat snapshot", path, error);
  }
  if (size < SNAPSHOT_HEADER_BYTES) throw corrupt(`${size} bytes is shorter than its header`);
  if (size > SNAPSHOT_HEADER_BYTES + WAL_SNAPSHOT_BYTES_MAX) {
    throw corrupt(`${size} bytes is too large`);
  }
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    throw ioError("read snapshot", path, error);
  }
  const storedHeaderCrc = new DataView(bytes.buffer).getUint32(SNAPSHOT_HEADER_BYTES - 4, true);
  if (crc32c(bytes, 0, SNAPSHOT_HEADER_BYTES - 4) !== storedHeaderCrc) {
    throw corrupt("header checksum mismatch");
  }
  const reader = new ByteReader(bytes, 0, SNAPSHOT_HEADER_BYTES);
  if (reader.u32() !== SNAPSHOT_MAGIC) throw corrupt("bad magic");
  const version = reader.u8();
  if (version !== SNAPSHOT_VERSION) throw corrupt(`unsupported version ${version}`);
  reader.offset += 3;
  let index: number, term: number, length: number;
  try {
    [index, term, length] = [reader.u64(), reader.u64(), reader.u64()];
  } catch (error) {
    if (error instanceof DecodeError) throw corrupt(error.message); // A u64 beyond 2^53.
    throw error;
  }
  const dataCrc = reader.u32();
  if (index !== meta.index || term !== meta.term) {
    throw corrupt(`header says index ${index} term ${term}, name says ${meta.index} ${meta.term}`);
  }
  if (length !== size - SNAPSHOT_HEADER_BYTES) {
    throw corrupt(`header says ${length} data bytes, file holds ${size - SNAPSHOT_HEADER_BYTES}`);
  }
  const data = bytes.subarray(SNAPSHOT_HEADER_BYTES);
  if (crc32c(data) !== dataCrc) throw corrupt("data checksum mismatch");
  return { meta: { index: asIndex(index), term: asTerm(term) }, data };
}
