/**
 * The Raft message codec: every kind round-trips exactly (alone and in a batch, via a frame),
 * the encoding is the compact array form with binary data, and hand-made invalid values are
 * refused with a CodecError that names the field.
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { encode } from "@msgpack/msgpack";
import type { Message } from "../raft/core/messages.ts";
import { FrameError, FrameReader } from "./frame.ts";
import {
  decodeBatch,
  decodeMessage,
  encodeBatch,
  encodeBatchFrame,
  encodeMessage,
  estimateMessageBytes,
  MESSAGE_TAG,
} from "./raft_codec.ts";
import { isValidMessage, sampleMessages } from "./test_support.ts";

Deno.test("raft codec: every message kind round-trips exactly", () => {
  const samples = sampleMessages();
  equal(samples.length, Object.keys(MESSAGE_TAG).length, "one sample per kind");
  for (const message of samples) {
    const decoded = decodeMessage(encodeMessage(message));
    ok(decoded.ok, decoded.ok ? "" : decoded.error.message);
    deepEqual(decoded.value, message);
    ok(isValidMessage(decoded.value));
  }
});

Deno.test("raft codec: a batch round-trips through a frame", () => {
  const samples = sampleMessages();
  const frame = encodeBatchFrame(samples);
  ok(!(frame instanceof FrameError));
  const reader = new FrameReader();
  reader.push(frame);
  const body = reader.next();
  ok(body instanceof Uint8Array);
  const decoded = decodeBatch(body);
  ok(decoded.ok);
  deepEqual(decoded.value, samples);
  deepEqual(decodeBatch(encodeBatch(samples)), decoded);
});

Deno.test("raft codec: the encoding is a compact array with a numeric tag and binary data", () => {
  const append = sampleMessages().find((m) => m.type === "append")!;
  const bytes = encodeMessage(append);
  equal(bytes[0], 0x98, "a fixarray of 8 fields");
  equal(bytes[1], MESSAGE_TAG.append);
  ok(bytes.byteLength < 40, `${bytes.byteLength} bytes for an append with three small entries`);
  ok(bytes.includes(0xc4), "entry data is msgpack bin 8");
  for (const message of sampleMessages()) {
    ok(estimateMessageBytes(message) >= encodeMessage(message).byteLength, message.type);
  }
});

Deno.test("raft codec: decoded data does not alias the frame", () => {
  const append = sampleMessages().find((m) => m.type === "append")!;
  const bytes = encodeMessage(append);
  const decoded = decodeMessage(bytes);
  ok(decoded.ok && decoded.value.type === "append");
  bytes.fill(0);
  const entry = decoded.value.entries[0]!;
  ok(entry.type === "command");
  deepEqual(entry.data, new Uint8Array([1, 2, 3, 255]));
});

function refused(value: unknown, fragment: string): void {
  const result = decodeMessage(encode(value));
  ok(!result.ok, `accepted ${JSON.stringify(value)}`);
  ok(
    result.error.message.includes(fragment),
    `"${result.error.message}" should mention "${fragment}"`,
  );
}

Deno.test("raft codec: invalid shapes are refused with the field named", () => {
  const tag = MESSAGE_TAG;
  refused(true, "expected an array, got true");
  refused([99, 1, 2, 3], "unknown message tag 99");
  refused([true, 1, 2, 3], "unknown message tag true");
  refused([tag.timeoutNow, 1, 2], "has 3 fields, expected 4");
  refused([tag.timeoutNow, 0, 2, 3], "from: expected a positive safe integer, got 0");
  refused([tag.timeoutNow, 1, 2, -1], "term: expected a non-negative safe integer, got -1");
  refused([tag.timeoutNow, 1, 2, 1.5], "term");
  refused([tag.timeoutNow, 1, 2, 2 ** 53], "term");
  refused([tag.voteResponse, 1, 2, 3, 1], "granted: expected a boolean");
  refused([tag.installSnapshot, 1, 2, 3, 4, 5, 6, 7, [1]], "chunk: expected binary data");
  refused([tag.append, 1, 2, 3, 4, 5, 6, {}], "entries: expected an array");
  refused([tag.append, 1, 2, 3, 4, 5, 6, [[1, 1, 1]]], "entry 0: expected [1, term, index, data]");
  refused([tag.append, 1, 2, 3, 4, 5, 6, [[2, 1, 1, new Uint8Array(1)]]], "entry 0");
  refused([tag.append, 1, 2, 3, 4, 5, 6, [[1, 1, 1, [1, 2]]]], "data: expected binary data");
  const notMsgpack = decodeMessage(new Uint8Array([0xc1]));
  ok(!notMsgpack.ok && notMsgpack.error.code === "msgpack");
  const trailing = decodeMessage(new Uint8Array([...encodeMessage(sampleMessages()[0]!), 0]));
  ok(!trailing.ok, "bytes after the value are refused");
});

Deno.test("raft codec: batches must be non-empty arrays of valid messages", () => {
  for (const value of [[], 5, [[MESSAGE_TAG.timeoutNow, 1, 2, 3], "x"]]) {
    const result = decodeBatch(encode(value));
    ok(!result.ok, JSON.stringify(value));
  }
  const result = decodeBatch(encode([[MESSAGE_TAG.timeoutNow, 1, 2, 3], [0]]));
  ok(!result.ok && result.error.message.includes("message 1"));
  const good: Message[] = sampleMessages();
  ok(decodeBatch(encodeBatch(good)).ok);
});
