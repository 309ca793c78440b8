/**
 * A TCP connection that reads and writes frames. Reads go through one reused buffer into a
 * {@link FrameReader}; writes loop until every byte is written. Socket errors are not
 * exceptions here: a failed read is the end of the stream, a failed write returns false and
 * closes the connection, and `close` may be called any number of times from anywhere.
 */

import { assert } from "../util/assert.ts";
import { FrameError, FrameReader } from "./frame.ts";
import { HANDSHAKE_FRAME_BYTES_MAX, READ_CHUNK_BYTES } from "./limits.ts";

/** Formats the remote end of a connection for log lines. */
export function remoteAddressOf(conn: Deno.Conn): string {
  const address = conn.remoteAddr;
  if (address.transport === "tcp" || address.transport === "udp") {
    return address.hostname.includes(":")
      ? `[${address.hostname}]:${address.port}`
      : `${address.hostname}:${address.port}`;
  }
  return address.transport;
}

/** Frames over one connection. Starts with the (small) handshake frame limit. */
export class FramedConnection {
  readonly remoteAddress: string;
  readonly #conn: Deno.Conn;
  readonly #reader: FrameReader;
  readonly #readBuffer = new Uint8Array(READ_CHUNK_BYTES);
  #readEnded = false;
  #closed = false;
  /** Bytes received from the socket. */
  bytesRead = 0;
  /** Bytes written to the socket. */
  bytesWritten = 0;

  constructor(conn: Deno.Conn, frameBytesMax: number = HANDSHAKE_FRAME_BYTES_MAX) {
    this.#conn = conn;
    this.#reader = new FrameReader(frameBytesMax);
    this.remoteAddress = remoteAddressOf(conn);
  }

  /** True once {@link close} was called or a write failed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Raises (or lowers) the frame limit, e.g. to FRAME_BYTES_MAX once the peer authenticated. */
  setFrameBytesMax(frameBytesMax: number): void {
    this.#reader.setFrameBytesMax(frameBytesMax);
  }

  /**
   * The next frame; null when the stream ended cleanly between frames (or the connection was
   * closed); a {@link FrameError} when the bytes are not frames (the caller should close).
   */
  async readFrame(): Promise<Uint8Array | FrameError | null> {
    for (;;) {
      const next = this.#reader.next();
      if (next !== null) return next;
      if (this.#readEnded) return null;
      let count: number | null;
      try {
        count = await this.#conn.read(this.#readBuffer);
      } catch {
        // Reset, or closed under us: either way the stream is over.
        count = null;
      }
      if (count === null) {
        this.#readEnded = true;
        // A connection we closed ourselves ends quietly, whatever was half-read.
        if (!this.#closed) this.#reader.end();
        continue;
      }
      assert(count > 0 && count <= this.#readBuffer.byteLength, "read returns a positive count");
      this.bytesRead += count;
      this.#reader.push(this.#readBuffer.subarray(0, count));
    }
  }

  /** Writes all of `bytes`. False (and the connection closed) when the socket failed. */
  async writeAll(bytes: Uint8Array): Promise<boolean> {
    if (this.#closed) return false;
    let offset = 0;
    while (offset < bytes.byteLength) {
      let written: number;
      try {
        written = await this.#conn.write(bytes.subarray(offset));
      } catch {
        this.close();
        return false;
      }
      assert(written > 0, "a socket write makes progress");
      offset += written;
      this.bytesWritten += written;
    }
    return true;
  }

  /** Closes the socket; pending reads end (null) and pending writes fail. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed by the runtime (e.g. after a reset): nothing left to release.
    }
  }
}
