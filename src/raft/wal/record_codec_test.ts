/**
 * The record codec: records round-trip exactly, a 100-byte entry stays under 140 bytes on
 * disk, varints cover the whole safe-integer range, and the frame reader reports short,
 * impossible and mis-checksummed records instead of decoding them.
 */

import assert from "node:assert/strict";
import { asIndex, asNodeId, asTerm, type Entry } from "../core/types.ts";
import { ByteReader, ByteWriter, DecodeError, varintBytes } from "./bytes.ts";
import {
  type BatchRecord,
  decodeRecordBody,
  encodeRecord,
  readFrame,
  type SegmentHeader,
} from "./record_codec.ts";

function roundTrip(record: BatchRecord | SegmentHeader) {
  const bytes = encodeRecord(record);
  const frame = readFrame(bytes, 0);
  assert.equal(frame.status, "ok");
  assert.ok(frame.status === "ok");
  assert.equal(frame.end, bytes.length);
  return decodeRecordBody(bytes, frame.bodyStart, frame.end);
}

const command = (index: number, term: number, data: Uint8Array): Entry => ({
  type: "command",
  term: asTerm(term),
  index: asIndex(index),
  data,
});

Deno.test("record codec: a batch with every part round-trips exactly", () => {
  const record: BatchRecord = {
    kind: "batch",
    reset: { index: asIndex(99), term: asTerm(4) },
    compaction: { index: asIndex(120), term: asTerm(5) },
    entries: [
      command(100, 5, new Uint8Array([1, 2, 3])),
      { type: "noop", term: asTerm(6), index: asIndex(101) },
      command(102, 6, new Uint8Array(0)),
    ],
    hardState: { term: asTerm(6), votedFor: asNodeId(3), commit: asIndex(101) },
  };
  assert.deepEqual(roundTrip(record), record);
  const bare: BatchRecord = {
    kind: "batch",
    reset: null,
    compaction: null,
    entries: [],
    hardState: null,
  };
  assert.deepEqual(roundTrip(bare), bare);
});

Deno.test("record codec: a segment header round-trips, with and without a snapshot", () => {
  const header: SegmentHeader = {
    kind: "segmentHeader",
    sequence: 7,
    firstIndex: asIndex(1234),
    hardState: { term: asTerm(9), votedFor: null, commit: asIndex(1200) },
    snapshot: { index: asIndex(1000), term: asTerm(8) },
  };
  assert.deepEqual(roundTrip(header), header);
  assert.deepEqual(roundTrip({ ...header, snapshot: null }), { ...header, snapshot: null });
  assert.ok(
    encodeRecord(header).length <= 68,
    "a header fits in the first disk sector with room to spare",
  );
});

Deno.test("record codec: a 100-byte entry costs less than 140 bytes on disk, alone or in a batch", () => {
  const entry = (index: number) => command(index, 12, new Uint8Array(100));
  const hardState = { term: asTerm(12), votedFor: asNodeId(2), commit: asIndex(1_000_000) };
  const one = encodeRecord({
    kind: "batch",
    reset: null,
    compaction: null,
    entries: [entry(1_000_001)],
    hardState,
  });
  assert.ok(one.length < 140, `${one.length} bytes`);
  const entries = Array.from({ length: 64 }, (_, k) => entry(1_000_001 + k));
  const many = encodeRecord({
    kind: "batch",
    reset: null,
    compaction: null,
    entries,
    hardState: null,
  });
  assert.ok(many.length / 64 < 110, `${many.length / 64} bytes per entry`);
});

Deno.test("record codec: varints cover 0 to 2^53 - 1 and refuse longer encodings", () => {
  const values = [
    0,
    1,
    127,
    128,
    16_383,
    16_384,
    2 ** 31 - 1,
    2 ** 31,
    2 ** 32,
    2 ** 49,
    Number.MAX_SAFE_INTEGER,
  ];
  for (const value of values) {
    const writer = new ByteWriter(new Uint8Array(varintBytes(value)));
    writer.varint(value);
    assert.equal(writer.offset, writer.bytes.length);
    assert.equal(new ByteReader(writer.bytes).varint(), value);
  }
  assert.throws(() => new ByteReader(new Uint8Array(9).fill(0xff)).varint(), DecodeError);
  assert.throws(() => new ByteReader(new Uint8Array([0x80])).varint(), DecodeError);
});

Deno.test("record codec: the frame reader reports short, impossible and mis-checksummed records", () => {
  const bytes = encodeRecord({
    kind: "batch",
    reset: null,
    compaction: null,
    entries: [command(1, 1, new Uint8Array(40))],
    hardState: null,
  });
  for (let cut = 0; cut < bytes.length; cut++) {
    assert.equal(readFrame(bytes.slice(0, cut), 0).status, "partial");
  }
  const zeroLength = bytes.slice();
  zeroLength.fill(0, 4, 8);
  assert.equal(readFrame(zeroLength, 0).status, "badLength");
  const flipped = bytes.slice();
  flipped[20]! ^= 0x10;
  assert.equal(readFrame(flipped, 0).status, "badChecksum");
});

Deno.test("record codec: a body whose checksum holds but whose structure is wrong does not decode", () => {
  const body = (...bytes: number[]) => new Uint8Array(bytes);
  assert.throws(() => decodeRecordBody(body(2, 0x80), 0, 2), DecodeError); // Unknown batch flag.
  assert.throws(() => decodeRecordBody(body(9, 0), 0, 2), DecodeError); // Unknown kind.
  assert.throws(() => decodeRecordBody(body(2, 0, 7), 0, 3), DecodeError); // Trailing byte.
  // Two entries that are not contiguous: indexes 5 then 7.
  assert.throws(() => decodeRecordBody(body(2, 0x08, 2, 0, 1, 5, 0, 1, 7), 0, 9), DecodeError);
});
