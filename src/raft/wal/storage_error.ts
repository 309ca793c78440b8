/**
 * The errors a caller of {@link FileStorage} can meet in normal operation (STYLE.md #3):
 * the directory is locked by another process, the data on disk is corrupt, or the file
 * system failed. Each names the file (and offset) so that an operator can act on it.
 */

/** Why storage failed. */
export type StorageErrorCode =
  /** Another process (or another FileStorage in this one) holds the data directory. */
  | "locked"
  /** Data on disk fails its checksum or its structure in a place a crash cannot explain. */
  | "corrupt"
  /** The file system refused an operation; the storage accepts no further writes. */
  | "io";

/** Where in the data directory the problem is. */
export interface StorageErrorLocation {
  readonly file?: string;
  readonly offset?: number;
  readonly cause?: unknown;
}

/** A storage failure with a machine-readable `code`. */
export class StorageError extends Error {
  override readonly name = "StorageError";
  readonly code: StorageErrorCode;
  readonly file?: string;
  readonly offset?: number;

  constructor(code: StorageErrorCode, message: string, location: StorageErrorLocation = {}) {
    super(message, location.cause === undefined ? undefined : { cause: location.cause });
    this.code = code;
    if (location.file !== undefined) this.file = location.file;
    if (location.offset !== undefined) this.offset = location.offset;
  }
}

/** Wraps a file-system error as an "io" StorageError naming what was being done. */
export function ioError(action: string, file: string, cause: unknown): StorageError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new StorageError("io", `Cannot ${action} ${file}: ${reason}`, { file, cause });
}
