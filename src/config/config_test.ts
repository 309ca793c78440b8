/**
 * Tests of the cluster configuration: defaults fill every optional key, every problem of
 * a bad file is reported at once with its key path, `cluster.example.toml` (the sharded
 * demo) stays a valid, complete and commented description of the schema (so the
 * documentation cannot drift), and `cluster.single.toml` stays a valid single-group
 * cluster.
 */

import assert from "node:assert/strict";
import { findReplica, loadConfig, parseConfig, replicaDataDir } from "./config.ts";
import { CLUSTER_DEFAULTS, LOG_DEFAULTS, RAFT_DEFAULTS, STORAGE_DEFAULTS } from "./defaults.ts";
import { schemaKeys } from "./validate.ts";
import { parseAddress } from "./address.ts";
import { parse } from "smol-toml";

const SECRETS = `secret = "0123456789abcdef-secret"\nadmin_token = "0123456789abcdef-token"\n`;

const MINIMAL = `
[cluster]
${SECRETS}
[[groups]]
gid = 1
replicas = [
  { id = "a", raft = "127.0.0.1:7101", admin = "127.0.0.1:8101" },
  { id = "b", raft = "127.0.0.1:7102", admin = "127.0.0.1:8102" },
  { id = "c", raft = "127.0.0.1:7103", admin = "127.0.0.1:8103" },
]
`;

const EXAMPLE_URL = new URL("../../cluster.example.toml", import.meta.url);
const SINGLE_URL = new URL("../../cluster.single.toml", import.meta.url);

function problemsOf(text: string): readonly string[] {
  const result = parseConfig(text);
  assert.equal(result.ok, false, "expected the config to be invalid");
  return result.ok ? [] : result.error.problems;
}

function configOf(text: string) {
  const result = parseConfig(text);
  if (!result.ok) assert.fail(result.error.message);
  return result.config;
}

Deno.test("config: a minimal config takes the default of every optional key", () => {
  const config = configOf(MINIMAL);
  assert.deepEqual(config.raft, RAFT_DEFAULTS);
  assert.deepEqual(config.storage, STORAGE_DEFAULTS);
  assert.deepEqual(config.log, LOG_DEFAULTS);
  assert.equal(config.cluster.name, CLUSTER_DEFAULTS.name);
  assert.equal(config.cluster.shards, 10);
  assert.equal(config.cluster.secret, "0123456789abcdef-secret");
  assert.equal(config.shardmaster, undefined);
  assert.equal(config.groups.length, 1);
  assert.equal(config.groups[0]?.joinOnStart, true);
  assert.deepEqual(config.groups[0]?.replicas[1], {
    id: "b",
    raft: { host: "127.0.0.1", port: 7102 },
    admin: { host: "127.0.0.1", port: 8102 },
  });
});

Deno.test("config: explicit values are kept and converted to camelCase", () => {
  const config = configOf(`${MINIMAL}
[raft]
tick_ms = 10
election_ticks = 30
heartbeat_ticks = 10
pre_vote = false
snapshot_threshold_bytes = -1
[storage]
fsync = false
data_dir = "/var/lib/shardkv/"
[log]
level = "debug"
format = "json"
`);
  assert.equal(config.raft.tickMs, 10);
  assert.equal(config.raft.electionTicks, 30);
  assert.equal(config.raft.preVote, false);
  assert.equal(config.raft.snapshotThresholdBytes, -1);
  assert.equal(config.storage.fsync, false);
  assert.equal(config.log.level, "debug");
  assert.equal(replicaDataDir(config, "b"), "/var/lib/shardkv/b");
});

Deno.test("config: every mistake is reported at once, each with its key path", () => {
  const problems = problemsOf(`
[cluster]
secret = "short"
shards = 0
[raft]
tick_ms = "50"
election_ticks = 4
heartbeat_ticks = 2
max_append_bytes = 2_000_000
max_inflight_bytes = 1_000_000
snapshot_chunk_bytes = 33_554_432
[storage]
segment_bytes = 1024
fsync = "yes"
[log]
level = "verbose"
[[groups]]
gid = 0
replicas = [{ id = "a b", raft = "localhost", admin = "127.0.0.1:99999" }]
`);
  const expected = [
    "cluster.secret: must be a string of at least 16 characters, got a string of 5 characters",
    "cluster.admin_token: is required",
    "cluster.shards: must be in 1..1024, got 0",
    'raft.tick_ms: must be an integer in 1..1000, got string "50"',
    "raft.election_ticks: must be at least 3 × heartbeat_ticks (6), got 4",
    "raft.max_inflight_bytes: must be at least max_append_bytes (2000000), got 1000000",
    "raft.snapshot_chunk_bytes: must be in 1..16777216 (16 MiB), got 33554432",
    "storage.segment_bytes: must be in 65536 (64 KiB)..1073741824 (1 GiB), got 1024",
    'storage.fsync: must be true or false, got string "yes"',
    'log.level: must be one of "debug", "info", "warn", "error", got string "verbose"',
    "groups[0].gid: must be in 1..2147483647, got 0",
    'groups[0].replicas[0].id: must be 1 to 64 of A-Z a-z 0-9 _ -, got "a b"',
    'groups[0].replicas[0].raft: "localhost" is not host:port',
    'groups[0].replicas[0].admin: "127.0.0.1:99999" is not host:port (port 99999',
  ];
  for (const start of expected) {
    assert.ok(
      problems.some((problem) => problem.startsWith(start)),
      `missing problem starting with ${JSON.stringify(start)} in:\n${problems.join("\n")}`,
    );
  }
  assert.equal(problems.length, expected.length, problems.join("\n"));
});

