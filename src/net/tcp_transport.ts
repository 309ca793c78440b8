/**
 * The Raft {@link Transport} over TCP: one {@link PeerLink} per peer (lazy persistent
 * connection, bounded drop-oldest queue, batch frames, jittered reconnect backoff).
 *
 * Ordering and delivery (the contract `transport_contract.ts` checks): best effort. Messages
 * to one peer leave in the order they were sent and, while one connection lasts, arrive in
 * that order; messages may be lost when a queue overflows or a connection breaks, and
 * nothing is retransmitted here (Raft does that). `send` never blocks and never throws for
 * network reasons. After `close`, nothing more is sent.
 */

import { assert } from "../util/assert.ts";
import type { Logger } from "../util/logger.ts";
import type { Message } from "../raft/core/messages.ts";
import type { NodeId } from "../raft/core/types.ts";
import type { Transport } from "../raft/node.ts";
import { importClusterKey } from "./handshake.ts";
import { MESSAGE_BYTES_MAX, PEER_QUEUE_BYTES_MAX, PEER_QUEUE_MESSAGES_MAX } from "./limits.ts";
import { type PeerAddress, PeerLink, type PeerLinkStats } from "./peer_link.ts";
import { estimateMessageBytes } from "./raft_codec.ts";

/** Everything a TCP transport is built from. */
export interface TcpTransportOptions {
  readonly selfId: NodeId;
  readonly groupId: number;
  readonly clusterName: string;
  readonly secret: string;
  /** The other members of the group (an entry for `selfId` is ignored). */
  readonly peers: ReadonlyMap<NodeId, PeerAddress>;
  readonly logger: Logger;
  /** Jitter source in [0, 1) for reconnect delays; Math.random when absent. */
  readonly random?: () => number;
  /** Per-peer queue bound in messages (at most PEER_QUEUE_MESSAGES_MAX). */
  readonly queueMessagesMax?: number;
  /** Per-peer queue bound in bytes (at most PEER_QUEUE_BYTES_MAX). */
  readonly queueBytesMax?: number;
  /** Handshake deadline (HANDSHAKE_TIMEOUT_MS when absent). */
  readonly handshakeTimeoutMs?: number;
}

/** Sends Raft messages to the peers of one group over authenticated TCP connections. */
export class TcpTransport implements Transport {
  readonly #selfId: NodeId;
  readonly #logger: Logger;
  readonly #links = new Map<NodeId, PeerLink>();
  readonly #unknownPeersLogged = new Set<NodeId>();
  #closed = false;

  constructor(options: TcpTransportOptions) {
    const queueMessagesMax = options.queueMessagesMax ?? PEER_QUEUE_MESSAGES_MAX;
    const queueBytesMax = options.queueBytesMax ?? PEER_QUEUE_BYTES_MAX;
    assert(
      queueMessagesMax > 0 && queueMessagesMax <= PEER_QUEUE_MESSAGES_MAX,
      () => `queueMessagesMax ${queueMessagesMax} must be in 1..${PEER_QUEUE_MESSAGES_MAX}`,
    );
    assert(
      queueBytesMax >= MESSAGE_BYTES_MAX && queueBytesMax <= PEER_QUEUE_BYTES_MAX,
      () =>
        `queueBytesMax ${queueBytesMax} must be in ${MESSAGE_BYTES_MAX}..${PEER_QUEUE_BYTES_MAX}`,
    );
    this.#selfId = options.selfId;
    this.#logger = options.logger.child({ component: "transport", node: options.selfId });
    // The key is imported once and shared by every link; links await it before handshaking.
    const key = importClusterKey(options.secret);
    for (const [peer, address] of options.peers) {
      if (peer === options.selfId) continue;
      this.#links.set(
        peer,
        new PeerLink({
          peer,
          address,
          selfId: options.selfId,
          groupId: options.groupId,
          clusterName: options.clusterName,
          key,
          logger: this.#logger,
          random: options.random ?? Math.random,
          queueMessagesMax,
          queueBytesMax,
          ...(options.handshakeTimeoutMs === undefined
            ? {}
            : { handshakeTimeoutMs: options.handshakeTimeoutMs }),
        }),
      );
    }
  }

  /** Queues each message on its receiver's link. Never blocks; drops what cannot be sent. */
  send(messages: readonly Message[]): void {
    if (this.#closed) return;
    for (const message of messages) {
      assert(
        message.from === this.#selfId,
        () => `message from ${message.from} sent by node ${this.#selfId}`,
      );
      const link = this.#links.get(message.to);
      if (link === undefined) {
        if (!this.#unknownPeersLogged.has(message.to)) {
          this.#unknownPeersLogged.add(message.to);
          this.#logger.warn("dropping messages to a node with no address", { to: message.to });
        }
        continue;
      }
      const bytes = estimateMessageBytes(message);
      if (bytes > MESSAGE_BYTES_MAX) {
        this.#logger.error("dropping a message too large for one frame", {
          to: message.to,
          type: message.type,
          bytes,
        });
        link.countDropped();
        continue;
      }
      link.enqueue(message, bytes);
    }
  }

  /** Stops every link and waits until every connection is closed. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#links.values()].map((link) => link.close()));
  }

  /** Per-peer counters, in peer id order. */
  stats(): PeerLinkStats[] {
    return [...this.#links.values()].map((link) => link.stats()).sort((a, b) => a.peer - b.peer);
  }
}
