/**
 * The KV client. Each write carries the clerk's session (client id, sequence number); retries
 * reuse the sequence number, so a write applies exactly once however often it is resent.
 * Every call takes an optional deadline or AbortSignal; when it passes, the call ends in a
 * {@link TimeoutError} whose outcome is unknown (the write may or may not have applied).
 */

import { assert } from "../util/assert.ts";
import type { Random } from "../util/prng.ts";
import {
  CLERK_BACKOFF_INITIAL_MS,
  CLERK_BACKOFF_MAX_MS,
  type ClerkAction,
  OperationAttempt,
  type ServiceReply,
} from "./clerk_core.ts";
import type { KvRequest, KvResponse, KvResponseError } from "./protocol.ts";

/** How a client reaches server number `server` (0-based) of a group. It rejects on loss or timeout. */
export interface GroupTransport<Request, Response> {
  readonly servers: number;
  call(
    server: number,
    request: Request,
    options: { timeoutMs: number; signal?: AbortSignal },
  ): Promise<Response>;
  close(): void | Promise<void>;
}

/** How a KV clerk reaches its group. */
export type KvTransport = GroupTransport<KvRequest, KvResponse>;

/** The deadline passed before an answer arrived; a write may or may not have been applied. */
export class TimeoutError extends Error {
  override readonly name = "TimeoutError";
  readonly code = "timeout";
  readonly outcome = "unknown";
}

/** The service refused the operation for a reason retrying cannot fix. */
export class KvRequestError extends Error {
  override readonly name = "KvRequestError";
  readonly code: KvResponseError["code"];
  readonly detail: KvResponseError;
  constructor(detail: KvResponseError) {
    super(describeError(detail));
    this.code = detail.code;
    this.detail = detail;
  }
}

/** Per-call options. */
export interface CallOptions {
  /** Give up after this many milliseconds (default: the clerk's `defaultTimeoutMs`). */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** What a clerk is built from. */
export interface ClerkOptions {
  readonly transport: KvTransport;
  /** A random 53-bit id by default; must be unique among live clients. */
  readonly clientId?: number;
  readonly random: Random;
  readonly defaultTimeoutMs?: number;
  /** How long one server gets to answer before the next is tried. */
  readonly attemptTimeoutMs?: number;
}

/** A client of the replicated KV service. */
/**
 * A KV client with one session: the four operations, sequence numbers that make each write
 * exactly-once, and one operation at a time (sequence numbers must reach the servers in
 * order). Subclasses say how a request reaches the service and what to do on the way.
 */
export abstract class SessionKvClient {
  readonly clientId: number;
  #seq = 0;
  #busy = false;

  protected constructor(clientId: number) {
    this.clientId = clientId;
  }

  /** The value of `key`, or "" when it is missing. */
  async get(key: string, options: CallOptions = {}): Promise<string> {
    return (await this.#run({ type: "get", key }, options)).value ?? "";
  }

  async put(key: string, value: string, options: CallOptions = {}): Promise<void> {
    await this.#run(
      { type: "put", key, value, clientId: this.clientId, seq: ++this.#seq },
      options,
    );
  }

  async append(key: string, value: string, options: CallOptions = {}): Promise<void> {
    await this.#run(
      { type: "append", key, value, clientId: this.clientId, seq: ++this.#seq },
      options,
    );
  }

  async delete(key: string, options: CallOptions = {}): Promise<void> {
    await this.#run({ type: "delete", key, clientId: this.clientId, seq: ++this.#seq }, options);
  }

  abstract close(): Promise<void>;

  /** Delivers one request until a final answer: success, or a KvRequestError / TimeoutError. */
  protected abstract send(
    request: KvRequest,
    options: CallOptions,
  ): Promise<KvResponse & { ok: true }>;

  async #run(request: KvRequest, options: CallOptions): Promise<KvResponse & { ok: true }> {
    assert(!this.#busy, "A KV client runs one operation at a time; use one per concurrent caller");
    this.#busy = true;
    try {
      return await this.send(request, options);
    } finally {
      this.#busy = false;
    }
  }
}

/** A client of one replica group (the replicated KV service without sharding). */
export class Clerk extends SessionKvClient {
  readonly #transport: KvTransport;
  readonly #random: Random;
  readonly #defaultTimeoutMs: number;
  readonly #attemptTimeoutMs: number;
  readonly #leader: LeaderGuess = { server: 0 };

