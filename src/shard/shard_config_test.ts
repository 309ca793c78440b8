/**
 * Shard configs as values: config 0, the JSON form and its validator (round trips, and every
 * malformed shape refused with a reason, never a throw), immutability at run time (the lab's
 * aliasing bug, classic-lab-tests.md §4), and check_same_config's comparison.
 */

import assert from "node:assert/strict";
import {
  configFromJson,
  configToJson,
  initialConfig,
  makeConfig,
  sameConfig,
  type ShardConfig,
} from "./shard_config.ts";
import { ShardMasterState } from "./master_state.ts";
import { TestClerk } from "./test_support.ts";

Deno.test("shard config: config 0 has no groups and every shard on gid 0", () => {
  const zero = initialConfig(10);
  assert.equal(zero.num, 0);
  assert.deepEqual(zero.shards, new Array(10).fill(0));
  assert.equal(zero.groups.size, 0);
});

Deno.test("shard config: the JSON form is {num, shards, groups: {gid: [replicas]}} and round-trips", () => {
  const config = makeConfig(3, [7, 2, 7], [[7, ["c", "a"]], [2, ["b"]]]);
  const json = configToJson(config);
  assert.deepEqual(json, { num: 3, shards: [7, 2, 7], groups: { "2": ["b"], "7": ["c", "a"] } });
  assert.equal(
    JSON.stringify(json),
    '{"num":3,"shards":[7,2,7],"groups":{"2":["b"],"7":["c","a"]}}',
  );
  const parsed = configFromJson(JSON.parse(JSON.stringify(json)));
  assert.ok(parsed.ok);
  assert.ok(sameConfig(parsed.config, config));
  assert.deepEqual([...parsed.config.groups.keys()], [2, 7], "groups in ascending gid order");
});

Deno.test("shard config: every config a state machine makes round-trips through JSON", () => {
  const state = new ShardMasterState(10);
  const clerk = new TestClerk(state, 1);
  clerk.join(1, 2, 3);
  clerk.move(0, 3);
  clerk.leave(1, 3);
  for (let num = 0; num <= state.latest().num; num++) {
    const parsed = configFromJson(configToJson(state.query(num)));
    assert.ok(parsed.ok && sameConfig(parsed.config, state.query(num)), `config ${num}`);
  }
});

Deno.test("shard config: configFromJson refuses malformed configs with a reason", () => {
  const good = { num: 1, shards: [1, 1], groups: { "1": ["a"] } };
  const cases: unknown[] = [
    null,
    [],
    "config",
    { ...good, num: -1 },
    { ...good, num: 1.5 },
    { ...good, shards: [] },
    { ...good, shards: "11" },
    { ...good, shards: [1, -1] },
    { ...good, shards: [1, 2] },
    { ...good, shards: [1, 0] },
    { ...good, shards: new Array(1025).fill(1) },
    { ...good, groups: null },
    { ...good, groups: [["1", ["a"]]] },
    { ...good, groups: { "0": ["a"] } },
    { ...good, groups: { "01": ["a"] } },
    { ...good, groups: { "x": ["a"] } },
    { ...good, groups: { "1": "a" } },
    { ...good, groups: { "1": [] } },
    { ...good, groups: { "1": ["a", "a"] } },
    { ...good, groups: { "1": [""] } },
    { ...good, groups: { "1": [3] } },
    { ...good, groups: { "1": ["x".repeat(300)] } },
    { num: 0, shards: [1], groups: {} },
  ];
  for (const value of cases) {
    const parsed = configFromJson(value);
    assert.ok(!parsed.ok, `accepted ${JSON.stringify(value)?.slice(0, 80)}`);
    assert.ok(parsed.reason.length > 0);
  }
  assert.ok(configFromJson(good).ok);
});

Deno.test("shard config: configs are immutable at run time, and never alias their inputs", () => {
  const shards = [1, 1];
  const replicas = ["a", "b"];
  const config = makeConfig(1, shards, [[1, replicas]]);
  shards[0] = 9;
  replicas.push("c");
  assert.deepEqual(config.shards, [1, 1]);
  assert.deepEqual(config.groups.get(1), ["a", "b"]);
  assert.throws(() => {
    (config.shards as number[])[0] = 2;
  }, TypeError);
  assert.throws(() => {
    (config.groups.get(1) as string[]).push("d");
  }, TypeError);
  const groups = config.groups as Map<number, readonly string[]>;
  assert.throws(() => groups.set(2, ["x"]), /immutable/);
  assert.throws(() => groups.delete(1), /immutable/);
  assert.throws(() => groups.clear(), /immutable/);
  assert.throws(() => {
    (config as { num: number }).num = 5;
  }, TypeError);
});

Deno.test("shard config: a new config shares no array or map with the one before it", () => {
  const state = new ShardMasterState(10);
  const clerk = new TestClerk(state, 1);
  clerk.join(1, 2);
  clerk.move(0, 2);
  const [before, after] = [state.query(1), state.query(2)] as [ShardConfig, ShardConfig];
  assert.notEqual(before.shards, after.shards);
  assert.notEqual(before.groups, after.groups);
  for (const gid of [1, 2]) assert.notEqual(before.groups.get(gid), after.groups.get(gid));
});

Deno.test("shard config: sameConfig is the lab's check_same_config (num, shards, gids, ordered lists)", () => {
  const base = makeConfig(1, [1, 2], [[1, ["a", "b"]], [2, ["c"]]]);
  assert.ok(sameConfig(base, makeConfig(1, [1, 2], [[2, ["c"]], [1, ["a", "b"]]])));
  assert.ok(!sameConfig(base, makeConfig(2, [1, 2], [[1, ["a", "b"]], [2, ["c"]]])));
  assert.ok(!sameConfig(base, makeConfig(1, [2, 1], [[1, ["a", "b"]], [2, ["c"]]])));
  assert.ok(!sameConfig(base, makeConfig(1, [1, 2], [[1, ["b", "a"]], [2, ["c"]]])));
  assert.ok(!sameConfig(base, makeConfig(1, [1, 1], [[1, ["a", "b"]]])));
});
