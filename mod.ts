/**
 * shardkv's public library API. For now: the version and the cluster configuration
 * (types, loader, defaults). Raft, the KV service and the clerks are added here as they land.
 *
 * @module
 */

export { VERSION } from "./src/version.ts";
export * from "./src/config/mod.ts";
