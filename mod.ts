/**
 * shardkv's public library API.
 *
 * - Clients: {@link connectClerk} / {@link connectClerkFromConfig} give a {@link Clerk}
 *   (get / put / append / delete with deadlines; writes exactly once).
 * - Servers: {@link startKvReplica} runs one replica as `main.ts node` does.
 * - Building blocks: the pure Raft core, its driver {@link RaftNode}, {@link FileStorage}
 *   and {@link MemoryStorage}, the KV state machine, and the cluster configuration.
 *
 * @module
 */

export { VERSION } from "./src/version.ts";
export * from "./src/config/mod.ts";
export {
  Clerk,
  type ClerkOptions,
  KvRequestError,
  type KvTransport,
  TimeoutError,
} from "./src/kv/clerk.ts";
export { type ClerkAddresses, connectClerk, connectClerkFromConfig } from "./src/kv/connect.ts";
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
