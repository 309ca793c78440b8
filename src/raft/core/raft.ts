/**
 * The Raft core: a pure, synchronous state machine in the style of etcd-io/raft.
 *
 * The driver feeds it messages (`step`), time (`tick`) and requests (`propose`, `readIndex`,
 * `transferLeadership`, `compact`), and repeatedly takes a {@link Ready}: state to persist,
 * messages to send, entries to apply. It persists the ready's hard state, entries and
 * snapshot (one fdatasync), then sends its messages (a leader's appends may go before the
 * fsync, thesis §10.2.1), applies its committed entries, and calls `advance(ready)`.
 * Only one ready is outstanding at a time.
 *
 * Nothing here awaits, reads a clock, draws unseeded randomness or touches I/O.
 * Message handlers live in `election.ts`, `leader.ts` and `follower.ts`.
 */

import { assert } from "../../util/assert.ts";
import { campaign, tickElection } from "./election.ts";
import { dispatch } from "./dispatch.ts";
import {
  broadcastAppends,
  broadcastHeartbeat,
  maybeCommit,
  releaseReads,
  sendAppend,
  sendTimeoutNow,
} from "./leader.ts";
import { ENTRY_BYTES_MAX } from "./limits.ts";
import type { Message } from "./messages.ts";
import { Progress } from "./progress.ts";
import { assertRaftConfig, type RaftConfig } from "./raft_config.ts";
import { RaftLog } from "./raft_log.ts";
import { ReadIndexQueue } from "./read_index.ts";
import type { RaftStatus, Ready } from "./ready.ts";
import { SnapshotReceiver } from "./snapshot_receiver.ts";
import {
  asIndex,
  asTerm,
  type Entry,
  entryBytes,
  type HardState,
  type Index,
  type NodeId,
  type NotLeader,
  type PersistedState,
  type ProposeResult,
  type ReadContext,
  type ReadState,
  type Role,
  type Snapshot,
  type Term,
} from "./types.ts";

/** Why a ReadIndex request was refused at once. */
export type ReadIndexResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly error: NotLeader | { readonly code: "busy" } };

/** Why a leadership transfer could not start. */
export type TransferResult =
  | { readonly ok: true }
  | {
    readonly ok: false;
    readonly error: NotLeader | { readonly code: "unknownNode"; readonly id: NodeId };
  };

/** One Raft replica. Fields are read by the handler modules of this folder; users go through methods. */
export class Raft {
  readonly id: NodeId;
  readonly config: RaftConfig;
  /** Every voter but this node. */
  readonly peers: readonly NodeId[];
  /** Votes (or acknowledgements) needed for a majority of the voters. */
  readonly quorum: number;

  // Persistent state (§5 Figure 2). Invariant: commit <= log.lastIndex().
  term: Term;
  votedFor: NodeId | null;
  commit: Index;
  readonly log: RaftLog;
  /** The latest snapshot (durable or being made durable by the current ready). */
  snapshot: Snapshot | null;

  // Volatile state. Invariant: log.snapshotIndex <= applied <= applying <= commit.
  role: Role = "follower";
  leader: NodeId | null = null;
  /** Last index the application confirmed applied (through advance). */
  applied: Index;
  /** Last index handed to the application for applying. */
  applying: Index;
  electionElapsed = 0;
  heartbeatElapsed = 0;
  randomizedElectionTimeout = 0;
  /** Votes received in the current (pre-)campaign: true for granted. */
  readonly votes = new Map<NodeId, boolean>();
  /** Leader only: one entry per peer. */
  readonly progress = new Map<NodeId, Progress>();
  readonly reads = new ReadIndexQueue();
  readonly receiver = new SnapshotReceiver();
  /** Leader only: the node leadership is being handed to, and for how many ticks. */
  transferee: NodeId | null = null;
  transferElapsed = 0;
  /** Candidate only: this election was started by TimeoutNow (its vote requests say so). */
  transferCampaign = false;
  /** Leader only: bytes proposed in this term and not yet committed. */
  uncommittedBytes = 0;
  /** Leader only: something changed that followers should hear about at the next ready. */
  needsBroadcast = false;

  // Output collected for the next ready.
  messages: Message[] = [];
  readStates: ReadState[] = [];
  /** A snapshot received from the leader, to be persisted and restored by the application. */
  pendingSnapshot: Snapshot | null = null;
  #handedHardState: HardState;
  #outstanding: Ready | null = null;

