/**
 * Tests of the shardkv command line. `main` runs in-process with captured output, so each
 * test checks the exit code and what went to stdout and stderr; one test spawns
 * `deno run -A main.ts --help` to check the real entry point.
 */

import assert from "node:assert/strict";
import { parseOperation } from "./clerk_operation.ts";
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, main } from "./commands.ts";
import type { CliIo } from "./io.ts";
import { COMMAND_NAMES } from "./usage.ts";
import { VERSION } from "../version.ts";

/** The sharded demo config. */
const EXAMPLE = new URL("../../cluster.example.toml", import.meta.url).pathname;
/** The single-group config: no [shardmaster] section. */
const SINGLE = new URL("../../cluster.single.toml", import.meta.url).pathname;

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function run(...args: string[]): Promise<Run> {
  let stdout = "";
  let stderr = "";
  const io: CliIo = {
    stdout: (text) => void (stdout += text),
    stderr: (text) => void (stderr += text),
  };
  const code = await main(args, io);
  return { code, stdout, stderr };
}

/** Writes `text` to a temporary config file and returns its path. */
async function tempConfig(text: string): Promise<string> {
  const path = await Deno.makeTempFile({ prefix: "shardkv-cli-test-", suffix: ".toml" });
  await Deno.writeTextFile(path, text);
  return path;
}

const SHARDED = `
[cluster]
secret = "0123456789abcdef-secret"
admin_token = "0123456789abcdef-token"
[shardmaster]
replicas = [{ id = "sm1", raft = "127.0.0.1:7001", admin = "127.0.0.1:8001" }]
[[groups]]
gid = 1
replicas = [{ id = "r1", raft = "127.0.0.1:7101", admin = "127.0.0.1:8101" }]
`;

Deno.test("cli: --help, -h and help print the usage on stdout and exit 0", async () => {
  for (const flag of ["--help", "-h", "help"]) {
    const result = await run(flag);
    assert.equal(result.code, EXIT_OK, flag);
    assert.match(result.stdout, /Usage:\n {2}shardkv <command> \[flags\]/);
    for (const name of COMMAND_NAMES) assert.match(result.stdout, new RegExp(`\\n  ${name} `));
    assert.equal(result.stderr, "");
  }
});

Deno.test("cli: --version prints the version, equal to deno.json's", async () => {
  const result = await run("--version");
  assert.deepEqual(result, { code: EXIT_OK, stdout: `shardkv ${VERSION}\n`, stderr: "" });
  const denoJson = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  assert.equal(denoJson.version, VERSION);
});

Deno.test("cli: every command's --help shows its usage, flags and an example", async () => {
  for (const name of COMMAND_NAMES) {
    for (const args of [[name, "--help"], [name, "-h"], ["help", name]]) {
      const result = await run(...args);
      assert.equal(result.code, EXIT_OK, args.join(" "));
      assert.match(result.stdout, new RegExp(`^shardkv ${name}: `));
      assert.match(result.stdout, /\nUsage:\n/);
      assert.match(result.stdout, /\nFlags:\n {2}--config FILE /);
      assert.match(result.stdout, /\nExamples?:\n {2}shardkv /);
    }
  }
});

Deno.test("cli: no command, an unknown command or flag is an error with usage, exit 2", async () => {
  for (
    const [args, message] of [
      [[], "shardkv: a command is required"],
      [["serve"], 'shardkv: unknown command "serve"'],
      [["--verbose"], 'shardkv: unknown flag "--verbose"'],
      [["help", "serve"], 'shardkv help: unknown command "serve"'],
    ] as const
  ) {
    const result = await run(...args);
    assert.equal(result.code, EXIT_USAGE, args.join(" "));
    assert.equal(result.stdout, "");
    assert.ok(result.stderr.startsWith(`${message}\n\n`), result.stderr);
    assert.match(result.stderr, /Usage:/);
  }
});

Deno.test("cli: an unknown or incomplete flag of a command is an error with its usage", async () => {
  for (
    const args of [
      ["node", "--config", EXAMPLE, "--id", "g1-1", "--verbose"],
      ["node", "--config"],
      ["local", "--config", EXAMPLE, "extra"],
      ["node", "--id", "r1"],
      ["node", "--config", EXAMPLE],
    ]
  ) {
    const result = await run(...args);
    assert.equal(result.code, EXIT_USAGE, args.join(" "));
    assert.match(result.stderr, new RegExp(`^shardkv ${args[0]}: `));
    assert.match(result.stderr, new RegExp(`\\n\\nshardkv ${args[0]}: .*\\n\\nUsage:\\n`));
  }
});

