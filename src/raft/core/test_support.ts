/**
 * Helpers for the core's unit tests: small configs, hand-built logs and persisted state, and
 * a {@link Router} that drives 1..9 cores by hand. The router follows the ready contract
 * (take `ready()`, "persist", queue its messages, record what is applied, `advance`), and
 * delivers queued messages only when a test asks, so a test can drop, hold, duplicate or
 * reorder any message. No clock, no simulator: every step is explicit.
 */

import { assert } from "../../util/assert.ts";
import { Prng, type Random } from "../../util/prng.ts";
import type { Message } from "./messages.ts";
import { Raft } from "./raft.ts";
import type { RaftConfig } from "./raft_config.ts";
import type { Ready } from "./ready.ts";
import {
  asIndex,
  asNodeId,
  asTerm,
  EMPTY_PERSISTED_STATE,
  type Entry,
  type Index,
  type NodeId,
  type PersistedState,
  type ReadState,
  type Snapshot,
  type Term,
} from "./types.ts";

/** Small settings that keep scenarios short: election after 10..19 ticks, heartbeat every 2. */
export const TEST_SETTINGS = {
  electionTicks: 10,
  heartbeatTicks: 2,
  preVote: true,
  checkQuorum: true,
  maxAppendEntries: 64,
  maxAppendBytes: 64 * 1024,
  maxInflightAppends: 8,
  maxInflightBytes: 1024 * 1024,
  maxUncommittedBytes: 1024 * 1024,
  maxApplyBytes: 1024 * 1024,
  snapshotChunkBytes: 1024,
} as const;

/** Settings a test may override. */
export type TestSettings = Partial<Omit<RaftConfig, "id" | "voters">>;

/** A {@link Random} that always draws `bound - 1` (the longest election timeout). */
export const LONGEST_TIMEOUT: Random = { int: (bound) => bound - 1 };
/** A {@link Random} that always draws 0 (the shortest election timeout). */
export const SHORTEST_TIMEOUT: Random = { int: () => 0 };

/** Node ids 1..count. */
export function nodeIds(count: number): NodeId[] {
  return Array.from({ length: count }, (_, k) => asNodeId(k + 1));
}

/** The config of node `id` in a group of voters 1..voterCount. */
export function testConfig(
  id: number,
  voterCount: number,
  settings: TestSettings = {},
): RaftConfig {
  return {
    ...TEST_SETTINGS,
    random: new Prng(1000 + id),
    ...settings,
    id: asNodeId(id),
    voters: nodeIds(voterCount),
  };
}

/** A command entry; its data is `bytes` bytes (default 1) filled with the index. */
export function command(index: number, term: number, bytes = 1): Entry {
  return {
    type: "command",
    index: asIndex(index),
    term: asTerm(term),
    data: new Uint8Array(bytes).fill(index & 0xff),
  };
}

/** A no-op entry, as a new leader appends. */
export function noop(index: number, term: number): Entry {
  return { type: "noop", index: asIndex(index), term: asTerm(term) };
}

/** Command entries with the given terms, starting at index `first`. */
export function entriesWithTerms(terms: readonly number[], first = 1): Entry[] {
  return terms.map((term, k) => command(first + k, term));
}

/** The terms of a run: `run(2, 3)` is `[2, 2, 2]`. */
export function run(term: number, count: number): number[] {
  return Array.from({ length: count }, () => term);
}

/** Persisted state holding a log with `terms` (after the optional snapshot). */
export function persistedLog(
  terms: readonly number[],
  options: {
    term?: number;
    votedFor?: number | null;
    commit?: number;
    snapshot?: Snapshot | null;
  } = {},
): PersistedState {
  const snapshot = options.snapshot ?? null;
  const entries = entriesWithTerms(terms, (snapshot?.meta.index ?? 0) + 1);
  const lastTerm = terms.at(-1) ?? snapshot?.meta.term ?? 0;
  const votedFor = options.votedFor ?? null;
  return {
    hardState: {
      term: asTerm(options.term ?? lastTerm),
      votedFor: votedFor === null ? null : asNodeId(votedFor),
      commit: asIndex(options.commit ?? 0),
    },
    snapshot,
    entries,
  };
}

/** A snapshot of `bytes` bytes (0, 1, 2, ...) covering entries up to `index`. */
export function snapshotOf(index: number, term: number, bytes = 8): Snapshot {
  return {
    meta: { index: asIndex(index), term: asTerm(term) },
    data: Uint8Array.from({ length: bytes }, (_, k) => k & 0xff),
  };
}

