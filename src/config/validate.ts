/**
 * The config schema and its rules: per-key types and bounds, relations between keys,
 * uniqueness of ids and addresses across the file. One pass reports every problem.
 */

import { type Address, formatAddress, parseAddress } from "./address.ts";
import type {
  ClusterSettings,
  Config,
  GroupConfig,
  LogSettings,
  RaftSettings,
  ReplicaConfig,
  ShardMasterConfig,
  StorageSettings,
} from "./config.ts";
import {
  CLUSTER_DEFAULTS,
  JOIN_ON_START_DEFAULT,
  LOG_DEFAULTS,
  RAFT_DEFAULTS,
  STORAGE_DEFAULTS,
} from "./defaults.ts";
import * as limits from "./limits.ts";
import { type ReadContext, TableReader } from "./table_reader.ts";

/** The result of {@link validateDocument}: a config only when there are no problems. */
export interface Validation {
  readonly config: Config | undefined;
  readonly problems: readonly string[];
}

/** Validates a parsed TOML document (integers as bigint) against the schema. */
export function validateDocument(document: Record<string, unknown>): Validation {
  const context: ReadContext = { problems: [], schemaKeys: new Set() };
  const config = readDocument(new TableReader(document, "", context));
  return { config: context.problems.length === 0 ? config : undefined, problems: context.problems };
}

/**
 * Every key path the schema knows, without array indices (`groups.replicas.raft`). It is
 * derived by running the validator itself, so it cannot drift from what is accepted.
 */
export function schemaKeys(): string[] {
  const context: ReadContext = { problems: [], schemaKeys: new Set() };
  const sample = { shardmaster: { replicas: [{}] }, groups: [{ replicas: [{}] }] };
  readDocument(new TableReader(sample, "", context));
  return [...context.schemaKeys].sort();
}

function readDocument(root: TableReader): Config {
  const cluster = readCluster(root.table("cluster"));
  const raft = readRaft(root.table("raft"));
  const storage = readStorage(root.table("storage"));
  const log = readLog(root.table("log"));
  const replicas: ReplicaEntry[] = [];
  const shardmasterTable = root.table("shardmaster");
  const hasShardMaster = root.has("shardmaster");
  const shardmaster = hasShardMaster && root.isValid("shardmaster")
    ? readShardMaster(shardmasterTable, replicas)
    : undefined;
  const groups = readGroups(root, replicas);
  if (!hasShardMaster && groups.length > 1) {
    root.problem(
      "groups",
      `has ${groups.length} groups; without a [shardmaster] section exactly one group is allowed`,
    );
  }
  checkUnique(root, replicas);
  root.finish();
  return { cluster, raft, storage, log, shardmaster, groups };
}

function readCluster(table: TableReader): ClusterSettings {
  const secretRule = {
    minLength: limits.SECRET_CHARS_MIN,
    maxLength: limits.SECRET_CHARS_MAX,
    expected: `a string of at least ${limits.SECRET_CHARS_MIN} characters`,
    secret: true,
  };
  const cluster: ClusterSettings = {
    name: table.string("name", {
      default: CLUSTER_DEFAULTS.name,
      maxLength: 64,
      pattern: limits.CLUSTER_NAME_PATTERN,
      expected: "1 to 64 of A-Z a-z 0-9 _ . -",
    }),
    secret: table.string("secret", secretRule),
    adminToken: table.string("admin_token", secretRule),
    shards: table.integer("shards", {
      default: CLUSTER_DEFAULTS.shards,
      min: 1,
      max: limits.SHARDS_MAX,
    }),
  };
  if (table.isValid("secret") && table.isValid("admin_token")) {
    if (cluster.secret === cluster.adminToken) {
      table.problem("admin_token", "must differ from cluster.secret (the token is sent over HTTP)");
    }
  }
  table.finish();
  return cluster;
}

