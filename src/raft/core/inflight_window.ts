/**
 * The pipelining window of one follower: the append messages sent but not yet acknowledged,
 * bounded by count and by bytes. A full window pauses replication to that follower so that a
 * slow follower costs bounded memory and bandwidth.
 */

import { assert } from "../../util/assert.ts";
import type { Index } from "./types.ts";

/** A FIFO of (last index, bytes) for messages in flight, in increasing index order. */
export class InflightWindow {
  readonly #maxCount: number;
  readonly #maxBytes: number;
  #lastIndexes: number[] = [];
  #bytes: number[] = [];
  #head = 0;
  #totalBytes = 0;

  constructor(maxCount: number, maxBytes: number) {
    assert(maxCount >= 1 && maxBytes >= 1, "InflightWindow limits must be positive");
    this.#maxCount = maxCount;
    this.#maxBytes = maxBytes;
  }

  get count(): number {
    return this.#lastIndexes.length - this.#head;
  }

  get totalBytes(): number {
    return this.#totalBytes;
  }

  /** True when no more messages may be sent until some are acknowledged. */
  full(): boolean {
    return this.count >= this.#maxCount || this.#totalBytes >= this.#maxBytes;
  }

  /** Records a message whose last entry is `lastIndex`. */
  add(lastIndex: Index, bytes: number): void {
    assert(!this.full(), "Cannot add to a full inflight window");
    const previous = this.#lastIndexes.at(-1);
    assert(
      this.count === 0 || previous === undefined || lastIndex > previous,
      () => `Inflight indexes must increase: ${lastIndex} after ${previous}`,
    );
    this.#lastIndexes.push(lastIndex);
    this.#bytes.push(bytes);
    this.#totalBytes += bytes;
  }

  /** Frees every message whose entries are all at or below `index`. */
  freeTo(index: Index): void {
    while (this.#head < this.#lastIndexes.length && this.#lastIndexes[this.#head]! <= index) {
      this.#totalBytes -= this.#bytes[this.#head]!;
      this.#head++;
    }
    // Compact occasionally so the arrays do not grow without bound.
    if (this.#head > 64 && this.#head * 2 > this.#lastIndexes.length) {
      this.#lastIndexes = this.#lastIndexes.slice(this.#head);
      this.#bytes = this.#bytes.slice(this.#head);
      this.#head = 0;
    }
    if (this.count === 0) this.#totalBytes = 0;
  }

  /** Forgets everything (the follower went back to probing). */
  reset(): void {
    this.#lastIndexes = [];
    this.#bytes = [];
    this.#head = 0;
    this.#totalBytes = 0;
  }
}
