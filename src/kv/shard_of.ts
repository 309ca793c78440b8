/**
 * Which shard a key belongs to: FNV-1a (32-bit) of the key's UTF-8 bytes, modulo the shard
 * count. Stable across versions and platforms, documented in the README, and spread evenly
 * even for keys that share prefixes (the classic lab's first-byte rule is not).
 */

import { assert } from "../util/assert.ts";

const encoder = new TextEncoder();

/** The shard of `key` among `shards` shards. */
export function shardOf(key: string, shards: number): number {
  assert(
    Number.isSafeInteger(shards) && shards >= 1,
    () => `Shard count must be positive, got ${shards}`,
  );
  let hash = 0x811c9dc5;
  for (const byte of encoder.encode(key)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % shards;
}
