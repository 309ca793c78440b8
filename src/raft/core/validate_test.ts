/**
 * Unit tests of {@link isWellFormed}: for each message kind, a well-formed template passes,
 * and each way a field can be out of range (negative, NaN, fractional, infinite, beyond the
 * safe integers; entries that are not contiguous, whose terms decrease or exceed the
 * message's; chunks that overflow their snapshot) makes it fail.
 */

import assert from "node:assert/strict";
import { SNAPSHOT_BYTES_MAX } from "./limits.ts";
import type { Message } from "./messages.ts";
import { BAD_NUMBERS, command, numericFields, WELL_FORMED } from "./test_support.ts";
import { asIndex, asTerm, type Entry } from "./types.ts";
import { isWellFormed } from "./validate.ts";

const i = asIndex;
const t = asTerm;
function withField(message: Message, key: string, value: unknown): Message {
  return { ...message, [key]: value } as Message;
}

function byType<T extends Message["type"]>(type: T): Extract<Message, { type: T }> {
  return WELL_FORMED.find((message) => message.type === type) as Extract<Message, { type: T }>;
}

function withEntries(entries: Entry[]): Message {
  return { ...byType("append"), entries };
}

Deno.test("validate: a well-formed message of every kind passes", () => {
  for (const message of WELL_FORMED) assert.ok(isWellFormed(message), message.type);
});

Deno.test("validate: a negative, NaN, fractional, infinite or unsafe number in any field fails", () => {
  for (const message of WELL_FORMED) {
    for (const key of numericFields(message)) {
      for (const bad of BAD_NUMBERS) {
        assert.equal(
          isWellFormed(withField(message, key, bad)),
          false,
          `${message.type}.${key} = ${bad}`,
        );
      }
    }
  }
});

Deno.test("validate: a (pre-)vote whose last term is beyond its term fails", () => {
  assert.equal(isWellFormed({ ...byType("vote"), lastTerm: t(4) }), false);
  assert.equal(isWellFormed({ ...byType("preVote"), lastTerm: t(4) }), false);
});

Deno.test("validate: append entries must follow prevIndex contiguously with terms in [prevTerm, term]", () => {
  assert.ok(isWellFormed(withEntries([])), "a heartbeat-like append");
  assert.equal(isWellFormed(withEntries([command(6, 2)])), false, "a gap after prevIndex");
  assert.equal(isWellFormed(withEntries([command(5, 2), command(7, 2)])), false, "a gap");
  assert.equal(isWellFormed(withEntries([command(5, 2), command(5, 2)])), false, "a repeat");
  assert.equal(isWellFormed(withEntries([command(5, 3), command(6, 2)])), false, "terms decrease");
  assert.equal(isWellFormed(withEntries([command(5, 1)])), false, "below prevTerm");
  assert.equal(isWellFormed(withEntries([command(5, 4)])), false, "beyond the message's term");
  assert.equal(isWellFormed({ ...byType("append"), prevTerm: t(4), entries: [] }), false);
});

Deno.test({
  name: "validate: an entry whose term is NaN or fractional fails",
  // Regression (fixed): entry terms were only compared (`<`, `>`), never checked with isCounter.
  // NaN compares false both ways and passes, then makes RaftLog.append throw ("Cannot append
  // term NaN"); a fractional term between prevTerm and term (2.5) enters the log.
  fn: () => {
    for (const term of [Number.NaN, 2.5]) {
      const entry = { ...command(5, 2), term: t(term) };
      assert.equal(isWellFormed(withEntries([entry])), false, `entry term ${term}`);
    }
  },
});

Deno.test("validate: an append entry with a fractional or NaN index fails", () => {
  for (const index of [4.5, Number.NaN]) {
    assert.equal(isWellFormed(withEntries([{ ...command(5, 2), index: i(index) }])), false);
  }
});

Deno.test("validate: a rejection's conflict index is at least 1", () => {
  assert.equal(isWellFormed({ ...byType("appendRejected"), conflictIndex: i(0) }), false);
});

Deno.test("validate: a snapshot chunk must fit its snapshot, which must fit SNAPSHOT_BYTES_MAX", () => {
  const chunk = byType("installSnapshot");
  assert.equal(isWellFormed({ ...chunk, offset: 9 }), false, "offset + chunk > totalBytes");
  assert.equal(isWellFormed({ ...chunk, chunk: new Uint8Array(3) }), false);
  assert.ok(isWellFormed({ ...chunk, offset: 0, chunk: new Uint8Array(10) }));
  assert.equal(isWellFormed({ ...chunk, snapshotIndex: i(0) }), false, "snapshot index 0");
  assert.equal(isWellFormed({ ...chunk, snapshotTerm: t(4) }), false, "snapshot term > term");
  assert.equal(isWellFormed({ ...chunk, totalBytes: SNAPSHOT_BYTES_MAX + 1 }), false);
});
