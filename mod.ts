/**
 * shardkv's public library API.
 *
 * - Clients: {@link connectClerkFromConfig} gives a {@link SessionKvClient} (get / put / append /
 *   delete with deadlines; writes exactly once) for the cluster a config file describes: a
 *   {@link ShardedClerk} when the file has a [shardmaster] section (key → shard by
 *   {@link shardOf}, FNV-1a of the key's UTF-8 bytes modulo the shard count; shard → group
 *   from the shard master's config, cached and refreshed on `wrongGroup`), else a
 *   {@link Clerk} of its one replica group. {@link connectClerk} makes a single group's Clerk
 *   from addresses.
 * - Shard master: {@link connectShardMasterFromConfig} gives a {@link ShardMasterClerk}
 *   (join / leave / move / query of {@link ShardConfig}s).
 * - Servers: {@link startKvReplica} runs one replica as `main.ts node` does.
 * - Building blocks: the pure Raft core, its driver {@link RaftNode}, {@link FileStorage}
 *   and {@link MemoryStorage}, the KV state machine, and the cluster configuration.
 *
 * @module
 */

export { VERSION } from "./src/version.ts";
export * from "./src/config/mod.ts";
export {
  type CallOptions,
  Clerk,
  type ClerkOptions,
  KvRequestError,
  type KvTransport,
  SessionKvClient,
  TimeoutError,
} from "./src/kv/clerk.ts";
export {
  type ClerkAddresses,
  clerkForConfig,
  connectClerk,
  connectClerkFromConfig,
  type ConnectOptions,
  connectShardMasterFromConfig,
  shardMasterClerkForConfig,
} from "./src/kv/connect.ts";
export {
  type MasterCallOptions,
  MasterRequestError,
  ShardMasterClerk,
} from "./src/shard/master_clerk.ts";
export { ShardedClerk, type ShardedClerkOptions } from "./src/shard/sharded_clerk.ts";
export { GID_NONE, type ShardConfig } from "./src/shard/shard_config.ts";
export { KvServer, type KvServerOptions } from "./src/kv/kv_server.ts";
export { KvState } from "./src/kv/kv_state.ts";
export type { KvRequest, KvResponse, KvResponseError } from "./src/kv/protocol.ts";
export { shardOf } from "./src/kv/shard_of.ts";
export { type KvReplica, type KvReplicaOptions, startKvReplica } from "./src/server/kv_replica.ts";
export {
  RaftNode,
  type RaftNodeOptions,
  type StateMachine,
  type Transport,
} from "./src/raft/node.ts";
export { MemoryStorage } from "./src/raft/memory_storage.ts";
export type { PersistBatch, Storage } from "./src/raft/storage.ts";
export { FileStorage, type FileStorageOptions, StorageError } from "./src/raft/wal/mod.ts";
export * as raft from "./src/raft/core/mod.ts";
export { createLogger, type Logger, silentLogger } from "./src/util/logger.ts";
