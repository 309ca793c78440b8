/**
 * The leader's side of replication (§5.3): appends batched by count and bytes, pipelined
 * under each follower's inflight window, fast backtracking on rejection, commit by counting
 * only entries of the current term (§5.4.2, Figure 8), heartbeats that also confirm
 * ReadIndex rounds, chunked snapshots for followers whose entries were compacted away (§7),
 * and the last step of a leadership transfer.
 */

import { assert } from "../../util/assert.ts";
import type {
  AppendAccepted,
  AppendRejected,
  HeartbeatResponse,
  InstallSnapshotResponse,
} from "./messages.ts";
import type { Progress } from "./progress.ts";
import type { Raft } from "./raft.ts";
import { asIndex, entryBytes, type Index, type NodeId } from "./types.ts";

/** Heartbeat intervals a lagging follower in replicate state may go without acknowledging anything. */
const STALLED_HEARTBEATS_MAX = 3;

/** Longest wait, in heartbeats, between resends of an unanswered snapshot chunk. */
const SNAPSHOT_RESEND_HEARTBEATS_MAX = 16;

/** Sends whatever each follower is missing, as far as its window allows, and new commit indexes. */
export function broadcastAppends(raft: Raft): void {
  raft.needsBroadcast = false;
  for (const [peer, progress] of raft.progress) {
    const probeNeeded = progress.state === "probe" && progress.match < raft.log.lastIndex();
    while (sendAppend(raft, peer, progress, probeNeeded) && progress.state === "replicate") {
      // Pipelining: keep sending batches until the window is full or the follower has everything.
    }
    const learnable = Math.min(raft.commit, progress.match);
    if (learnable > progress.sentCommit && progress.state !== "snapshot") {
      sendCommit(raft, peer, progress);
    }
  }
}

/**
 * Sends one append to `peer` if its state allows. Returns true when entries were sent.
 * With `allowEmpty`, sends even when there is nothing new (a probe).
 */
export function sendAppend(
  raft: Raft,
  peer: NodeId,
  progress: Progress,
  allowEmpty: boolean,
): boolean {
  if (progress.paused()) return false;
  const log = raft.log;
  const prevIndex = asIndex(progress.next - 1);
  const prevTerm = log.term(prevIndex);
  if (prevTerm === undefined) {
    // The entries this follower needs were compacted away: send the snapshot instead (§7).
    startSnapshot(raft, peer, progress);
    return false;
  }
  const entries = progress.next <= log.lastIndex()
    ? log.slice(progress.next, raft.config.maxAppendEntries, raft.config.maxAppendBytes)
    : [];
  if (entries.length === 0 && !allowEmpty) return false;
  raft.send({
    type: "append",
    from: raft.id,
    to: peer,
    term: raft.term,
    prevIndex,
    prevTerm,
    entries,
    commit: raft.commit,
  });
  const lastSent = prevIndex + entries.length;
  progress.sentCommit = asIndex(Math.max(progress.sentCommit, Math.min(raft.commit, lastSent)));
  if (progress.state === "replicate" && entries.length > 0) {
    let bytes = 0;
    for (const entry of entries) bytes += entryBytes(entry);
    progress.next = asIndex(lastSent + 1);
    progress.inflight.add(asIndex(lastSent), bytes);
  } else if (progress.state === "probe") {
    progress.probeSent = true;
  }
  return entries.length > 0;
}

/** Tells a follower the new commit index, using only entries it is known to hold. */
function sendCommit(raft: Raft, peer: NodeId, progress: Progress): void {
  const prevIndex = progress.match;
  const prevTerm = raft.log.term(prevIndex);
  if (prevTerm === undefined) return; // Compacted: the next heartbeat carries the commit index.
  raft.send({
    type: "append",
    from: raft.id,
    to: peer,
    term: raft.term,
    prevIndex,
    prevTerm,
    entries: [],
    commit: raft.commit,
  });
  progress.sentCommit = asIndex(Math.min(raft.commit, progress.match));
}

