/**
 * The vocabulary of the Raft core: branded numbers, log entries, persisted state.
 * Numbers are branded so that a term is never passed where an index is expected; decoders
 * brand values after checking them (STYLE.md #6), and inside the core the types are trusted.
 */

/** A Raft term (§5.1). 0 means "before any election". */
export type Term = number & { readonly __brand: "Term" };
/** A log index. Indexes start at 1; 0 is the empty prefix before the first entry. */
export type Index = number & { readonly __brand: "Index" };
/** The id of a voter inside one Raft group: a positive integer. */
export type NodeId = number & { readonly __brand: "NodeId" };

/** Brands a number as a {@link Term}; the caller has checked it is a non-negative safe integer. */
export const asTerm = (n: number): Term => n as Term;
/** Brands a number as an {@link Index}. */
export const asIndex = (n: number): Index => n as Index;
/** Brands a number as a {@link NodeId}. */
export const asNodeId = (n: number): NodeId => n as NodeId;

/** True when `n` can be a term or an index: a non-negative safe integer. */
export function isCounter(n: unknown): n is number {
  return typeof n === "number" && Number.isSafeInteger(n) && n >= 0;
}

/** True when `n` can be a node id: a positive safe integer. */
export function isNodeId(n: unknown): n is NodeId {
  return typeof n === "number" && Number.isSafeInteger(n) && n > 0;
}

/**
 * One log entry. A `command` carries application bytes; a `noop` is what a new leader
 * appends so that it can commit an entry of its own term (§5.4.2, thesis §6.4).
 */
export type Entry =
  | {
    readonly type: "command";
    readonly term: Term;
    readonly index: Index;
    readonly data: Uint8Array;
  }
  | { readonly type: "noop"; readonly term: Term; readonly index: Index };

/** Bytes an entry is counted as, for batching and flow-control limits. */
export function entryBytes(entry: Entry): number {
  // 24 bytes stands for the type, term and index as they are framed on the wire.
  return entry.type === "command" ? entry.data.byteLength + 24 : 24;
}

/** The state that must be durable before any message that depends on it is sent (§5.1 Figure 2). */
export interface HardState {
  readonly term: Term;
  readonly votedFor: NodeId | null;
  readonly commit: Index;
}

/** Identifies the last entry a snapshot replaces. */
export interface SnapshotMeta {
  readonly index: Index;
  readonly term: Term;
}

/** A state machine snapshot: everything up to and including `meta.index`. */
export interface Snapshot {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
}

/** What a node recovers from storage when it starts. */
export interface PersistedState {
  readonly hardState: HardState;
  /** The latest durable snapshot, or null when the log was never compacted. */
  readonly snapshot: Snapshot | null;
  /** The entries after the snapshot (or from index 1), contiguous. */
  readonly entries: readonly Entry[];
}

/** The state of a brand-new node: term 0, no vote, empty log. */
export const EMPTY_PERSISTED_STATE: PersistedState = Object.freeze({
  hardState: { term: asTerm(0), votedFor: null, commit: asIndex(0) },
  snapshot: null,
  entries: [],
});

/** The role a node plays (§5.2; `preCandidate` is the PreVote phase of thesis §9.6). */
export type Role = "follower" | "preCandidate" | "candidate" | "leader";

/** An opaque number the application attaches to a ReadIndex request to match the answer. */
export type ReadContext = number;

/** The answer to a ReadIndex request: serve the read once `applied >= index`, or fail it. */
export type ReadState =
  | { readonly ok: true; readonly context: ReadContext; readonly index: Index }
  | { readonly ok: false; readonly context: ReadContext; readonly error: NotLeader };

/** A request that only the leader can serve reached another node. */
export interface NotLeader {
  readonly code: "notLeader";
  /** The leader this node believes in, or null when it knows none. */
  readonly leaderHint: NodeId | null;
}

/** Why a proposal was refused: all of these are normal operation, not bugs. */
export type ProposeError =
  | NotLeader
  | { readonly code: "transferring"; readonly to: NodeId }
  | { readonly code: "tooLarge"; readonly bytes: number; readonly maxBytes: number }
  | { readonly code: "busy"; readonly uncommittedBytes: number; readonly maxBytes: number };

/** The result of {@link Raft.propose}: where the entry will be committed if all goes well. */
export type ProposeResult =
  | { readonly ok: true; readonly index: Index; readonly term: Term }
  | { readonly ok: false; readonly error: ProposeError };
