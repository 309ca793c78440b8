/**
 * Framing: a stream of frames is read back identically however it is split into chunks
 * (every split point, and one byte at a time); a length prefix above the limit or an empty
 * body is an error before any allocation; a stream that ends inside a frame is "truncated";
 * and the caller may reuse the buffer it pushed.
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { encodeFrame, FrameError, FrameReader } from "./frame.ts";
import { FRAME_BYTES_MAX } from "./limits.ts";

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const total = parts.reduce((sum, part) => sum + part.byteLength, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

function frameOf(body: Uint8Array): Uint8Array {
  const frame = encodeFrame(body);
  if (frame instanceof FrameError) throw frame;
  return frame;
}

function drain(reader: FrameReader): (Uint8Array | FrameError)[] {
  const out: (Uint8Array | FrameError)[] = [];
  for (let item = reader.next(); item !== null; item = reader.next()) {
    out.push(item);
    if (item instanceof FrameError) break;
  }
  return out;
}

const bodies = [
  new Uint8Array([1]),
  new Uint8Array(300).map((_, i) => i & 0xff),
  new Uint8Array([7, 8, 9]),
  new Uint8Array(70_000).fill(5),
];
const stream = concat(bodies.map(frameOf));

Deno.test("frame: frames survive a split of the stream at every byte offset", () => {
  const small = concat(bodies.slice(0, 3).map(frameOf));
  for (let split = 0; split <= small.byteLength; split++) {
    const reader = new FrameReader();
    reader.push(small.subarray(0, split));
    const first = drain(reader);
    reader.push(small.subarray(split));
    deepEqual([...first, ...drain(reader)], bodies.slice(0, 3));
  }
});

Deno.test("frame: frames survive a split at every pair of offsets (three chunks)", () => {
  const small = concat([new Uint8Array([1, 2]), new Uint8Array([3])].map(frameOf));
  for (let a = 0; a <= small.byteLength; a++) {
    for (let b = a; b <= small.byteLength; b++) {
      const reader = new FrameReader();
      const out: (Uint8Array | FrameError)[] = [];
      for (const chunk of [small.subarray(0, a), small.subarray(a, b), small.subarray(b)]) {
        reader.push(chunk);
        out.push(...drain(reader));
      }
      deepEqual(out, [new Uint8Array([1, 2]), new Uint8Array([3])]);
    }
  }
});

Deno.test("frame: one byte at a time, through one reused buffer", () => {
  const reader = new FrameReader();
  const scratch = new Uint8Array(1);
  const out: (Uint8Array | FrameError)[] = [];
  for (const byte of stream) {
    scratch[0] = byte;
    reader.push(scratch);
    out.push(...drain(reader));
  }
  deepEqual(out, bodies);
  reader.end();
  equal(reader.next(), null, "a clean end between frames is no error");
});

Deno.test("frame: a whole stream in one chunk, and frames do not alias the chunk", () => {
  const reader = new FrameReader();
  const copy = stream.slice();
  reader.push(copy);
  copy.fill(0);
  deepEqual(drain(reader), bodies);
});

Deno.test("frame: an oversized length prefix is refused with tooLarge before allocation", () => {
  const reader = new FrameReader(1024);
  reader.push(new Uint8Array([0, 0, 4, 1, 0xaa]));
  const error = reader.next();
  ok(error instanceof FrameError);
  equal(error.code, "tooLarge");
  equal(reader.bufferedBytes, 0, "nothing was allocated for the body");
  const huge = new FrameReader();
  huge.push(new Uint8Array([0xff, 0xff, 0xff, 0xff]));
  equal((huge.next() as FrameError).code, "tooLarge");
  ok(FRAME_BYTES_MAX < 0xffff_ffff);
});

Deno.test("frame: frames before an error are still delivered, then the error repeats", () => {
  const reader = new FrameReader(1024);
  reader.push(concat([frameOf(new Uint8Array([1])), new Uint8Array([0, 1, 0, 0])]));
  deepEqual(reader.next(), new Uint8Array([1]));
  equal((reader.next() as FrameError).code, "tooLarge");
  equal((reader.next() as FrameError).code, "tooLarge");
});

Deno.test("frame: an empty body is malformed", () => {
  const reader = new FrameReader();
  reader.push(new Uint8Array([0, 0, 0, 0]));
  equal((reader.next() as FrameError).code, "malformed");
});

Deno.test("frame: a stream ending inside a header or a body is truncated", () => {
  for (const cut of [1, 3, 5, 10]) {
    const reader = new FrameReader();
    reader.push(frameOf(new Uint8Array(20)).subarray(0, cut));
    equal(reader.next(), null);
    reader.end();
    const error = reader.next();
    ok(error instanceof FrameError);
    equal(error.code, "truncated");
  }
});

Deno.test("frame: encodeFrame refuses a body above the limit", () => {
  const result = encodeFrame(new Uint8Array(11), 10);
  ok(result instanceof FrameError);
  equal(result.code, "tooLarge");
  deepEqual(frameOf(new Uint8Array([9])), new Uint8Array([0, 0, 0, 1, 9]));
});