function readRaft(table: TableReader): RaftSettings {
  const defaults = RAFT_DEFAULTS;
  const bytes = "bytes" as const;
  const raft: RaftSettings = {
    tickMs: table.integer("tick_ms", {
      default: defaults.tickMs,
      min: limits.TICK_MS_MIN,
      max: limits.TICK_MS_MAX,
    }),
    electionTicks: table.integer("election_ticks", {
      default: defaults.electionTicks,
      min: 1,
      max: limits.ELECTION_TICKS_MAX,
    }),
    heartbeatTicks: table.integer("heartbeat_ticks", {
      default: defaults.heartbeatTicks,
      min: 1,
      max: limits.HEARTBEAT_TICKS_MAX,
    }),
    preVote: table.boolean("pre_vote", defaults.preVote),
    checkQuorum: table.boolean("check_quorum", defaults.checkQuorum),
    maxAppendEntries: table.integer("max_append_entries", {
      default: defaults.maxAppendEntries,
      min: 1,
      max: limits.APPEND_ENTRIES_MAX,
    }),
    maxAppendBytes: table.integer("max_append_bytes", {
      default: defaults.maxAppendBytes,
      min: 1,
      max: limits.APPEND_BYTES_MAX,
      unit: bytes,
    }),
    maxInflightAppends: table.integer("max_inflight_appends", {
      default: defaults.maxInflightAppends,
      min: 1,
      max: limits.INFLIGHT_APPENDS_MAX,
    }),
    maxInflightBytes: table.integer("max_inflight_bytes", {
      default: defaults.maxInflightBytes,
      min: 1,
      max: limits.INFLIGHT_BYTES_MAX,
      unit: bytes,
    }),
    maxUncommittedBytes: table.integer("max_uncommitted_bytes", {
      default: defaults.maxUncommittedBytes,
      min: 1,
      max: limits.UNCOMMITTED_BYTES_MAX,
      unit: bytes,
    }),
    snapshotChunkBytes: table.integer("snapshot_chunk_bytes", {
      default: defaults.snapshotChunkBytes,
      min: 1,
      max: limits.SNAPSHOT_CHUNK_BYTES_MAX,
      unit: bytes,
    }),
    snapshotThresholdBytes: table.integer("snapshot_threshold_bytes", {
      default: defaults.snapshotThresholdBytes,
      min: 1,
      max: limits.SNAPSHOT_THRESHOLD_BYTES_MAX,
      also: [limits.SNAPSHOTS_DISABLED],
      unit: bytes,
    }),
  };
  checkRaftRelations(table, raft);
  table.finish();
  return raft;
}

/** Relations between `[raft]` keys, checked only when both keys are valid on their own. */
function checkRaftRelations(table: TableReader, raft: RaftSettings): void {
  const ratio = limits.ELECTION_TO_HEARTBEAT_RATIO_MIN;
  if (table.isValid("election_ticks") && table.isValid("heartbeat_ticks")) {
    if (raft.electionTicks < ratio * raft.heartbeatTicks) {
      table.problem(
        "election_ticks",
        `must be at least ${ratio} × heartbeat_ticks (${ratio * raft.heartbeatTicks}), ` +
          `got ${raft.electionTicks}: followers would start elections between heartbeats`,
      );
    }
  }
  if (table.isValid("max_inflight_bytes") && table.isValid("max_append_bytes")) {
    if (raft.maxInflightBytes < raft.maxAppendBytes) {
      table.problem(
        "max_inflight_bytes",
        `must be at least max_append_bytes (${raft.maxAppendBytes}), got ${raft.maxInflightBytes}`,
      );
    }
  }
}

function readStorage(table: TableReader): StorageSettings {
  const storage: StorageSettings = {
    dataDir: table.string("data_dir", {
      default: STORAGE_DEFAULTS.dataDir,
      maxLength: limits.DATA_DIR_CHARS_MAX,
      expected: "a non-empty directory path",
    }),
    segmentBytes: table.integer("segment_bytes", {
      default: STORAGE_DEFAULTS.segmentBytes,
      min: limits.SEGMENT_BYTES_MIN,
      max: limits.SEGMENT_BYTES_MAX,
      unit: "bytes",
    }),
    fsync: table.boolean("fsync", STORAGE_DEFAULTS.fsync),
  };
  table.finish();
  return storage;
}

