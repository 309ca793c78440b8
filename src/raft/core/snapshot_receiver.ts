/**
 * The follower's side of a chunked InstallSnapshot (§7): bytes arrive in order by offset
 * into one buffer allocated when the transfer starts. A transfer survives leader changes
 * (a snapshot is committed state, whoever sends it) and restarts when a different snapshot
 * begins.
 */

import { assert } from "../../util/assert.ts";
import type { InstallSnapshotRequest } from "./messages.ts";
import type { Snapshot } from "./types.ts";

interface Transfer {
  readonly index: number;
  readonly term: number;
  readonly buffer: Uint8Array;
  received: number;
}

/** Assembles one snapshot at a time. */
export class SnapshotReceiver {
  #transfer: Transfer | null = null;

  /** Bytes received of the current transfer (for status). */
  get receivedBytes(): number {
    return this.#transfer?.received ?? 0;
  }

  /**
   * Takes one chunk. Returns the complete snapshot when this chunk finished it, otherwise
   * the offset the follower wants next.
   */
  receive(chunk: InstallSnapshotRequest): { complete: Snapshot } | { nextOffset: number } {
    let transfer = this.#transfer;
    const same = transfer !== null && transfer.index === chunk.snapshotIndex &&
      transfer.term === chunk.snapshotTerm && transfer.buffer.byteLength === chunk.totalBytes;
    if (!same) {
      if (chunk.offset !== 0) return { nextOffset: 0 };
      transfer = {
        index: chunk.snapshotIndex,
        term: chunk.snapshotTerm,
        buffer: new Uint8Array(chunk.totalBytes),
        received: 0,
      };
      this.#transfer = transfer;
    }
    assert(transfer !== null, "transfer exists");
    if (chunk.offset === transfer.received) {
      transfer.buffer.set(chunk.chunk, chunk.offset);
      transfer.received += chunk.chunk.byteLength;
    }
    if (transfer.received < transfer.buffer.byteLength) return { nextOffset: transfer.received };
    this.#transfer = null;
    return {
      complete: {
        meta: { index: chunk.snapshotIndex, term: chunk.snapshotTerm },
        data: transfer.buffer,
      },
    };
  }

  /** Drops a partial transfer (its snapshot is already covered by our commit index). */
  reset(): void {
    this.#transfer = null;
  }
}
