/**
 * The client half of RPC: `RpcClient.call(body)` sends `[id, body]` on one authenticated
 * connection and resolves with the body of the response that repeats the id. Calls are
 * pipelined (any number outstanding on the one connection, matched by id), the connection
 * is opened lazily by the first call and again by the first call after it broke, and every
 * call has a deadline. Failures are {@link RpcError}s with a `code`; the outcome of a call
 * that failed with "timeout", "connection" or "aborted" after it was sent is unknown.
 */

import { dialFramed } from "./dial.ts";
import type { Logger } from "../util/logger.ts";
import { assert } from "../util/assert.ts";
import { FrameError } from "./frame.ts";
import { FramedConnection } from "./framed_connection.ts";
import { FrameWriter } from "./frame_writer.ts";
import { connectHandshake, importClusterKey } from "./handshake.ts";
import {
  FRAME_BYTES_MAX,
  RPC_CLIENT_PENDING_MAX,
  RPC_REQUEST_ID_MAX,
  RPC_TIMEOUT_MS_DEFAULT,
} from "./limits.ts";
import type { PeerAddress } from "./peer_link.ts";
import { decodeRpcFrame, encodeRpcFrame } from "./rpc_codec.ts";

/**
 * Why a call failed: "timeout" (the deadline passed), "connection" (could not connect, or the
 * connection broke, or the client was closed), "aborted" (the caller's signal), "refused"
 * (the server refused the handshake: wrong secret or cluster), "busy" (RPC_CLIENT_PENDING_MAX
 * calls already outstanding), "encode" (the body cannot be sent: too large or not msgpack).
 */
export type RpcErrorCode = "timeout" | "connection" | "aborted" | "refused" | "busy" | "encode";

/** A failed call. */
export class RpcError extends Error {
  override readonly name = "RpcError";
  constructor(readonly code: RpcErrorCode, message: string) {
    super(message);
  }
}

/** Everything a client is built from. */
export interface RpcClientOptions {
  readonly address: PeerAddress;
  readonly clusterName: string;
  readonly secret: string;
  readonly logger: Logger;
  /** Deadline of a call that names none (RPC_TIMEOUT_MS_DEFAULT when absent). */
  readonly timeoutMs?: number;
  /** Handshake deadline (HANDSHAKE_TIMEOUT_MS when absent). */
  readonly handshakeTimeoutMs?: number;
}

/** Options of one call. */
export interface RpcCallOptions {
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

interface Session {
  readonly connection: FramedConnection;
  readonly writer: FrameWriter;
}

interface PendingCall {
  readonly resolve: (body: unknown) => void;
  readonly reject: (error: RpcError) => void;
  readonly timer: ReturnType<typeof setTimeout>;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: () => void;
  /** The session the request was written to, or null while it waits for a connection. */
  session: Session | null;
}

/** A pipelined RPC client of one server. */
export class RpcClient {
  readonly #options: RpcClientOptions;
  readonly #logger: Logger;
  readonly #key: Promise<CryptoKey>;
  readonly #timeoutMs: number;
  readonly #pending = new Map<number, PendingCall>();
  #session: Session | null = null;
  #connecting: Promise<Session | RpcError> | null = null;
  #connectAbort: AbortController | null = null;
  /** The connection being authenticated, so that close() can interrupt the handshake. */
  #handshaking: FramedConnection | null = null;
  /** Completion of every session's reader and writer, so that close() can wait for them. */
  readonly #sessionsDone = new Set<Promise<void>>();
  #nextId = 0;
  #closed = false;

  constructor(options: RpcClientOptions) {
    const timeoutMs = options.timeoutMs ?? RPC_TIMEOUT_MS_DEFAULT;
    assert(timeoutMs > 0, "an RPC deadline is positive");
    this.#options = options;
    this.#timeoutMs = timeoutMs;
    this.#logger = options.logger.child({ component: "rpcClient" });
    this.#key = importClusterKey(options.secret);
  }

  /** Calls outstanding. */
  get pendingCalls(): number {
    return this.#pending.size;
  }