  constructor(config: RaftConfig, persisted: PersistedState) {
    assertRaftConfig(config);
    this.id = config.id;
    this.config = config;
    this.peers = config.voters.filter((voter) => voter !== config.id);
    this.quorum = Math.floor(config.voters.length / 2) + 1;
    this.term = persisted.hardState.term;
    this.votedFor = persisted.hardState.votedFor;
    this.snapshot = persisted.snapshot;
    this.log = new RaftLog(persisted.snapshot?.meta ?? null, persisted.entries);
    const snapshotIndex = this.log.snapshotIndex;
    // The commit index may lag the snapshot if the hard state was written first; both are durable facts.
    this.commit = asIndex(Math.max(persisted.hardState.commit, snapshotIndex));
    assert(
      this.commit <= this.log.lastIndex(),
      () => `Persisted commit ${this.commit} beyond last index ${this.log.lastIndex()}`,
    );
    // The application restores the snapshot itself at start-up, then applies from there.
    this.applied = snapshotIndex;
    this.applying = snapshotIndex;
    this.#handedHardState = { term: this.term, votedFor: this.votedFor, commit: this.commit };
    this.resetElectionTimeout();
    this.invariants();
  }

  // ---------------------------------------------------------------- inputs

  /** Advances logical time by one tick: elections, heartbeats, CheckQuorum, transfer timeouts. */
  tick(): void {
    if (this.role === "leader") this.#tickLeader();
    else tickElection(this);
  }

  /** Processes one message from a peer. Malformed, misdirected or stale messages are ignored. */
  step(message: Message): void {
    dispatch(this, message);
  }

  /** Appends a command to the leader's log; the entry commits later, or is overwritten. */
  propose(data: Uint8Array): ProposeResult {
    if (this.role !== "leader") return { ok: false, error: this.notLeader() };
    if (this.transferee !== null) {
      return { ok: false, error: { code: "transferring", to: this.transferee } };
    }
    const index = asIndex(this.log.lastIndex() + 1);
    const entry: Entry = { type: "command", term: this.term, index, data };
    const bytes = entryBytes(entry);
    if (data.byteLength > ENTRY_BYTES_MAX) {
      return {
        ok: false,
        error: { code: "tooLarge", bytes: data.byteLength, maxBytes: ENTRY_BYTES_MAX },
      };
    }
    const maxBytes = this.config.maxUncommittedBytes;
    if (this.uncommittedBytes > 0 && this.uncommittedBytes + bytes > maxBytes) {
      return {
        ok: false,
        error: { code: "busy", uncommittedBytes: this.uncommittedBytes, maxBytes },
      };
    }
    this.log.append([entry]);
    this.uncommittedBytes += bytes;
    this.needsBroadcast = true;
    return { ok: true, index, term: this.term };
  }

  /** Asks for a linearizable read index; the answer arrives in a later ready's `readStates`. */
  readIndex(context: ReadContext): ReadIndexResult {
    if (this.role !== "leader") return { ok: false, error: this.notLeader() };
    if (!this.reads.add(context, this.committedInTerm(), this.commit)) {
      return { ok: false, error: { code: "busy" } };
    }
    if (this.quorum === 1) releaseReads(this);
    return { ok: true };
  }

  /** Hands leadership to `to` (thesis §3.10): catch it up, then tell it to campaign at once. */
  transferLeadership(to: NodeId): TransferResult {
    if (this.role !== "leader") return { ok: false, error: this.notLeader() };
    if (to === this.id) return { ok: true };
    const progress = this.progress.get(to);
    if (progress === undefined) return { ok: false, error: { code: "unknownNode", id: to } };
    this.transferee = to;
    this.transferElapsed = 0;
    if (progress.match === this.log.lastIndex()) sendTimeoutNow(this, to);
    else {
      // Appends to a lagging transferee may have been lost: probe it now rather than wait for
      // stall detection, which could outlast the transfer's election-timeout budget.
      if (progress.state === "replicate") progress.becomeProbe();
      sendAppend(this, to, progress, true);
    }
    return { ok: true };
  }

  /**
   * The application has durably saved a snapshot of its state up to `index` (at most the
   * applied index): drop the entries it covers and keep its bytes for lagging followers.
   * Returns false when an equal or newer snapshot is already in place.
   */
  compact(index: Index, data: Uint8Array): boolean {
    assert(index <= this.applied, () => `Cannot compact at ${index}: only ${this.applied} applied`);
    if (index <= this.log.snapshotIndex) return false;
    const term = this.log.term(index);
    assert(term !== undefined, () => `Cannot compact at ${index}: no such entry`);
    const meta = { index, term };
    this.log.compact(meta);
    this.snapshot = { meta, data };
    return true;
  }

  // ---------------------------------------------------------------- outputs