  constructor(options: ClerkOptions) {
    super(options.clientId ?? randomClientId());
    this.#transport = options.transport;
    this.#random = options.random;
    this.#defaultTimeoutMs = options.defaultTimeoutMs ?? 10_000;
    this.#attemptTimeoutMs = options.attemptTimeoutMs ?? 1_000;
  }

  async close(): Promise<void> {
    await this.#transport.close();
  }

  protected async send(
    request: KvRequest,
    options: CallOptions,
  ): Promise<KvResponse & { ok: true }> {
    const response = await callGroup(this.#transport, request, {
      what: `${request.type} ${JSON.stringify(request.key)}`,
      timeoutMs: options.timeoutMs ?? this.#defaultTimeoutMs,
      attemptTimeoutMs: this.#attemptTimeoutMs,
      random: this.#random,
      leader: this.#leader,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    if (!response.ok) throw new KvRequestError(response.error);
    return response;
  }
}

/** Where a client last found the leader; shared by its calls so the next starts there. */
export interface LeaderGuess {
  server: number;
}

/** Settings of one {@link callGroup}. */
export interface GroupCallOptions {
  /** Names the operation in a TimeoutError. */
  readonly what: string;
  readonly timeoutMs: number;
  /** How long one server gets to answer before the next is tried. */
  readonly attemptTimeoutMs: number;
  readonly random: Random;
  readonly leader: LeaderGuess;
  readonly signal?: AbortSignal;
}

/**
 * Sends `request` to the group until a server gives a final answer (success, or an error
 * retrying cannot fix), following leader hints and backing off (see {@link OperationAttempt}).
 * Throws {@link TimeoutError} when the deadline passes first.
 */
export async function callGroup<Request, Response extends ServiceReply>(
  transport: GroupTransport<Request, Response>,
  request: Request,
  options: GroupCallOptions,
): Promise<Response> {
  const deadline = performance.now() + options.timeoutMs;
  const attempt = new OperationAttempt<Response>({
    servers: transport.servers,
    backoffInitialMs: CLERK_BACKOFF_INITIAL_MS,
    backoffMaxMs: CLERK_BACKOFF_MAX_MS,
    random: options.random,
  }, options.leader.server);
  let action: ClerkAction<Response> = attempt.first();
  for (;;) {
    const remaining = deadline - performance.now();
    if (options.signal?.aborted || remaining <= 0) {
      throw new TimeoutError(`${options.what}: no answer before the deadline`);
    }
    switch (action.type) {
      case "done":
        options.leader.server = attempt.server;
        return action.response;
      case "sleep":
        await sleep(Math.min(action.ms, remaining), options.signal);
        action = attempt.afterSleep();
        break;
      case "send":
        try {
          const signal = options.signal;
          const response = await transport.call(action.server, request, {
            timeoutMs: Math.min(options.attemptTimeoutMs, remaining),
            ...(signal ? { signal } : {}),
          });
          action = attempt.onReply(response);
        } catch {
          action = attempt.onFailure();
        }
        break;
    }
  }
}

/** A random client id: 53 bits, never 0. */
export function randomClientId(): number {
  const words = crypto.getRandomValues(new Uint32Array(2));
  return (words[0]! & 0x1fffff) * 0x1_0000_0000 + words[1]! + 1;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** A sentence for an error code. */
export function describeError(error: KvResponseError): string {
  switch (error.code) {
    case "notLeader":
      return `not the leader${
        error.leaderHint === null ? "" : ` (leader hint: node ${error.leaderHint})`
      }`;
    case "busy":
      return `server busy: ${error.message}`;
    case "wrongGroup":
      return `shard ${error.shard} is not served by this group`;
    case "badRequest":
      return `bad request: ${error.message}`;
    case "tooManySessions":
      return `the shard holds ${error.sessions} recent client sessions; try again shortly`;
    case "staleRequest":
      return `request ${error.seq} is older than the last applied (${error.lastSeq})`;
    case "keyTooLarge":
      return `key is ${error.bytes} bytes; the limit is ${error.maxBytes}`;
    case "valueTooLarge":
      return `value is ${error.bytes} bytes; the limit is ${error.maxBytes}`;
  }
}