Deno.test("config: a secret is never echoed in a problem message", () => {
  const problems = problemsOf(`[cluster]\nsecret = "hunter2"\nadmin_token = "also-short"\n`);
  assert.ok(!problems.some((problem) => problem.includes("hunter2")), problems.join("\n"));
});

Deno.test("config: unknown keys are problems, with a suggestion for a likely typo", () => {
  const problems = problemsOf(`colour = "blue"
${MINIMAL}
join_on_strat = false
[raft]
tick_msec = 50
[shardmaster]
replicas = [{ id = "sm", raft = "127.0.0.1:7001", admin = "127.0.0.1:8001", zone = "x" }]
[logging]
level = "info"
`);
  const has = (start: string) => problems.some((problem) => problem.startsWith(start));
  assert.ok(has("colour: unknown key"), problems.join("\n"));
  assert.ok(has('raft.tick_msec: unknown key (did you mean "tick_ms"?)'), problems.join("\n"));
  assert.ok(has("shardmaster.replicas[0].zone: unknown key"), problems.join("\n"));
  assert.ok(has("logging: unknown key"), problems.join("\n"));
  assert.ok(has('groups[0].join_on_strat: unknown key (did you mean "join_on_start"?)'));
  assert.equal(problems.length, 5, problems.join("\n"));
});

Deno.test("config: replica ids and all raft and admin addresses must be unique", () => {
  const problems = problemsOf(`
[cluster]
${SECRETS}
[shardmaster]
replicas = [{ id = "a", raft = "127.0.0.1:7001", admin = "127.0.0.1:8001" }]
[[groups]]
gid = 1
replicas = [
  { id = "a", raft = "127.0.0.1:7101", admin = "127.0.0.1:8101" },
  { id = "b", raft = "127.0.0.1:7101", admin = "127.0.0.1:7001" },
]
[[groups]]
gid = 1
replicas = [{ id = "c", raft = "[::1]:7101", admin = "127.0.0.1:8103" }]
`);
  assert.deepEqual([...problems].sort(), [
    "groups[0].replicas[0].id: replica id a is already used by shardmaster.replicas[0].id",
    "groups[0].replicas[1].admin: address 127.0.0.1:7001 is already used by shardmaster.replicas[0].raft",
    "groups[0].replicas[1].raft: address 127.0.0.1:7101 is already used by groups[0].replicas[0].raft",
    "groups[1].gid: 1 is already used by groups[0].gid",
  ]);
});

Deno.test("config: without [shardmaster] exactly one group is allowed", () => {
  const second = `[[groups]]\ngid = 2\nreplicas = [{ id = "z", raft = "h:1", admin = "h:2" }]\n`;
  const problems = problemsOf(MINIMAL + second);
  assert.deepEqual(problems, [
    "groups: has 2 groups; without a [shardmaster] section exactly one group is allowed",
  ]);
  assert.deepEqual(problemsOf(`[cluster]\n${SECRETS}`), [
    "groups: at least one [[groups]] table is required",
  ]);
});

Deno.test("config: host:port accepts names, IPv4 and bracketed IPv6, and nothing else", () => {
  assert.deepEqual(parseAddress("db-1.example:7101"), {
    ok: true,
    address: { host: "db-1.example", port: 7101 },
  });
  assert.deepEqual(parseAddress("[::1]:80"), { ok: true, address: { host: "::1", port: 80 } });
  for (const bad of ["localhost", ":7101", "host:", "host:0", "host:65536", "a b:1", "::1:80"]) {
    assert.equal(parseAddress(bad).ok, false, bad);
  }
});

Deno.test("config: a TOML syntax error is one problem with its line and column", () => {
  const problems = problemsOf("[cluster]\nname = \n");
  assert.equal(problems.length, 1);
  assert.match(problems[0] ?? "", /^line 2, column \d+: TOML syntax error: /);
});

