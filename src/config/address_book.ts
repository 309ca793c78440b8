/**
 * Replica id → Raft address, for every replica a cluster config names: how a group reaches
 * another group's replicas, and how a routing clerk reaches the replicas a shard config lists.
 */

import type { Address } from "./address.ts";
import type { Config } from "./config.ts";

/** The Raft address of every replica the config file names, by id. */
export function addressBook(config: Config): (replicaId: string) => Address | undefined {
  const addresses = new Map<string, Address>();
  for (const group of config.groups) {
    for (const replica of group.replicas) addresses.set(replica.id, replica.raft);
  }
  for (const replica of config.shardmaster?.replicas ?? []) addresses.set(replica.id, replica.raft);
  return (id) => addresses.get(id);
}
