/**
 * Little-endian fixed-width integers and unsigned LEB128 varints over a Uint8Array: the
 * primitives of the record codec. Writers write into a buffer sized in advance (the codec
 * computes exact sizes, so nothing is reallocated); readers throw {@link DecodeError} on any
 * value that runs past the end or out of range, and the caller turns that into "corrupt".
 */

import { assert } from "../../util/assert.ts";
import { VARINT_BYTES_MAX } from "./limits.ts";

/** Bytes could not be decoded: a structural problem inside a record whose checksum held. */
export class DecodeError extends Error {
  override readonly name = "DecodeError";
}

/** Bytes the varint encoding of `n` takes. */
export function varintBytes(n: number): number {
  assert(
    Number.isSafeInteger(n) && n >= 0,
    () => `varint must be a safe non-negative integer: ${n}`,
  );
  let bytes = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    bytes++;
  }
  return bytes;
}

/** Sequential writer into a preallocated buffer. */
export class ByteWriter {
  readonly bytes: Uint8Array;
  readonly #view: DataView;
  offset: number;

  constructor(bytes: Uint8Array, offset = 0) {
    this.bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.offset = offset;
  }

  u8(value: number): void {
    this.bytes[this.offset++] = value;
  }

  u32(value: number): void {
    this.#view.setUint32(this.offset, value, true);
    this.offset += 4;
  }

  /** A safe integer as 8 bytes (two u32 halves, little-endian). */
  u64(value: number): void {
    assert(Number.isSafeInteger(value) && value >= 0, () => `u64 out of range: ${value}`);
    this.#view.setUint32(this.offset, value % 0x1_0000_0000, true);
    this.#view.setUint32(this.offset + 4, Math.floor(value / 0x1_0000_0000), true);
    this.offset += 8;
  }

  varint(value: number): void {
    assert(Number.isSafeInteger(value) && value >= 0, () => `varint out of range: ${value}`);
    while (value >= 0x80) {
      this.bytes[this.offset++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
    }
    this.bytes[this.offset++] = value;
  }

  raw(data: Uint8Array): void {
    this.bytes.set(data, this.offset);
    this.offset += data.byteLength;
  }
}

/** Sequential reader over `bytes[offset, end)`. */
export class ByteReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  offset: number;
  readonly end: number;

  constructor(bytes: Uint8Array, offset = 0, end = bytes.byteLength) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.offset = offset;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  u8(): number {
    this.#need(1, "u8");
    return this.#bytes[this.offset++]!;
  }

  u32(): number {
    this.#need(4, "u32");
    const value = this.#view.getUint32(this.offset, true);
    this.offset += 4;
    return value;
  }

  u64(): number {
    this.#need(8, "u64");
    const low = this.#view.getUint32(this.offset, true);
    const high = this.#view.getUint32(this.offset + 4, true);
    this.offset += 8;
    const value = high * 0x1_0000_0000 + low;
    if (!Number.isSafeInteger(value)) throw new DecodeError(`u64 ${value} is not a safe integer`);
    return value;
  }

  varint(): number {
    let value = 0;
    let multiplier = 1;
    for (let k = 0; k < VARINT_BYTES_MAX; k++) {
      this.#need(1, "varint");
      const byte = this.#bytes[this.offset++]!;
      value += (byte & 0x7f) * multiplier;
      if ((byte & 0x80) === 0) {
        if (!Number.isSafeInteger(value)) throw new DecodeError(`varint ${value} is not safe`);
        return value;
      }
      multiplier *= 0x80;
    }
    throw new DecodeError(`varint longer than ${VARINT_BYTES_MAX} bytes`);
  }

  /** A copy of the next `length` bytes (a copy, so that no entry pins a whole segment). */
  copy(length: number): Uint8Array {
    this.#need(length, "bytes");
    const data = this.#bytes.slice(this.offset, this.offset + length);
    this.offset += length;
    return data;
  }

  #need(bytes: number, what: string): void {
    if (this.offset + bytes > this.end) {
      throw new DecodeError(`${what} at ${this.offset} runs past the end at ${this.end}`);
    }
  }
}
