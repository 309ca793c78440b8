/**
 * CRC32C: the published check value, agreement of the sliced fast path with a bit-by-bit
 * reference at every length and alignment, and incremental use.
 */

import assert from "node:assert/strict";
import { crc32c } from "./crc32c.ts";

function referenceCrc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return ~crc >>> 0;
}

Deno.test("crc32c: the check value of '123456789' is 0xE3069283 (RFC 3720 B.4)", () => {
  assert.equal(crc32c(new TextEncoder().encode("123456789")), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(0)), 0);
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa); // RFC 3720 B.4: 32 bytes of zeros.
});

Deno.test("crc32c: the sliced fast path agrees with the bitwise reference at every length and offset", () => {
  const bytes = new Uint8Array(97);
  for (let k = 0; k < bytes.length; k++) bytes[k] = (k * 131 + 7) & 0xff;
  for (let start = 0; start < 9; start++) {
    for (let end = start; end <= bytes.length; end++) {
      assert.equal(crc32c(bytes, start, end), referenceCrc32c(bytes.subarray(start, end)));
    }
  }
});

Deno.test("crc32c: a checksum can be continued over a second range", () => {
  const bytes = new TextEncoder().encode("shardkv write-ahead log");
  assert.equal(crc32c(bytes, 5, bytes.length, crc32c(bytes, 0, 5)), crc32c(bytes));
});
