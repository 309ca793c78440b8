/**
 * Making a {@link Clerk} the easy way: from a cluster config file, or from a list of
 * addresses with the cluster's name and secret.
 */

import { loadConfig } from "../config/mod.ts";
import type { PeerAddress } from "../net/peer_link.ts";
import { silentLogger } from "../util/logger.ts";
import { Prng } from "../util/prng.ts";
import { Clerk } from "./clerk.ts";
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
  const seed = crypto.getRandomValues(new Uint32Array(1))[0]!;
  return new Clerk({
    transport,
    random: new Prng(seed),
    ...(options.defaultTimeoutMs === undefined
      ? {}
      : { defaultTimeoutMs: options.defaultTimeoutMs }),
  });
}

/** A clerk for the cluster a config file describes (its first and only replica group). */
export async function connectClerkFromConfig(path: string): Promise<Clerk> {
  const result = await loadConfig(path);
  if (!result.ok) throw result.error;
  const config = result.config;
  if (config.shardmaster !== undefined) {
    throw new Error(
      `${path} describes a sharded cluster; the sharded clerk is not implemented yet`,
    );
  }
  return connectClerk({
    servers: config.groups[0]!.replicas.map((replica) => replica.raft),
    clusterName: config.cluster.name,
    secret: config.cluster.secret,
  });
}

function parseHostPort(text: string): PeerAddress {
  const colon = text.lastIndexOf(":");
  const port = Number(text.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`"${text}" is not host:port`);
  }
  return { host: text.slice(0, colon).replace(/^\[(.*)\]$/, "$1"), port };
}
