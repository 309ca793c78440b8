/**
 * Fuzzing the Raft decoder with a seeded PRNG (a failure names its seed and case): random
 * bytes, random msgpack values shaped like messages, and valid encodings with bytes flipped,
 * inserted, removed or cut. The decoder must never throw, and whatever it accepts must be a
 * well-typed message (checked independently) that re-encodes to an equal message.
 */

import { deepEqual, fail, ok } from "node:assert/strict";
import { encode } from "@msgpack/msgpack";
import { Prng } from "../util/prng.ts";
import type { Message } from "../raft/core/messages.ts";
import {
  decodeBatch,
  decodeMessage,
  encodeBatch,
  encodeMessage,
  MESSAGE_TAG,
} from "./raft_codec.ts";
import { isValidMessage, sampleMessages } from "./test_support.ts";

const SEED = 20_240_601;
const CASES = 20_000;

function check(bytes: Uint8Array, label: string): void {
  let single, batch;
  try {
    single = decodeMessage(bytes);
    batch = decodeBatch(bytes);
  } catch (error) {
    fail(`${label}: the decoder threw ${(error as Error).stack}`);
  }
  const accepted: Message[] = [];
  if (single.ok) accepted.push(single.value);
  if (batch.ok) accepted.push(...batch.value);
  for (const message of accepted) {
    ok(isValidMessage(message), `${label}: accepted an invalid message ${String(message)}`);
    const again = decodeMessage(encodeMessage(message));
    ok(again.ok, label);
    deepEqual(again.value, message, label);
  }
}

/** Numbers around every boundary the decoder checks, and a few that are not numbers at all. */
function randomScalar(random: Prng): unknown {
  return random.pick<() => unknown>([
    () => random.int(20) - 2,
    () => random.nextUint32(),
    () => Number.MAX_SAFE_INTEGER - random.int(2),
    () => Number.MAX_SAFE_INTEGER + 2,
    () => -random.nextUint32() * 4096,
    () => random.float() * 100,
    () => NaN,
    () => Infinity,
    () => random.chance(0.5),
    () => null,
    () => "x".repeat(random.int(4)),
    () => new Uint8Array(random.int(8)).fill(random.int(256)),
    () => ({ a: 1 }),
  ])();
}

function randomValue(random: Prng, depth: number): unknown {
  if (depth > 3 || random.chance(0.4)) return randomScalar(random);
  const tags = Object.values(MESSAGE_TAG);
  const length = random.int(10);
  const items: unknown[] = [];
  // Half the arrays look like messages: a real tag and plausible header fields.
  if (random.chance(0.5)) items.push(random.pick(tags), 1 + random.int(3), 1 + random.int(3));
  while (items.length < length) {
    items.push(random.chance(0.6) ? random.int(100) : randomValue(random, depth + 1));
  }
  return items;
}

function mutate(bytes: Uint8Array, random: Prng): Uint8Array {
  const out = [...bytes];
  const edits = 1 + random.int(4);
  for (let i = 0; i < edits; i++) {
    const at = random.int(out.length + 1);
    switch (random.int(4)) {
      case 0:
        if (at < out.length) out[at] = random.int(256);
        break;
      case 1:
        out.splice(at, 0, random.int(256));
        break;
      case 2:
        out.splice(at, 1);
        break;
      default:
        out.length = Math.min(out.length, at);
    }
  }
  return new Uint8Array(out);
}

Deno.test("raft codec fuzz: random bytes never throw and never decode to an invalid message", () => {
  const random = new Prng(SEED);
  for (let i = 0; i < CASES; i++) {
    const bytes = new Uint8Array(random.int(64));
    for (let j = 0; j < bytes.length; j++) bytes[j] = random.int(256);
    check(bytes, `seed ${SEED} random bytes case ${i}`);
  }
});

Deno.test("raft codec fuzz: random msgpack values never throw and never decode wrongly", () => {
  const random = new Prng(SEED + 1);
  let accepted = 0;
  for (let i = 0; i < CASES; i++) {
    const value = randomValue(random, 0);
    const bytes = encode(value);
    check(bytes, `seed ${SEED + 1} random value case ${i}`);
    if (decodeMessage(bytes).ok) accepted++;
  }
  ok(accepted > 0, "some random values are valid messages, so both paths are exercised");
});

Deno.test("raft codec fuzz: mutated valid encodings never throw and never decode wrongly", () => {
  const random = new Prng(SEED + 2);
  const samples = sampleMessages();
  const valid = [...samples.map(encodeMessage), encodeBatch(samples)];
  let accepted = 0;
  for (let i = 0; i < CASES; i++) {
    const mutated = mutate(random.pick(valid), random);
    check(mutated, `seed ${SEED + 2} mutation case ${i}`);
    if (decodeMessage(mutated).ok || decodeBatch(mutated).ok) accepted++;
  }
  ok(accepted > 0, "some mutations stay valid");
});
