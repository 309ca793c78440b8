/**
 * Tests of `shardkv status`. Most build the table from fake status documents through the
 * pure renderer (leader mapping, unreachable rows, shard-state runs); one runs the whole
 * command in-process through `main` against real `Deno.serve` servers on port 0, with one
 * replica's port closed, and checks the table, the JSON and the exit code.
 */

import assert from "node:assert/strict";
import { type Config, parseConfig, type ReplicaConfig } from "../config/mod.ts";
import { EXIT_FAILURE, EXIT_OK, main } from "./commands.ts";
import type { CliIo } from "./io.ts";
import {
  compactShards,
  fetchStatus,
  leaderReplicaId,
  pendingGcText,
  renderStatusJson,
  renderStatusTable,
  type StatusAnswer,
  statusExitCode,
  type StatusResult,
  statusTargets,
} from "./status_command.ts";

const SECRETS = `[cluster]
secret = "0123456789abcdef-secret"
admin_token = "0123456789abcdef-token"
shards = 8
`;

/** A config of one group (r1..r3) and, when `sharded`, a shard master (sm1). */
function configText(adminPorts: readonly number[], sharded = false): string {
  const replicas = adminPorts.map((port, k) =>
    `{ id = "r${k + 1}", raft = "127.0.0.1:${17101 + k}", admin = "127.0.0.1:${port}" }`
  );
  const master = sharded
    ? `[shardmaster]\nreplicas = [{ id = "sm1", raft = "127.0.0.1:17001", admin = "127.0.0.1:18001" }]\n`
    : "";
  return `${SECRETS}${master}[[groups]]\ngid = 1\nreplicas = [\n  ${replicas.join(",\n  ")},\n]\n`;
}

function config(text: string): Config {
  const result = parseConfig(text, "test.toml");
  if (!result.ok) throw result.error;
  return result.config;
}

/** A status document shaped like src/server/kv_replica.ts replicaStatus. */
function statusDocument(
  id: string,
  fields: { role: string; term: number; leader: number | null; commit: number; applied: number },
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    id,
    node: Number(id.slice(1)),
    group: 1,
    role: fields.role,
    term: fields.term,
    leader: fields.leader,
    raft: { commit: fields.commit, applied: fields.applied, lastIndex: fields.commit },
    peers: [],
    kv: { pendingWrites: 0 },
    ...extra,
  };
}

/** Pairs each target of `cluster` with the answer of the same index. */
function results(cluster: Config, answers: readonly StatusAnswer[]): StatusResult[] {
  const targets = statusTargets(cluster);
  assert.equal(targets.length, answers.length);
  return targets.map((target, k) => ({ target, answer: answers[k]! }));
}

const answered = (document: Record<string, unknown>): StatusAnswer => ({
  type: "answered",
  document,
});

Deno.test("status: the table shows one aligned row per replica and a summary per group", () => {
  const cluster = config(configText([18101, 18102, 18103]));
  const table = renderStatusTable(
    cluster,
    results(cluster, [
      answered(
        statusDocument("r1", { role: "leader", term: 3, leader: 1, commit: 42, applied: 42 }),
      ),
      answered(
        statusDocument("r2", { role: "follower", term: 3, leader: 1, commit: 42, applied: 41 }),
      ),
      answered(
        statusDocument("r3", { role: "follower", term: 3, leader: 1, commit: 40, applied: 40 }),
      ),
    ]),
  );
  assert.equal(
    table,
    [
      "REPLICA  KIND  GROUP  ROLE      TERM  LEADER  COMMIT  APPLIED",
      "r1       node  1      leader    3     r1      42      42",
      "r2       node  1      follower  3     r1      42      41",
      "r3       node  1      follower  3     r1      40      40",
      "group 1: leader r1 (term 3); 3/3 reachable",
      "",
    ].join("\n"),
  );
});

Deno.test("status: the numeric leader id maps to the replica at that 1-based position", () => {
  const replicas = ["a", "b", "c"].map((id): ReplicaConfig => ({
    id,
    raft: { host: "127.0.0.1", port: 1 },
    admin: { host: "127.0.0.1", port: 2 },
  }));
  assert.equal(leaderReplicaId(replicas, 1), "a");
  assert.equal(leaderReplicaId(replicas, 3), "c");
  assert.equal(leaderReplicaId(replicas, null), "-");
  assert.equal(leaderReplicaId(replicas, undefined), "-");
  assert.equal(leaderReplicaId(replicas, 0), "-");
  assert.equal(leaderReplicaId(replicas, 4), "#4");
  assert.equal(leaderReplicaId(replicas, -1), "#-1");
  assert.equal(leaderReplicaId(replicas, "1"), "?");
  assert.equal(leaderReplicaId(replicas, 1.5), "?");
});

