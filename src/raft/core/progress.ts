/**
 * What a leader knows about one follower (§5.3 nextIndex / matchIndex, and the flow-control
 * states of etcd-io/raft): `probe` sends one append at a time until the follower's log is
 * found to match; `replicate` streams appends under the inflight window; `snapshot` sends
 * InstallSnapshot chunks because the entries the follower needs were compacted away.
 *
 * Invariant: match < next; in `snapshot`, `snapshot` is non-null.
 */

import { assert } from "../../util/assert.ts";
import { InflightWindow } from "./inflight_window.ts";
import { asIndex, type Index, type Term } from "./types.ts";

/** Flow-control state of one follower. */
export type ProgressState = "probe" | "replicate" | "snapshot";

/** A snapshot transfer in progress: stop-and-wait by byte offset, resumable. */
export interface SnapshotTransfer {
  readonly index: Index;
  readonly term: Term;
  /** The follower has confirmed every byte before this offset. */
  ackedOffset: number;
  /** The offset the in-flight chunk would be acknowledged with, or null when none is in flight. */
  expectedOffset: number | null;
  /** A chunk was acknowledged since the last heartbeat (otherwise the chunk is resent). */
  madeProgress: boolean;
  /** Heartbeats to wait before the next resend; doubles on every resend that goes unanswered. */
  resendEvery: number;
  /** Heartbeats since the last resend without progress. */
  heartbeatsSinceResend: number;
}

/** The leader's view of one follower. */
export class Progress {
  match: Index = asIndex(0);
  next: Index;
  state: ProgressState = "probe";
  /** In probe, an append is outstanding; the next goes after its answer or a heartbeat answer. */
  probeSent = false;
  /** Heard from since the last CheckQuorum round. */
  recentActive = false;
  /** Highest heartbeat round the follower acknowledged (ReadIndex). */
  ackedRound = 0;
  /** Heartbeats since the follower last acknowledged new entries while it lags (loss detection). */
  stalledHeartbeats = 0;
  /** Commit index last sent to the follower, to know when it needs a commit-only append. */
  sentCommit: Index = asIndex(0);
  snapshot: SnapshotTransfer | null = null;
  readonly inflight: InflightWindow;

  constructor(next: Index, maxInflightAppends: number, maxInflightBytes: number) {
    this.next = next;
    this.inflight = new InflightWindow(maxInflightAppends, maxInflightBytes);
  }

  /** True when no append may be sent right now. */
  paused(): boolean {
    switch (this.state) {
      case "probe":
        return this.probeSent;
      case "replicate":
        return this.inflight.full();
      case "snapshot":
        return true;
    }
  }

  becomeProbe(): void {
    this.stalledHeartbeats = 0;
    // After a snapshot the follower has at least the snapshot's index.
    const floor = this.state === "snapshot" && this.snapshot !== null
      ? this.snapshot.index
      : this.match;
    this.state = "probe";
    this.probeSent = false;
    this.snapshot = null;
    this.inflight.reset();
    this.next = asIndex(Math.max(this.match, floor) + 1);
  }

  becomeReplicate(): void {
    this.state = "replicate";
    this.probeSent = false;
    this.snapshot = null;
    this.inflight.reset();
    this.next = asIndex(this.match + 1);
  }

  becomeSnapshot(index: Index, term: Term): void {
    this.state = "snapshot";
    this.probeSent = false;
    this.inflight.reset();
    this.snapshot = {
      index,
      term,
      ackedOffset: 0,
      expectedOffset: null,
      madeProgress: false,
      resendEvery: 1,
      heartbeatsSinceResend: 0,
    };
  }

  /** The follower's log matches ours up to `index`; returns true when that is news. */
  maybeUpdate(index: Index): boolean {
    let updated = false;
    if (index > this.match) {
      this.match = index;
      updated = true;
      this.probeSent = false;
      this.stalledHeartbeats = 0;
    }
    if (this.next < index + 1) this.next = asIndex(index + 1);
    return updated;
  }

  checkInvariants(lastIndex: Index): void {
    assert(
      this.match < this.next,
      () => `Progress match ${this.match} must be below next ${this.next}`,
    );
    assert(
      this.next <= lastIndex + 1,
      () => `Progress next ${this.next} beyond last index ${lastIndex} + 1`,
    );
    assert(
      (this.state === "snapshot") === (this.snapshot !== null),
      "Snapshot state and transfer disagree",
    );
  }
}
