/**
 * The listening side of a process: one TCP port serves both Raft peers and clients, and the
 * handshake says which a connection is. Peer connections carry batch frames of Raft
 * messages, delivered batch by batch to `onPeerMessages`; client connections carry RPC
 * requests answered through `onClientRequest`. A connection that sends anything invalid
 * (garbage, an oversized length prefix, a truncated frame, undecodable or invalid msgpack,
 * a message that does not come from the authenticated peer) is closed and logged; every
 * other connection keeps being served.
 */

import { assert } from "../util/assert.ts";
import type { Logger } from "../util/logger.ts";
import type { Message } from "../raft/core/messages.ts";
import type { NodeId } from "../raft/core/types.ts";
import { FrameError } from "./frame.ts";
import { FramedConnection } from "./framed_connection.ts";
import { acceptHandshake, importClusterKey } from "./handshake.ts";
import { FRAME_BYTES_MAX, SERVER_CONNECTIONS_MAX } from "./limits.ts";
import { decodeBatch } from "./raft_codec.ts";
import {
  type ClientRequestHandler,
  type RpcServeCounters,
  serveRpcConnection,
} from "./rpc_server.ts";

/** Everything a server is built from. */
export interface NetServerOptions {
  /** Interface to bind, e.g. "127.0.0.1". */
  readonly host: string;
  /** Port to bind; 0 picks a free one (read it back from {@link NetServer.port}). */
  readonly port: number;
  readonly clusterName: string;
  readonly secret: string;
  readonly groupId: number;
  readonly selfId: NodeId;
  /** Node ids of this group that may connect as peers. */
  readonly allowedPeers: ReadonlySet<NodeId>;
  /** Receives each decoded batch from a peer, in arrival order per connection. */
  readonly onPeerMessages: (messages: Message[]) => void;
  /** Answers one client request. */
  readonly onClientRequest: ClientRequestHandler;
  readonly logger: Logger;
  /** Handshake deadline (HANDSHAKE_TIMEOUT_MS when absent). */
  readonly handshakeTimeoutMs?: number;
}

/** What the server has received from one peer. */
export interface PeerInboundStats {
  readonly peer: NodeId;
  readonly connected: boolean;
  readonly connections: number;
  readonly bytesReceived: number;
  readonly framesReceived: number;
  readonly messagesReceived: number;
}

/** Counters of a server. */
export interface NetServerStats {
  readonly peers: readonly PeerInboundStats[];
  readonly openConnections: number;
  readonly clientRequests: number;
  readonly clientBusyAnswers: number;
  readonly clientBytesReceived: number;
  readonly handshakeFailures: number;
  /** Connections closed because of what they sent after the handshake. */
  readonly badConnections: number;
  /** Connections closed on accept because SERVER_CONNECTIONS_MAX were open. */
  readonly rejectedConnections: number;
}

interface PeerCounters {
  open: number;
  connections: number;
  bytesReceived: number;
  framesReceived: number;
  messagesReceived: number;
}

/** A listening server; see the module comment. */
export class NetServer {
  /** The bound port (the chosen one when listening on port 0). */
  readonly port: number;
  readonly #options: NetServerOptions;
  readonly #key: CryptoKey;
  readonly #listener: Deno.TcpListener;
  readonly #logger: Logger;
  readonly #connections = new Map<FramedConnection, Promise<void>>();
  readonly #peers = new Map<NodeId, PeerCounters>();
  readonly #client: RpcServeCounters = { requests: 0, busy: 0, bytesReceived: 0 };
  #acceptLoop: Promise<void> | null = null;
  #closed = false;
  #handshakeFailures = 0;
  #badConnections = 0;
  #rejectedConnections = 0;

  private constructor(options: NetServerOptions, key: CryptoKey, listener: Deno.TcpListener) {
    this.#options = options;
    this.#key = key;
    this.#listener = listener;
    this.port = listener.addr.port;
    this.#logger = options.logger.child({ component: "server", node: options.selfId });
  }

  /** Binds the port and starts accepting. */
  static async listen(options: NetServerOptions): Promise<NetServer> {
    assert(
      Number.isSafeInteger(options.port) && options.port >= 0 && options.port <= 65_535,
      "port in range",
    );
    const key = await importClusterKey(options.secret);
    const listener = Deno.listen({ hostname: options.host, port: options.port });
    const server = new NetServer(options, key, listener);
    server.#acceptLoop = server.#accept();
    server.#logger.info("listening", { host: options.host, port: server.port });
    return server;
  }

