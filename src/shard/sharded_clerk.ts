/**
 * The client of a sharded cluster (ARCHITECTURE.md "Routing clerk"): key → shard by
 * {@link shardOf} (FNV-1a of the key's UTF-8 bytes modulo the shard count), shard → group
 * from a cached configuration of the shard master, refreshed when a group answers
 * `wrongGroup` or cannot be reached. One session (client id, sequence) spans every group,
 * so a write is applied exactly once even when its shard moves between retries: its dedup
 * record moves with the shard.
 */

import {
  callGroup,
  type CallOptions,
  KvRequestError,
  type LeaderGuess,
  randomClientId,
  SessionKvClient,
  TimeoutError,
} from "../kv/clerk.ts";
import type { KvRequest, KvResponse } from "../kv/protocol.ts";
import { RpcKvTransport } from "../kv/rpc_transport.ts";
import { shardOf } from "../kv/shard_of.ts";
import type { PeerAddress } from "../net/peer_link.ts";
import { silentLogger } from "../util/logger.ts";
import type { Random } from "../util/prng.ts";
import type { ShardMasterClerk } from "./master_clerk.ts";
import { GID_NONE, type ShardConfig } from "./shard_config.ts";

/** Pause before asking the shard master again after a wrongGroup (the lab's 100 ms). */
const CONFIG_RETRY_MS = 100;

/** What a sharded clerk is built from. */
export interface ShardedClerkOptions {
  readonly master: ShardMasterClerk;
  /** The Raft address of a replica named in a configuration, or undefined if unknown. */
  readonly addressOf: (replicaId: string) => PeerAddress | undefined;
  readonly clusterName: string;
  readonly secret: string;
  readonly random: Random;
  readonly defaultTimeoutMs?: number;
}

/** A client of the sharded KV service. */
export class ShardedClerk extends SessionKvClient {
  readonly #options: ShardedClerkOptions;
  readonly #transports = new Map<
    number,
    { servers: string; transport: RpcKvTransport; leader: LeaderGuess }
  >();
  #config: ShardConfig | null = null;

  constructor(options: ShardedClerkOptions) {
    super(randomClientId());
    this.#options = options;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#transports.values()].map((entry) => entry.transport.close()));
    await this.#options.master.close();
  }

  protected async send(
    request: KvRequest,
    options: CallOptions,
  ): Promise<KvResponse & { ok: true }> {
    const deadline = performance.now() +
      (options.timeoutMs ?? this.#options.defaultTimeoutMs ?? 10_000);
    const what = `${request.type} ${JSON.stringify(request.key)}`;
    for (;;) {
      const remaining = deadline - performance.now();
      if (remaining <= 0 || options.signal?.aborted) {
        throw new TimeoutError(`${what}: no answer before the deadline`);
      }
      const config = this.#config ??
        (this.#config = await this.#options.master.query(-1, { timeoutMs: remaining }));
      const gid = config.shards[shardOf(request.key, config.shards.length)] ?? GID_NONE;
      const group = gid === GID_NONE ? null : this.#group(config, gid);
      if (group !== null) {
        try {
          const response = await callGroup(group.transport, request, {
            what,
            timeoutMs: Math.min(remaining, 2_000),
            attemptTimeoutMs: 1_000,
            random: this.#options.random,
            leader: group.leader,
            ...(options.signal ? { signal: options.signal } : {}),
          });
          if (response.ok) return response;
          if (response.error.code !== "wrongGroup") throw new KvRequestError(response.error);
        } catch (error) {
          if (!(error instanceof TimeoutError)) throw error;
        }
      }
      // The shard has no group yet, moved, or its group is unreachable: ask the master again.
      await new Promise((resolve) =>
        setTimeout(resolve, Math.min(CONFIG_RETRY_MS, Math.max(0, remaining)))
      );
      this.#config = null;
    }
  }

  #group(
    config: ShardConfig,
    gid: number,
  ): { transport: RpcKvTransport; leader: LeaderGuess } | null {
    const ids = config.groups.get(gid);
    if (ids === undefined) return null;
    const key = ids.join(",");
    const cached = this.#transports.get(gid);
    if (cached !== undefined && cached.servers === key) return cached;
    void cached?.transport.close();
    const servers: PeerAddress[] = [];
    for (const id of ids) {
      const address = this.#options.addressOf(id);
      if (address !== undefined) servers.push(address);
    }
    if (servers.length === 0) return null;
    const transport = new RpcKvTransport({
      servers,
      clusterName: this.#options.clusterName,
      secret: this.#options.secret,
      logger: silentLogger,
    });
    const entry = { servers: key, transport, leader: { server: 0 } };
    this.#transports.set(gid, entry);
    return entry;
  }
}
