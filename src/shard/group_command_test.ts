/**
 * The group command and shard payload codecs: every command kind round-trips, the encoding
 * is a compact tagged array, malformed commands and payloads are refused with a reason, and
 * a seeded fuzz (random bytes, random values shaped like commands, valid encodings with
 * bytes flipped, inserted, removed or cut) never makes a decoder throw; whatever decodes
 * re-encodes to the same command, and applying it to a group never throws either.
 */

import assert from "node:assert/strict";
import { encode } from "@msgpack/msgpack";
import { Prng } from "../util/prng.ts";
import { ShardData } from "../kv/kv_state.ts";
import {
  decodeGroupCommand,
  encodeGroupCommand,
  GROUP_COMMAND_TAG,
  type GroupCommand,
} from "./group_command.ts";
import { decodeShardPayload, encodeShardPayload } from "./group_payload.ts";
import { GroupState } from "./group_state.ts";
import { replicasOf } from "./test_support.ts";

const CONFIG = {
  num: 1,
  shards: [100, 100, 101, 101],
  groups: { "100": replicasOf(100), "101": replicasOf(101) },
};

function sampleShard(): ShardData {
  const shard = new ShardData();
  shard.data.set("k", "v");
  shard.data.set("ü-key", "x".repeat(300));
  shard.sessions.record(7, 3, { ok: true }, 1_000);
  const error = { code: "valueTooLarge", bytes: 9, maxBytes: 8 } as const;
  shard.sessions.record(Number.MAX_SAFE_INTEGER, 2 ** 40, { ok: false, error }, 2_000);
  return shard;
}

const SAMPLES: GroupCommand[] = [
  {
    type: "kv",
    command: { type: "put", clientId: 1, seq: 2, timeMs: 3, key: "k", value: "v" },
  },
  { type: "kv", command: { type: "append", clientId: 9, seq: 1, timeMs: 0, key: "", value: "" } },
  { type: "kv", command: { type: "delete", clientId: 1, seq: 5, timeMs: 7, key: "gone" } },
  { type: "config", config: CONFIG },
  { type: "config", config: { num: 0, shards: [0, 0, 0, 0], groups: {} } },
  {
    type: "installShard",
    configNum: 4,
    shard: 3,
    part: 0,
    parts: 1,
    cut: 0xffff_ffff,
    data: encodeShardPayload(sampleShard()),
  },
  {
    type: "installShard",
    configNum: 0,
    shard: 2,
    part: 6,
    parts: 7,
    cut: 0,
    data: new Uint8Array(),
  },
  { type: "gcDone", configNum: 12, shard: 1023 },
  { type: "deleteShard", configNum: Number.MAX_SAFE_INTEGER, shard: 0 },
];

Deno.test("group command codec: every kind round-trips through msgpack", () => {
  for (const command of SAMPLES) {
    const decoded = decodeGroupCommand(encodeGroupCommand(command));
    assert.ok(decoded.ok, JSON.stringify(command));
    assert.deepEqual(decoded.command, command);
  }
});

Deno.test("group command codec: the encoding is a compact tagged array", () => {
  const bytes = encodeGroupCommand({ type: "gcDone", configNum: 3, shard: 4 });
  assert.deepEqual(bytes, encode([GROUP_COMMAND_TAG.gcDone, 3, 4]));
  assert.equal(bytes.byteLength, 4);
  const config = encodeGroupCommand({ type: "config", config: CONFIG });
  assert.deepEqual(
    config,
    encode([GROUP_COMMAND_TAG.config, 1, CONFIG.shards, [[100, replicasOf(100)], [
      101,
      replicasOf(101),
    ]]]),
  );
});

Deno.test("group command codec: malformed commands are refused with a reason", () => {
  const cases: unknown[] = [
    null,
    [],
    [1],
    [9, 1, 2],
    [1, "not bytes"],
    [1, encode([7, 1, 1, 0, "k"])],
    [2, 1, [100], [[100, ["a"]]], "extra"],
    [2, 1, [100], [[100, []]]],
    [2, 1, [100], [[100, ["a"]], [100, ["b"]]]],
    [2, 1, [7], [[100, ["a"]]]],
    [2, -1, [100], [[100, ["a"]]]],
    [3, 1, 0],
    [3, 1, 0, "data"],
    [3, 1.5, 0, new Uint8Array()],
    [4, 1],
    [4, 1, -1],
    [5, 1, 0, 0],
    [5, "1", 0],
  ];
  for (const value of cases) {
    const decoded = decodeGroupCommand(encode(value));
    assert.ok(!decoded.ok, `accepted ${JSON.stringify(value)}`);
    assert.ok(decoded.reason.length > 0);
  }
  const garbage = decodeGroupCommand(new Uint8Array([0xc1]));
  assert.ok(!garbage.ok && garbage.reason.startsWith("not msgpack"));
});

