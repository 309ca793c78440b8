/** Small checks and renderings of untrusted values, shared by every decoder and shell. */

/** True for a non-negative safe integer (a count, an index, a config number, a shard). */
export function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/** The message of a thrown value, whatever was thrown. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
