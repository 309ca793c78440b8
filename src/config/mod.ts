/** The cluster configuration: types, TOML loading and validation, defaults. */

export type {
  Address,
  ClusterSettings,
  Config,
  ConfigResult,
  GroupConfig,
  LogFormat,
  LogLevel,
  LogSettings,
  RaftSettings,
  ReplicaConfig,
  ReplicaLocation,
  ShardMasterConfig,
  StorageSettings,
} from "./config.ts";
export {
  ConfigError,
  findReplica,
  formatAddress,
  loadConfig,
  parseAddress,
  parseConfig,
  replicaDataDir,
} from "./config.ts";
export { addressBook } from "./address_book.ts";
export {
  CLUSTER_DEFAULTS,
  JOIN_ON_START_DEFAULT,
  LOG_DEFAULTS,
  RAFT_DEFAULTS,
  STORAGE_DEFAULTS,
} from "./defaults.ts";