Deno.test("status: unreachable and erroring processes get a row, a reason and exit 1", () => {
  const cluster = config(configText([18101, 18102, 18103]));
  const fetched = results(cluster, [
    { type: "unreachable", reason: "connection refused" },
    answered(statusDocument("r2", { role: "follower", term: 5, leader: 1, commit: 9, applied: 9 })),
    { type: "badAnswer", reason: "HTTP 503" },
  ]);
  assert.equal(
    renderStatusTable(cluster, fetched),
    [
      "REPLICA  KIND  GROUP  ROLE         TERM  LEADER  COMMIT  APPLIED  NOTE",
      "r1       node  1      unreachable  -     -       -       -        connection refused",
      "r2       node  1      follower     5     r1      9       9",
      "r3       node  1      error        -     -       -       -        HTTP 503",
      "group 1: leader r1 (term 5, as followers report; it did not answer); 1/3 reachable",
      "",
    ].join("\n"),
  );
  assert.equal(statusExitCode(fetched), EXIT_FAILURE);
  assert.equal(statusExitCode(fetched.filter((_, k) => k === 1)), EXIT_OK);
});

Deno.test("status: a group without a leader, and a deposed leader in an older term", () => {
  const cluster = config(configText([18101, 18102, 18103]));
  const candidates = renderStatusTable(
    cluster,
    results(cluster, [
      answered(
        statusDocument("r1", { role: "candidate", term: 7, leader: null, commit: 1, applied: 1 }),
      ),
      answered(
        statusDocument("r2", { role: "follower", term: 7, leader: null, commit: 1, applied: 1 }),
      ),
      { type: "unreachable", reason: "timeout after 1000 ms" },
    ]),
  );
  assert.match(candidates, /\ngroup 1: no leader; 2\/3 reachable\n$/);
  const deposed = renderStatusTable(
    cluster,
    results(cluster, [
      answered(statusDocument("r1", { role: "leader", term: 2, leader: 1, commit: 1, applied: 1 })),
      answered(statusDocument("r2", { role: "leader", term: 4, leader: 2, commit: 3, applied: 3 })),
      answered(
        statusDocument("r3", { role: "follower", term: 4, leader: 2, commit: 3, applied: 3 }),
      ),
    ]),
  );
  assert.match(deposed, /\ngroup 1: leader r2 \(term 4\); 3\/3 reachable\n$/);
});

Deno.test("status: runs of shards in one state are compacted, bad shapes show '?'", () => {
  assert.equal(pendingGcText(3), " gc-pending:3");
  assert.equal(pendingGcText(0), "");
  assert.equal(pendingGcText(undefined), "");
  assert.equal(pendingGcText("x"), "");
  assert.equal(compactShards(undefined, 8), "-");
  assert.equal(compactShards({}, 8), "none");
  assert.equal(
    compactShards({ 4: "pulling", 0: "serving", 1: "serving", 3: "serving", 2: "serving" }, 8),
    "0-3:serving 4:pulling",
  );
  assert.equal(
    compactShards({ 0: "serving", 2: "serving", 3: "handingOff", 7: "waitingGc" }, 8),
    "0:serving 2:serving 3:handingOff 7:waitingGc",
  );
  assert.equal(
    compactShards(["serving", "serving", null, "pulling", "pulling"], 8),
    "0-1:serving 3-4:pulling",
  );
  assert.equal(compactShards({ 8: "serving" }, 8), "?", "a shard id beyond cluster.shards");
  assert.equal(compactShards({ "01": "serving" }, 8), "?");
  assert.equal(compactShards({ x: "serving" }, 8), "?");
  assert.equal(compactShards({ 0: 1 }, 8), "?");
  assert.equal(compactShards("serving", 8), "?");
});

Deno.test("status: a sharded cluster shows CONFIG and SHARDS, '-' where absent", () => {
  const cluster = config(configText([18101, 18102, 18103], true));
  const shards = { 0: "serving", 1: "serving", 2: "serving", 3: "pulling" };
  const table = renderStatusTable(
    cluster,
    results(cluster, [
      { type: "unreachable", reason: "connection refused" },
      answered(
        statusDocument("r1", { role: "leader", term: 1, leader: 1, commit: 8, applied: 8 }, {
          config: 4,
          shards,
        }),
      ),
      answered(
        statusDocument("r2", { role: "follower", term: 1, leader: 1, commit: 8, applied: 8 }),
      ),
      answered(
        statusDocument("r9", { role: "follower", term: 1, leader: 1, commit: 8, applied: 8 }),
      ),
    ]),
  );
  assert.equal(
    table,
    [
      "REPLICA  KIND         GROUP  ROLE         TERM  LEADER  COMMIT  APPLIED  CONFIG  SHARDS                 NOTE",
      "sm1      shardmaster  -      unreachable  -     -       -       -        -       -                      connection refused",
      "r1       node         1      leader       1     r1      8       8        4       0-2:serving 3:pulling",
      "r2       node         1      follower     1     r1      8       8        -       -",
      'r3       node         1      follower     1     r1      8       8        -       -                      answers as "r9": check the admin addresses',
      "shardmaster: no leader; 0/1 reachable",
      "group 1: leader r1 (term 1); 3/3 reachable",
      "",
    ].join("\n"),
  );
});

