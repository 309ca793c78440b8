/**
 * How `local` and the e2e harness start processes: the program (deno run vs compiled
 * binary), each replica's command line, the process list of a config, admin URLs.
 */

import assert from "node:assert/strict";
import { parseConfig } from "../config/mod.ts";
import { endpointTable } from "./endpoint_table.ts";
import {
  adminUrl,
  clusterProcesses,
  currentProgram,
  denoRunProgram,
  MAIN_MODULE_URL,
  programArgs,
  replicaCommandArgs,
} from "./program.ts";

const CONFIG = `
[cluster]
secret = "0123456789abcdef-secret"
admin_token = "0123456789abcdef-token"
[storage]
data_dir = "/var/lib/shardkv/"
[shardmaster]
replicas = [{ id = "sm1", raft = "127.0.0.1:7001", admin = "127.0.0.1:8001" }]
[[groups]]
gid = 7
replicas = [
  { id = "a", raft = "127.0.0.1:7101", admin = "0.0.0.0:8101" },
  { id = "b", raft = "[::1]:7102", admin = "[::1]:8102" },
]
`;

Deno.test("supervisor program: under deno run a child is `deno run -A <main.ts>`", () => {
  const program = currentProgram({
    standalone: false,
    execPath: "/usr/bin/deno",
    mainModule: new URL("file:///srv/shardkv/main.ts"),
  });
  assert.deepEqual(program, {
    executable: "/usr/bin/deno",
    leadingArgs: ["run", "-A", "/srv/shardkv/main.ts"],
  });
  assert.deepEqual(programArgs(program, ["node", "--id", "a"]), [
    "run",
    "-A",
    "/srv/shardkv/main.ts",
    "node",
    "--id",
    "a",
  ]);
});

Deno.test("supervisor program: a compiled binary runs itself with the command only", () => {
  const program = currentProgram({
    standalone: true,
    execPath: "/opt/bin/shardkv",
    mainModule: new URL("file:///tmp/deno-compile-shardkv/main.ts"),
  });
  assert.deepEqual(program, { executable: "/opt/bin/shardkv", leadingArgs: [] });
  assert.deepEqual(programArgs(program, ["node"]), ["node"]);
});

Deno.test("supervisor program: main.ts is found next to the source, not via Deno.mainModule", () => {
  assert.match(MAIN_MODULE_URL.href, /^file:\/\/.*\/main\.ts$/);
  assert.ok(Deno.statSync(MAIN_MODULE_URL).isFile);
  const remote = denoRunProgram(new URL("https://example.com/shardkv/main.ts"), "deno");
  assert.deepEqual(remote.leadingArgs, ["run", "-A", "https://example.com/shardkv/main.ts"]);
  const spaced = denoRunProgram(new URL("file:///my%20dir/main.ts"), "deno");
  assert.deepEqual(spaced.leadingArgs, ["run", "-A", "/my dir/main.ts"]);
});

Deno.test("supervisor program: one process per replica, shard master first, with data dirs", () => {
  const parsed = parseConfig(CONFIG);
  assert.ok(parsed.ok);
  const processes = clusterProcesses(parsed.config);
  assert.deepEqual(
    processes.map(({ id, role, gid, dataDir }) => ({ id, role, gid, dataDir })),
    [
      { id: "sm1", role: "shardmaster", gid: undefined, dataDir: "/var/lib/shardkv/sm1" },
      { id: "a", role: "node", gid: 7, dataDir: "/var/lib/shardkv/a" },
      { id: "b", role: "node", gid: 7, dataDir: "/var/lib/shardkv/b" },
    ],
  );
  assert.deepEqual(replicaCommandArgs("node", "/etc/c.toml", "a"), [
    "node",
    "--config",
    "/etc/c.toml",
    "--id",
    "a",
  ]);
  assert.throws(() => replicaCommandArgs("node", "", "a"), /needs a config path/);
  assert.deepEqual(replicaCommandArgs("node", "/etc/c.toml", "a", "text").slice(-2), [
    "--log-format",
    "text",
  ]);
});

Deno.test("supervisor program: admin URLs reach wildcard listeners on loopback; IPv6 bracketed", () => {
  assert.equal(adminUrl({ host: "127.0.0.1", port: 8001 }), "http://127.0.0.1:8001/status");
  assert.equal(
    adminUrl({ host: "0.0.0.0", port: 8101 }, "/health"),
    "http://127.0.0.1:8101/health",
  );
  assert.equal(adminUrl({ host: "::", port: 8102 }), "http://[::1]:8102/status");
  assert.equal(adminUrl({ host: "::1", port: 8102 }, "/"), "http://[::1]:8102/");
  assert.throws(() => adminUrl({ host: "h", port: 1 }, "status"), /starts with "\/"/);
});

Deno.test("supervisor program: the endpoint table lists every process, aligned", () => {
  const parsed = parseConfig(CONFIG);
  assert.ok(parsed.ok);
  const table = endpointTable(clusterProcesses(parsed.config));
  assert.equal(
    table,
    [
      "REPLICA  COMMAND      GROUP  RAFT            STATUS                        DATA",
      "sm1      shardmaster  -      127.0.0.1:7001  http://127.0.0.1:8001/status  /var/lib/shardkv/sm1",
      "a        node         7      127.0.0.1:7101  http://127.0.0.1:8101/status  /var/lib/shardkv/a",
      "b        node         7      [::1]:7102      http://[::1]:8102/status      /var/lib/shardkv/b",
      "",
    ].join("\n"),
  );
});
