/**
 * The clients of the sharded simulator (sharded_world.ts): a shard master clerk with one
 * session, and the routing KV clerk with the production clerk's logic. Both reach the
 * servers only through {@link ShardedWorld.call}, so they see the world's RPC faults.
 */

import type { LeaderGuess } from "../../src/kv/clerk.ts";
import { shardOf } from "../../src/kv/shard_of.ts";
import type { MasterRequest, MasterResponse } from "../../src/shard/master_protocol.ts";
import { configFromJson, GID_NONE, type ShardConfig } from "../../src/shard/shard_config.ts";
import { assert } from "../../src/util/assert.ts";
import type { Prng } from "../../src/util/prng.ts";
import type { Invocation } from "../linearizability/mod.ts";
import { kvRequestOf } from "./kv_clerk.ts";
import type { ShardedWorld, SimMasterGroup } from "./sharded_world.ts";

/** How long a client gives one group before asking the master again (the production clerk's). */
const GROUP_CALL_TIMEOUT_MS = 2_000;
/** How long one replica gets to answer before the next is tried. */
const ATTEMPT_TIMEOUT_MS = 500;
/** The production clerk's pause before asking the master again after a wrongGroup. */
const CONFIG_RETRY_MS = 100;

/** The config in a query's answer, or null when the answer is an error. */
export function configOf(response: MasterResponse): ShardConfig | null {
  if (!response.ok || response.config === undefined) return null;
  const parsed = configFromJson(response.config);
  assert(parsed.ok, () => `the master answered a malformed config: ${parsed.ok || parsed.reason}`);
  return parsed.config;
}

/** A shard master request without its session tag. */
export type MasterChange =
  | { readonly type: "join"; readonly groups: readonly (readonly [number, readonly string[]])[] }
  | { readonly type: "leave"; readonly gids: readonly number[] }
  | { readonly type: "move"; readonly shard: number; readonly gid: number };

/** A shard master client in the simulator: one session, retries until answered. */
export class SimMasterClerk {
  readonly clientId: number;
  readonly #world: ShardedWorld;
  readonly #master: SimMasterGroup;
  readonly #random: Prng;
  readonly #leader: LeaderGuess = { server: 0 };
  #seq = 0;

  constructor(world: ShardedWorld, master: SimMasterGroup, clientId: number, random: Prng) {
    this.#world = world;
    this.#master = master;
    this.clientId = clientId;
    this.#random = random;
  }

  /** Sends a change (join, leave, move) with the next sequence number; retries until answered. */
  change(change: MasterChange, done: (response: MasterResponse) => void): void {
    const request = { ...change, clientId: this.clientId, seq: ++this.#seq } as MasterRequest;
    this.#send(request, done);
  }

  /** Config `num` (-1: the latest); retries until answered. */
  query(num: number, done: (config: ShardConfig) => void): void {
    this.#send({ type: "query", num }, (response) => {
      const config = configOf(response);
      assert(config !== null, () => `query ${num} refused: ${JSON.stringify(response)}`);
      done(config);
    });
  }

  #send(request: MasterRequest, done: (response: MasterResponse) => void): void {
    this.#world.call(this.#master.target, request, {
      timeoutMs: null,
      attemptTimeoutMs: ATTEMPT_TIMEOUT_MS,
      leader: this.#leader,
      random: this.#random,
    }, (response) => done(response!));
  }
}

/**
 * The routing clerk in the simulator, with the production clerk's logic (sharded_clerk.ts):
 * key → shard by {@link shardOf}; shard → group from a cached config; on wrongGroup, or when
 * the group does not answer within 2 s, wait 100 ms and ask the master again. One session
 * spans every group. One operation at a time; each is recorded for the checker.
 */
export class SimShardedClerk {
  readonly clientId: number;
  completed = 0;
  readonly #world: ShardedWorld;
  readonly #masterClerk: SimMasterClerk;
  readonly #random: Prng;
  readonly #leaders = new Map<number, LeaderGuess>();
  #config: ShardConfig | null = null;
  #seq = 0;
  #busy = false;

  constructor(world: ShardedWorld, master: SimMasterGroup, clientId: number, random: Prng) {
    this.#world = world;
    this.clientId = clientId;
    this.#random = random;
    this.#masterClerk = new SimMasterClerk(world, master, clientId, random.fork());
  }

  get busy(): boolean {
    return this.#busy;
  }

  /** Runs one operation; `done` gets the value ("" for writes), or null if refused for good. */
  run(invocation: Invocation, done: (output: string | null) => void): void {
    assert(!this.#busy, () => `clerk ${this.clientId} already has an operation in flight`);
    this.#busy = true;
    const request = kvRequestOf(invocation, this.clientId, () => ++this.#seq);
    const world = this.#world;
    const handle = world.recorder.begin(this.clientId, invocation);
    const finish = (output: string | null) => {
      this.#busy = false;
      if (output === null) world.recorder.timeout(handle);
      else if (invocation.kind === "get") world.recorder.end(handle, output);
      else world.recorder.end(handle);
      if (output !== null) this.completed++;
      done(output);
    };
    const retryLater = () => {
      this.#config = null;
      world.scheduler.at(CONFIG_RETRY_MS, attemptOnce);
    };
    const attemptOnce = (): void => {
      const config = this.#config;
      if (config === null) {
        return this.#masterClerk.query(-1, (latest) => {
          this.#config = latest;
          attemptOnce();
        });
      }
      const gid = config.shards[shardOf(request.key, config.shards.length)] ?? GID_NONE;
      const group = world.groups.get(gid);
      const names = config.groups.get(gid);
      if (gid === GID_NONE || group === undefined || names === undefined) return retryLater();
      let leader = this.#leaders.get(gid);
      if (leader === undefined) this.#leaders.set(gid, leader = { server: 0 });
      world.call(group.kvTarget, request, {
        timeoutMs: GROUP_CALL_TIMEOUT_MS,
        attemptTimeoutMs: ATTEMPT_TIMEOUT_MS,
        leader,
        random: this.#random,
      }, (response) => {
        if (response === null) return retryLater();
        if (response.ok) return finish(request.type === "get" ? response.value ?? "" : "");
        if (response.error.code === "wrongGroup") return retryLater();
        finish(null); // Refused for good: the effect is unknown to the checker.
      });
    };
    attemptOnce();
  }
}