Deno.test("config: findReplica gives the group or shard master and the 1-based node id", () => {
  const config = configOf(`${MINIMAL}
[shardmaster]
replicas = [
  { id = "sm1", raft = "127.0.0.1:7001", admin = "127.0.0.1:8001" },
  { id = "sm2", raft = "127.0.0.1:7002", admin = "127.0.0.1:8002" },
]`);
  const c = findReplica(config, "c");
  assert.equal(c?.kind, "group");
  assert.equal(c?.kind === "group" ? c.gid : 0, 1);
  assert.equal(c?.nodeId, 3);
  const master = findReplica(config, "sm2");
  assert.deepEqual(master && { kind: master.kind, nodeId: master.nodeId }, {
    kind: "shardmaster",
    nodeId: 2,
  });
  assert.equal(findReplica(config, "nope"), undefined);
});

Deno.test("config: loadConfig reports a missing file as a problem", async () => {
  const result = await loadConfig("/nonexistent/shardkv.toml");
  assert.equal(result.ok, false);
  if (!result.ok) assert.deepEqual(result.error.problems, ["cannot read the file: file not found"]);
});

Deno.test("config: cluster.example.toml is a valid sharded cluster with group 3 left to join by hand", async () => {
  const result = await loadConfig(EXAMPLE_URL.pathname);
  if (!result.ok) assert.fail(result.error.message);
  const config = result.config;
  assert.equal(config.shardmaster?.replicas.length, 3);
  assert.deepEqual(
    config.groups.map((group) => [group.gid, group.replicas.length, group.joinOnStart]),
    [
      [1, 3, true],
      [2, 3, true],
      [3, 3, false],
    ],
  );
  // The demo's data must land in a directory that .gitignore lists.
  assert.equal(config.storage.dataDir, STORAGE_DEFAULTS.dataDir);
});

Deno.test("config: cluster.single.toml is a valid single-group cluster", async () => {
  const result = await loadConfig(SINGLE_URL.pathname);
  if (!result.ok) assert.fail(result.error.message);
  assert.equal(result.config.shardmaster, undefined);
  assert.deepEqual(result.config.groups.map((group) => [group.gid, group.replicas.length]), [
    [1, 3],
  ]);
});

Deno.test("config: the example configs keep their demo data in gitignored directories", async () => {
  const ignored = (await Deno.readTextFile(new URL("../../.gitignore", import.meta.url)))
    .split("\n").map((line) => line.trim());
  for (const url of [EXAMPLE_URL, SINGLE_URL]) {
    const result = await loadConfig(url.pathname);
    if (!result.ok) assert.fail(result.error.message);
    const directory = `${result.config.storage.dataDir.replace(/^\.\//, "")}/`;
    assert.ok(ignored.includes(directory), `${directory} of ${url.pathname} is not in .gitignore`);
  }
});

Deno.test("config: cluster.example.toml documents every key of the schema", async () => {
  const text = await Deno.readTextFile(EXAMPLE_URL);
  const present = new Set<string>();
  collectKeys(parse(text), "", present);
  const missing = schemaKeys().filter((key) => !present.has(key));
  assert.deepEqual(missing, [], `keys missing from cluster.example.toml: ${missing.join(", ")}`);
  assert.ok(schemaKeys().length >= 30, "the schema key list looks too short");
  const undocumented = schemaKeys().filter((key) => !documented(text, key));
  assert.deepEqual(undocumented, [], `keys without a comment: ${undocumented.join(", ")}`);
});

/**
 * Whether `key` (a schema path) has a comment in the example: a table (`raft`) has one
 * right above its first header, a key (`raft.tick_ms`) right above its first assignment,
 * and a key of an inline table (`groups.replicas.id`) is named in backquotes in the
 * comment above its parent's first assignment.
 */
function documented(text: string, key: string): boolean {
  const lines = text.split("\n");
  const parts = key.split(".");
  const commentAbove = (index: number): string => {
    let start = index;
    while (start > 0 && lines[start - 1]?.startsWith("#")) start--;
    return lines.slice(start, index).join("\n");
  };
  const firstLine = (table: string, name: string): number => {
    let current = "";
    return lines.findIndex((line) => {
      const header = line.match(/^\[\[?([a-z_]+)\]\]?$/);
      if (header) current = header[1] ?? "";
      return current === table && new RegExp(`^${name} = `).test(line);
    });
  };
  if (parts.length === 1) {
    const index = lines.findIndex((line) => new RegExp(`^\\[\\[?${key}\\]\\]?$`).test(line));
    return index > 0 && commentAbove(index) !== "";
  }
  const [table = "", name = "", inner] = parts;
  const index = firstLine(table, name);
  if (index < 0) return false;
  const comment = commentAbove(index);
  return inner === undefined ? comment !== "" : comment.includes(`\`${inner}\``);
}

function collectKeys(value: unknown, path: string, keys: Set<string>): void {
  if (Array.isArray(value)) {
    for (const item of value) collectKeys(item, path, keys);
  } else if (typeof value === "object" && value !== null && !(value instanceof Date)) {
    for (const [key, child] of Object.entries(value)) {
      const childPath = path === "" ? key : `${path}.${key}`;
      keys.add(childPath);
      collectKeys(child, childPath, keys);
    }
  }
}
