/**
 * Making clients the easy way: from a cluster config file (a routing {@link ShardedClerk} when
 * it has a [shardmaster] section, the one group's {@link Clerk} when not, and the
 * {@link ShardMasterClerk}), or a single group's clerk from a list of addresses with the
 * cluster's name and secret. The CLI's `shardkv clerk` builds its clients here too.
 */

import { addressBook, type Config, loadConfig } from "../config/mod.ts";
import type { PeerAddress } from "../net/peer_link.ts";
import { ShardMasterClerk } from "../shard/master_clerk.ts";
import { ShardedClerk } from "../shard/sharded_clerk.ts";
import { assert } from "../util/assert.ts";
import { silentLogger } from "../util/logger.ts";
import { Prng } from "../util/prng.ts";
import { Clerk, type SessionKvClient } from "./clerk.ts";
import { RpcKvTransport } from "./rpc_transport.ts";

/** How to reach one replica group without a config file. */
export interface ClerkAddresses {
  /** The replicas' Raft addresses, in the group's order ("host:port" strings or objects). */
  readonly servers: readonly (string | PeerAddress)[];
  readonly clusterName?: string;
  readonly secret: string;
  /** Default deadline of each call (10 s). */
  readonly defaultTimeoutMs?: number;
}

/** Options of the clients made from a cluster config. */
export interface ConnectOptions {
  /** Default deadline of each call (10 s); a call's own `timeoutMs` overrides it. */
  readonly defaultTimeoutMs?: number;
}

/** A clerk for a single-group cluster, from explicit addresses. */
export function connectClerk(options: ClerkAddresses): Clerk {
  const servers = options.servers.map((
    server,
  ) => (typeof server === "string" ? parseHostPort(server) : server));
  const transport = new RpcKvTransport({
    servers,
    clusterName: options.clusterName ?? "shardkv",
    secret: options.secret,
    logger: silentLogger,
  });
  return new Clerk({
    transport,
    random: randomPrng(),
    ...timeoutOption(options),
  });
}

/**
 * A KV client for the cluster `config` describes. With a [shardmaster] section: a
 * {@link ShardedClerk} (key → shard by `shardOf`, shard → group from the master's latest
 * config, refreshed on `wrongGroup`). Without one: a {@link Clerk} of its only group.
 */
export function clerkForConfig(config: Config, options: ConnectOptions = {}): SessionKvClient {
  if (config.shardmaster !== undefined) {
    return new ShardedClerk({
      master: shardMasterClerkForConfig(config, options),
      addressOf: addressBook(config),
      clusterName: config.cluster.name,
      secret: config.cluster.secret,
      random: randomPrng(),
      ...timeoutOption(options),
    });
  }
  // Invariant (config validation): a cluster without a shard master has exactly one group.
  assert(config.groups.length === 1, "a config without [shardmaster] has exactly one group");
  return connectClerk({
    servers: config.groups[0]!.replicas.map((replica) => replica.raft),
    clusterName: config.cluster.name,
    secret: config.cluster.secret,
    ...timeoutOption(options),
  });
}

/** A client of the shard master group `config` describes; throws when it has none. */
export function shardMasterClerkForConfig(
  config: Config,
  options: ConnectOptions = {},
): ShardMasterClerk {
  if (config.shardmaster === undefined) throw noShardMaster(`cluster "${config.cluster.name}"`);
  return ShardMasterClerk.connect({
    servers: config.shardmaster.replicas.map((replica) => replica.raft),
    clusterName: config.cluster.name,
    secret: config.cluster.secret,
    ...timeoutOption(options),
  });
}

/**
 * A KV client for the cluster a config file describes: routed by shard when the file has a
 * [shardmaster] section (as `cluster.example.toml` does), else its one group's clerk. Throws
 * the config's `ConfigError` (every problem listed) when the file is invalid.
 */
export async function connectClerkFromConfig(
  path: string,
  options: ConnectOptions = {},
): Promise<SessionKvClient> {
  return clerkForConfig(await loadOrThrow(path), options);
}

/** A shard master client (join / leave / move / query) for the cluster a config file describes. */
export async function connectShardMasterFromConfig(
  path: string,
  options: ConnectOptions = {},
): Promise<ShardMasterClerk> {
  const config = await loadOrThrow(path);
  if (config.shardmaster === undefined) throw noShardMaster(path);
  return shardMasterClerkForConfig(config, options);
}

function noShardMaster(where: string): Error {
  return new Error(
    `Cannot connect to the shard master: ${where} has no [shardmaster] section ` +
      "(it is a single replica group, which needs none)",
  );
}

async function loadOrThrow(path: string): Promise<Config> {
  const result = await loadConfig(path);
  if (!result.ok) throw result.error;
  return result.config;
}

function randomPrng(): Prng {
  return new Prng(crypto.getRandomValues(new Uint32Array(1))[0]!);
}

function timeoutOption(options: ConnectOptions): { defaultTimeoutMs?: number } {
  return options.defaultTimeoutMs === undefined
    ? {}
    : { defaultTimeoutMs: options.defaultTimeoutMs };
}

function parseHostPort(text: string): PeerAddress {
  const colon = text.lastIndexOf(":");
  const port = Number(text.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`"${text}" is not host:port`);
  }
  return { host: text.slice(0, colon).replace(/^\[(.*)\]$/, "$1"), port };
}
