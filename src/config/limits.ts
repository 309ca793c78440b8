/**
 * Bounds on every configuration knob (STYLE.md #5). The validator checks each value
 * against these at start-up so that a typo like `tick_ms = 50000` is refused with its key
 * path instead of producing a cluster that never elects a leader.
 */

import * as raftLimits from "../raft/core/limits.ts";

/** One kibibyte, for readable byte limits. */
export const KIB = 1024;
/** One mebibyte. */
export const MIB = 1024 * KIB;
/** One gibibyte. */
export const GIB = 1024 * MIB;

/** Shards per cluster: fixed for the cluster's lifetime (MIT 6.824 NShards). */
export const SHARDS_MAX = 1024;
/** Replica groups in one config file. More groups than shards is allowed but idle. */
export const GROUPS_MAX = 1024;
/**
 * Replicas in one Raft group (replica groups and the shard master alike). Raft needs a
 * majority for every commit, so more than a handful only adds latency; 9 tolerates 4 faults.
 */
export const REPLICAS_PER_GROUP_MAX = 9;
/** Largest gid: gid 0 is reserved for "no group" in shard assignments (MIT 6.824). */
export const GID_MAX = 2 ** 31 - 1;
/** Replica ids: short, safe in file names (`<data_dir>/<id>`), URLs and log lines. */
export const REPLICA_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** Cluster names follow the replica id rules, plus dots. */
export const CLUSTER_NAME_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
/** Shortest accepted cluster secret or admin token. */
export const SECRET_CHARS_MIN = 16;
/** Longest accepted cluster secret or admin token. */
export const SECRET_CHARS_MAX = 1024;
/** Longest accepted data directory path. */
export const DATA_DIR_CHARS_MAX = 4096;

/** Raft tick length bounds, in milliseconds. */
export const TICK_MS_MIN = 1;
/** See {@link TICK_MS_MIN}. */
export const TICK_MS_MAX = 1000;
/** Election timeout upper bound, in ticks. */
export const ELECTION_TICKS_MAX = 10_000;
/** Raft §5.2 and etcd: the election timeout should be many heartbeats long. */
export const ELECTION_TO_HEARTBEAT_RATIO_MIN = 3;
/** Heartbeat interval upper bound, in ticks. */
export const HEARTBEAT_TICKS_MAX = 1000;
// The Raft core's own limits bound these settings: a config the validator accepts must never
// trip an assertion in the core at start-up.
/** Entries in one AppendEntries message. */
export const APPEND_ENTRIES_MAX = raftLimits.APPEND_ENTRIES_MAX;
/** Bytes in one AppendEntries message (an entry larger than this still goes alone). */
export const APPEND_BYTES_MAX = raftLimits.APPEND_BYTES_MAX;
/** AppendEntries messages in flight to one follower. */
export const INFLIGHT_APPENDS_MAX = raftLimits.INFLIGHT_APPENDS_MAX;
/** Bytes of AppendEntries in flight to one follower. */
export const INFLIGHT_BYTES_MAX = raftLimits.INFLIGHT_BYTES_MAX;
/** Bytes of proposed but uncommitted entries a leader accepts. */
export const UNCOMMITTED_BYTES_MAX = GIB;
/** Bytes in one InstallSnapshot chunk. */
export const SNAPSHOT_CHUNK_BYTES_MAX = raftLimits.SNAPSHOT_CHUNK_BYTES_MAX;
/** Log size that triggers a snapshot; `-1` disables snapshots. */
export const SNAPSHOT_THRESHOLD_BYTES_MAX = 1024 * GIB;
/** Value of `snapshot_threshold_bytes` that disables snapshots. */
export const SNAPSHOTS_DISABLED = -1;
/** WAL segment size bounds. */
export const SEGMENT_BYTES_MIN = 64 * KIB;
/** See {@link SEGMENT_BYTES_MIN}. */
export const SEGMENT_BYTES_MAX = GIB;