/** Heartbeats to every follower; each starts a ReadIndex round and resends stalled snapshot chunks. */
export function broadcastHeartbeat(raft: Raft): void {
  const round = raft.reads.startRound();
  for (const [peer, progress] of raft.progress) {
    const commit = asIndex(Math.min(progress.match, raft.commit));
    raft.send({ type: "heartbeat", from: raft.id, to: peer, term: raft.term, commit, round });
    if (commit > progress.sentCommit) progress.sentCommit = commit;
    if (progress.state === "replicate" && progress.match < raft.log.lastIndex()) {
      // Appends can be lost without a rejection ever coming back (the last one of a burst).
      // Two heartbeat intervals without progress: assume loss and probe from the match index.
      if (++progress.stalledHeartbeats >= STALLED_HEARTBEATS_MAX) {
        progress.becomeProbe();
        raft.needsBroadcast = true;
      }
    }
    const transfer = progress.snapshot;
    if (transfer !== null) {
      if (transfer.madeProgress && transfer.expectedOffset !== null) {
        transfer.resendEvery = 1;
        transfer.heartbeatsSinceResend = 0;
      } else if (++transfer.heartbeatsSinceResend >= transfer.resendEvery) {
        // No answer: resend the chunk, backing off so that an unreachable follower costs one
        // chunk per 1, 2, 4 ... up to SNAPSHOT_RESEND_HEARTBEATS_MAX heartbeats, not one per heartbeat.
        sendSnapshotChunk(raft, peer, progress);
        transfer.heartbeatsSinceResend = 0;
        transfer.resendEvery = Math.min(transfer.resendEvery * 2, SNAPSHOT_RESEND_HEARTBEATS_MAX);
      }
      transfer.madeProgress = false;
    }
  }
  releaseReads(raft);
}

/** The follower matches us up to `matchIndex`. */
export function onAppendAccepted(raft: Raft, response: AppendAccepted): void {
  const progress = raft.progress.get(response.from)!;
  progress.recentActive = true;
  if (response.matchIndex > raft.log.lastIndex()) return; // Not an index we ever sent.
  const updated = progress.maybeUpdate(response.matchIndex);
  switch (progress.state) {
    case "probe":
      progress.probeSent = false;
      if (updated || progress.match + 1 === progress.next) progress.becomeReplicate();
      break;
    case "replicate":
      progress.inflight.freeTo(response.matchIndex);
      break;
    case "snapshot":
      if (progress.match >= progress.snapshot!.index) progress.becomeProbe();
      break;
  }
  if (updated && maybeCommit(raft) && raft.quorum === 1) releaseReads(raft);
  if (raft.transferee === response.from && progress.match === raft.log.lastIndex()) {
    sendTimeoutNow(raft, response.from);
  }
  raft.needsBroadcast = true;
}

/** The follower's log diverges before `rejectedIndex`: back up past the conflicting term at once. */
export function onAppendRejected(raft: Raft, response: AppendRejected): void {
  const progress = raft.progress.get(response.from)!;
  progress.recentActive = true;
  // Ignore answers to appends that are no longer current (reordered or duplicated).
  if (progress.state === "snapshot") return;
  // A rejection of an index we never sent (beyond our log) is bogus: a well-formed message
  // from a confused or forged sender must not move `next` past the end of our log.
  if (response.rejectedIndex > raft.log.lastIndex()) return;
  if (progress.state === "replicate" && response.rejectedIndex <= progress.match) return;
  if (progress.state === "probe" && response.rejectedIndex !== progress.next - 1) return;
  let next: number = response.conflictIndex;
  if (response.conflictTerm > 0) {
    const last = raft.log.lastIndexOfTerm(response.conflictTerm);
    if (last !== undefined) next = last + 1;
  }
  // Always move back (at least to the rejected index) and never below what is known to match.
  next = Math.max(progress.match + 1, Math.min(next, response.rejectedIndex));
  progress.becomeProbe();
  progress.next = asIndex(next);
  raft.needsBroadcast = true;
  if (raft.transferee === response.from) sendAppend(raft, response.from, progress, false);
}

/** A heartbeat answer: the follower is alive and acknowledges a ReadIndex round. */
export function onHeartbeatResponse(raft: Raft, response: HeartbeatResponse): void {
  const progress = raft.progress.get(response.from)!;
  progress.recentActive = true;
  progress.probeSent = false;
  // The follower is reachable: a stalled snapshot chunk may be resent at the next heartbeat.
  if (progress.snapshot !== null) progress.snapshot.resendEvery = 1;
  if (response.round > progress.ackedRound) {
    progress.ackedRound = Math.min(response.round, raft.reads.round);
  }
  releaseReads(raft);
  if (progress.match < raft.log.lastIndex()) raft.needsBroadcast = true;
}