Deno.test("cli: an invalid config prints every problem and exits 2", async () => {
  const path = await tempConfig(`[cluster]\nsecret = "short"\nshards = 0\n[raft]\ntick = 5\n`);
  try {
    const result = await run("status", "--config", path);
    assert.equal(result.code, EXIT_USAGE);
    assert.match(result.stderr, /^shardkv status: Invalid configuration .* \(5 problems\):\n/);
    for (
      const key of [
        "cluster.secret",
        "cluster.admin_token",
        "cluster.shards",
        "raft.tick",
        "groups",
      ]
    ) {
      assert.match(result.stderr, new RegExp(`\\n  - ${key.replace(".", "\\.")}: `), key);
    }
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("cli: a clerk put on a sharded cluster whose shard master is unreachable fails after its deadline, exit 1", async () => {
  const path = await tempConfig(SHARDED);
  try {
    const result = await run("clerk", "--config", path, "--timeout-ms", "300", "put", "k", "v");
    assert.equal(result.code, EXIT_FAILURE);
    assert.match(
      result.stderr,
      /^shardkv clerk: put failed: no answer within 300 ms; the outcome is unknown/,
    );
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("cli: node and shardmaster check that --id names a replica of their kind", async () => {
  const path = await tempConfig(SHARDED);
  try {
    const unknown = await run("node", "--config", path, "--id", "nope");
    assert.equal(unknown.code, EXIT_USAGE);
    assert.match(unknown.stderr, /replica "nope" is not in the \[\[groups\]\] of .* \(known: r1\)/);
    const wrongKind = await run("node", "--config", path, "--id", "sm1");
    assert.equal(wrongKind.code, EXIT_USAGE);
    assert.match(wrongKind.stderr, /run it with 'shardkv shardmaster'/);
    const noSection = await run("shardmaster", "--config", SINGLE, "--id", "r1");
    assert.equal(noSection.code, EXIT_USAGE);
    assert.match(noSection.stderr, /has no \[shardmaster\] section/);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("cli: clerk operations are checked before anything runs", async () => {
  for (
    const [args, message] of [
      [["put", "k"], 'put: expected "put KEY VALUE", got 1 argument(s)'],
      [["frob", "k"], 'unknown operation "frob"'],
      [[], "an operation is required"],
      [["--timeout-ms", "0", "get", "k"], "--timeout-ms must be an integer in 1..3600000"],
      [["--stdin", "get", "k"], "--stdin reads operations from standard input"],
      [["join", "1"], "join: the configuration has no [shardmaster] section"],
    ] as const
  ) {
    const result = await run("clerk", "--config", SINGLE, ...args);
    assert.equal(result.code, EXIT_USAGE, args.join(" "));
    assert.ok(result.stderr.startsWith(`shardkv clerk: ${message}`), result.stderr);
  }
  const path = await tempConfig(SHARDED);
  try {
    const result = await run("clerk", "--config", path, "move", "10", "1");
    assert.equal(result.code, EXIT_USAGE);
    assert.match(result.stderr, /move: shard 10 does not exist \(cluster.shards = 10/);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("cli: clerk operations parse into typed values", () => {
  assert.deepEqual(parseOperation(["append", "k", "-x"]), {
    ok: true,
    operation: { type: "append", key: "k", value: "-x" },
  });
  assert.deepEqual(parseOperation(["join", "1", "2"]), {
    ok: true,
    operation: { type: "join", gids: [1, 2] },
  });
  assert.deepEqual(parseOperation(["query"]), {
    ok: true,
    operation: { type: "query", num: undefined },
  });
  assert.equal(parseOperation(["join", "0"]).ok, false);
  assert.equal(parseOperation(["leave"]).ok, false);
  assert.equal(parseOperation(["move", "1.5", "1"]).ok, false);
  assert.equal(parseOperation(["query", "1", "2"]).ok, false);
});

Deno.test("cli: `deno run -A main.ts --help` exits 0 and prints the usage", async () => {
  const command = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../../main.ts", import.meta.url).pathname, "--help"],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  });
  const output = await command.output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, stderr);
  assert.match(new TextDecoder().decode(output.stdout), /Usage:\n {2}shardkv <command>/);
});
