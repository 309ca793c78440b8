/**
 * Length-prefixed frames: a u32 big-endian body length, then the body. The reader is a
 * streaming state machine: every byte is copied at most once (into the frame it belongs
 * to), so reading is linear however the stream is split into chunks, and a length prefix
 * above the limit is refused before anything is allocated for it.
 */

import { assert } from "../util/assert.ts";
import { FRAME_BYTES_MAX, FRAME_HEADER_BYTES } from "./limits.ts";

/** Why a byte stream is not a sequence of frames. */
export type FrameErrorCode = "tooLarge" | "truncated" | "malformed";

/** A framing error: the connection that produced it cannot be trusted any further. */
export class FrameError extends Error {
  override readonly name = "FrameError";
  constructor(readonly code: FrameErrorCode, message: string) {
    super(message);
  }
}

/** Prefixes `body` with its length. Fails with "tooLarge" past `frameBytesMax`. */
export function encodeFrame(
  body: Uint8Array,
  frameBytesMax: number = FRAME_BYTES_MAX,
): Uint8Array | FrameError {
  if (body.byteLength > frameBytesMax) {
    return new FrameError(
      "tooLarge",
      `Cannot send frame: body of ${body.byteLength} bytes exceeds the ${frameBytesMax} byte limit`,
    );
  }
  const frame = new Uint8Array(FRAME_HEADER_BYTES + body.byteLength);
  writeFrameHeader(frame, 0, body.byteLength);
  frame.set(body, FRAME_HEADER_BYTES);
  return frame;
}

/** Writes a u32 big-endian length at `offset`. */
export function writeFrameHeader(target: Uint8Array, offset: number, length: number): void {
  assert(
    Number.isSafeInteger(length) && length >= 0 && length <= 0xffff_ffff,
    () => `Frame length ${length} does not fit in a u32`,
  );
  target[offset] = length >>> 24;
  target[offset + 1] = (length >>> 16) & 0xff;
  target[offset + 2] = (length >>> 8) & 0xff;
  target[offset + 3] = length & 0xff;
}

/**
 * Splits a byte stream into frames. Feed it chunks with {@link push} (it copies what it
 * keeps, so the caller may reuse the chunk's buffer), call {@link end} when the stream ends,
 * and take results with {@link next}. After an error nothing more is produced.
 */
export class FrameReader {
  #frameBytesMax: number;
  readonly #header = new Uint8Array(FRAME_HEADER_BYTES);
  #headerFilled = 0;
  /** The frame being filled, allocated once its length prefix has been checked. */
  #body: Uint8Array | null = null;
  #bodyFilled = 0;
  // Invariant: completed frames wait in #frames[#framesHead..], in stream order.
  #frames: Uint8Array[] = [];
  #framesHead = 0;
  #error: FrameError | null = null;
  #ended = false;

  constructor(frameBytesMax: number = FRAME_BYTES_MAX) {
    this.#frameBytesMax = checkedLimit(frameBytesMax);
  }

  /** Changes the limit for length prefixes read from now on (raised after a handshake). */
  setFrameBytesMax(frameBytesMax: number): void {
    this.#frameBytesMax = checkedLimit(frameBytesMax);
  }

  /** Bytes received but not yet returned as frames (a partial header or body). */
  get bufferedBytes(): number {
    return this.#headerFilled + this.#bodyFilled;
  }

  /** Consumes `chunk`. Frames it completes become available from {@link next}. */
  push(chunk: Uint8Array): void {
    assert(!this.#ended, "Cannot push to a FrameReader after end()");
    let offset = 0;
    while (offset < chunk.byteLength && this.#error === null) {
      if (this.#body === null) {
        offset = this.#readHeader(chunk, offset);
        continue;
      }
      const count = Math.min(this.#body.byteLength - this.#bodyFilled, chunk.byteLength - offset);
      this.#body.set(chunk.subarray(offset, offset + count), this.#bodyFilled);
      this.#bodyFilled += count;
      offset += count;
      if (this.#bodyFilled === this.#body.byteLength) {
        this.#frames.push(this.#body);
        this.#body = null;
        this.#bodyFilled = 0;
      }
    }
    assert(offset === chunk.byteLength || this.#error !== null, "a chunk is consumed whole");
  }

  /** Marks the end of the stream: a partial frame left over becomes a "truncated" error. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#error === null && this.bufferedBytes > 0) {
      this.#error = new FrameError(
        "truncated",
        `Stream ended inside a frame (${this.bufferedBytes} bytes of it received)`,
      );
    }
  }

  /** The next complete frame, then the error (if any, repeatedly), else null (need more bytes). */
  next(): Uint8Array | FrameError | null {
    if (this.#framesHead < this.#frames.length) {
      const frame = this.#frames[this.#framesHead]!;
      this.#framesHead++;
      if (this.#framesHead === this.#frames.length) {
        this.#frames = [];
        this.#framesHead = 0;
      }
      return frame;
    }
    return this.#error;
  }

  /** Reads a length prefix starting at `offset`, then as much of the body as the chunk holds. */
  #readHeader(chunk: Uint8Array, offset: number): number {
    let length: number;
    if (this.#headerFilled === 0 && chunk.byteLength - offset >= FRAME_HEADER_BYTES) {
      length = readU32(chunk, offset);
      offset += FRAME_HEADER_BYTES;
    } else {
      while (this.#headerFilled < FRAME_HEADER_BYTES && offset < chunk.byteLength) {
        this.#header[this.#headerFilled++] = chunk[offset++]!;
      }
      if (this.#headerFilled < FRAME_HEADER_BYTES) return offset;
      this.#headerFilled = 0;
      length = readU32(this.#header, 0);
    }
    if (length > this.#frameBytesMax) {
      this.#error = new FrameError(
        "tooLarge",
        `Frame length prefix ${length} exceeds the ${this.#frameBytesMax} byte limit`,
      );
      return offset;
    }
    if (length === 0) {
      // Every body is one msgpack value, which is at least one byte.
      this.#error = new FrameError("malformed", "Frame with an empty body");
      return offset;
    }
    if (chunk.byteLength - offset >= length) {
      this.#frames.push(chunk.slice(offset, offset + length));
      return offset + length;
    }
    this.#body = new Uint8Array(length);
    this.#bodyFilled = 0;
    return offset;
  }
}

function readU32(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) |
    bytes[offset + 3]!) >>> 0;
}

function checkedLimit(frameBytesMax: number): number {
  assert(
    Number.isSafeInteger(frameBytesMax) && frameBytesMax > 0 && frameBytesMax <= FRAME_BYTES_MAX,
    () => `Frame limit ${frameBytesMax} must be in 1..${FRAME_BYTES_MAX}`,
  );
  return frameBytesMax;
}
