/**
 * The shard state machine of one replica group, pure (STYLE.md #1): the group's current
 * config, a state per shard, and each held shard's data and sessions. The shell polls the
 * shard master, pulls and deletes shards by RPC, and feeds everything through the group's
 * Raft log into {@link GroupState.apply}; the queries tell it what to do next.
 *
 * Per-shard states (classic-lab-tests.md §3.2, challenge 2), for config N:
 *
 *   absent ──gained from gid 0──────────────▶ serving
 *   absent ──gained from gid G──▶ pulling ──installShard(N, last part)──▶ waitingGc ──gcDone(N)──▶ serving
 *   serving ──lost to gid G──▶ handingOff ──deleteShard(N)──▶ absent
 *   serving ──lost to gid 0──▶ absent (no next owner; the master refuses a Leave of the last
 *                                      group (lastGroup), so only hand-built configs get here)
 *
 * A shard moves in parts (group_limits.ts), installed in order; a pulling shard holds the
 * parts installed so far. serving and waitingGc serve; pulling and handingOff do not. A shard owned in both the old
 * and the new config stays serving throughout (challenge 2 "unaffected"), and a pulled shard
 * serves as soon as its own data is installed (challenge 2 "partial").
 *
 * A config is accepted only when it is the next one and no shard is pulling or handingOff.
 * A waitingGc shard does not block it: it already serves, and its obligation (tell the old
 * owner to delete its copy, without which that owner, stuck in handingOff, can never accept
 * another config) is carried into a replicated list of pending GCs and kept until gcDone.
 * So a dead old owner stalls only its own copy's deletion, never this group's next configs.
 *
 * At most one group serves a shard: the old owner stops at the index where it applies
 * config N (handingOff is frozen), and the new owner starts only when it installs the data
 * exported from that frozen copy. The old owner frees the copy (challenge 1) when the new
 * owner, having installed it, asks it to, which it can only do while still at config N.
 *
 * Invariant (checked by {@link GroupState.invariants}):
 * - serving / waitingGc only for shards the current config gives this gid;
 * - pulling / handingOff / waitingGc only with configNum === current num, and their peer gid
 *   is the previous config's owner (pulling, waitingGc) or the current one (handingOff);
 * - a pending GC is for an earlier config than the current one, to another positive gid;
 * - data is held exactly for serving, waitingGc and handingOff shards, and for pulling shards
 *   with at least one part installed;
 * - every shard the current config gives this gid has a state (none is absent).
 */

import { assert, assertNever } from "../util/assert.ts";
import { crc32c } from "../raft/wal/crc32c.ts";
import type { KvCommand } from "../kv/command.ts";
import { KvState } from "../kv/kv_state.ts";
import { SHARDS_MAX } from "./limits.ts";
import {
  type ExportReply,
  type GroupCommand,
  type GroupGetReply,
  type GroupKvReply,
  type GroupReply,
  type KvGroupCommand,
  type MigrationCommand,
  type MigrationReply,
  refuseStep,
  wrongGroup,
} from "./group_command.ts";
import { decodeShardPayload, emptyShard, encodeShardParts } from "./group_payload.ts";
import { decodeGroupSnapshot, encodeGroupSnapshot } from "./group_snapshot.ts";
import {
  configFromJson,
  GID_NONE,
  initialConfig,
  type ShardConfig,
  type ShardConfigJson,
} from "./shard_config.ts";

/** Where one shard stands in this group (absent shards have no entry). */
export type ShardState =
  | { readonly kind: "serving" }
  | {
    readonly kind: "pulling";
    readonly fromGid: number;
    readonly configNum: number;
    /** Parts installed so far (the next one to pull). */
    readonly received: number;
    /** The shard's part count, known once part 0 is installed (0 before). */
    readonly parts: number;
    /** The digest of the cut the parts come from, known once part 0 is installed (0 before). */
    readonly cut: number;
  }
  | { readonly kind: "handingOff"; readonly toGid: number; readonly configNum: number }
  | { readonly kind: "waitingGc"; readonly fromGid: number; readonly configNum: number };

