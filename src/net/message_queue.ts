/**
 * The per-peer outbound queue: FIFO, bounded in messages and in (estimated) bytes. When a
 * push would pass either bound the OLDEST messages are dropped: they are the most likely to
 * be stale, and Raft retransmits whatever matters (heartbeats, appends after a reject).
 */

import { assert } from "../util/assert.ts";
import type { Message } from "../raft/core/messages.ts";

/** A bounded FIFO of messages that drops from the head when full. */
export class MessageQueue {
  readonly #messagesMax: number;
  readonly #bytesMax: number;
  // Invariant: the live messages are #messages[#head..], #sizes matches #messages index for
  // index, #bytes is the sum of the live sizes, and both bounds hold after every push.
  #messages: Message[] = [];
  #sizes: number[] = [];
  #head = 0;
  #bytes = 0;
  /** Messages dropped to make room, since creation. */
  dropped = 0;

  constructor(messagesMax: number, bytesMax: number) {
    assert(messagesMax > 0 && bytesMax > 0, "a queue holds at least one message");
    this.#messagesMax = messagesMax;
    this.#bytesMax = bytesMax;
  }

  /** Messages queued. */
  get length(): number {
    return this.#messages.length - this.#head;
  }

  /** Estimated bytes queued. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Appends `message`, dropping the oldest to stay in bounds; returns how many were dropped. */
  push(message: Message, bytes: number): number {
    assert(bytes > 0 && bytes <= this.#bytesMax, () => `message of ${bytes} bytes fits the queue`);
    let dropped = 0;
    while (
      this.length > 0 &&
      (this.length + 1 > this.#messagesMax || this.#bytes + bytes > this.#bytesMax)
    ) {
      this.#bytes -= this.#sizes[this.#head]!;
      this.#head++;
      dropped++;
    }
    this.#messages.push(message);
    this.#sizes.push(bytes);
    this.#bytes += bytes;
    this.dropped += dropped;
    this.#compact();
    assert(this.length <= this.#messagesMax && this.#bytes <= this.#bytesMax, "bounds hold");
    return dropped;
  }

  /** Removes and returns the oldest messages: at least one, at most `countMax`, stopping once `bytesTarget` is reached. */
  take(countMax: number, bytesTarget: number): Message[] {
    assert(this.length > 0 && countMax > 0, "take from a non-empty queue");
    const start = this.#head;
    let bytes = 0;
    while (this.#head < this.#messages.length && this.#head - start < countMax) {
      if (this.#head > start && bytes + this.#sizes[this.#head]! > bytesTarget) break;
      bytes += this.#sizes[this.#head]!;
      this.#head++;
    }
    const taken = this.#messages.slice(start, this.#head);
    this.#bytes -= bytes;
    this.#compact();
    assert(this.#bytes >= 0, "queued bytes never go negative");
    return taken;
  }

  /** Drops everything; returns how many messages were dropped. */
  clear(): number {
    const count = this.length;
    this.dropped += count;
    this.#messages = [];
    this.#sizes = [];
    this.#head = 0;
    this.#bytes = 0;
    return count;
  }

  /** Releases the consumed prefix once it is at least half the array (amortised O(1)). */
  #compact(): void {
    if (this.#head === this.#messages.length) {
      this.#messages = [];
      this.#sizes = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#messages.length) {
      this.#messages = this.#messages.slice(this.#head);
      this.#sizes = this.#sizes.slice(this.#head);
      this.#head = 0;
    }
  }
}
