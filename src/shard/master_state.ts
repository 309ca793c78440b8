/**
 * The shard master's state machine, pure (STYLE.md #1): the numbered history of configs and
 * the client sessions. Join / Leave / Move each make config latest + 1 (the lab's semantics,
 * classic-lab-tests.md §3.1); a refused command makes none. `apply` is deterministic (the
 * same commands give the same configs, replies and snapshot bytes on every replica) and
 * exactly-once per (client, seq) through a session table, as the KV state machine is.
 *
 * Every accepted command makes a new config, a Move to the shard's current owner included:
 * the reply then always names the config the command created, and the lab only requires that
 * a Move that changes the mapping raise Num.
 *
 * A Leave of every remaining group is refused (`lastGroup`; why in `#leave`): once a config
 * has groups, every later one made by this version has at least one.
 *
 * Invariant: #configs[i].num === i; #configs[0] is the initial config; every config is
 * well-formed (shard_config.ts) and has #shardCount shards; configs are frozen and never
 * share arrays or maps with each other.
 */

import { assert, assertNever } from "../util/assert.ts";
import { SessionTable } from "../kv/session_table.ts";
import { GROUPS_MAX, MASTER_SESSIONS_MAX, SHARDS_MAX } from "./limits.ts";
import { commandProblem, type MasterCommand, type MasterReply, refuse } from "./master_command.ts";
import { decodeMasterSnapshot, encodeMasterSnapshot } from "./master_snapshot.ts";
import { rebalance } from "./rebalance.ts";
import {
  configProblem,
  initialConfig,
  makeConfig,
  sameConfig,
  type ShardConfig,
} from "./shard_config.ts";

type Groups = ReadonlyMap<number, readonly string[]>;

/** The shard master's whole replicated state. */
export class ShardMasterState {
  /** The number of shards, fixed for the cluster's life. */
  readonly shardCount: number;
  readonly #configs: ShardConfig[];
  readonly #sessions = new SessionTable<MasterReply>(MASTER_SESSIONS_MAX);
  /** Log time: the largest leader timestamp applied so far (never decreases). */
  #logTimeMs = 0;

  constructor(shardCount: number) {
    assert(
      Number.isSafeInteger(shardCount) && shardCount >= 1 && shardCount <= SHARDS_MAX,
      () => `A cluster has 1..${SHARDS_MAX} shards, got ${shardCount}`,
    );
    this.shardCount = shardCount;
    this.#configs = [initialConfig(shardCount)];
  }

  /** Log time as of the last applied command. */
  get logTimeMs(): number {
    return this.#logTimeMs;
  }

  /** Applies a command exactly once per (client, seq); a retry gets the first reply. */
  apply(command: MasterCommand): MasterReply {
    this.#logTimeMs = Math.max(this.#logTimeMs, command.timeMs);
    this.#sessions.expire(this.#logTimeMs);
    const check = this.#sessions.check(command.clientId, command.seq, this.#logTimeMs);
    switch (check.kind) {
      case "duplicate":
        return check.reply;
      case "stale":
        return refuse(
          "staleRequest",
          `Command ${command.seq} of client ${command.clientId} is older than its last, ${check.lastSeq}`,
        );
      case "full":
        return refuse(
          "tooManySessions",
          `The shard master holds ${this.#sessions.size} sessions, none idle long enough to drop`,
        );
      case "new":
        break;
      default:
        return assertNever(check, "session check");
    }
    const countBefore = this.#configs.length;
    const reply = this.#change(command);
    assert(
      this.#configs.length === countBefore + (reply.ok ? 1 : 0),
      "An accepted command makes exactly one config; a refused one makes none",
    );
    this.#sessions.record(command.clientId, command.seq, reply, this.#logTimeMs);
    return reply;
  }

  /** Config `num`; the latest when `num` is undefined, negative (the lab's -1) or not yet made. */
  query(num?: number): ShardConfig {
    if (num === undefined) return this.latest();
    assert(Number.isSafeInteger(num), () => `A config number is an integer, got ${num}`);
    return this.#configs[num] ?? this.latest();
  }

  /** The newest config. */
  latest(): ShardConfig {
    const config = this.#configs[this.#configs.length - 1];
    assert(config !== undefined, "The history always holds config 0");
    return config;
  }

