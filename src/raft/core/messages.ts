/**
 * Raft messages: one shape per kind (STYLE.md #2). Every message names its sender,
 * its receiver and the sender's term; the rest depends on the kind.
 */

import type { Entry, Index, NodeId, Term } from "./types.ts";

interface Header {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: Term;
}

/** PreVote (thesis §9.6): "would you vote for me in `term`?", asked without raising our term. */
export interface PreVoteRequest extends Header {
  readonly type: "preVote";
  readonly lastIndex: Index;
  readonly lastTerm: Term;
}

/** The answer to a PreVote; a grant echoes the prospective term, a refusal the voter's term. */
export interface PreVoteResponse extends Header {
  readonly type: "preVoteResponse";
  readonly granted: boolean;
}

/** RequestVote (§5.2). `transfer` marks an election started by TimeoutNow (thesis §3.10). */
export interface VoteRequest extends Header {
  readonly type: "vote";
  readonly lastIndex: Index;
  readonly lastTerm: Term;
  readonly transfer: boolean;
}

/** The answer to RequestVote. */
export interface VoteResponse extends Header {
  readonly type: "voteResponse";
  readonly granted: boolean;
}

/** AppendEntries (§5.3): entries after `prevIndex`, and the leader's commit index. */
export interface AppendRequest extends Header {
  readonly type: "append";
  readonly prevIndex: Index;
  readonly prevTerm: Term;
  readonly entries: readonly Entry[];
  readonly commit: Index;
}

/** The follower's log matches the leader's up to `matchIndex`. */
export interface AppendAccepted extends Header {
  readonly type: "appendAccepted";
  readonly matchIndex: Index;
}

/**
 * The follower's log does not contain `rejectedIndex` with the leader's term. The hints let
 * the leader skip a whole term of divergent entries per round trip (§5.3, "fast backtracking"):
 * `conflictTerm` is the term the follower has at `rejectedIndex` (0 when its log is shorter)
 * and `conflictIndex` the first index it holds with that term (or its last index + 1).
 */
export interface AppendRejected extends Header {
  readonly type: "appendRejected";
  readonly rejectedIndex: Index;
  readonly conflictTerm: Term;
  readonly conflictIndex: Index;
}

/**
 * A heartbeat: keeps followers from starting elections, carries the commit index a
 * follower can safely adopt, and a round number that ReadIndex uses to confirm leadership.
 */
export interface HeartbeatRequest extends Header {
  readonly type: "heartbeat";
  readonly commit: Index;
  readonly round: number;
}

/** Acknowledges heartbeat `round` (thesis §6.4). */
export interface HeartbeatResponse extends Header {
  readonly type: "heartbeatResponse";
  readonly round: number;
}

/** One chunk of a snapshot (§7), resumable by byte offset. */
export interface InstallSnapshotRequest extends Header {
  readonly type: "installSnapshot";
  readonly snapshotIndex: Index;
  readonly snapshotTerm: Term;
  readonly totalBytes: number;
  readonly offset: number;
  readonly chunk: Uint8Array;
}

/**
 * Progress of a snapshot transfer: the follower has the first `nextOffset` bytes, or,
 * when `installed`, has installed the whole snapshot (durably, since responses are sent
 * after the ready that carries the snapshot is persisted).
 */
export interface InstallSnapshotResponse extends Header {
  readonly type: "installSnapshotResponse";
  readonly snapshotIndex: Index;
  readonly nextOffset: number;
  readonly installed: boolean;
}

/** Leadership transfer (thesis §3.10): "start an election now". */
export interface TimeoutNow extends Header {
  readonly type: "timeoutNow";
}

/** Every message the core sends or receives. */
export type Message =
  | PreVoteRequest
  | PreVoteResponse
  | VoteRequest
  | VoteResponse
  | AppendRequest
  | AppendAccepted
  | AppendRejected
  | HeartbeatRequest
  | HeartbeatResponse
  | InstallSnapshotRequest
  | InstallSnapshotResponse
  | TimeoutNow;

/** The kind of a message. */
export type MessageType = Message["type"];

/** Kinds only a leader sends: they may leave before the leader's own fsync (thesis §10.2.1). */
export const LEADER_MESSAGE: Readonly<Record<MessageType, boolean>> = {
  preVote: false,
  preVoteResponse: false,
  vote: false,
  voteResponse: false,
  append: true,
  appendAccepted: false,
  appendRejected: false,
  heartbeat: true,
  heartbeatResponse: false,
  installSnapshot: true,
  installSnapshotResponse: false,
  timeoutNow: true,
} satisfies Record<MessageType, boolean>;
