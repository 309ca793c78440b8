/**
 * The simulated network between replicas: per-link connectivity (so partitions may be
 * asymmetric), and on an unreliable network the faults of the classic lab harness: a
 * 0–26 ms delay, 10 % loss, occasional duplicates, and optional long reordering (two thirds
 * of messages held back 200 ms plus up to 2 s). Connectivity is checked when a message is
 * sent and again when it arrives, so a message in flight is lost when its link is cut.
 */

import type { Message } from "../../src/raft/core/messages.ts";
import { entryBytes } from "../../src/raft/core/types.ts";
import type { Prng } from "../../src/util/prng.ts";
import type { Scheduler } from "./scheduler.ts";

/** Request kinds: a request and its response count as one RPC, as in the lab's counters. */
const REQUEST_TYPES: ReadonlySet<Message["type"]> = new Set([
  "preVote",
  "vote",
  "append",
  "heartbeat",
  "installSnapshot",
  "timeoutNow",
]);

/** Fault settings; all off means a reliable network with sub-millisecond latency. */
export interface NetworkFaults {
  unreliable: boolean;
  longReordering: boolean;
  /** Probability of a duplicate delivery on an unreliable network. */
  duplicateRate: number;
  /** Probability of loss on an unreliable network. */
  dropRate: number;
  /**
   * Long reordering holds back replies only, as the lab's labrpc does. This also holds back
   * requests: harsher than the lab, and beyond Raft's timing assumption (broadcast time well
   * below the election timeout) when vote requests wait longer than an election timeout.
   */
  reorderRequests: boolean;
}

/** Routes messages between node indexes 0..n-1 (node id = index + 1). */
export class SimNetwork {
  readonly #scheduler: Scheduler;
  readonly #random: Prng;
  readonly #deliver: (to: number, message: Message) => void;
  /** blocked[from][to]: the link from → to is cut. */
  readonly #blocked: boolean[][];
  /** linkClearAt[from][to]: virtual time of the last delivery scheduled on a reliable link. */
  readonly #linkClearAt: number[][];
  faults: NetworkFaults = {
    unreliable: false,
    longReordering: false,
    duplicateRate: 0.01,
    dropRate: 0.1,
    reorderRequests: false,
  };
  /** RPCs (requests) sent and delivered, per receiver. */
  readonly rpcsReceived: number[];
  /** Approximate bytes of every message delivered. */
  bytesDelivered = 0;

  constructor(
    n: number,
    scheduler: Scheduler,
    random: Prng,
    deliver: (to: number, message: Message) => void,
  ) {
    this.#scheduler = scheduler;
    this.#random = random;
    this.#deliver = deliver;
    this.#blocked = Array.from({ length: n }, () => Array.from({ length: n }, () => false));
    this.#linkClearAt = Array.from({ length: n }, () => Array.from({ length: n }, () => 0));
    this.rpcsReceived = Array.from({ length: n }, () => 0);
  }

  /** Cuts or restores the directed link from → to. */
  setLink(from: number, to: number, up: boolean): void {
    this.#blocked[from]![to] = !up;
  }

  /** True when from → to is up. */
  linkUp(from: number, to: number): boolean {
    return !this.#blocked[from]![to];
  }

  totalRpcs(): number {
    return this.rpcsReceived.reduce((a, b) => a + b, 0);
  }

  send(messages: readonly Message[]): void {
    for (const message of messages) this.#sendOne(message);
  }

  #sendOne(message: Message): void {
    const from = message.from - 1;
    const to = message.to - 1;
    if (!this.linkUp(from, to)) return;
    const faults = this.faults;
    let copies = 1;
    if (faults.unreliable) {
      if (this.#random.chance(faults.dropRate)) return;
      if (this.#random.chance(faults.duplicateRate)) copies = 2;
    }
    for (let copy = 0; copy < copies; copy++) {
      let delay = faults.unreliable ? this.#random.int(27) : this.#random.float() * 0.5;
      const reorderable = faults.reorderRequests || !REQUEST_TYPES.has(message.type);
      if (faults.longReordering && reorderable && this.#random.chance(600 / 900)) {
        delay += 200 + this.#random.int(1 + this.#random.int(2000));
      }
      if (!faults.unreliable && !faults.longReordering) {
        // A reliable link is FIFO, as a TCP connection is: never deliver before the previous message.
        const earliest = this.#linkClearAt[from]![to]! - this.#scheduler.now;
        if (delay < earliest) delay = earliest;
        this.#linkClearAt[from]![to] = this.#scheduler.now + delay;
      }
      this.#scheduler.at(delay, () => {
        if (!this.linkUp(from, to)) return;
        if (REQUEST_TYPES.has(message.type)) this.rpcsReceived[to]!++;
        this.bytesDelivered += messageBytes(message);
        this.#deliver(to, message);
      });
    }
  }
}

/** Approximate wire size: a 32-byte header plus entries and snapshot chunks. */
export function messageBytes(message: Message): number {
  let bytes = 32;
  if (message.type === "append") {
    for (const entry of message.entries) {
      bytes += entryBytes(entry);
    }
  }
  if (message.type === "installSnapshot") bytes += message.chunk.byteLength;
  return bytes;
}