/** The name of a shard's state, for /status. */
export type ShardStateKind = ShardState["kind"];

/** A shard the shell must move: pull it from, or confirm its deletion with, `fromGid`. */
export interface ShardTask {
  readonly shard: number;
  readonly fromGid: number;
  readonly configNum: number;
  /** The next part to pull (0 for a GC confirmation). */
  readonly part: number;
  /** `fromGid`'s replicas in the previous config (it may have left the current one). */
  readonly servers: readonly string[];
}

const SERVING: ShardState = Object.freeze({ kind: "serving" });

/** A deletion the old owner must still be told about, carried past the config it belongs to. */
export interface PendingGc {
  readonly shard: number;
  readonly fromGid: number;
  readonly configNum: number;
  /** `fromGid`'s replicas in the config before `configNum`. */
  readonly servers: readonly string[];
}

/** The replicated shard state of one replica group. */
export class GroupState {
  /** This group's id (a positive gid). */
  readonly gid: number;
  /** The cluster's shard count, fixed for its life. */
  readonly shardCount: number;
  #config: ShardConfig;
  /** The config before #config (null at config 0): where pulled shards come from. */
  #previous: ShardConfig | null = null;
  readonly #shards = new Map<number, ShardState>();
  /** GC obligations of earlier configs, by "configNum/shard", in (configNum, shard) order. */
  readonly #pendingGc = new Map<string, PendingGc>();
  /** Data and sessions of the shards that hold data (serving, waitingGc, handingOff, part-pulled). */
  readonly #kv: KvState;
  /**
   * A memo, not replicated state: the parts of each handing-off shard, cut on the first pull.
   * The shard is frozen while handing off, so the parts stay valid until it is deleted.
   */
  readonly #exported = new Map<
    number,
    { configNum: number; parts: Uint8Array[]; cut: number }
  >();

  constructor(gid: number, shardCount: number) {
    assert(Number.isSafeInteger(gid) && gid > GID_NONE, () => `A gid is positive, got ${gid}`);
    assert(
      Number.isSafeInteger(shardCount) && shardCount >= 1 && shardCount <= SHARDS_MAX,
      () => `A cluster has 1..${SHARDS_MAX} shards, got ${shardCount}`,
    );
    this.gid = gid;
    this.shardCount = shardCount;
    this.#config = initialConfig(shardCount);
    this.#kv = new KvState(shardCount, []);
  }

  /** Log time: the largest leader timestamp of an applied write. */
  get logTimeMs(): number {
    return this.#kv.logTimeMs;
  }

  /** Applies one committed command of the group's log. */
  apply(command: KvGroupCommand): GroupKvReply;
  apply(command: MigrationCommand): MigrationReply;
  apply(command: GroupCommand): GroupReply;
  apply(command: GroupCommand): GroupReply {
    switch (command.type) {
      case "kv":
        return this.#applyKv(command.command);
      case "config":
        return this.#applyConfig(command.config);
      case "installShard":
        return this.#installShard(command);
      case "gcDone":
        return this.#gcDone(command.configNum, command.shard);
      case "deleteShard":
        return this.#deleteShard(command.configNum, command.shard);
      default:
        return assertNever(command, "group command");
    }
  }