Deno.test("shard payload codec: data and sessions round-trip in order; malformed payloads are refused", () => {
  const shard = sampleShard();
  const decoded = decodeShardPayload(encodeShardPayload(shard));
  assert.ok(decoded.ok);
  assert.deepEqual([...decoded.shard.data], [...shard.data]);
  assert.deepEqual([...decoded.shard.sessions.entries()], [...shard.sessions.entries()]);
  assert.deepEqual(encodeShardPayload(decoded.shard), encodeShardPayload(shard));
  const cases: unknown[] = [
    [],
    [[], [], []],
    [[["k", "v"], ["k", "w"]], []],
    [[["k", 1]], []],
    [[], [[1, 1, 0, 0], [1, 2, 0, 0]]],
    [[], [[1, 1, 1, 0]]],
    [[], [[1, 1, { code: "nope" }, 0]]],
    [[], [[1, 1, { code: "staleRequest", seq: 1 }, 0]]],
    [[], [[1, 1, { code: "staleRequest", seq: 1, lastSeq: 2, extra: 3 }, 0]]],
    [[], [[-1, 1, 0, 0]]],
    [[["k".repeat(5000), "v"]], []],
  ];
  for (const value of cases) {
    const result = decodeShardPayload(encode(value));
    assert.ok(!result.ok, `accepted ${JSON.stringify(value).slice(0, 80)}`);
  }
  assert.ok(
    decodeShardPayload(encode([[], [[1, 1, { code: "staleRequest", seq: 1, lastSeq: 2 }, 0]]])).ok,
  );
});

function randomScalar(random: Prng): unknown {
  return random.pick<() => unknown>([
    () => random.int(12) - 2,
    () => random.nextUint32(),
    () => Number.MAX_SAFE_INTEGER + random.int(3) - 1,
    () => random.float(),
    () => "s".repeat(random.int(4)),
    () => null,
    () => true,
    () => new Uint8Array(random.int(3)),
    () => ({ code: "staleRequest", seq: 1, lastSeq: 2 }),
  ])();
}

function randomValue(random: Prng, depth: number): unknown {
  if (depth === 0 || random.chance(0.4)) return randomScalar(random);
  return Array.from({ length: random.int(4) }, () => randomValue(random, depth - 1));
}

function mutate(random: Prng, bytes: Uint8Array): Uint8Array {
  const copy = [...bytes];
  for (let edit = 1 + random.int(3); edit > 0; edit--) {
    const at = random.int(copy.length + 1);
    const kind = random.int(4);
    if (kind === 0 && at < copy.length) copy[at] = random.int(256);
    else if (kind === 1) copy.splice(at, 0, random.int(256));
    else if (kind === 2) copy.splice(at, 1);
    else if (kind === 3) copy.length = Math.min(copy.length, at);
  }
  return new Uint8Array(copy);
}

Deno.test("group command decoder fuzz: random and damaged bytes never throw; what decodes re-encodes and applies", () => {
  const seed = 20_250_101;
  const random = new Prng(seed);
  const group = new GroupState(100, 4);
  let accepted = 0;
  for (let index = 0; index < 20_000; index++) {
    const label = `seed ${seed} case ${index}`;
    let bytes: Uint8Array;
    if (index % 3 === 0) {
      bytes = new Uint8Array(Array.from({ length: random.int(40) }, () => random.int(256)));
    } else if (index % 3 === 1) {
      const fields = Array.from({ length: random.int(5) }, () => randomValue(random, 3));
      bytes = encode([1 + random.int(5), ...fields]);
    } else {
      bytes = mutate(random, encodeGroupCommand(random.pick(SAMPLES)));
    }
    let decoded;
    try {
      decoded = decodeGroupCommand(bytes);
      decodeShardPayload(bytes);
    } catch (error) {
      assert.fail(`${label}: a decoder threw ${(error as Error).stack}`);
    }
    if (!decoded.ok) continue;
    accepted++;
    const again = decodeGroupCommand(encodeGroupCommand(decoded.command));
    assert.ok(again.ok, label);
    assert.deepEqual(again.command, decoded.command, label);
    group.apply(decoded.command); // accepted or refused with a typed reply, never a throw
    group.invariants();
  }
  assert.ok(accepted > 300, `only ${accepted} cases decoded: the fuzz shapes are too random`);
});
