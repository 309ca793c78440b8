/**
 * Safe defaults for every optional config key (STYLE.md #13). They suit a LAN cluster on
 * ordinary disks; `cluster.example.toml` explains what each one trades off.
 */

import type { ClusterSettings, LogSettings, RaftSettings, StorageSettings } from "./config.ts";
import { MIB } from "./limits.ts";

/** Defaults for `[cluster]`; `secret` and `admin_token` have none and are required. */
export const CLUSTER_DEFAULTS: Omit<ClusterSettings, "secret" | "adminToken"> = {
  name: "shardkv",
  shards: 10,
};

/** Defaults for `[raft]`: a 50 ms tick, 1 s election timeout, 100 ms heartbeat. */
export const RAFT_DEFAULTS: RaftSettings = {
  tickMs: 50,
  electionTicks: 20,
  heartbeatTicks: 2,
  preVote: true,
  checkQuorum: true,
  maxAppendEntries: 512,
  maxAppendBytes: 1 * MIB,
  maxInflightAppends: 64,
  maxInflightBytes: 16 * MIB,
  maxUncommittedBytes: 64 * MIB,
  snapshotChunkBytes: 1 * MIB,
  snapshotThresholdBytes: 8 * MIB,
};

/** Defaults for `[storage]`. */
export const STORAGE_DEFAULTS: StorageSettings = {
  dataDir: "./data",
  segmentBytes: 64 * MIB,
  fsync: true,
};

/** Defaults for `[log]`. */
export const LOG_DEFAULTS: LogSettings = {
  level: "info",
  format: "auto",
};

/** Default of `join_on_start` in each `[[groups]]` table. */
export const JOIN_ON_START_DEFAULT = true;
