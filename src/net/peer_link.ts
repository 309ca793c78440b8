/**
 * One outbound link to one peer: a bounded queue, a persistent connection opened lazily on
 * the first message, and a writer loop of its own, so that a slow or dead peer only ever
 * delays its own messages. Whatever is queued while a write is in progress goes out in the
 * next write as one batch frame. A failed connect, and a lost connection, are retried after
 * a capped, jittered backoff that is forgotten once a connection has lasted a while; messages
 * in a write that failed are lost (Raft retransmits what matters).
 */

import { dialFramed } from "./dial.ts";
import type { Logger } from "../util/logger.ts";
import type { Message } from "../raft/core/messages.ts";
import type { NodeId } from "../raft/core/types.ts";
import { Backoff } from "./backoff.ts";
import { FrameError } from "./frame.ts";
import { FramedConnection } from "./framed_connection.ts";
import { connectHandshake, type HandshakeError } from "./handshake.ts";
import { BATCH_BYTES_TARGET, BATCH_MESSAGES_MAX, RECONNECT_DELAY_MAX_MS } from "./limits.ts";
import { MessageQueue } from "./message_queue.ts";
import { encodeBatchFrame } from "./raft_codec.ts";

/** A peer's network address. */
export interface PeerAddress {
  readonly host: string;
  readonly port: number;
}

/** Counters of one link, for `stats()` and metrics. */
export interface PeerLinkStats {
  readonly peer: NodeId;
  readonly connected: boolean;
  readonly bytesSent: number;
  readonly framesSent: number;
  readonly messagesSent: number;
  /** Messages dropped: queue full, a failed write, or too large to send. */
  readonly messagesDropped: number;
  readonly queueLength: number;
  readonly queueBytes: number;
  /** Connections established after the first one (each follows a lost or failed connection). */
  readonly reconnects: number;
  /** Connect or handshake attempts that failed. */
  readonly connectFailures: number;
}

/** What a link needs from its transport. */
export interface PeerLinkOptions {
  readonly peer: NodeId;
  readonly address: PeerAddress;
  readonly selfId: NodeId;
  readonly groupId: number;
  readonly clusterName: string;
  readonly key: Promise<CryptoKey>;
  readonly logger: Logger;
  readonly random: () => number;
  readonly queueMessagesMax: number;
  readonly queueBytesMax: number;
  readonly handshakeTimeoutMs?: number;
}

/** The sending side of one peer connection. */
export class PeerLink {
  readonly #options: PeerLinkOptions;
  readonly #logger: Logger;
  readonly #queue: MessageQueue;
  readonly #backoff: Backoff;
  #connection: FramedConnection | null = null;
  #watcher: Promise<void> | null = null;
  #loop: Promise<void> | null = null;
  #wake: (() => void) | null = null;
  #cancelSleep: (() => void) | null = null;
  #connectAbort: AbortController | null = null;
  /** Forgets past failures once a connection has lasted RECONNECT_DELAY_MAX_MS. */
  #stableTimer: ReturnType<typeof setTimeout> | null = null;
  #closed = false;
  #everConnected = false;
  #lastFailure = "";
  #bytesSent = 0;
  #framesSent = 0;
  #messagesSent = 0;
  #messagesLost = 0;
  #reconnects = 0;
  #connectFailures = 0;

  constructor(options: PeerLinkOptions) {
    this.#options = options;
    this.#logger = options.logger.child({ peer: options.peer });
    this.#queue = new MessageQueue(options.queueMessagesMax, options.queueBytesMax);
    this.#backoff = new Backoff(options.random);
  }

