/**
 * The shard master command codec: every kind round-trips, malformed arrays are refused with a
 * reason, and a seeded fuzz (random bytes, random msgpack values shaped like commands, and
 * valid encodings with bytes flipped, inserted, removed or cut) never makes the decoder
 * throw; whatever it accepts re-encodes to the same command. Also commandProblem, the
 * configuration-free check a server may run before proposing.
 */

import assert from "node:assert/strict";
import { encode } from "@msgpack/msgpack";
import { Prng } from "../util/prng.ts";
import {
  commandProblem,
  decodeMasterCommand,
  encodeMasterCommand,
  MASTER_COMMAND_TAG,
  type MasterCommand,
} from "./master_command.ts";
import { REPLICAS_PER_GROUP_MAX } from "./limits.ts";
import { ShardMasterState } from "./master_state.ts";
import { joinOf, leaveOf, moveOf } from "./test_support.ts";

const SAMPLES: MasterCommand[] = [
  joinOf(1, 1, [1]),
  joinOf(Number.MAX_SAFE_INTEGER, 2 ** 40, [1, 2, 3], 1_700_000_000_000),
  { type: "join", clientId: 3, seq: 4, timeMs: 5, groups: [[9, ["host:1", "ü-replica", "x"]]] },
  leaveOf(1, 2, [5]),
  leaveOf(1, 3, [5, 6, 7]),
  moveOf(1, 4, 0, 1),
  moveOf(0, 0, 1023, Number.MAX_SAFE_INTEGER, 0),
];

Deno.test("master command codec: every kind round-trips through msgpack", () => {
  for (const command of SAMPLES) {
    const decoded = decodeMasterCommand(encodeMasterCommand(command));
    assert.ok(decoded.ok, JSON.stringify(command));
    assert.deepEqual(decoded.command, command);
  }
});

Deno.test("master command codec: the encoding is a compact tagged array", () => {
  const bytes = encodeMasterCommand(moveOf(1, 2, 3, 4, 5));
  assert.deepEqual(bytes, encode([MASTER_COMMAND_TAG.move, 1, 2, 5, 3, 4]));
  assert.equal(bytes.byteLength, 7);
});

Deno.test("master command codec: malformed commands are refused with a reason", () => {
  const cases: unknown[] = [
    null,
    "join",
    [],
    [1, 1, 1, 0],
    [9, 1, 1, 0, []],
    [1, -1, 1, 0, []],
    [1, 1, 1.5, 0, []],
    [1, 1, 1, Number.MAX_SAFE_INTEGER + 2, []],
    [1, 1, 1, 0, {}],
    [1, 1, 1, 0, [[1]]],
    [1, 1, 1, 0, [[1, "a"]]],
    [1, 1, 1, 0, [[1, [2]]]],
    [1, 1, 1, 0, [[-1, ["a"]]]],
    [1, 1, 1, 0, [], "extra"],
    [2, 1, 1, 0, [1, "2"]],
    [2, 1, 1, 0, 1],
    [2, 1, 1, 0, [1], 2],
    [3, 1, 1, 0, 1],
    [3, 1, 1, 0, 1, -2],
    [3, 1, 1, 0, "1", 2],
  ];
  for (const value of cases) {
    const decoded = decodeMasterCommand(encode(value));
    assert.ok(!decoded.ok, `accepted ${JSON.stringify(value)}`);
    assert.ok(decoded.reason.length > 0);
  }
  const garbage = decodeMasterCommand(new Uint8Array([0xc1]));
  assert.ok(!garbage.ok && garbage.reason.startsWith("not msgpack"));
});

Deno.test("master command codec: meaning is left to commandProblem, not the decoder", () => {
  const decoded = decodeMasterCommand(encode([1, 1, 1, 0, [[0, []]]]));
  assert.ok(decoded.ok, "gid 0 with no replicas is well-typed; apply refuses it");
  assert.equal(commandProblem(decoded.command, 10)?.code, "badGroup");
});