  /** Reads a key if its shard serves here; the shell has confirmed linearizability (ReadIndex). */
  get(key: string): GroupGetReply {
    const shard = this.#kv.shardOf(key);
    if (!this.#serves(shard)) return wrongGroup(shard);
    return { ok: true, value: this.#kv.get(key) };
  }

  /** The shards to pull, in shard order: fetch each with exportShard at `fromGid`, then install. */
  shardsToPull(): ShardTask[] {
    return this.#tasks("pulling");
  }

  /**
   * The installed shards whose old owner must still delete them (earlier configs' pending
   * ones first); for each, ask the old owner to delete, then propose gcDone.
   */
  shardsToConfirm(): ShardTask[] {
    const pending = [...this.#pendingGc.values()].map((gc) => ({ ...gc, part: 0 }));
    return [...pending, ...this.#tasks("waitingGc")];
  }

  /** How many GC obligations of earlier configs are still open (for /status). */
  pendingGcCount(): number {
    return this.#pendingGc.size;
  }

  /**
   * The payload of `shard` for the group that gained it in `configNum`. A handingOff shard is
   * frozen, so any replica that has applied config `configNum` (and not yet the deletion)
   * answers with the same bytes; no ReadIndex is needed.
   */
  exportShard(shard: number, configNum: number, part = 0): ExportReply {
    if (!this.#isShard(shard)) return refuseStep(this.#badShard(shard));
    const currentNum = this.#config.num;
    if (currentNum < configNum) return refuseStep({ code: "notReady", configNum, currentNum });
    const state = this.#shards.get(shard);
    if (currentNum === configNum && state?.kind === "handingOff") {
      const { parts, cut } = this.#partsOf(shard, configNum);
      const data = parts[part];
      if (!Number.isSafeInteger(part) || data === undefined) {
        return refuseStep({ code: "badPart", shard, part, parts: parts.length });
      }
      return { ok: true, data, parts: parts.length, cut };
    }
    if (currentNum === configNum && state !== undefined) {
      return refuseStep({ code: "notHandingOff", shard, configNum });
    }
    const ownedBefore = currentNum > configNum || this.#previous?.shards[shard] === this.gid;
    if (!ownedBefore) return refuseStep({ code: "notHandingOff", shard, configNum });
    return refuseStep({ code: "handedOff", shard, configNum });
  }

  /** Each shard with a state, in shard order (absent shards omitted). */
  shardStates(): Record<number, ShardStateKind> {
    const states: Record<number, ShardStateKind> = {};
    for (const shard of this.#sortedShards()) states[shard] = this.#stateOf(shard).kind;
    return states;
  }

  /** The state of one shard, or undefined when absent. */
  shardState(shard: number): ShardState | undefined {
    return this.#shards.get(shard);
  }

  /** The config this group has applied last. */
  currentConfig(): ShardConfig {
    return this.#config;
  }

  /** True when the next config would be accepted: every shard of this one is serving. */
  canAcceptNextConfig(): boolean {
    return this.#unfinishedShards().length === 0;
  }

  /** The whole state as canonical bytes: byte-identical on replicas that applied the same log. */
  snapshot(): Uint8Array {
    return encodeGroupSnapshot({
      gid: this.gid,
      shardCount: this.shardCount,
      logTimeMs: this.#kv.logTimeMs,
      config: this.#config,
      previous: this.#previous,
      shards: this.#sortedShards().map((shard) => ({
        shard,
        state: this.#stateOf(shard),
        data: this.#kv.shards.get(shard) ?? null,
      })),
      pendingGc: [...this.#pendingGc.values()],
    });
  }

  /** Rebuilds a state from {@link snapshot} bytes (our own output: a bad one is a bug). */
  static restore(bytes: Uint8Array): GroupState {
    const snapshot = decodeGroupSnapshot(bytes);
    const state = new GroupState(snapshot.gid, snapshot.shardCount);
    state.#config = snapshot.config;
    state.#previous = snapshot.previous;
    state.#kv.logTimeMs = snapshot.logTimeMs;
    for (const gc of snapshot.pendingGc) state.#pendingGc.set(gcKey(gc.configNum, gc.shard), gc);
    for (const { shard, state: shardState, data } of snapshot.shards) {
      state.#shards.set(shard, shardState);
      if (data !== null) state.#kv.shards.set(shard, data);
    }
    state.invariants();
    return state;
  }

  /** Checks the whole invariant (see the file comment); tests and the simulator call it. */
  invariants(): void {
    const config = this.#config;
    assert(config.shards.length === this.shardCount, "The config has the cluster's shard count");
    assert(
      this.#previous === null ? config.num === 0 : this.#previous.num === config.num - 1,
      () => `The previous config precedes config ${config.num}`,
    );
    for (let shard = 0; shard < this.shardCount; shard++) this.#checkShard(shard);
    for (const shard of this.#kv.shards.keys()) {
      assert(this.#shards.has(shard), () => `Shard ${shard} holds data but has no state`);
    }
    let last = -1;
    for (const [key, gc] of this.#pendingGc) {
      assert(key === gcKey(gc.configNum, gc.shard), () => `Pending GC ${key} is filed right`);
      assert(this.#isShard(gc.shard), () => `Pending GC ${key}: shard in range`);
      assert(gc.configNum < config.num, () => `Pending GC ${key} precedes config ${config.num}`);
      assert(gc.fromGid !== GID_NONE && gc.fromGid !== this.gid, () => `Pending GC ${key}: gid`);
      const order = gc.configNum * this.shardCount + gc.shard;
      assert(order > last, () => `Pending GCs are in (config, shard) order at ${key}`);
      last = order;
    }
  }

  #checkShard(shard: number): void {
    const ownedNow = this.#config.shards[shard] === this.gid;
    const state = this.#shards.get(shard);
    const hasData = this.#kv.shards.has(shard);
    const label = `Shard ${shard} at config ${this.#config.num}`;
    if (state === undefined) {
      assert(!ownedNow, () => `${label} is this group's but has no state`);
      assert(!hasData, () => `${label} is absent but holds data`);
      return;
    }
    const holdsData = state.kind !== "pulling" || state.received > 0;
    assert(hasData === holdsData, () => `${label} ${state.kind}: data mismatch`);
    if (state.kind === "pulling") {
      assert(
        state.received === 0 ? state.parts === 0 && state.cut === 0 : state.received < state.parts,
        () => `${label} pulling: ${state.received} of ${state.parts} parts`,
      );
    }
    assert(ownedNow === (state.kind !== "handingOff"), () => `${label} ${state.kind}: owner`);
    if (state.kind === "serving") return;
    assert(state.configNum === this.#config.num, () => `${label} ${state.kind}: stale config`);
    const peer = state.kind === "handingOff" ? state.toGid : state.fromGid;
    const expected = state.kind === "handingOff"
      ? this.#config.shards[shard]
      : this.#previous?.shards[shard];
    assert(peer === expected && peer !== GID_NONE, () => `${label} ${state.kind}: peer ${peer}`);
  }

  #applyKv(command: KvCommand): GroupKvReply {
    const shard = this.#kv.shardOf(command.key);
    // Refused before KvState sees it: no session, no log time, nothing changes (§3.2).
    if (!this.#serves(shard)) return wrongGroup(shard);
    return this.#kv.apply(command);
  }

  #applyConfig(json: ShardConfigJson): MigrationReply {
    const parsed = configFromJson(json);
    if (!parsed.ok) return refuseStep({ code: "badConfig", reason: parsed.reason });
    const next = parsed.config;
    if (next.shards.length !== this.shardCount) {
      const reason = `config ${next.num} has ${next.shards.length} shards, not ${this.shardCount}`;
      return refuseStep({ code: "badConfig", reason });
    }
    const currentNum = this.#config.num;
    if (next.num <= currentNum) {
      return refuseStep({ code: "staleConfig", num: next.num, currentNum });
    }
    if (next.num > currentNum + 1) {
      return refuseStep({ code: "configGap", num: next.num, currentNum });
    }
    const unfinished = this.#unfinishedShards();
    if (unfinished.length > 0) {
      return refuseStep({ code: "migrating", currentNum, shards: unfinished });
    }
    this.#advance(next);
    return { ok: true, changed: true };
  }

  /** Moves to `next`: each shard gained, lost or kept (see the state diagram). */
  #advance(next: ShardConfig): void {
    const previous = this.#config;
    // Installed shards still waiting for their old owner's deletion: carry the obligation.
    for (const shard of this.#sortedShards()) {
      const state = this.#stateOf(shard);
      if (state.kind !== "waitingGc") continue;
      const servers = this.#previous?.groups.get(state.fromGid);
      assert(servers !== undefined, () => `Source gid ${state.fromGid} is a previous group`);
      const { fromGid, configNum } = state;
      this.#pendingGc.set(gcKey(configNum, shard), { shard, fromGid, configNum, servers });
      this.#shards.set(shard, SERVING);
    }
    for (let shard = 0; shard < this.shardCount; shard++) {
      const before = previous.shards[shard] as number;
      const after = next.shards[shard] as number;
      const ownedBefore = before === this.gid;
      const ownedAfter = after === this.gid;
      if (ownedBefore && ownedAfter) {
        assert(this.#shards.get(shard)?.kind === "serving", () => `Kept shard ${shard} serves`);
      } else if (ownedAfter) {
        assert(!this.#shards.has(shard), () => `Gained shard ${shard} was absent`);
        if (before === GID_NONE) {
          this.#shards.set(shard, SERVING);
          this.#kv.shards.set(shard, emptyShard());
        } else {
          this.#shards.set(shard, {
            kind: "pulling",
            fromGid: before,
            configNum: next.num,
            received: 0,
            parts: 0,
            cut: 0,
          });
        }
      } else if (ownedBefore) {
        assert(this.#shards.get(shard)?.kind === "serving", () => `Lost shard ${shard} served`);
        if (after === GID_NONE) {
          // Every group left: no one will ever pull it. Keeping it would block this group
          // forever; removing all groups removes the data (the master refuses that: lastGroup).
          this.#shards.delete(shard);
          this.#kv.shards.delete(shard);
        } else {
          this.#shards.set(shard, { kind: "handingOff", toGid: after, configNum: next.num });
        }
      }
    }
    this.#previous = previous;
    this.#config = next;
  }

  #installShard(
    { configNum, shard, part, parts, cut, data }: MigrationCommand & { type: "installShard" },
  ): MigrationReply {
    if (!this.#isShard(shard)) return refuseStep(this.#badShard(shard));
    const currentNum = this.#config.num;
    if (configNum > currentNum) return refuseStep({ code: "notReady", configNum, currentNum });
    const state = this.#shards.get(shard);
    // A duplicate or stale install (the shell retries): the shard already moved on.
    if (state?.kind !== "pulling" || state.configNum !== configNum) {
      return { ok: true, changed: false };
    }
    // Parts install in order: an earlier one is a duplicate, a later one a stale pull's
    // (the shell asks for `received` next), so neither changes anything.
    if (part !== state.received) return { ok: true, changed: false };
    if (part > 0 && parts !== state.parts) {
      const reason = `part ${part} says ${parts} parts, part 0 said ${state.parts}`;
      return refuseStep({ code: "badShardData", reason });
    }
    // Every part must come from the same cut: replicas of the old owner that cut the shard
    // differently (another part size, during a rolling upgrade) would otherwise mix parts.
    if (part > 0 && cut !== state.cut) {
      return refuseStep({ code: "badShardData", reason: `part ${part} is from another cut` });
    }
    const payload = decodeShardPayload(data);
    if (!payload.ok) return refuseStep({ code: "badShardData", reason: payload.reason });
    if (part === 0) {
      this.#kv.shards.set(shard, payload.shard);
    } else {
      const partial = this.#kv.shards.get(shard);
      assert(partial !== undefined, () => `Shard ${shard} holds its first ${part} parts`);
      if (payload.shard.sessions.size > 0) {
        return refuseStep({ code: "badShardData", reason: `part ${part} carries sessions` });
      }
      for (const key of payload.shard.data.keys()) {
        if (partial.data.has(key)) {
          return refuseStep({ code: "badShardData", reason: `part ${part} repeats a key` });
        }
      }
      for (const [key, value] of payload.shard.data) partial.data.set(key, value);
    }
    this.#shards.set(
      shard,
      part === parts - 1
        ? { kind: "waitingGc", fromGid: state.fromGid, configNum }
        : { ...state, received: part + 1, parts, cut },
    );
    return { ok: true, changed: true };
  }

  #gcDone(configNum: number, shard: number): MigrationReply {
    if (!this.#isShard(shard)) return refuseStep(this.#badShard(shard));
    const currentNum = this.#config.num;
    if (configNum > currentNum) return refuseStep({ code: "notReady", configNum, currentNum });
    if (this.#pendingGc.delete(gcKey(configNum, shard))) return { ok: true, changed: true };
    const state = this.#shards.get(shard);
    if (state?.kind !== "waitingGc" || state.configNum !== configNum) {
      return { ok: true, changed: false };
    }
    this.#shards.set(shard, SERVING);
    return { ok: true, changed: true };
  }

  /**
   * Drops a shard handed off in `configNum`. Answers ok without change when the copy is
   * already gone: absent at `configNum`, or this group is past `configNum` (it could not
   * have moved on while still handing off), so a retried delete never blocks the new owner.
   */
  #deleteShard(configNum: number, shard: number): MigrationReply {
    if (!this.#isShard(shard)) return refuseStep(this.#badShard(shard));
    const currentNum = this.#config.num;
    if (configNum > currentNum) return refuseStep({ code: "notReady", configNum, currentNum });
    if (configNum < currentNum) return { ok: true, changed: false };
    const state = this.#shards.get(shard);
    if (state === undefined) return { ok: true, changed: false };
    if (state.kind !== "handingOff") {
      return refuseStep({ code: "notHandingOff", shard, configNum });
    }
    this.#shards.delete(shard);
    this.#kv.shards.delete(shard);
    this.#exported.delete(shard);
    return { ok: true, changed: true };
  }

  /**
   * The parts of a handing-off shard for `configNum` and the digest of that cut (CRC32C over
   * every part in order), cut once, then memoised.
   */
  #partsOf(shard: number, configNum: number): { parts: Uint8Array[]; cut: number } {
    const memo = this.#exported.get(shard);
    if (memo !== undefined && memo.configNum === configNum) return memo;
    const data = this.#kv.shards.get(shard);
    assert(data !== undefined, () => `Handing-off shard ${shard} holds its data`);
    const parts = encodeShardParts(data);
    const cut = parts.reduce((crc, part) => crc32c(part, 0, part.length, crc), 0);
    const exported = { configNum, parts, cut };
    this.#exported.set(shard, exported);
    return exported;
  }

  #serves(shard: number): boolean {
    const kind = this.#shards.get(shard)?.kind;
    return kind === "serving" || kind === "waitingGc";
  }

  /** Shards still moving in the current config (pulling or handingOff), in shard order. */
  #unfinishedShards(): number[] {
    return this.#sortedShards().filter((shard) => {
      const kind = this.#stateOf(shard).kind;
      return kind === "pulling" || kind === "handingOff";
    });
  }

