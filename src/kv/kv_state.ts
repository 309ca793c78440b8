/**
 * The KV state machine, pure: shards of key → value maps, each with its client sessions, and
 * the log time. `apply` is deterministic (the same commands give the same state and replies
 * on every replica), and `snapshot` / `restore` round-trip everything, sessions included.
 *
 * Shards exist even in a single-group deployment (where one group owns them all) so that
 * the sharded layer can move a shard's data and sessions as one unit.
 */

import { decode, encode } from "@msgpack/msgpack";
import { assert } from "../util/assert.ts";
import type { KvCommand, KvReply } from "./command.ts";
import { STORED_VALUE_BYTES_MAX } from "./limits.ts";
import { type Session, SessionTable } from "./session_table.ts";
import { shardOf } from "./shard_of.ts";

/** One shard's data and sessions. */
export class ShardData {
  readonly data = new Map<string, string>();
  readonly sessions = new SessionTable();
}

const SNAPSHOT_VERSION = 1;
const encoder = new TextEncoder();

/** The whole KV state of one replica group. */
export class KvState {
  readonly shardCount: number;
  readonly shards = new Map<number, ShardData>();
  /** Log time: the largest leader timestamp applied so far (never decreases). */
  logTimeMs = 0;

  constructor(shardCount: number, ownedShards: Iterable<number> = range(shardCount)) {
    this.shardCount = shardCount;
    for (const shard of ownedShards) this.shards.set(shard, new ShardData());
  }

  /** The shard of a key. */
  shardOf(key: string): number {
    return shardOf(key, this.shardCount);
  }

  /** Reads a key ("" when missing); the caller has confirmed linearizability (ReadIndex). */
  get(key: string): string {
    return this.#shard(key).data.get(key) ?? "";
  }

  /** Applies a write exactly once per (client, seq). */
  apply(command: KvCommand): KvReply {
    this.logTimeMs = Math.max(this.logTimeMs, command.timeMs);
    const shard = this.#shard(command.key);
    shard.sessions.expire(this.logTimeMs);
    const check = shard.sessions.check(command.clientId, command.seq, this.logTimeMs);
    switch (check.kind) {
      case "duplicate":
        return check.reply;
      case "stale":
        return {
          ok: false,
          error: { code: "staleRequest", seq: command.seq, lastSeq: check.lastSeq },
        };
      case "full":
        return { ok: false, error: { code: "tooManySessions", sessions: shard.sessions.size } };
      case "new":
        break;
    }
    const reply = this.#write(shard, command);
    shard.sessions.record(command.clientId, command.seq, reply, this.logTimeMs);
    return reply;
  }

  /** The whole state as bytes: [version, logTime, [[shard, [[key, value]...], [[client, seq, reply, lastUsed]...]]...]]. */
  snapshot(): Uint8Array {
    const shards: unknown[] = [];
    for (const [id, shard] of this.shards) shards.push([id, ...encodeShard(shard)]);
    return encode([SNAPSHOT_VERSION, this.shardCount, this.logTimeMs, shards]);
  }

  /** Rebuilds a state from `snapshot()` bytes. */
  static restore(bytes: Uint8Array): KvState {
    const [version, shardCount, logTimeMs, shards] = decode(bytes) as [
      number,
      number,
      number,
      unknown[],
    ];
    assert(version === SNAPSHOT_VERSION, () => `Unknown KV snapshot version ${version}`);
    const state = new KvState(shardCount, []);
    state.logTimeMs = logTimeMs;
    for (const entry of shards) {
      const [id, data, sessions] = entry as [number, unknown, unknown];
      state.shards.set(id, decodeShard(data, sessions));
    }
    return state;
  }

  #shard(key: string): ShardData {
    const id = this.shardOf(key);
    const shard = this.shards.get(id);
    assert(
      shard !== undefined,
      () => `Shard ${id} of key is not held here (the caller checks ownership)`,
    );
    return shard;
  }

  #write(shard: ShardData, command: KvCommand): KvReply {
    switch (command.type) {
      case "put":
        shard.data.set(command.key, command.value);
        return { ok: true };
      case "append": {
        const current = shard.data.get(command.key) ?? "";
        const bytes = encoder.encode(current).byteLength + encoder.encode(command.value).byteLength;
        if (bytes > STORED_VALUE_BYTES_MAX) {
          return {
            ok: false,
            error: { code: "valueTooLarge", bytes, maxBytes: STORED_VALUE_BYTES_MAX },
          };
        }
        shard.data.set(command.key, current + command.value);
        return { ok: true };
      }
      case "delete":
        shard.data.delete(command.key);
        return { ok: true };
    }
  }
}

/** A shard's data and sessions as plain arrays (for snapshots and migration). */
export function encodeShard(shard: ShardData): [unknown[], unknown[]] {
  const data: unknown[] = [];
  for (const [key, value] of shard.data) data.push([key, value]);
  const sessions: unknown[] = [];
  for (const session of shard.sessions.entries()) {
    sessions.push([
      session.clientId,
      session.seq,
      session.reply.ok ? 0 : session.reply.error,
      session.lastUsedMs,
    ]);
  }
  return [data, sessions];
}

/** The inverse of {@link encodeShard}. */
export function decodeShard(data: unknown, sessions: unknown): ShardData {
  const shard = new ShardData();
  for (const pair of data as [string, string][]) shard.data.set(pair[0], pair[1]);
  for (const row of sessions as [number, number, 0 | Record<string, unknown>, number][]) {
    const [clientId, seq, error, lastUsedMs] = row;
    const reply: KvReply = error === 0 ? { ok: true } : { ok: false, error: error as never };
    const session: Session = { clientId, seq, reply, lastUsedMs };
    shard.sessions.merge(session);
  }
  return shard;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, k) => k);
}
