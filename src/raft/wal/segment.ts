/**
 * The active (last) WAL segment: the only file the storage appends to. Each append is one
 * write of whole records and, with fsync on, one fdatasync (group commit: a batch's entries
 * and hard state share both). Creating a segment also fsyncs the directory, so that the new
 * file's name is as durable as the records in it.
 */

import { join } from "node:path";
import { assert } from "../../util/assert.ts";
import { segmentFileName } from "./data_dir.ts";
import { syncDirectory, writeAll } from "./file_sync.ts";
import { ioError } from "./storage_error.ts";

/** What one append cost, for the storage's `onSync` metric. */
export interface AppendResult {
  readonly bytes: number;
  /** Time the fdatasync took, or 0 when fsync is off. */
  readonly syncMs: number;
}

/** An open segment file, positioned at its end. */
export class ActiveSegment {
  readonly sequence: number;
  readonly name: string;
  readonly path: string;
  /** Bytes in the file (all of them whole records). */
  size: number;
  #file: Deno.FsFile | null;

  private constructor(
    sequence: number,
    name: string,
    path: string,
    size: number,
    file: Deno.FsFile,
  ) {
    this.sequence = sequence;
    this.name = name;
    this.path = path;
    this.size = size;
    this.#file = file;
  }

  /**
   * Creates segment `sequence` (it must not exist) and writes `records` (its header, maybe
   * with the first batch) as one durable append; the directory is then fsynced.
   */
  static async create(
    dir: string,
    sequence: number,
    firstIndex: number,
    records: Uint8Array,
    fsync: boolean,
  ): Promise<{ segment: ActiveSegment; result: AppendResult }> {
    const name = segmentFileName(sequence, firstIndex);
    const path = join(dir, name);
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { write: true, createNew: true, append: true });
    } catch (error) {
      throw ioError("create WAL segment", path, error);
    }
    const segment = new ActiveSegment(sequence, name, path, 0, file);
    try {
      const result = await segment.append(records, fsync);
      if (fsync) await syncDirectory(dir);
      return { segment, result };
    } catch (error) {
      segment.close();
      throw error;
    }
  }

  /** Opens an existing segment of `size` valid bytes for appending. */
  static async openForAppend(
    dir: string,
    sequence: number,
    name: string,
    size: number,
  ): Promise<ActiveSegment> {
    const path = join(dir, name);
    try {
      const file = await Deno.open(path, { write: true, append: true });
      return new ActiveSegment(sequence, name, path, size, file);
    } catch (error) {
      throw ioError("open WAL segment", path, error);
    }
  }

  /** Appends whole records with one write and (with fsync on) one fdatasync. */
  async append(records: Uint8Array, fsync: boolean): Promise<AppendResult> {
    const file = this.#file;
    assert(file !== null, () => `WAL segment ${this.name} is closed`);
    assert(records.length > 0, "Cannot append an empty record buffer");
    try {
      await writeAll(file, records);
      this.size += records.length;
      if (!fsync) return { bytes: records.length, syncMs: 0 };
      // Measuring the latency of real I/O is the one use of a clock here; nothing depends on it.
      const started = performance.now();
      await file.syncData();
      return { bytes: records.length, syncMs: performance.now() - started };
    } catch (error) {
      throw ioError("append to WAL segment", this.path, error);
    }
  }

  close(): void {
    this.#file?.close();
    this.#file = null;
  }
}