  /** Stops accepting, closes every connection, and waits until all of them are done. */
  async close(): Promise<void> {
    if (this.#closed) {
      await this.#acceptLoop;
      return;
    }
    this.#closed = true;
    this.#listener.close();
    await this.#acceptLoop;
    for (const connection of this.#connections.keys()) connection.close();
    await Promise.all(this.#connections.values());
  }

  /** A snapshot of the counters. */
  stats(): NetServerStats {
    const peers = [...this.#peers].map(([peer, counters]) => ({
      peer,
      connected: counters.open > 0,
      connections: counters.connections,
      bytesReceived: counters.bytesReceived,
      framesReceived: counters.framesReceived,
      messagesReceived: counters.messagesReceived,
    })).sort((a, b) => a.peer - b.peer);
    return {
      peers,
      openConnections: this.#connections.size,
      clientRequests: this.#client.requests,
      clientBusyAnswers: this.#client.busy,
      clientBytesReceived: this.#client.bytesReceived,
      handshakeFailures: this.#handshakeFailures,
      badConnections: this.#badConnections,
      rejectedConnections: this.#rejectedConnections,
    };
  }

  async #accept(): Promise<void> {
    for (;;) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (this.#closed) return;
        // E.g. out of file descriptors: log and keep accepting; the cause is outside us.
        this.#logger.error("accept failed", { reason: (error as Error).message });
        continue;
      }
      if (this.#closed) {
        conn.close();
        return;
      }
      const connection = new FramedConnection(conn);
      if (this.#connections.size >= SERVER_CONNECTIONS_MAX) {
        this.#rejectedConnections++;
        this.#logger.warn("too many connections, closing a new one", {
          remote: connection.remoteAddress,
          limit: SERVER_CONNECTIONS_MAX,
        });
        connection.close();
        continue;
      }
      conn.setNoDelay(true);
      const task = this.#serve(connection).finally(() => this.#connections.delete(connection));
      this.#connections.set(connection, task);
    }
  }

  async #serve(connection: FramedConnection): Promise<void> {
    const options = this.#options;
    const result = await acceptHandshake(connection, {
      clusterName: options.clusterName,
      key: this.#key,
      selfId: options.selfId,
      groupId: options.groupId,
      allowedPeers: options.allowedPeers,
      ...(options.handshakeTimeoutMs === undefined
        ? {}
        : { timeoutMs: options.handshakeTimeoutMs }),
    });
    if (!result.ok) {
      if (this.#closed) return;
      this.#handshakeFailures++;
      this.#logger.warn("connection refused: handshake failed", {
        remote: connection.remoteAddress,
        code: result.error.code,
        reason: result.error.message,
      });
      return;
    }
    connection.setFrameBytesMax(FRAME_BYTES_MAX);
    if (result.remote.kind === "client") {
      await serveRpcConnection(connection, options.onClientRequest, this.#logger, this.#client);
    } else {
      await this.#servePeer(connection, result.remote.nodeId);
    }
  }

  async #servePeer(connection: FramedConnection, peer: NodeId): Promise<void> {
    let counters = this.#peers.get(peer);
    if (counters === undefined) {
      counters = {
        open: 0,
        connections: 0,
        bytesReceived: 0,
        framesReceived: 0,
        messagesReceived: 0,
      };
      this.#peers.set(peer, counters);
    }
    counters.open++;
    counters.connections++;
    let bytesSeen = connection.bytesRead;
    try {
      for (;;) {
        const frame = await connection.readFrame();
        counters.bytesReceived += connection.bytesRead - bytesSeen;
        bytesSeen = connection.bytesRead;
        if (frame === null) return;
        const reason = frame instanceof FrameError
          ? frame.message
          : this.#deliver(frame, peer, counters);
        if (reason !== null) {
          this.#badConnections++;
          this.#logger.warn("closing peer connection: bad frame", {
            remote: connection.remoteAddress,
            peer,
            reason,
          });
          return;
        }
      }
    } finally {
      counters.open--;
      connection.close();
    }
  }

  /** Decodes one batch and hands it over; returns why it was refused, or null. */
  #deliver(frame: Uint8Array, peer: NodeId, counters: PeerCounters): string | null {
    const batch = decodeBatch(frame);
    if (!batch.ok) return batch.error.message;
    const selfId = this.#options.selfId;
    for (const message of batch.value) {
      // The handshake authenticated the sender: a message claiming another origin is forged.
      if (message.from !== peer || message.to !== selfId) {
        return `message from ${message.from} to ${message.to} arrived on the connection from node ${peer} to node ${selfId}`;
      }
    }
    counters.framesReceived++;
    counters.messagesReceived += batch.value.length;
    this.#options.onPeerMessages(batch.value);
    return null;
  }
}
