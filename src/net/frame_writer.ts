/**
 * Serialises frame writes on one connection and coalesces them: frames queued while a write
 * is in progress go out together in the next write. The queue is bounded in bytes; a reader
 * that stops reading makes the queue fill, and the connection is then closed rather than
 * buffering without end.
 */

import { assert } from "../util/assert.ts";
import type { FramedConnection } from "./framed_connection.ts";
import { BATCH_BYTES_TARGET, WRITE_QUEUE_BYTES_MAX } from "./limits.ts";

/** The writing half of a connection. */
export class FrameWriter {
  readonly #connection: FramedConnection;
  readonly #queueBytesMax: number;
  // Invariant: #queuedBytes is the sum of the lengths of #queue's frames.
  #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  #running: Promise<void> | null = null;
  /** Frames written. */
  framesWritten = 0;

  constructor(connection: FramedConnection, queueBytesMax: number = WRITE_QUEUE_BYTES_MAX) {
    assert(queueBytesMax > 0, "a write queue holds something");
    this.#connection = connection;
    this.#queueBytesMax = queueBytesMax;
  }

  /** Bytes waiting to be written. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /**
   * Queues a complete frame (length prefix included). False when the connection is closed or
   * the queue would exceed its limit; in the latter case the connection is closed too.
   */
  enqueue(frame: Uint8Array): boolean {
    if (this.#connection.closed) return false;
    if (this.#queuedBytes + frame.byteLength > this.#queueBytesMax) {
      this.#connection.close();
      return false;
    }
    this.#queue.push(frame);
    this.#queuedBytes += frame.byteLength;
    this.#running ??= this.#run();
    return true;
  }

  /** Resolves once nothing is being written (the queue drained or the connection failed). */
  async idle(): Promise<void> {
    while (this.#running !== null) await this.#running;
  }

  async #run(): Promise<void> {
    try {
      while (this.#queue.length > 0 && !this.#connection.closed) {
        const bytes = this.#takeCoalesced();
        if (!await this.#connection.writeAll(bytes)) break;
      }
    } finally {
      this.#queue = [];
      this.#queuedBytes = 0;
      this.#running = null;
    }
  }

  /** Takes queued frames up to about BATCH_BYTES_TARGET and joins them into one buffer. */
  #takeCoalesced(): Uint8Array {
    let count = 0;
    let bytes = 0;
    while (count < this.#queue.length && (count === 0 || bytes < BATCH_BYTES_TARGET)) {
      bytes += this.#queue[count]!.byteLength;
      count++;
    }
    const frames = this.#queue.splice(0, count);
    this.#queuedBytes -= bytes;
    this.framesWritten += count;
    assert(this.#queuedBytes >= 0, "queued bytes never go negative");
    if (count === 1) return frames[0]!;
    const joined = new Uint8Array(bytes);
    let offset = 0;
    for (const frame of frames) {
      joined.set(frame, offset);
      offset += frame.byteLength;
    }
    return joined;
  }
}
