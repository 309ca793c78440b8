/**
 * The cluster configuration: one TOML file (see `cluster.example.toml`) shared by every
 * process of a cluster. TOML keys are snake_case; these types are camelCase. Parsing
 * never throws for a bad file: it returns every problem at once, each with its key path,
 * in a {@link ConfigError}.
 */

import { parse, TomlError } from "smol-toml";
import type { Address } from "./address.ts";
import { validateDocument } from "./validate.ts";

export type { Address } from "./address.ts";
export { formatAddress, parseAddress } from "./address.ts";

/** Log verbosity, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";
/** Log line format: `auto` is `text` on a terminal and `json` otherwise. */
export type LogFormat = "auto" | "json" | "text";

/** `[cluster]`: identity and secrets shared by every process. */
export interface ClusterSettings {
  /** Peers from a cluster with another name are refused. */
  readonly name: string;
  /** Shared secret for peer authentication (HMAC of a nonce); never sent on the wire. */
  readonly secret: string;
  /** Bearer token for mutating admin endpoint calls. */
  readonly adminToken: string;
  /** Number of shards, fixed for the cluster's lifetime. */
  readonly shards: number;
}

/** `[raft]`: timings and flow-control limits of every Raft group. */
export interface RaftSettings {
  readonly tickMs: number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly maxAppendEntries: number;
  readonly maxAppendBytes: number;
  readonly maxInflightAppends: number;
  readonly maxInflightBytes: number;
  readonly maxUncommittedBytes: number;
  readonly snapshotChunkBytes: number;
  /** Log bytes past the last snapshot that trigger a new one; `-1` disables snapshots. */
  readonly snapshotThresholdBytes: number;
}

/** `[storage]`: where and how each replica keeps its WAL and snapshots. */
export interface StorageSettings {
  /** Each replica uses `<dataDir>/<replica id>`; see {@link replicaDataDir}. */
  readonly dataDir: string;
  readonly segmentBytes: number;
  /** `false` is for tests only: it loses acknowledged writes on power loss. */
  readonly fsync: boolean;
}

/** `[log]`: structured logging. */
export interface LogSettings {
  readonly level: LogLevel;
  readonly format: LogFormat;
}

/** One replica of a Raft group: a process with a Raft address and an admin address. */
export interface ReplicaConfig {
  /** Unique across the whole cluster; `[A-Za-z0-9_-]{1,64}`. */
  readonly id: string;
  /** Where peers reach its Raft transport (msgpack over TCP). */
  readonly raft: Address;
  /** Where its HTTP admin endpoint listens. */
  readonly admin: Address;
}

/**
 * `[[groups]]`: one replica group. Replica order is significant: the Raft node id of a
 * replica is its 1-based position in `replicas`, so reordering replicas of a running group
 * renames its nodes. Append new replicas at the end.
 */
export interface GroupConfig {
  readonly gid: number;
  readonly replicas: readonly ReplicaConfig[];
  /** Whether the group asks the shard master to Join it when it starts. */
  readonly joinOnStart: boolean;
}

/**
 * `[shardmaster]`: the shard master's own Raft group. Replica order is significant, as in
 * {@link GroupConfig}: the Raft node id of a replica is its 1-based position.
 */
export interface ShardMasterConfig {
  readonly replicas: readonly ReplicaConfig[];
}

/** A validated cluster configuration. */
export interface Config {
  readonly cluster: ClusterSettings;
  readonly raft: RaftSettings;
  readonly storage: StorageSettings;
  readonly log: LogSettings;
  /** Absent: a single group serves every key (the plain replicated KV service). */
  readonly shardmaster: ShardMasterConfig | undefined;
  /** At least one; exactly one without a shard master. */
  readonly groups: readonly GroupConfig[];
}

/** Where a replica id lives in a config; `nodeId` is its Raft node id (1-based position). */
export type ReplicaLocation =
  | {
    readonly kind: "group";
    readonly gid: number;
    readonly nodeId: number;
    readonly replica: ReplicaConfig;
  }
  | { readonly kind: "shardmaster"; readonly nodeId: number; readonly replica: ReplicaConfig };

/** An invalid configuration: every problem found, each prefixed with its key path. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly code = "invalidConfig";
  /** Where the configuration came from (a file path, or "config" for text). */
  readonly source: string;
  readonly problems: readonly string[];

  constructor(source: string, problems: readonly string[]) {
    const count = problems.length === 1 ? "1 problem" : `${problems.length} problems`;
    super(`Invalid configuration ${source} (${count}):\n${problems.map(bullet).join("\n")}`);
    this.source = source;
    this.problems = problems;
  }
}

/** The outcome of {@link parseConfig} and {@link loadConfig}. */
export type ConfigResult =
  | { readonly ok: true; readonly config: Config }
  | { readonly ok: false; readonly error: ConfigError };

/** Parses and validates config text. `source` names it in messages (a file path). */
export function parseConfig(text: string, source = "config"): ConfigResult {
  let document: Record<string, unknown>;
  try {
    document = parse(text, { integersAsBigInt: true });
  } catch (error) {
    if (!(error instanceof TomlError)) throw error;
    const reason = error.message.split("\n")[0]?.replace(/^Invalid TOML document: /, "");
    const problem = `line ${error.line}, column ${error.column}: TOML syntax error: ${reason}`;
    return { ok: false, error: new ConfigError(source, [problem]) };
  }
  const { config, problems } = validateDocument(document);
  if (config === undefined || problems.length > 0) {
    return { ok: false, error: new ConfigError(source, problems) };
  }
  return { ok: true, config };
}

/** Reads and validates a config file. A file that cannot be read is a problem too. */
export async function loadConfig(path: string): Promise<ConfigResult> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound
      ? "file not found"
      : error instanceof Error
      ? error.message
      : String(error);
    return { ok: false, error: new ConfigError(path, [`cannot read the file: ${reason}`]) };
  }
  return parseConfig(text, path);
}

/** Finds a replica by id in the groups or the shard master. */
export function findReplica(config: Config, id: string): ReplicaLocation | undefined {
  for (const group of config.groups) {
    const index = group.replicas.findIndex((replica) => replica.id === id);
    const replica = group.replicas[index];
    if (replica !== undefined) return { kind: "group", gid: group.gid, nodeId: index + 1, replica };
  }
  const replicas = config.shardmaster?.replicas ?? [];
  const index = replicas.findIndex((replica) => replica.id === id);
  const replica = replicas[index];
  if (replica !== undefined) return { kind: "shardmaster", nodeId: index + 1, replica };
  return undefined;
}

/** The directory a replica keeps its WAL and snapshots in: `<data_dir>/<replica id>`. */
export function replicaDataDir(config: Config, id: string): string {
  return `${config.storage.dataDir.replace(/\/+$/, "")}/${id}`;
}

function bullet(problem: string): string {
  return `  - ${problem.replaceAll("\n", "\n    ")}`;
}
