/**
 * The client of the shard master: join / leave / move / query, exactly once despite retries
 * (a session like the KV clerk's), finding the leader and retrying through the shared
 * {@link callGroup} logic. Every call takes an optional deadline; past it, a
 * {@link TimeoutError} whose outcome is unknown.
 */

import { callGroup, type GroupTransport, type LeaderGuess, TimeoutError } from "../kv/clerk.ts";
import { RpcGroupTransport } from "../kv/rpc_transport.ts";
import type { PeerAddress } from "../net/peer_link.ts";
import { assert } from "../util/assert.ts";
import { silentLogger } from "../util/logger.ts";
import { Prng, type Random } from "../util/prng.ts";
import {
  type MasterRequest,
  type MasterResponse,
  type MasterResponseError,
  parseMasterResponse,
} from "./master_protocol.ts";
import { configFromJson, type ShardConfig } from "./shard_config.ts";

/** The shard master refused a request for a reason retrying cannot fix. */
export class MasterRequestError extends Error {
  override readonly name = "MasterRequestError";
  readonly code: MasterResponseError["code"];
  constructor(readonly detail: MasterResponseError) {
    super("message" in detail ? detail.message : `${detail.code}`);
    this.code = detail.code;
  }
}

export { TimeoutError };

/** Options of one call. */
export interface MasterCallOptions {
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** A client of the shard master group. */
export class ShardMasterClerk {
  readonly clientId: number;
  readonly #transport: GroupTransport<MasterRequest, MasterResponse>;
  readonly #random: Random;
  readonly #leader: LeaderGuess = { server: 0 };
  readonly #defaultTimeoutMs: number;
  #seq = 0;
  #busy = false;

  constructor(options: {
    transport: GroupTransport<MasterRequest, MasterResponse>;
    random: Random;
    clientId?: number;
    defaultTimeoutMs?: number;
  }) {
    this.#transport = options.transport;
    this.#random = options.random;
    this.clientId = options.clientId ?? randomId();
    this.#defaultTimeoutMs = options.defaultTimeoutMs ?? 10_000;
  }

  /** A clerk for the shard master replicas at `servers` (in the group's order). */
  static connect(
    options: {
      servers: readonly PeerAddress[];
      clusterName: string;
      secret: string;
      defaultTimeoutMs?: number;
    },
  ): ShardMasterClerk {
    const transport = new RpcGroupTransport<MasterRequest, MasterResponse>(
      {
        servers: options.servers,
        clusterName: options.clusterName,
        secret: options.secret,
        logger: silentLogger,
      },
      parseMasterResponse,
    );
    const seed = crypto.getRandomValues(new Uint32Array(1))[0]!;
    return new ShardMasterClerk({
      transport,
      random: new Prng(seed),
      ...(options.defaultTimeoutMs === undefined
        ? {}
        : { defaultTimeoutMs: options.defaultTimeoutMs }),
    });
  }

  /** Adds groups (gid → replica ids); answers the new config number. */
  async join(
    groups: readonly (readonly [number, readonly string[]])[],
    options: MasterCallOptions = {},
  ): Promise<number> {
    return (await this.#run(
      { type: "join", groups, clientId: this.clientId, seq: ++this.#seq },
      options,
    )).num;
  }

  /** Removes groups; their shards move to the others. Answers the new config number. */
  async leave(gids: readonly number[], options: MasterCallOptions = {}): Promise<number> {
    return (await this.#run(
      { type: "leave", gids, clientId: this.clientId, seq: ++this.#seq },
      options,
    )).num;
  }

  /** Assigns one shard to a group (even if that unbalances). Answers the new config number. */
  async move(shard: number, gid: number, options: MasterCallOptions = {}): Promise<number> {
    return (await this.#run(
      { type: "move", shard, gid, clientId: this.clientId, seq: ++this.#seq },
      options,
    )).num;
  }

  /** Config `num`, or the latest when `num` is -1, absent or past the latest. */
  async query(num = -1, options: MasterCallOptions = {}): Promise<ShardConfig> {
    const response = await this.#run({ type: "query", num }, options);
    assert(response.config !== undefined, "a query answers a config");
    const parsed = configFromJson(response.config);
    assert(parsed.ok, "the response was validated");
    return parsed.config;
  }

  async close(): Promise<void> {
    await this.#transport.close();
  }

  async #run(
    request: MasterRequest,
    options: MasterCallOptions,
  ): Promise<MasterResponse & { ok: true }> {
    assert(!this.#busy, "A ShardMasterClerk runs one operation at a time");
    this.#busy = true;
    try {
      const response = await callGroup(this.#transport, request, {
        what: request.type,
        timeoutMs: options.timeoutMs ?? this.#defaultTimeoutMs,
        attemptTimeoutMs: 1_000,
        random: this.#random,
        leader: this.#leader,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      if (!response.ok) throw new MasterRequestError(response.error);
      return response;
    } finally {
      this.#busy = false;
    }
  }
}

function randomId(): number {
  const words = crypto.getRandomValues(new Uint32Array(2));
  return (words[0]! & 0x1fffff) * 0x1_0000_0000 + words[1]! + 1;
}