/** Drives cores by hand: readies are processed on request, messages delivered on request. */
export class Router {
  readonly cores = new Map<NodeId, Raft>();
  /** Messages taken from readies and not yet delivered (or dropped). */
  queue: Message[] = [];
  /** Every message ever taken from a ready, in order, including dropped ones. */
  readonly sent: Message[] = [];
  /** Entries each core handed to its application, in order. */
  readonly applied = new Map<NodeId, Entry[]>();
  /** Snapshots each core handed to its application. */
  readonly snapshots = new Map<NodeId, Snapshot[]>();
  /** Read states each core reported. */
  readonly readStates = new Map<NodeId, ReadState[]>();
  /** Last index each application has (from entries or a snapshot). */
  readonly appliedIndex = new Map<NodeId, number>();
  /** Messages for which this returns true are dropped at delivery. */
  drop: (message: Message) => boolean = () => false;
  readonly #isolated = new Set<NodeId>();

  constructor(
    count: number,
    settings: TestSettings | ((id: NodeId) => TestSettings) = {},
    persisted: (id: NodeId) => PersistedState = () => EMPTY_PERSISTED_STATE,
  ) {
    for (const id of nodeIds(count)) {
      const nodeSettings = typeof settings === "function" ? settings(id) : settings;
      const state = persisted(id);
      this.cores.set(id, new Raft(testConfig(id, count, nodeSettings), state));
      this.applied.set(id, []);
      this.snapshots.set(id, []);
      this.readStates.set(id, []);
      this.appliedIndex.set(id, state.snapshot?.meta.index ?? 0);
    }
  }

  /** The core with id `id`. */
  core(id: number): Raft {
    const core = this.cores.get(asNodeId(id));
    assert(core !== undefined, () => `No core ${id}`);
    return core;
  }

  /** Cuts `id` off: messages from or to it are dropped. */
  isolate(id: number): void {
    this.#isolated.add(asNodeId(id));
  }

  /** Reconnects `id`. */
  heal(id: number): void {
    this.#isolated.delete(asNodeId(id));
  }

  /** True when the message would be dropped now. */
  isDropped(message: Message): boolean {
    return this.#isolated.has(message.from) || this.#isolated.has(message.to) ||
      this.drop(message);
  }

  /** Takes one ready of `id` (if any), records it, queues its messages and advances. */
  processReady(id: number): Ready | null {
    const core = this.core(id);
    if (!core.hasReady()) return null;
    const ready = core.ready();
    const nodeId = asNodeId(id);
    if (ready.snapshot !== null) {
      this.snapshots.get(nodeId)!.push(ready.snapshot);
      this.appliedIndex.set(nodeId, ready.snapshot.meta.index);
    }
    for (const entry of ready.committedEntries) {
      const last = this.appliedIndex.get(nodeId)!;
      assert(
        entry.index === last + 1,
        () => `Core ${id} applies ${entry.index} after ${last}`,
      );
      this.applied.get(nodeId)!.push(entry);
      this.appliedIndex.set(nodeId, entry.index);
    }
    this.readStates.get(nodeId)!.push(...ready.readStates);
    this.sent.push(...ready.messages);
    this.queue.push(...ready.messages);
    core.advance(ready);
    core.invariants();
    return ready;
  }

  /** Processes readies of every core until none has one. */
  flush(): void {
    for (let round = 0; round < 1000; round++) {
      let any = false;
      for (const id of this.cores.keys()) if (this.processReady(id) !== null) any = true;
      if (!any) return;
    }
    assert(false, "cores keep producing readies");
  }

  /** Removes and returns the queued messages that match `filter`. */
  take(filter: (message: Message) => boolean = () => true): Message[] {
    const taken = this.queue.filter(filter);
    this.queue = this.queue.filter((message) => !filter(message));
    return taken;
  }

  /** Steps one message into its recipient (unless it is dropped) and checks invariants. */
  deliver(message: Message): void {
    if (this.isDropped(message)) return;
    const core = this.core(message.to);
    core.step(message);
    core.invariants();
  }

  /** Delivers the queued messages that match `filter` (not the ones they cause); returns how many. */
  deliverQueued(filter: (message: Message) => boolean = () => true): number {
    const messages = this.take(filter);
    for (const message of messages) this.deliver(message);
    return messages.length;
  }

  /** Flushes and delivers until no core has anything to do and nothing is queued. */
  stabilize(): void {
    for (let round = 0; round < 10_000; round++) {
      this.flush();
      if (this.queue.length === 0) return;
      this.deliverQueued();
    }
    assert(false, "the cluster does not stabilize");
  }

  /** Ticks `id` once (no readies are processed). */
  tick(id: number): void {
    const core = this.core(id);
    core.tick();
    core.invariants();
  }

  /** `count` times: tick every core, then stabilize. */
  tickAll(count = 1): void {
    for (let k = 0; k < count; k++) {
      for (const id of this.cores.keys()) this.tick(id);
      this.stabilize();
    }
  }

