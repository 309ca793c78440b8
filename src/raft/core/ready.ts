/** What the core asks of its driver, and what it reports about itself. */

import type { Message } from "./messages.ts";
import type { ProgressState } from "./progress.ts";
import type { Entry, HardState, Index, NodeId, ReadState, Role, Snapshot, Term } from "./types.ts";

/**
 * One batch of work for the driver, in this order:
 * 1. persist `snapshot` (if any), `entries` (the first may overwrite, truncating what
 *    follows) and `hardState` (if changed), with one fdatasync;
 * 2. send `messages` (a leader's append, heartbeat, snapshot and TimeoutNow messages may be
 *    sent before step 1 completes; every other message only after);
 * 3. restore the state machine from `snapshot` (if any), then apply `committedEntries` in order;
 * 4. serve `readStates` once the applied index reaches each read's index;
 * 5. call `advance(ready)`.
 */
export interface Ready {
  readonly hardState: HardState | null;
  readonly entries: readonly Entry[];
  readonly snapshot: Snapshot | null;
  readonly committedEntries: readonly Entry[];
  readonly messages: readonly Message[];
  readonly readStates: readonly ReadState[];
}

/** A follower as the leader sees it. */
export interface PeerStatus {
  readonly id: NodeId;
  readonly match: Index;
  readonly next: Index;
  readonly state: ProgressState;
  readonly recentActive: boolean;
  readonly inflight: number;
}

/** A snapshot of the core's state, for the admin endpoint, metrics and tests. */
export interface RaftStatus {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: Term;
  readonly leader: NodeId | null;
  readonly votedFor: NodeId | null;
  readonly commit: Index;
  readonly applied: Index;
  readonly lastIndex: Index;
  readonly lastTerm: Term;
  readonly persistedIndex: Index;
  readonly snapshotIndex: Index;
  readonly logBytes: number;
  readonly transferee: NodeId | null;
  readonly pendingReads: number;
  readonly progress: readonly PeerStatus[];
}