Deno.test("commandProblem: static checks of a command, whatever the configuration", () => {
  const tooMany = Array.from({ length: REPLICAS_PER_GROUP_MAX + 1 }, (_, index) => `r${index}`);
  const cases: [MasterCommand, string | null][] = [
    [joinOf(1, 1, [1, 2]), null],
    [joinOf(1, 1, []), "badGroup"],
    [joinOf(1, 1, [0]), "badGroup"],
    [joinOf(1, 1, [-3]), "badGroup"],
    [joinOf(1, 1, [2, 2]), "duplicateGroup"],
    [{ type: "join", clientId: 1, seq: 1, timeMs: 0, groups: [[1, tooMany]] }, "badGroup"],
    [leaveOf(1, 1, [4, 4]), "duplicateGroup"],
    [leaveOf(1, 1, []), "badGroup"],
    [leaveOf(1, 1, [4]), null],
    [moveOf(1, 1, 9, 1), null],
    [moveOf(1, 1, 10, 1), "badShard"],
    [moveOf(1, 1, 0.5, 1), "badShard"],
    [moveOf(1, 1, 0, 0), "badGroup"],
  ];
  for (const [command, code] of cases) {
    assert.equal(commandProblem(command, 10)?.code ?? null, code, JSON.stringify(command));
  }
});

/** Numbers around every boundary the decoder checks, and values that are not numbers. */
function randomScalar(random: Prng): unknown {
  return random.pick<() => unknown>([
    () => random.int(12) - 2,
    () => random.nextUint32(),
    () => Number.MAX_SAFE_INTEGER + random.int(3) - 1,
    () => -random.nextUint32() * 4096,
    () => random.float(),
    () => "s".repeat(random.int(4)),
    () => null,
    () => true,
    () => new Uint8Array(random.int(3)),
    () => ({ gid: 1 }),
  ])();
}

function randomValue(random: Prng, depth: number): unknown {
  if (depth === 0 || random.chance(0.4)) return randomScalar(random);
  return Array.from({ length: random.int(4) }, () => randomValue(random, depth - 1));
}

/** An array shaped like a command: a real tag and header, then random fields. */
function randomCommandShape(random: Prng): unknown[] {
  const tag = random.chance(0.9) ? 1 + random.int(3) : randomScalar(random);
  const fields = Array.from({ length: random.int(4) }, () => randomValue(random, 3));
  return [tag, random.int(5), random.int(5), random.int(5), ...fields];
}

function mutate(random: Prng, bytes: Uint8Array): Uint8Array {
  const copy = [...bytes];
  const edits = 1 + random.int(3);
  for (let edit = 0; edit < edits; edit++) {
    const at = random.int(copy.length + 1);
    switch (random.int(4)) {
      case 0:
        if (at < copy.length) copy[at] = random.int(256);
        break;
      case 1:
        copy.splice(at, 0, random.int(256));
        break;
      case 2:
        copy.splice(at, 1);
        break;
      default:
        copy.length = Math.min(copy.length, at);
    }
  }
  return new Uint8Array(copy);
}

Deno.test("master command decoder fuzz: random and damaged bytes never throw; what it accepts re-encodes and applies", () => {
  const seed = 20_240_707;
  const random = new Prng(seed);
  const state = new ShardMasterState(10);
  let accepted = 0;
  for (let index = 0; index < 20_000; index++) {
    const label = `seed ${seed} case ${index}`;
    let bytes: Uint8Array;
    switch (index % 3) {
      case 0:
        bytes = new Uint8Array(Array.from({ length: random.int(40) }, () => random.int(256)));
        break;
      case 1:
        bytes = encode(randomCommandShape(random));
        break;
      default:
        bytes = mutate(random, encodeMasterCommand(random.pick(SAMPLES)));
    }
    let decoded;
    try {
      decoded = decodeMasterCommand(bytes);
    } catch (error) {
      assert.fail(`${label}: the decoder threw ${(error as Error).stack}`);
    }
    if (!decoded.ok) continue;
    accepted++;
    const again = decodeMasterCommand(encodeMasterCommand(decoded.command));
    assert.ok(again.ok, label);
    assert.deepEqual(again.command, decoded.command, label);
    // Whatever decodes, apply accepts or refuses with a typed error; it never throws.
    const reply = state.apply(decoded.command);
    assert.ok(reply.ok || reply.error.message.length > 0, label);
  }
  assert.ok(accepted > 300, `only ${accepted} cases decoded: the fuzz shapes are too random`);
});
