/**
 * Tests of `shardkv clerk --stdin` with shard master operations: join / leave / move / query
 * lines run against a real shard master (one replica with file storage and TCP, in this
 * process, on free loopback ports), and each output line is checked, refusals and malformed
 * lines included. The groups of the config file are never started: only the master is asked.
 */

import assert from "node:assert/strict";
import { type Config, loadConfig, parseConfig } from "../config/mod.ts";
import { type ShardMasterReplica, startShardMasterReplica } from "../server/master_replica.ts";
import { portPicker } from "../test_support/free_ports.ts";
import { silentLogger } from "../util/logger.ts";
import { runStdinOperations } from "./clerk_runtime.ts";
import { parseJsonOperation } from "./json_operation.ts";

/** The single-group config: no [shardmaster] section. */
const SINGLE = new URL("../../cluster.single.toml", import.meta.url).pathname;

/** A cluster of one shard master replica and groups 1..3 (one replica each, never started). */
function shardedConfig(dataDir: string): Config {
  const ports = portPicker();
  const replica = (table: string, id: string) =>
    `[[${table}.replicas]]\nid = "${id}"\nraft = "127.0.0.1:${ports.next()}"\n` +
    `admin = "127.0.0.1:${ports.next()}"`;
  const groups = [1, 2, 3].map((gid) =>
    `[[groups]]\ngid = ${gid}\n${replica("groups", `g${gid}`)}`
  );
  const text =
    `[cluster]\nsecret = "test-secret-0123456789"\nadmin_token = "test-admin-token-0123"\n` +
    `[raft]\ntick_ms = 10\nelection_ticks = 20\nheartbeat_ticks = 2\n` +
    `[storage]\ndata_dir = "${dataDir}"\n[log]\nlevel = "error"\n` +
    `[shardmaster]\n${replica("shardmaster", "sm1")}\n${groups.join("\n")}\n`;
  ports.release(); // Close the listeners before the replica binds these ports.
  const parsed = parseConfig(text);
  if (!parsed.ok) throw new Error(parsed.error.problems.join("\n"));
  return parsed.config;
}

