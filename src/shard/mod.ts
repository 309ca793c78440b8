/**
 * The shard master's public entry: configs and their JSON form, commands and their codec,
 * the pure state machine, and the rebalancing that the state machine uses.
 */

export {
  configFromJson,
  configToJson,
  GID_NONE,
  initialConfig,
  sameConfig,
  type ShardConfig,
  type ShardConfigJson,
} from "./shard_config.ts";
export {
  commandProblem,
  decodeMasterCommand,
  encodeMasterCommand,
  type MasterCommand,
  type MasterError,
  type MasterErrorCode,
  type MasterReply,
} from "./master_command.ts";
export { ShardMasterState } from "./master_state.ts";
export { isBalanced, movedShards, rebalance } from "./rebalance.ts";
export {
  GROUPS_MAX,
  MASTER_SESSIONS_MAX,
  REPLICA_ID_BYTES_MAX,
  REPLICAS_PER_GROUP_MAX,
  SHARDS_MAX,
} from "./limits.ts";