  /** Queues a message (dropping the oldest when full) and starts the writer if it is idle. */
  enqueue(message: Message, bytes: number): void {
    if (this.#closed) return;
    this.#queue.push(message, bytes);
    this.#loop ??= this.#run();
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  /** Counts a message the transport refused to queue (e.g. too large). */
  countDropped(): void {
    this.#messagesLost++;
  }

  /** Stops the writer, closes the connection, drops the queue, and waits for all of it. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#wake?.();
    this.#cancelSleep?.();
    this.#connectAbort?.abort();
    this.#connection?.close();
    this.#clearStableTimer();
    await this.#loop;
    await this.#watcher;
    this.#queue.clear();
  }

  /** A snapshot of the counters. */
  stats(): PeerLinkStats {
    return {
      peer: this.#options.peer,
      connected: this.#connection !== null && !this.#connection.closed,
      bytesSent: this.#bytesSent,
      framesSent: this.#framesSent,
      messagesSent: this.#messagesSent,
      messagesDropped: this.#queue.dropped + this.#messagesLost,
      queueLength: this.#queue.length,
      queueBytes: this.#queue.bytes,
      reconnects: this.#reconnects,
      connectFailures: this.#connectFailures,
    };
  }

  async #run(): Promise<void> {
    while (!this.#closed) {
      if (this.#queue.length === 0) {
        await new Promise<void>((resolve) => this.#wake = resolve);
        continue;
      }
      const connection = this.#connection;
      if (connection !== null && connection.closed) {
        // A lost connection counts as a failure too, so that a peer that accepts and then
        // drops every connection is retried at the backoff pace, not in a tight loop.
        this.#connection = null;
        this.#clearStableTimer();
        await this.#sleep(this.#backoff.next());
        continue;
      }
      if (connection === null) {
        if (!await this.#connect() && !this.#closed) await this.#sleep(this.#backoff.next());
        continue;
      }
      const batch = this.#queue.take(BATCH_MESSAGES_MAX, BATCH_BYTES_TARGET);
      const frame = encodeBatchFrame(batch);
      if (frame instanceof FrameError) {
        // Estimates bound the encoded size, so this is unexpected; drop rather than stop.
        this.#logger.error("dropping a batch that does not fit in a frame", {
          reason: frame.message,
        });
        this.#messagesLost += batch.length;
        continue;
      }
      if (await connection.writeAll(frame)) {
        this.#bytesSent += frame.byteLength;
        this.#framesSent++;
        this.#messagesSent += batch.length;
      } else {
        this.#messagesLost += batch.length;
      }
    }
  }

  /** Connects and authenticates; true when the link is ready to write. */
  async #connect(): Promise<boolean> {
    const { address, peer, groupId } = this.#options;
    const abort = new AbortController();
    this.#connectAbort = abort;
    const connection = await dialFramed(address, abort);
    this.#connectAbort = null;
    if (connection instanceof Error) {
      this.#noteFailure(`connect failed: ${connection.message}`);
      return false;
    }
    this.#connection = connection;
    if (this.#closed) {
      connection.close();
      return false;
    }
    const result = await connectHandshake(connection, {
      clusterName: this.#options.clusterName,
      key: await this.#options.key,
      role: { kind: "peer", nodeId: this.#options.selfId, groupId },
      expectedPeer: { nodeId: peer, groupId },
      ...(this.#options.handshakeTimeoutMs === undefined
        ? {}
        : { timeoutMs: this.#options.handshakeTimeoutMs }),
    });
    if (!result.ok) {
      this.#noteFailure(describeHandshakeError(result.error), result.error);
      return false;
    }
    if (this.#everConnected) this.#reconnects++;
    this.#everConnected = true;
    this.#lastFailure = "";
    this.#stableTimer = setTimeout(() => {
      this.#stableTimer = null;
      this.#backoff.reset();
    }, RECONNECT_DELAY_MAX_MS);
    const previous = this.#watcher;
    const watching = this.#watch(connection);
    this.#watcher = previous === null ? watching : Promise.all([previous, watching]).then(() => {});
    this.#logger.info("connected to peer", { address: connection.remoteAddress });
    return true;
  }

  /**
   * Reads the (write-only) connection so that a close by the peer is noticed while idle.
   * The acceptor never sends after its welcome, so any frame is a protocol error.
   */
  async #watch(connection: FramedConnection): Promise<void> {
    const frame = await connection.readFrame();
    const wasOpen = !connection.closed;
    connection.close();
    this.#clearStableTimer();
    if (!wasOpen || this.#closed) return;
    const reason = frame === null
      ? "closed by the peer"
      : frame instanceof FrameError
      ? frame.message
      : "unexpected frame from an acceptor";
    this.#logger.warn("connection to peer lost", { address: connection.remoteAddress, reason });
  }

  #noteFailure(reason: string, error?: HandshakeError): void {
    if (this.#closed) return;
    this.#connectFailures++;
    // The same failure every few seconds is one line, not a flood: repeats go to debug.
    const fields = {
      address: `${this.#options.address.host}:${this.#options.address.port}`,
      reason,
    };
    if (reason === this.#lastFailure) this.#logger.debug("cannot reach peer", fields);
    else if (error !== undefined) {
      this.#logger.warn("peer handshake failed", { ...fields, code: error.code });
    } else this.#logger.warn("cannot reach peer", fields);
    this.#lastFailure = reason;
  }

  #clearStableTimer(): void {
    if (this.#stableTimer !== null) clearTimeout(this.#stableTimer);
    this.#stableTimer = null;
  }

  #sleep(delayMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#cancelSleep = null;
        resolve();
      }, delayMs);
      this.#cancelSleep = () => {
        clearTimeout(timer);
        this.#cancelSleep = null;
        resolve();
      };
    });
  }
}

function describeHandshakeError(error: HandshakeError): string {
  return `handshake ${error.code}: ${error.message}`;
}
