/**
 * The KV replica process (`main.ts node` without a shard master): the generic replica
 * process hosting a {@link KvServer} for the cluster's single replica group.
 */

import { KvServer } from "../kv/kv_server.ts";
import { parseRequest } from "../kv/protocol.ts";
import { assert } from "../util/assert.ts";
import { groupOf, type ReplicaStartOptions, startReplicaProcess } from "./replica_process.ts";

/** What `startKvReplica` needs. */
export type KvReplicaOptions = ReplicaStartOptions;

/** A running KV replica. */
export interface KvReplica {
  readonly kv: KvServer;
  readonly raftPort: number;
  readonly adminPort: number;
  stop(): Promise<void>;
}

/** Starts KV replica `replicaId`; throws a clear error when something is wrong. */
export async function startKvReplica(options: KvReplicaOptions): Promise<KvReplica> {
  const { config } = options;
  const group = groupOf(config, options.replicaId);
  let kv: KvServer | null = null;
  const process = await startReplicaProcess({
    ...options,
    kind: "node",
    replicas: group.replicas,
    groupId: group.gid,
    host: (raft) => {
      const server = new KvServer({
        raft,
        shardCount: config.cluster.shards,
        snapshotThresholdBytes: config.raft.snapshotThresholdBytes,
        now: () => Date.now(),
      });
      kv = server;
      return {
        service: server.service,
        handleClient: async (body) => {
          const parsed = parseRequest(body);
          if (!parsed.ok) {
            return { ok: false, error: { code: "badRequest", message: parsed.message } };
          }
          return await server.handle(parsed.request);
        },
        tick: () => server.tick(),
        stop: () => server.stop(),
        status: () => ({ kv: { pendingWrites: server.pendingWrites, ...server.counters } }),
      };
    },
  });
  assert(kv !== null, "the KV server was built");
  return {
    kv,
    raftPort: process.raftPort,
    adminPort: process.adminPort,
    stop: () => process.stop(),
  };
}