  /** True when `ready()` has something to do. */
  hasReady(): boolean {
    return this.messages.length > 0 || this.readStates.length > 0 || this.needsBroadcast ||
      this.reads.needsRound || this.pendingSnapshot !== null ||
      this.log.unstableFrom <= this.log.lastIndex() || this.applying < this.commit ||
      this.#hardStateChanged();
  }

  /** Collects everything the driver must do now. Call `advance(ready)` when it is done. */
  ready(): Ready {
    assert(this.#outstanding === null, "ready() called again before advance()");
    if (this.role === "leader") {
      if (this.reads.needsRound) broadcastHeartbeat(this);
      if (this.needsBroadcast) broadcastAppends(this);
    }
    const hardState = this.#hardStateChanged() ? this.#currentHardState() : null;
    const entries = this.log.unstableEntries();
    this.log.markHandedOut();
    const committedEntries = this.#entriesToApply();
    const ready: Ready = {
      hardState,
      entries,
      snapshot: this.pendingSnapshot,
      committedEntries,
      messages: this.messages,
      readStates: this.readStates,
    };
    if (hardState !== null) this.#handedHardState = hardState;
    const last = committedEntries.at(-1);
    if (last !== undefined) this.applying = last.index;
    this.pendingSnapshot = null;
    this.messages = [];
    this.readStates = [];
    this.#outstanding = ready;
    return ready;
  }

  /** The driver persisted, sent and applied `ready`. */
  advance(ready: Ready): void {
    assert(this.#outstanding === ready, "advance() must be given the last ready");
    this.#outstanding = null;
    if (ready.snapshot !== null) {
      this.applied = asIndex(Math.max(this.applied, ready.snapshot.meta.index));
    }
    const lastEntry = ready.entries.at(-1);
    if (lastEntry !== undefined) {
      this.log.markPersisted(lastEntry.index, lastEntry.term);
      if (this.role === "leader" && maybeCommit(this) && this.quorum === 1) releaseReads(this);
    }
    const lastApplied = ready.committedEntries.at(-1);
    if (lastApplied !== undefined) {
      this.applied = asIndex(Math.max(this.applied, lastApplied.index));
    }
  }

  /** A summary for status pages, metrics and tests. */
  status(): RaftStatus {
    const progress = [...this.progress].map(([id, p]) => ({
      id,
      match: p.match,
      next: p.next,
      state: p.state,
      recentActive: p.recentActive,
      inflight: p.inflight.count,
    }));
    return {
      id: this.id,
      role: this.role,
      term: this.term,
      leader: this.leader,
      votedFor: this.votedFor,
      commit: this.commit,
      applied: this.applied,
      lastIndex: this.log.lastIndex(),
      lastTerm: this.log.lastTerm(),
      persistedIndex: this.log.persistedIndex,
      snapshotIndex: this.log.snapshotIndex,
      logBytes: this.log.entriesBytes,
      transferee: this.transferee,
      pendingReads: this.reads.size,
      progress,
    };
  }

  /** Checks every invariant of the core; the simulator calls it after each step. */
  invariants(): void {
    this.log.checkInvariants();
    const last = this.log.lastIndex();
    assert(this.commit <= last, () => `commit ${this.commit} beyond last index ${last}`);
    assert(
      this.log.snapshotIndex <= this.applying,
      () => `applying ${this.applying} below snapshot ${this.log.snapshotIndex}`,
    );
    assert(
      this.applied <= this.applying,
      () => `applied ${this.applied} beyond applying ${this.applying}`,
    );
    assert(
      this.applying <= this.commit,
      () => `applying ${this.applying} beyond commit ${this.commit}`,
    );
    assert(
      this.log.lastTerm() <= this.term,
      () => `last log term ${this.log.lastTerm()} beyond term ${this.term}`,
    );
    assert(
      this.snapshot === null || this.snapshot.meta.index >= this.log.snapshotIndex ||
        this.pendingSnapshot !== null,
      "snapshot behind log",
    );
    if (this.role === "leader") {
      assert(
        this.leader === this.id && this.votedFor === this.id,
        "a leader leads and voted for itself",
      );
      assert(this.progress.size === this.peers.length, "a leader tracks every peer");
      for (const progress of this.progress.values()) progress.checkInvariants(last);
    } else {
      assert(this.progress.size === 0 && this.transferee === null, "only a leader tracks peers");
    }
    if (this.role === "candidate") {
      assert(this.votedFor === this.id, "a candidate votes for itself");
    }
  }

  // ---------------------------------------------------------------- transitions (used by handlers)

  /** Adopts `term` (resetting the vote when it is new) and follows `leader`. */
  /**
   * Adopts `term` (resetting the vote when it is new) and follows `leader`. `keepTimer` is for
   * a vote request from a higher term: the election timer restarts only when we hear from a
   * leader or grant a vote (§5.2, Figure 2), so a candidate with a stale log cannot keep the
   * up-to-date servers from ever campaigning (a livelock the simulator found with PreVote off).
   */
  becomeFollower(term: Term, leader: NodeId | null, keepTimer = false): void {
    assert(term >= this.term, () => `Cannot step down to older term ${term} from ${this.term}`);
    if (this.role === "leader") this.reads.failAll(this.notLeaderFor(leader), this.readStates);
    if (term > this.term) {
      this.term = term;
      this.votedFor = null;
    }
    this.role = "follower";
    this.leader = leader;
    const electionElapsed = this.electionElapsed;
    const timeout = this.randomizedElectionTimeout;
    this.#resetVolatile();
    if (keepTimer) {
      this.electionElapsed = electionElapsed;
      this.randomizedElectionTimeout = timeout;
    }
  }

  becomePreCandidate(): void {
    assert(this.role !== "leader", "A leader cannot pre-campaign");
    this.role = "preCandidate";
    this.leader = null;
    this.#resetVolatile();
  }

  becomeCandidate(): void {
    assert(this.role !== "leader", "A leader cannot campaign");
    this.term = asTerm(this.term + 1);
    this.votedFor = this.id;
    this.role = "candidate";
    this.leader = null;
    this.#resetVolatile();
  }

  becomeLeader(): void {
    assert(this.role === "candidate", () => `Only a candidate becomes leader, not a ${this.role}`);
    this.role = "leader";
    this.leader = this.id;
    this.#resetVolatile();
    const next = asIndex(this.log.lastIndex() + 1);
    for (const peer of this.peers) {
      this.progress.set(
        peer,
        new Progress(next, this.config.maxInflightAppends, this.config.maxInflightBytes),
      );
    }
    // §5.4.2: commit an entry of the new term so earlier entries commit with it (and ReadIndex can start).
    this.log.append([{ type: "noop", term: this.term, index: next }]);
    this.needsBroadcast = true;
  }

  /** Starts a (pre-)election: used by the election timer and TimeoutNow. */
  campaign(transfer: boolean): void {
    campaign(this, transfer);
  }

  /** Queues a message; `from` and `term` default to ours. */
  send(message: Message): void {
    this.messages.push(message);
  }

  /** True when the commit index covers an entry of the current term (thesis §6.4 step 1). */
  committedInTerm(): boolean {
    return this.log.term(this.commit) === this.term;
  }

  notLeader(): NotLeader {
    return { code: "notLeader", leaderHint: this.leader === this.id ? null : this.leader };
  }

  notLeaderFor(leader: NodeId | null): NotLeader {
    return { code: "notLeader", leaderHint: leader };
  }

  resetElectionTimeout(): void {
    const ticks = this.config.electionTicks;
    this.randomizedElectionTimeout = ticks + this.config.random.int(ticks);
  }

  // ---------------------------------------------------------------- private

  #tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.config.electionTicks) {
      this.electionElapsed = 0;
      if (this.config.checkQuorum && !this.#quorumActive()) {
        // Thesis §6.2: a leader that cannot reach a majority steps down so clients find the real one.
        this.becomeFollower(this.term, null);
        return;
      }
      for (const progress of this.progress.values()) progress.recentActive = false;
    }
    if (this.transferee !== null && ++this.transferElapsed >= this.config.electionTicks) {
      this.transferee = null; // The transfer did not finish within an election timeout: give up.
    }
    if (this.heartbeatElapsed >= this.config.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      broadcastHeartbeat(this);
    }
  }

  #quorumActive(): boolean {
    let active = 1;
    for (const progress of this.progress.values()) if (progress.recentActive) active++;
    return active >= this.quorum;
  }

  #resetVolatile(): void {
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetElectionTimeout();
    this.votes.clear();
    this.progress.clear();
    this.transferee = null;
    this.transferElapsed = 0;
    this.transferCampaign = false;
    this.uncommittedBytes = 0;
    this.needsBroadcast = false;
  }

  #currentHardState(): HardState {
    return { term: this.term, votedFor: this.votedFor, commit: this.commit };
  }

  #hardStateChanged(): boolean {
    const handed = this.#handedHardState;
    return handed.term !== this.term || handed.votedFor !== this.votedFor ||
      handed.commit !== this.commit;
  }

  #entriesToApply(): Entry[] {
    const from = asIndex(this.applying + 1);
    if (from > this.commit) return [];
    return this.log.slice(from, Number.MAX_SAFE_INTEGER, this.config.maxApplyBytes, this.commit);
  }
}
