/**
 * Decorators that measure the storage and the transport of a replica process for its
 * metrics. They live at the process edge, where reading the clock is allowed; the driver and
 * the cores stay free of timing code.
 */

import type { Message, MessageType } from "../raft/core/messages.ts";
import type { Transport } from "../raft/node.ts";
import type { PersistBatch, Storage } from "../raft/storage.ts";
import type { Counter, Histogram } from "../util/metrics.ts";

/** Times every batch write (append + fdatasync) and counts the entries it carries. */
export class TimedStorage implements Storage {
  constructor(
    private readonly inner: Storage,
    private readonly writeMs: Histogram,
    private readonly entriesWritten: Counter,
  ) {}

  load(): ReturnType<Storage["load"]> {
    return this.inner.load();
  }

  write(batch: PersistBatch, done: (error: Error | null) => void): void {
    const began = performance.now();
    this.inner.write(batch, (error) => {
      this.writeMs.observe(performance.now() - began);
      if (error === null) this.entriesWritten.inc(batch.entries.length);
      done(error);
    });
  }

  raftStateBytes(): number {
    return this.inner.raftStateBytes();
  }

  snapshotBytes(): number {
    return this.inner.snapshotBytes();
  }
}

/** Counts the Raft messages sent, by kind (snapshot chunks among them). */
export class CountingTransport implements Transport {
  constructor(private readonly inner: Transport, private readonly sent: Counter) {}

  send(messages: readonly Message[]): void {
    for (const message of messages) this.sent.inc(1, { type: message.type satisfies MessageType });
    this.inner.send(messages);
  }
}