  #tasks(kind: "pulling" | "waitingGc"): ShardTask[] {
    const tasks: ShardTask[] = [];
    for (const shard of this.#sortedShards()) {
      const state = this.#stateOf(shard);
      if (state.kind !== kind) continue;
      const servers = this.#previous?.groups.get(state.fromGid);
      assert(servers !== undefined, () => `Source gid ${state.fromGid} is a previous group`);
      const part = state.kind === "pulling" ? state.received : 0;
      tasks.push({ shard, fromGid: state.fromGid, configNum: state.configNum, part, servers });
    }
    return tasks;
  }

  #sortedShards(): number[] {
    return [...this.#shards.keys()].sort((a, b) => a - b);
  }

  #stateOf(shard: number): ShardState {
    const state = this.#shards.get(shard);
    assert(state !== undefined, () => `Shard ${shard} has a state`);
    return state;
  }

  #isShard(shard: number): boolean {
    return Number.isSafeInteger(shard) && shard >= 0 && shard < this.shardCount;
  }

  #badShard(shard: number): { code: "badShard"; shard: number; shardCount: number } {
    return { code: "badShard", shard, shardCount: this.shardCount };
  }
}

/** The key of a pending GC: configs first, then shards, so map order is (config, shard). */
function gcKey(configNum: number, shard: number): string {
  return `${configNum}/${shard}`;
}
