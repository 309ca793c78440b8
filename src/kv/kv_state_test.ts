/**
 * Tests of the pure KV state machine: put / append / delete semantics, exactly-once writes
 * through sessions (duplicates answered from the cache, stale requests refused, sessions
 * expired by log time and bounded without evicting any that a retry may still need),
 * session bounds decided by log time, and snapshots that carry data and sessions.
 */

import assert from "node:assert/strict";
import { decodeCommand, encodeCommand, type KvCommand } from "./command.ts";
import { KvState } from "./kv_state.ts";
import { CLIENT_SESSIONS_MAX, SESSION_EVICT_IDLE_MS_MIN, SESSION_IDLE_MS_MAX } from "./limits.ts";

const put = (clientId: number, seq: number, key: string, value: string, timeMs = 0): KvCommand => ({
  type: "put",
  clientId,
  seq,
  key,
  value,
  timeMs,
});
const append = (
  clientId: number,
  seq: number,
  key: string,
  value: string,
  timeMs = 0,
): KvCommand => ({
  type: "append",
  clientId,
  seq,
  key,
  value,
  timeMs,
});

Deno.test("kv: put replaces, append concatenates, delete removes, and a missing key reads empty", () => {
  const state = new KvState(10);
  assert.equal(state.get("k"), "");
  assert.deepEqual(state.apply(put(1, 1, "k", "a")), { ok: true });
  assert.deepEqual(state.apply(append(1, 2, "k", "b")), { ok: true });
  assert.equal(state.get("k"), "ab");
  state.apply({ type: "delete", clientId: 1, seq: 3, key: "k", timeMs: 0 });
  assert.equal(state.get("k"), "");
});

Deno.test("kv: a retried write applies once and gets its first reply (thesis §6.3)", () => {
  const state = new KvState(10);
  state.apply(append(7, 1, "k", "x"));
  assert.deepEqual(state.apply(append(7, 1, "k", "x")), { ok: true });
  assert.equal(state.get("k"), "x");
  state.apply(append(7, 2, "k", "y"));
  const stale = state.apply(append(7, 1, "k", "x"));
  assert.deepEqual(stale, { ok: false, error: { code: "staleRequest", seq: 1, lastSeq: 2 } });
  assert.equal(state.get("k"), "xy");
});

Deno.test("kv: a client unknown to a shard starts a session at any sequence (its writes span shards)", () => {
  const state = new KvState(10);
  assert.deepEqual(state.apply(put(9, 5, "k", "v")), { ok: true });
  assert.deepEqual(state.apply(put(9, 5, "k", "again")), { ok: true });
  assert.equal(state.get("k"), "v", "the retry of seq 5 was answered from the session");
});

Deno.test("kv: sessions expire by log time, identically on every replica", () => {
  const state = new KvState(1);
  state.apply(put(1, 1, "a", "1", 1000));
  state.apply(put(2, 1, "a", "2", 1500));
  assert.equal(state.shards.get(0)!.sessions.size, 2);
  state.apply(put(3, 1, "a", "3", 1200 + SESSION_IDLE_MS_MAX));
  assert.equal(state.shards.get(0)!.sessions.size, 2, "client 1 expired, client 2 not yet");
  state.apply(put(3, 2, "a", "3", 2000 + SESSION_IDLE_MS_MAX));
  assert.equal(state.shards.get(0)!.sessions.size, 1, "client 2 expired too");
});

Deno.test("kv: a full session table evicts only sessions idle past any retry window, else refuses new clients", () => {
  const state = new KvState(1);
  for (let client = 1; client <= CLIENT_SESSIONS_MAX; client++) {
    state.apply(put(client, 1, "k", "v", 0));
  }
  const refused = state.apply(put(CLIENT_SESSIONS_MAX + 1, 1, "k", "new", 1000));
  assert.deepEqual(refused, {
    ok: false,
    error: { code: "tooManySessions", sessions: CLIENT_SESSIONS_MAX },
  });
  assert.equal(state.get("k"), "v", "a refused write changes nothing");
  assert.deepEqual(state.apply(put(7, 2, "k", "known")), { ok: true }, "known clients still write");
  assert.deepEqual(
    state.apply(put(CLIENT_SESSIONS_MAX + 1, 1, "k", "new", SESSION_EVICT_IDLE_MS_MIN)),
    { ok: true },
  );
  assert.equal(state.shards.get(0)!.sessions.size, CLIENT_SESSIONS_MAX);
});

Deno.test("kv: snapshots round-trip data and sessions, and one key with one session is small", () => {
  const state = new KvState(10);
  state.apply(put(12345, 1, "key-0000000001", "v".repeat(100), 1_700_000_000_000));
  const bytes = state.snapshot();
  assert.ok(bytes.byteLength < 500, `snapshot is ${bytes.byteLength} bytes`);
  const restored = KvState.restore(bytes);
  assert.equal(restored.get("key-0000000001"), "v".repeat(100));
  assert.deepEqual(restored.apply(put(12345, 1, "key-0000000001", "other")), { ok: true });
  assert.equal(
    restored.get("key-0000000001"),
    "v".repeat(100),
    "the duplicate was answered from the session",
  );
  assert.deepEqual(restored.snapshot(), bytes);
});

Deno.test("kv: commands round-trip through their compact encoding, and bad bytes are explained", () => {
  const command = append(3, 4, "k", "x 3 4 y", 99);
  const bytes = encodeCommand(command);
  assert.ok(bytes.byteLength < 40, `${bytes.byteLength} bytes`);
  assert.deepEqual(decodeCommand(bytes), { ok: true, command });
  assert.equal(decodeCommand(new Uint8Array([0xc1])).ok, false);
  assert.equal(
    decodeCommand(encodeCommand({ type: "delete", clientId: 1, seq: 1, key: "k", timeMs: 0 })).ok,
    true,
  );
});
