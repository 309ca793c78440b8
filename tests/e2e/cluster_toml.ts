/**
 * The cluster config file of an e2e cluster: loopback addresses on free ports, a data
 * directory inside the cluster's temp dir, and timings short enough for tests (a 20 ms
 * tick: elections in about 300 ms). Tests change settings with {@link ConfigOverrides}:
 * structured (`{ raft: { election_ticks: 30 } }`, keys as in the file) or as a function
 * that rewrites the TOML text.
 */

/** A value of a config key. */
export type TomlValue = string | number | boolean;

/** Keys to set, per table; `groups` applies to every `[[groups]]` table. */
export interface TomlOverrides {
  readonly cluster?: Readonly<Record<string, TomlValue>>;
  readonly raft?: Readonly<Record<string, TomlValue>>;
  readonly storage?: Readonly<Record<string, TomlValue>>;
  readonly log?: Readonly<Record<string, TomlValue>>;
  readonly groups?: Readonly<Record<string, TomlValue>>;
}

/** Structured overrides, or a function from the generated TOML text to the text to use. */
export type ConfigOverrides = TomlOverrides | ((toml: string) => string);

/** One replica's ports on 127.0.0.1. */
export interface ReplicaPorts {
  readonly id: string;
  readonly raftPort: number;
  readonly adminPort: number;
}

/** Who runs where: the shard master replicas (maybe none) and each group's. */
export interface ClusterLayout {
  readonly shardmaster: readonly ReplicaPorts[];
  readonly groups: readonly { readonly gid: number; readonly replicas: readonly ReplicaPorts[] }[];
}

/** The settings every e2e cluster starts from, before overrides. */
export const E2E_SETTINGS = {
  cluster: {
    name: "shardkv-e2e",
    secret: "e2e-cluster-secret-0123456789",
    admin_token: "e2e-admin-token-0123456789",
    shards: 10,
  },
  raft: { tick_ms: 20, election_ticks: 15, heartbeat_ticks: 2 },
  // fsync off: a kill -9 keeps the page cache, so only a power loss could lose writes.
  storage: { segment_bytes: 1_048_576, fsync: false },
  log: { level: "info", format: "text" },
} as const satisfies Record<string, Record<string, TomlValue>>;

/**
 * Replica ids `g<gid>-<n>` for group gid = position + 1, and `sm-<n>` for the shard master;
 * each replica takes two of `ports` (raft, then admin).
 */
export function layoutCluster(
  groups: readonly number[],
  shardmaster: number,
  ports: readonly number[],
): ClusterLayout {
  let next = 0;
  const take = (id: string): ReplicaPorts => {
    const raftPort = ports[next++];
    const adminPort = ports[next++];
    if (raftPort === undefined || adminPort === undefined) {
      throw new RangeError(`layoutCluster: not enough ports (${ports.length})`);
    }
    return { id, raftPort, adminPort };
  };
  const masters = Array.from({ length: shardmaster }, (_, k) => take(`sm-${k + 1}`));
  const layout = groups.map((size, position) => ({
    gid: position + 1,
    replicas: Array.from({ length: size }, (_, k) => take(`g${position + 1}-${k + 1}`)),
  }));
  return { shardmaster: masters, groups: layout };
}

/** Ports a layout of `groups` and `shardmaster` needs. */
export function portsNeeded(groups: readonly number[], shardmaster: number): number {
  return 2 * (shardmaster + groups.reduce((sum, size) => sum + size, 0));
}

/** The TOML text of `layout`, with `dataDir` and the structured `overrides` applied. */
export function clusterToml(
  layout: ClusterLayout,
  dataDir: string,
  overrides: TomlOverrides = {},
): string {
  const tables: Record<string, Record<string, TomlValue>> = {
    cluster: { ...E2E_SETTINGS.cluster, ...overrides.cluster },
    raft: { ...E2E_SETTINGS.raft, ...overrides.raft },
    storage: { data_dir: dataDir, ...E2E_SETTINGS.storage, ...overrides.storage },
    log: { ...E2E_SETTINGS.log, ...overrides.log },
  };
  const lines = ["# Written by tests/e2e/harness.ts for one test run."];
  for (const [name, table] of Object.entries(tables)) lines.push("", `[${name}]`, ...keys(table));
  if (layout.shardmaster.length > 0) {
    lines.push("", "[shardmaster]", ...replicaArray(layout.shardmaster));
  }
  for (const group of layout.groups) {
    lines.push("", "[[groups]]", `gid = ${group.gid}`, ...keys(overrides.groups ?? {}));
    lines.push(...replicaArray(group.replicas));
  }
  return `${lines.join("\n")}\n`;
}

function keys(table: Readonly<Record<string, TomlValue>>): string[] {
  return Object.entries(table).map(([key, value]) => `${key} = ${tomlValue(value)}`);
}

function replicaArray(replicas: readonly ReplicaPorts[]): string[] {
  return [
    "replicas = [",
    ...replicas.map(({ id, raftPort, adminPort }) =>
      `  { id = ${
        tomlValue(id)
      }, raft = "127.0.0.1:${raftPort}", admin = "127.0.0.1:${adminPort}" },`
    ),
    "]",
  ];
}

/** A TOML literal: JSON's string escapes are valid TOML basic-string escapes. */
function tomlValue(value: TomlValue): string {
  if (typeof value === "number" && !Number.isFinite(value)) {
    throw new RangeError(`cannot write ${value} to TOML`);
  }
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}