  /** The whole state as canonical bytes (master_snapshot.ts). */
  snapshot(): Uint8Array {
    return encodeMasterSnapshot({
      shardCount: this.shardCount,
      logTimeMs: this.#logTimeMs,
      configs: this.#configs,
      sessions: [...this.#sessions.entries()],
    });
  }

  /** Rebuilds a state from {@link snapshot} bytes. */
  static restore(bytes: Uint8Array): ShardMasterState {
    const snapshot = decodeMasterSnapshot(bytes);
    const state = new ShardMasterState(snapshot.shardCount);
    assert(snapshot.configs.length >= 1, "A snapshot holds config 0 at least");
    assert(
      sameConfig(snapshot.configs[0] as ShardConfig, state.latest()),
      "A snapshot's config 0 is the initial config",
    );
    // A loop, not push(...configs): a long history would overflow the argument list.
    for (const config of snapshot.configs.slice(1)) state.#configs.push(config);
    assert(
      snapshot.sessions.length <= MASTER_SESSIONS_MAX,
      () => `A snapshot holds ${snapshot.sessions.length} sessions, over ${MASTER_SESSIONS_MAX}`,
    );
    for (const session of snapshot.sessions) state.#sessions.merge(session);
    state.#logTimeMs = snapshot.logTimeMs;
    state.invariants();
    return state;
  }

  /** Checks the whole invariant (O(history)); the simulator and tests call it. */
  invariants(): void {
    assert(this.#configs.length >= 1, "The history always holds config 0");
    this.#configs.forEach((config, num) => this.#checkConfig(config, num));
    const zero = this.#configs[0] as ShardConfig;
    assert(zero.groups.size === 0, "Config 0 has no groups");
  }

  #checkConfig(config: ShardConfig, num: number): void {
    assert(config.num === num, () => `Config at position ${num} is numbered ${config.num}`);
    assert(config.shards.length === this.shardCount, () => `Config ${num} has a wrong shard count`);
    assert(Object.isFrozen(config) && Object.isFrozen(config.shards), "Configs are frozen");
    const problem = configProblem(config);
    assert(problem === null, () => `Config ${num} is malformed: ${problem}`);
  }

  /** Validates and performs a new command; pushes one config when it is accepted. */
  #change(command: MasterCommand): MasterReply {
    const problem = commandProblem(command, this.shardCount);
    if (problem !== null) return { ok: false, error: problem };
    const latest = this.latest();
    switch (command.type) {
      case "join":
        return this.#join(latest, command.groups);
      case "leave":
        return this.#leave(latest, command.gids);
      case "move":
        return this.#move(latest, command.shard, command.gid);
      default:
        return assertNever(command, "shard master command");
    }
  }

  #join(
    latest: ShardConfig,
    joining: readonly (readonly [number, readonly string[]])[],
  ): MasterReply {
    const present = joining.find(([gid]) => latest.groups.has(gid));
    if (present !== undefined) {
      return refuse("groupExists", `Cannot join gid ${present[0]}: it is already a group`);
    }
    const groupCount = latest.groups.size + joining.length;
    if (groupCount > GROUPS_MAX) {
      return refuse(
        "tooManyGroups",
        `Cannot join ${joining.length} groups: ${groupCount} would exceed ${GROUPS_MAX}`,
      );
    }
    const groups = new Map<number, readonly string[]>([...latest.groups, ...joining]);
    return this.#rebalanced(latest, groups);
  }

  /**
   * Removes `leaving` and rebalances their shards onto the groups that stay. A Leave that
   * would leave no group is refused with `lastGroup`, final (a retry gets the same answer
   * from the session table) and with no new config: every shard would go to gid 0, and the
   * groups that held them drop their data, as nothing can pull it (group_state.ts), so
   * acknowledged writes would be lost. The 2016 lab never removed the last group; the 2018+
   * lab's last step ("Leave[2]" to a config with no groups) is deliberately not supported.
   * Configs with no groups made by an older version stay valid history (snapshots may hold
   * them), so this is a rule about new Leaves, not an invariant of every config.
   */
  #leave(latest: ShardConfig, leaving: readonly number[]): MasterReply {
    const absent = leaving.find((gid) => !latest.groups.has(gid));
    if (absent !== undefined) {
      return refuse("unknownGroup", `Cannot leave gid ${absent}: it is not a group`);
    }
    const gone = new Set(leaving);
    const groups = new Map([...latest.groups].filter(([gid]) => !gone.has(gid)));
    if (groups.size === 0) {
      assert(latest.groups.size === leaving.length, "Only a Leave of every group empties it");
      return refuse("lastGroup", this.#lastGroupMessage(leaving));
    }
    return this.#rebalanced(latest, groups);
  }

  #lastGroupMessage(leaving: readonly number[]): string {
    const gids = leaving.length === 1
      ? `gid ${leaving[0]}`
      : `gids ${[...leaving].sort((a, b) => a - b).join(", ")}`;
    const shards = this.shardCount === 1
      ? "the 1 shard, and its data"
      : `the ${this.shardCount} shards, and their data`;
    return `Cannot leave ${gids}: no group would remain to own ${shards} would be lost; ` +
      "join another group first";
  }

  #move(latest: ShardConfig, shard: number, gid: number): MasterReply {
    if (!latest.groups.has(gid)) {
      return refuse("unknownGroup", `Cannot move shard ${shard} to gid ${gid}: not a group`);
    }
    // Honoured exactly, even when it unbalances: the lab's Move test needs that.
    const shards = [...latest.shards];
    shards[shard] = gid;
    return this.#append(shards, latest.groups);
  }

  /** The next config over `groups`, shards spread by {@link rebalance}. */
  #rebalanced(latest: ShardConfig, groups: Groups): MasterReply {
    assert(
      groups.size >= 1,
      "A Join adds a group and a Leave keeps one: never a rebalance to none",
    );
    const gids = [...groups.keys()].sort((a, b) => a - b);
    return this.#append(rebalance(latest.shards, gids), groups);
  }

  #append(shards: readonly number[], groups: Groups): MasterReply {
    const num = this.#configs.length;
    // makeConfig copies every array and map: no config shares anything with another.
    const config = makeConfig(num, shards, groups);
    this.#checkConfig(config, num);
    this.#configs.push(config);
    return { ok: true, num };
  }
}