/** A snapshot chunk was received (or the whole snapshot installed). */
export function onInstallSnapshotResponse(raft: Raft, response: InstallSnapshotResponse): void {
  const progress = raft.progress.get(response.from)!;
  progress.recentActive = true;
  const transfer = progress.snapshot;
  if (
    progress.state !== "snapshot" || transfer === null || transfer.index !== response.snapshotIndex
  ) return;
  if (response.installed) {
    progress.maybeUpdate(transfer.index);
    progress.becomeProbe();
    raft.needsBroadcast = true;
    return;
  }
  const total = raft.snapshot?.meta.index === transfer.index ? raft.snapshot.data.byteLength : 0;
  const nextOffset = Math.min(response.nextOffset, total);
  if (transfer.expectedOffset !== null && nextOffset === transfer.expectedOffset) {
    transfer.ackedOffset = nextOffset;
    transfer.madeProgress = true;
    sendSnapshotChunk(raft, response.from, progress);
  } else {
    // The follower has a different view (it restarted, or this is a late duplicate): resume from
    // what it says it has, at the next heartbeat.
    transfer.ackedOffset = nextOffset;
    transfer.expectedOffset = null;
  }
}

/**
 * Commits the highest index a majority holds, if it is of the current term (§5.4.2: entries
 * of earlier terms commit only indirectly, which is what prevents the Figure 8 anomaly).
 * The leader counts itself only up to what it has persisted (thesis §10.2.1).
 */
export function maybeCommit(raft: Raft): boolean {
  const matches: number[] = [raft.log.persistedIndex];
  for (const progress of raft.progress.values()) matches.push(progress.match);
  matches.sort((a, b) => b - a);
  const candidate = asIndex(matches[raft.quorum - 1]!);
  if (candidate <= raft.commit || raft.log.term(candidate) !== raft.term) return false;
  const wasCommittedInTerm = raft.committedInTerm();
  for (let index = raft.commit + 1; index <= candidate; index++) {
    raft.uncommittedBytes -= entryBytes(raft.log.entry(asIndex(index)));
  }
  if (raft.uncommittedBytes < 0) raft.uncommittedBytes = 0; // Entries of older terms were not counted.
  raft.commit = candidate;
  if (!wasCommittedInTerm) raft.reads.onCommittedInTerm(candidate);
  raft.needsBroadcast = true;
  return true;
}

/** Releases the reads whose heartbeat round a quorum (counting ourselves) has acknowledged. */
export function releaseReads(raft: Raft): void {
  if (raft.reads.size === 0) return;
  const rounds: number[] = [raft.reads.round];
  for (const progress of raft.progress.values()) rounds.push(progress.ackedRound);
  rounds.sort((a, b) => b - a);
  raft.reads.release(rounds[raft.quorum - 1]!, raft.readStates);
}

/** Tells the transferee to campaign now (thesis §3.10); it has every entry we have. */
export function sendTimeoutNow(raft: Raft, to: NodeId): void {
  raft.send({ type: "timeoutNow", from: raft.id, to, term: raft.term });
}

function startSnapshot(raft: Raft, peer: NodeId, progress: Progress): void {
  const snapshot = raft.snapshot;
  assert(
    snapshot !== null,
    () => `Entry ${progress.next - 1} is compacted but there is no snapshot`,
  );
  progress.becomeSnapshot(snapshot.meta.index, snapshot.meta.term);
  sendSnapshotChunk(raft, peer, progress);
}

function sendSnapshotChunk(raft: Raft, peer: NodeId, progress: Progress): void {
  const snapshot = raft.snapshot;
  assert(
    snapshot !== null && progress.snapshot !== null,
    "Sending a snapshot chunk needs a snapshot",
  );
  if (snapshot.meta.index !== progress.snapshot.index) {
    // We compacted again since the transfer began: send the newer snapshot from the start.
    progress.becomeSnapshot(snapshot.meta.index, snapshot.meta.term);
  }
  const transfer = progress.snapshot!;
  const total = snapshot.data.byteLength;
  const offset = Math.min(transfer.ackedOffset, total);
  const end: Index | number = Math.min(offset + raft.config.snapshotChunkBytes, total);
  raft.send({
    type: "installSnapshot",
    from: raft.id,
    to: peer,
    term: raft.term,
    snapshotIndex: transfer.index,
    snapshotTerm: transfer.term,
    totalBytes: total,
    offset,
    chunk: snapshot.data.subarray(offset, end),
  });
  transfer.expectedOffset = end;
}