async function withMaster(body: (config: Config) => Promise<void>): Promise<void> {
  const dataDir = await Deno.makeTempDir({ prefix: "shardkv-clerk-stdin-test-" });
  const config = shardedConfig(dataDir);
  let replica: ShardMasterReplica | undefined;
  try {
    replica = await startShardMasterReplica({
      config,
      replicaId: "sm1",
      logger: silentLogger,
      onFatal: () => {},
    });
    await body(config);
  } finally {
    await replica?.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
}

/** Runs `lines` through `clerk --stdin`; answers the exit code and the parsed output lines. */
async function runLines(
  config: Config,
  lines: readonly string[],
): Promise<{ code: number; results: Record<string, unknown>[]; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const input = ReadableStream.from([new TextEncoder().encode(lines.join("\n") + "\n")]);
  const code = await runStdinOperations(config, input, 5_000, {
    stdout: (text) => void (stdout += text),
    stderr: (text) => void (stderr += text),
  });
  assert.ok(stdout.endsWith("\n"), "every result ends its line");
  const results = stdout.trimEnd().split("\n").map((line) => JSON.parse(line));
  return { code, results, stderr };
}

Deno.test("clerk --stdin: join, query, move and leave lines run against the shard master, one result line each", async () => {
  await withMaster(async (config) => {
    const { code, results, stderr } = await runLines(config, [
      '{"op":"join","gids":[1,2],"id":1}',
      '{"op":"query","id":2}',
      '{"op":"move","shard":0,"gid":2,"id":"three"}',
      '{"op":"query","num":1}',
      '{"op":"join","gids":[3]}',
      '{"op":"leave","gids":[3],"id":6}',
      '{"op":"query"}',
    ]);
    assert.equal(code, 0, JSON.stringify(results));
    assert.equal(stderr, "");
    const groups12 = { "1": ["g1"], "2": ["g2"] };
    assert.equal(results.length, 7);
    assert.deepEqual(results.slice(0, 6), [
      { ok: true, num: 1, id: 1 },
      {
        ok: true,
        config: { num: 1, shards: [1, 1, 1, 1, 1, 2, 2, 2, 2, 2], groups: groups12 },
        id: 2,
      },
      { ok: true, num: 2, id: "three" },
      { ok: true, config: { num: 1, shards: [1, 1, 1, 1, 1, 2, 2, 2, 2, 2], groups: groups12 } },
      { ok: true, num: 3 },
      { ok: true, num: 4, id: 6 },
    ]);
    assert.equal(results[6]!.ok, true);
    const latest = results[6]!.config as { num: number; shards: number[]; groups: object };
    assert.equal(latest.num, 4);
    assert.deepEqual(latest.groups, groups12, "group 3 joined, then left");
    assert.ok(latest.shards.every((gid) => gid === 1 || gid === 2), `${latest.shards}`);
  });
});

Deno.test("clerk --stdin: a malformed line answers badRequest and a refusal answers the master's code; the next lines still run", async () => {
  await withMaster(async (config) => {
    const { code, results } = await runLines(config, [
      "{not json",
      '{"op":"join","gids":[1],"id":2}',
      '{"op":"leave","gids":[3],"id":3}',
      '{"op":"move","shard":"0","gid":1}',
      '{"op":"move","shard":10,"gid":1}',
      '{"op":"join","gids":[7],"id":6}',
      '{"op":"leave","gids":[1]}',
      '{"op":"query","key":"k"}',
      '{"op":"query","id":9}',
    ]);
    assert.equal(code, 1, "some lines failed");
    assert.equal(results.length, 9);
    const failure = (index: number, error: string, message: RegExp, id?: unknown) => {
      const result = results[index]!;
      assert.deepEqual(
        Object.keys(result).sort(),
        ["error", "message", "ok", ...(id === undefined ? [] : ["id"])].sort(),
      );
      assert.equal(result.ok, false, `line ${index + 1}`);
      assert.equal(result.error, error, `line ${index + 1}`);
      assert.match(String(result.message), message, `line ${index + 1}`);
      assert.equal(result.id, id);
    };
    failure(0, "badRequest", /^not JSON: /);
    assert.deepEqual(results[1], { ok: true, num: 1, id: 2 });
    failure(2, "unknownGroup", /^Cannot leave gid 3: it is not a group$/, 3);
    failure(3, "badRequest", /^"shard" must be an integer$/);
    failure(4, "badRequest", /^move: shard 10 does not exist \(cluster\.shards = 10/);
    failure(5, "badRequest", /^group 7 is not among the \[\[groups\]\] of the config file$/, 6);
    failure(6, "lastGroup", /^Cannot leave gid 1: no group would remain/);
    failure(7, "badRequest", /^query takes no "key" \(its fields: num\)$/);
    const latest = results[8]!;
    assert.equal(latest.ok, true);
    assert.equal(latest.id, 9);
    assert.equal((latest.config as { num: number }).num, 1, "no refusal made a config");
  });
});

Deno.test("clerk --stdin: a shard master line on a single-group config answers notSharded", async () => {
  const loaded = await loadConfig(SINGLE);
  assert.ok(loaded.ok);
  const { code, results } = await runLines(loaded.config, [
    '{"op":"join","gids":[1],"id":1}',
    '{"op":"query"}',
  ]);
  assert.equal(code, 1);
  assert.equal(results.length, 2);
  for (const [index, op] of ["join", "query"].entries()) {
    const result = results[index]!;
    assert.equal(result.ok, false);
    assert.equal(result.error, "notSharded");
    assert.match(
      String(result.message),
      new RegExp(`^${op} needs the shard master, but the configuration has no \\[shardmaster\\]`),
    );
  }
  assert.equal(results[0]!.id, 1);
});

Deno.test("clerk --stdin: JSON lines become the same operations as the command line", () => {
  assert.deepEqual(parseJsonOperation('{"op":"join","gids":[1,2],"id":"a"}'), {
    ok: true,
    operation: { type: "join", gids: [1, 2] },
    id: "a",
  });
  assert.deepEqual(parseJsonOperation('{"op":"move","shard":4,"gid":3}'), {
    ok: true,
    operation: { type: "move", shard: 4, gid: 3 },
  });
  assert.deepEqual(parseJsonOperation('{"op":"query","num":2}'), {
    ok: true,
    operation: { type: "query", num: 2 },
  });
  assert.deepEqual(parseJsonOperation('{"op":"put","key":"k","value":"v"}'), {
    ok: true,
    operation: { type: "put", key: "k", value: "v" },
  });
  for (
    const [line, message] of [
      ['{"op":"join"}', 'join: expected "join GID...", got 0 argument(s)'],
      ['{"op":"join","gids":[0]}', 'join: GID must be a positive integer, got "0"'],
      ['{"op":"leave","gids":3}', '"gids" must be an array of group ids (integers)'],
      [
        '{"op":"move","shard":1.5,"gid":1}',
        'move: SHARD must be a non-negative integer, got "1.5"',
      ],
      ['{"op":"move","shard":1}', 'move: expected "move SHARD GID", got 1 argument(s)'],
      ['{"op":"query","num":-1}', 'query: NUM must be a non-negative integer, got "-1"'],
      ['{"op":"get","key":"k","value":"v"}', 'get takes no "value" (its fields: key)'],
      ["[1]", "each line must be a JSON object"],
    ] as const
  ) {
    assert.deepEqual(parseJsonOperation(line), { ok: false, message }, line);
  }
  const unknown = parseJsonOperation('{"op":"frob"}');
  assert.ok(!unknown.ok && unknown.message.startsWith('unknown operation "frob"'));
});