  /** Sends `body` and resolves with the response body; rejects with an {@link RpcError}. */
  call(body: unknown, options: RpcCallOptions = {}): Promise<unknown> {
    if (this.#closed) return Promise.reject(new RpcError("connection", "the client is closed"));
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(new RpcError("aborted", "the call was aborted"));
    if (this.#pending.size >= RPC_CLIENT_PENDING_MAX) {
      return Promise.reject(
        new RpcError("busy", `${RPC_CLIENT_PENDING_MAX} calls are outstanding`),
      );
    }
    const id = this.#allocateId();
    const frame = encodeRpcFrame(id, body);
    if (frame instanceof FrameError) return Promise.reject(new RpcError("encode", frame.message));
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    return new Promise((resolve, reject) => {
      const onAbort = () => this.#fail(id, new RpcError("aborted", "the call was aborted"));
      const timer = setTimeout(
        () => this.#fail(id, new RpcError("timeout", `no response within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.#pending.set(id, { resolve, reject, timer, signal, onAbort, session: null });
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#dispatch(id, frame);
    });
  }

  /** Fails every outstanding call, closes the connection, and waits until it is closed. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#connectAbort?.abort();
    this.#handshaking?.close();
    this.#session?.connection.close();
    for (const id of [...this.#pending.keys()]) {
      this.#fail(id, new RpcError("connection", "the client was closed"));
    }
    await this.#connecting;
    // An open that finished meanwhile saw #closed and closed its connection.
    await Promise.all(this.#sessionsDone);
  }

  #allocateId(): number {
    // u32 ids wrap; skipping ids still in use keeps matching unambiguous.
    do {
      this.#nextId = this.#nextId === RPC_REQUEST_ID_MAX ? 0 : this.#nextId + 1;
    } while (this.#pending.has(this.#nextId));
    return this.#nextId;
  }

  async #dispatch(id: number, frame: Uint8Array): Promise<void> {
    const session = await this.#ensureSession();
    const call = this.#pending.get(id);
    if (call === undefined) return; // timed out or aborted while connecting
    if (session instanceof RpcError) {
      this.#fail(id, session);
      return;
    }
    call.session = session;
    if (!session.writer.enqueue(frame)) {
      this.#fail(
        id,
        new RpcError("connection", "the connection closed before the request was sent"),
      );
    }
  }

  #ensureSession(): Promise<Session | RpcError> {
    const session = this.#session;
    if (session !== null && !session.connection.closed) return Promise.resolve(session);
    this.#connecting ??= this.#open().finally(() => this.#connecting = null);
    return this.#connecting;
  }

  async #open(): Promise<Session | RpcError> {
    const { address } = this.#options;
    const abort = new AbortController();
    this.#connectAbort = abort;
    const connection = await dialFramed(address, abort);
    this.#connectAbort = null;
    if (connection instanceof Error) {
      return new RpcError(
        "connection",
        `cannot connect to ${address.host}:${address.port}: ${connection.message}`,
      );
    }
    if (this.#closed) {
      connection.close();
      return new RpcError("connection", "the client was closed");
    }
    this.#handshaking = connection;
    const result = await connectHandshake(connection, {
      clusterName: this.#options.clusterName,
      key: await this.#key,
      role: { kind: "client" },
      ...(this.#options.handshakeTimeoutMs === undefined
        ? {}
        : { timeoutMs: this.#options.handshakeTimeoutMs }),
    });
    this.#handshaking = null;
    if (!result.ok) {
      const { code, message } = result.error;
      this.#logger.warn("handshake with server failed", {
        address: connection.remoteAddress,
        code,
        reason: message,
      });
      const refused = code !== "closed" && code !== "timeout";
      return new RpcError(
        refused ? "refused" : "connection",
        `handshake failed (${code}): ${message}`,
      );
    }
    connection.setFrameBytesMax(FRAME_BYTES_MAX);
    const session: Session = { connection, writer: new FrameWriter(connection) };
    const done = this.#readResponses(session).then(() => session.writer.idle());
    this.#sessionsDone.add(done);
    done.finally(() => this.#sessionsDone.delete(done));
    this.#session = session;
    if (this.#closed) connection.close();
    return session;
  }

  async #readResponses(session: Session): Promise<void> {
    const { connection } = session;
    let reason = "the connection closed";
    for (;;) {
      const frame = await connection.readFrame();
      if (frame === null) break;
      const response = frame instanceof FrameError
        ? { ok: false as const, error: frame }
        : decodeRpcFrame(frame);
      if (!response.ok) {
        reason = `bad frame from the server: ${response.error.message}`;
        this.#logger.warn("closing connection to server", {
          address: connection.remoteAddress,
          reason,
        });
        break;
      }
      const call = this.#pending.get(response.value.id);
      // A response to a call that already timed out is dropped.
      if (call !== undefined && call.session === session) {
        this.#finish(response.value.id, call, response.value.body);
      }
    }
    connection.close();
    if (this.#session === session) this.#session = null;
    for (const [id, call] of [...this.#pending]) {
      if (call.session === session) this.#fail(id, new RpcError("connection", reason));
    }
  }

  #finish(id: number, call: PendingCall, body: unknown): void {
    this.#pending.delete(id);
    clearTimeout(call.timer);
    call.signal?.removeEventListener("abort", call.onAbort);
    call.resolve(body);
  }

  #fail(id: number, error: RpcError): void {
    const call = this.#pending.get(id);
    if (call === undefined) return;
    this.#pending.delete(id);
    clearTimeout(call.timer);
    call.signal?.removeEventListener("abort", call.onAbort);
    call.reject(error);
  }
}