Deno.test("status: --json lists every process with its document or null and the reason", () => {
  const cluster = config(configText([18101, 18102, 18103]));
  const document = statusDocument("r1", {
    role: "leader",
    term: 1,
    leader: 1,
    commit: 1,
    applied: 1,
  });
  const parsed = JSON.parse(renderStatusJson(results(cluster, [
    answered(document),
    { type: "unreachable", reason: "connection refused" },
    { type: "badAnswer", reason: "answer is not JSON" },
  ])));
  assert.deepEqual(parsed, [
    { id: "r1", kind: "node", group: 1, admin: "127.0.0.1:18101", status: document, error: null },
    {
      id: "r2",
      kind: "node",
      group: 1,
      admin: "127.0.0.1:18102",
      status: null,
      error: "connection refused",
    },
    {
      id: "r3",
      kind: "node",
      group: 1,
      admin: "127.0.0.1:18103",
      status: null,
      error: "answer is not JSON",
    },
  ]);
});

/** A port that was free a moment ago and is closed now: connecting to it is refused. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function runMain(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const io: CliIo = {
    stdout: (text) => void (stdout += text),
    stderr: (text) => void (stderr += text),
  };
  const code = await main(args, io);
  return { code, stdout, stderr };
}

Deno.test("status: the command asks real admin endpoints and exits 1 when one is closed", async () => {
  const documents = [
    statusDocument("r1", { role: "leader", term: 3, leader: 1, commit: 17, applied: 17 }),
    statusDocument("r2", { role: "follower", term: 3, leader: 1, commit: 17, applied: 16 }),
  ];
  const servers = documents.map((document) =>
    Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      (request) =>
        new URL(request.url).pathname === "/status"
          ? Response.json(document)
          : new Response("not found", { status: 404 }),
    )
  );
  const path = await Deno.makeTempFile({ prefix: "shardkv-status-test-", suffix: ".toml" });
  try {
    const ports = [...servers.map((server) => server.addr.port), closedPort()];
    await Deno.writeTextFile(path, configText(ports));

    const table = await runMain(["status", "--config", path]);
    assert.equal(table.code, EXIT_FAILURE);
    assert.equal(table.stderr, "");
    const lines = table.stdout.split("\n");
    assert.match(lines[0]!, /^REPLICA +KIND +GROUP +ROLE +TERM +LEADER +COMMIT +APPLIED +NOTE$/);
    assert.match(lines[1]!, /^r1 +node +1 +leader +3 +r1 +17 +17$/);
    assert.match(lines[2]!, /^r2 +node +1 +follower +3 +r1 +17 +16$/);
    assert.match(lines[3]!, /^r3 +node +1 +unreachable +- +- +- +- +connection refused$/);
    assert.equal(lines[4], "group 1: leader r1 (term 3); 2/3 reachable");

    const json = await runMain(["status", "--config", path, "--json"]);
    assert.equal(json.code, EXIT_FAILURE);
    const entries = JSON.parse(json.stdout);
    assert.deepEqual(entries.map((entry: { id: string }) => entry.id), ["r1", "r2", "r3"]);
    assert.deepEqual(entries[0].status, documents[0]);
    assert.deepEqual(entries[2], {
      id: "r3",
      kind: "node",
      group: 1,
      admin: `127.0.0.1:${ports[2]}`,
      status: null,
      error: "connection refused",
    });
  } finally {
    await Promise.all(servers.map((server) => server.shutdown()));
    await Deno.remove(path);
  }
});

Deno.test("status: a slow endpoint times out, a non-2xx or non-JSON answer is an error", async () => {
  let release = (): void => {};
  const released = new Promise<void>((resolve) => release = resolve);
  const handlers: ((request: Request) => Response | Promise<Response>)[] = [
    async () => {
      await released;
      return Response.json({});
    },
    () => new Response("busy", { status: 503 }),
    () => new Response("<html>", { status: 200 }),
    () => Response.json([1, 2]),
  ];
  const servers = handlers.map((handler) =>
    Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler)
  );
  try {
    const answers = await Promise.all(
      servers.map((server) => fetchStatus({ host: "0.0.0.0", port: server.addr.port }, 200)),
    );
    assert.deepEqual(answers, [
      { type: "unreachable", reason: "timeout after 200 ms" },
      { type: "badAnswer", reason: "HTTP 503" },
      { type: "badAnswer", reason: "answer is not JSON" },
      { type: "badAnswer", reason: "answer is not a JSON object" },
    ]);
  } finally {
    release();
    await Promise.all(servers.map((server) => server.shutdown()));
  }
});
