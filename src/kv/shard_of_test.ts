/** Tests of the key → shard function: stable values and an even spread. */

import assert from "node:assert/strict";
import { shardOf } from "./shard_of.ts";

Deno.test("kv: shardOf is FNV-1a of the UTF-8 bytes modulo the shard count (stable values)", () => {
  // FNV-1a("") = 0x811c9dc5, FNV-1a("a") = 0xe40c292c.
  assert.equal(shardOf("", 10), 0x811c9dc5 % 10);
  assert.equal(shardOf("a", 10), 0xe40c292c % 10);
  assert.equal(shardOf("a", 1), 0);
});

Deno.test("kv: shardOf spreads similar keys evenly", () => {
  const counts = new Array(10).fill(0);
  for (let k = 0; k < 10_000; k++) counts[shardOf(`user:${k}`, 10)]++;
  for (const count of counts) assert.ok(count > 800 && count < 1200, `uneven spread: ${counts}`);
});