function readLog(table: TableReader): LogSettings {
  const log: LogSettings = {
    level: table.choice("level", ["debug", "info", "warn", "error"] as const, LOG_DEFAULTS.level),
    format: table.choice("format", ["auto", "json", "text"] as const, LOG_DEFAULTS.format),
  };
  table.finish();
  return log;
}

/** A replica with the key paths of its fields, for uniqueness problems. */
interface ReplicaEntry {
  readonly path: string;
  readonly id: string | undefined;
  readonly raft: Address | undefined;
  readonly admin: Address | undefined;
}

function readShardMaster(table: TableReader, entries: ReplicaEntry[]): ShardMasterConfig {
  const replicas = readReplicas(table, entries);
  table.finish();
  return { replicas };
}

function readGroups(root: TableReader, entries: ReplicaEntry[]): GroupConfig[] {
  const tables = root.tables("groups", limits.GROUPS_MAX);
  if (tables.length === 0 && root.isValid("groups")) {
    root.problem("groups", "at least one [[groups]] table is required");
  }
  const groups: GroupConfig[] = [];
  const gidPaths = new Map<number, string>();
  for (const table of tables) {
    const gid = table.integer("gid", { min: 1, max: limits.GID_MAX });
    if (table.isValid("gid")) {
      const first = gidPaths.get(gid);
      if (first === undefined) gidPaths.set(gid, table.keyPath("gid"));
      else table.problem("gid", `${gid} is already used by ${first}`);
    }
    const replicas = readReplicas(table, entries);
    const joinOnStart = table.boolean("join_on_start", JOIN_ON_START_DEFAULT);
    table.finish();
    groups.push({ gid, replicas, joinOnStart });
  }
  return groups;
}

/** Reads `replicas`, the array of replica tables of a group or of the shard master. */
function readReplicas(table: TableReader, entries: ReplicaEntry[]): ReplicaConfig[] {
  const readers = table.tables("replicas", limits.REPLICAS_PER_GROUP_MAX);
  if (readers.length === 0 && table.isValid("replicas")) {
    table.problem("replicas", "at least one replica is required");
  }
  const replicas: ReplicaConfig[] = [];
  for (const reader of readers) {
    const id = reader.string("id", {
      maxLength: 64,
      pattern: limits.REPLICA_ID_PATTERN,
      expected: "1 to 64 of A-Z a-z 0-9 _ -",
    });
    const raft = readAddress(reader, "raft");
    const admin = readAddress(reader, "admin");
    reader.finish();
    entries.push({
      path: reader.path,
      id: reader.isValid("id") ? id : undefined,
      raft,
      admin,
    });
    const unset: Address = { host: "", port: 0 };
    replicas.push({ id, raft: raft ?? unset, admin: admin ?? unset });
  }
  return replicas;
}

function readAddress(reader: TableReader, key: string): Address | undefined {
  const text = reader.string(key, { maxLength: 300, expected: 'a "host:port" string' });
  if (!reader.isValid(key)) return undefined;
  const parsed = parseAddress(text);
  if (!parsed.ok) {
    reader.problem(key, `"${text}" is not host:port (${parsed.reason})`);
    return undefined;
  }
  return parsed.address;
}

/** Replica ids are unique across the cluster; raft and admin addresses across the file. */
function checkUnique(root: TableReader, entries: readonly ReplicaEntry[]): void {
  const ids = new Map<string, string>();
  const addresses = new Map<string, string>();
  const claim = (seen: Map<string, string>, value: string, path: string, what: string): void => {
    const first = seen.get(value);
    if (first === undefined) seen.set(value, path);
    else root.problemAt(path, `${what} ${value} is already used by ${first}`);
  };
  for (const entry of entries) {
    if (entry.id !== undefined) claim(ids, entry.id, `${entry.path}.id`, "replica id");
    if (entry.raft !== undefined) {
      claim(addresses, formatAddress(entry.raft), `${entry.path}.raft`, "address");
    }
    if (entry.admin !== undefined) {
      claim(addresses, formatAddress(entry.admin), `${entry.path}.admin`, "address");
    }
  }
}
