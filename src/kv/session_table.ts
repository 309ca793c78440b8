/**
 * Client sessions of one shard (Raft thesis §6.3): the last sequence number applied for each
 * client and its reply, so a retried write is answered from the cache instead of applied
 * twice. Sessions live per shard so that they move with the shard's data.
 *
 * A client unknown to the shard starts a session at whatever sequence number it is at (a
 * clerk's writes spread over shards and groups, so a first write here may be its hundredth).
 * Sessions are bounded: idle ones expire after SESSION_IDLE_MS_MAX of log time, and a full
 * table evicts the least recently used only if it has been idle SESSION_EVICT_IDLE_MS_MIN, far
 * beyond any retry window; otherwise new clients are refused until one can go. Log time comes
 * from the leader's stamps in the log, so every replica decides the same at the same index.
 * The debt: a retry arriving after its session expired would be applied again; clerks give
 * up on a write within seconds, sessions last minutes.
 *
 * Invariant: iteration order of #sessions is least recently used first.
 */

import { assert } from "../util/assert.ts";
import type { KvReply } from "./command.ts";
import { CLIENT_SESSIONS_MAX, SESSION_EVICT_IDLE_MS_MIN, SESSION_IDLE_MS_MAX } from "./limits.ts";

/** One client's session; `Reply` is the state machine's reply type. */
export interface Session<Reply = KvReply> {
  readonly clientId: number;
  readonly seq: number;
  readonly reply: Reply;
  readonly lastUsedMs: number;
}

/** What a write's session says before it is applied. */
export type SessionCheck<Reply = KvReply> =
  | { readonly kind: "new" }
  | { readonly kind: "duplicate"; readonly reply: Reply }
  | { readonly kind: "stale"; readonly lastSeq: number }
  | { readonly kind: "full" };

/**
 * The sessions of one shard (or of the shard master), generic over the reply it caches; the
 * default keeps KV callers unchanged.
 */
export class SessionTable<Reply = KvReply> {
  readonly #sessions = new Map<number, Session<Reply>>();
  readonly #maxSessions: number;

  constructor(maxSessions = CLIENT_SESSIONS_MAX) {
    assert(maxSessions >= 1, "A session table holds at least one session");
    this.#maxSessions = maxSessions;
  }

  get size(): number {
    return this.#sessions.size;
  }

  /** Classifies write `seq` of `clientId` at log time `nowMs`. */
  check(clientId: number, seq: number, nowMs: number): SessionCheck<Reply> {
    const session = this.#sessions.get(clientId);
    if (session === undefined) return this.#canAdmit(nowMs) ? { kind: "new" } : { kind: "full" };
    if (seq === session.seq) return { kind: "duplicate", reply: session.reply };
    if (seq < session.seq) return { kind: "stale", lastSeq: session.seq };
    return { kind: "new" };
  }

  /** Records the reply of write `seq` at log time `nowMs`. */
  record(clientId: number, seq: number, reply: Reply, nowMs: number): void {
    this.#sessions.delete(clientId);
    this.#sessions.set(clientId, { clientId, seq, reply, lastUsedMs: nowMs });
    while (this.#sessions.size > this.#maxSessions) {
      const oldest = this.#sessions.keys().next().value as number;
      this.#sessions.delete(oldest);
    }
  }

  /** True when a new session fits: there is room, or the oldest has been idle long enough. */
  #canAdmit(nowMs: number): boolean {
    if (this.#sessions.size < this.#maxSessions) return true;
    const oldest = this.#sessions.values().next().value as Session<Reply>;
    return nowMs - oldest.lastUsedMs >= SESSION_EVICT_IDLE_MS_MIN;
  }

  /** Drops sessions idle for longer than the limit at log time `nowMs`. */
  expire(nowMs: number): void {
    for (const session of this.#sessions.values()) {
      if (nowMs - session.lastUsedMs <= SESSION_IDLE_MS_MAX) break;
      this.#sessions.delete(session.clientId);
    }
  }

  /** Sessions in least-recently-used order (for snapshots and shard migration). */
  entries(): IterableIterator<Session<Reply>> {
    return this.#sessions.values();
  }

  /** Adds a session from a snapshot or a migrated shard, keeping the newer of two. */
  merge(session: Session<Reply>): void {
    const existing = this.#sessions.get(session.clientId);
    if (existing !== undefined && existing.seq >= session.seq) return;
    this.record(
      session.clientId,
      session.seq,
      session.reply,
      Math.max(session.lastUsedMs, existing?.lastUsedMs ?? 0),
    );
  }
}
