/** The durable storage of one replica: a segmented write-ahead log plus snapshot files. */

export { FileStorage, type FileStorageOptions } from "./file_storage.ts";
export { StorageError, type StorageErrorCode } from "./storage_error.ts";
export { LOCK_FILE_NAME } from "./dir_lock.ts";