  /** Ticks `id` alone until it starts a (pre-)campaign, then stabilizes; `id` must win. */
  elect(id: number): Raft {
    const core = this.core(id);
    for (let k = 0; k < 1000 && core.role === "follower"; k++) this.tick(id);
    this.stabilize();
    assert(core.role === "leader", () => `Core ${id} did not win: it is a ${core.role}`);
    return core;
  }

  /** Proposes `count` commands of `bytes` bytes on leader `id`; all must be accepted. */
  propose(id: number, count = 1, bytes = 1): Index[] {
    const indexes: Index[] = [];
    for (let k = 0; k < count; k++) {
      const result = this.core(id).propose(new Uint8Array(bytes).fill(k & 0xff));
      assert(result.ok, () => `Proposal refused: ${JSON.stringify(result)}`);
      indexes.push(result.index);
    }
    return indexes;
  }

  /** Messages sent so far that match `filter`. */
  sentWhere(filter: (message: Message) => boolean): Message[] {
    return this.sent.filter(filter);
  }

  /** Checks every core's invariants. */
  invariants(): void {
    for (const core of this.cores.values()) core.invariants();
  }
}

/** Ticks `id` until it campaigns, then delivers everything but appends until the vote ends. */
export function electWithoutAppends(router: Router, id: number): Raft {
  const core = router.core(id);
  for (let k = 0; k < 1000 && core.role === "follower"; k++) router.tick(id);
  const previous = router.drop;
  router.drop = (message) => message.type === "append" || previous(message);
  router.stabilize();
  router.drop = previous;
  assert(core.role === "leader", () => `Core ${id} did not win: it is a ${core.role}`);
  return core;
}

/** True for messages of kind `type` (optionally from `from` to `to`). */
export function isKind<T extends Message["type"]>(
  type: T,
  from?: number,
  to?: number,
): (message: Message) => message is Extract<Message, { type: T }> {
  return (message): message is Extract<Message, { type: T }> =>
    message.type === type && (from === undefined || message.from === from) &&
    (to === undefined || message.to === to);
}

/** The terms in `core`'s log from its first index to its last. */
export function logTerms(core: Raft): Term[] {
  const terms: Term[] = [];
  for (let index = core.log.firstIndex(); index <= core.log.lastIndex(); index++) {
    terms.push(core.log.term(asIndex(index))!);
  }
  return terms;
}

const FROM = asNodeId(2);
const TO = asNodeId(1);

/** One well-formed message of every kind, from node 2 to node 1. */
export const WELL_FORMED: readonly Message[] = [
  {
    type: "preVote",
    from: FROM,
    to: TO,
    term: asTerm(3),
    lastIndex: asIndex(5),
    lastTerm: asTerm(2),
  },
  { type: "preVoteResponse", from: FROM, to: TO, term: asTerm(3), granted: true },
  {
    type: "vote",
    from: FROM,
    to: TO,
    term: asTerm(3),
    lastIndex: asIndex(5),
    lastTerm: asTerm(3),
    transfer: false,
  },
  { type: "voteResponse", from: FROM, to: TO, term: asTerm(3), granted: false },
  {
    type: "append",
    from: FROM,
    to: TO,
    term: asTerm(3),
    prevIndex: asIndex(4),
    prevTerm: asTerm(2),
    entries: [command(5, 2), command(6, 3)],
    commit: asIndex(4),
  },
  { type: "appendAccepted", from: FROM, to: TO, term: asTerm(3), matchIndex: asIndex(6) },
  {
    type: "appendRejected",
    from: FROM,
    to: TO,
    term: asTerm(3),
    rejectedIndex: asIndex(6),
    conflictTerm: asTerm(2),
    conflictIndex: asIndex(3),
  },
  { type: "heartbeat", from: FROM, to: TO, term: asTerm(3), commit: asIndex(4), round: 7 },
  { type: "heartbeatResponse", from: FROM, to: TO, term: asTerm(3), round: 7 },
  {
    type: "installSnapshot",
    from: FROM,
    to: TO,
    term: asTerm(3),
    snapshotIndex: asIndex(9),
    snapshotTerm: asTerm(2),
    totalBytes: 10,
    offset: 8,
    chunk: new Uint8Array(2),
  },
  {
    type: "installSnapshotResponse",
    from: FROM,
    to: TO,
    term: asTerm(3),
    snapshotIndex: asIndex(9),
    nextOffset: 10,
    installed: false,
  },
  { type: "timeoutNow", from: FROM, to: TO, term: asTerm(3) },
];

/** Numbers that are never a valid term, index, offset or round. */
export const BAD_NUMBERS: readonly number[] = [
  -1,
  Number.NaN,
  1.5,
  Number.POSITIVE_INFINITY,
  Number.MAX_SAFE_INTEGER + 2,
];

/** The numeric fields of `message` other than from / to. */
export function numericFields(message: Message): string[] {
  return Object.entries(message)
    .filter(([key, value]) => typeof value === "number" && key !== "from" && key !== "to")
    .map(([key]) => key);
}
