/**
 * A follower's handling of the leader's messages: AppendEntries with the log matching
 * property (§5.3), heartbeats, and InstallSnapshot (§7). Responses leave only after the
 * ready that carries the resulting log and hard state is durable.
 */

import type { AppendRequest, HeartbeatRequest, InstallSnapshotRequest } from "./messages.ts";
import type { Raft } from "./raft.ts";
import { asIndex, asTerm, type Index } from "./types.ts";

/** AppendEntries (§5.3): check the previous entry, merge, advance the commit index. */
export function onAppend(raft: Raft, request: AppendRequest): void {
  const log = raft.log;
  let matchIndex: Index;
  if (request.prevIndex < raft.commit) {
    // Our log equals every leader's up to our commit index (Leader Completeness), so the
    // entries up to it need no check and only those after it are merged.
    const fresh = request.entries.filter((entry) => entry.index > raft.commit);
    if (fresh.length > 0) {
      // The message's entry at our commit index must be the committed one; if it is not,
      // the message cannot come from a legitimate leader of this term: drop it.
      const atCommit = request.entries[raft.commit - request.prevIndex - 1];
      if (atCommit !== undefined && atCommit.term !== log.term(raft.commit)) return;
      log.merge(fresh, raft.commit);
    }
    matchIndex = asIndex(Math.max(raft.commit, request.prevIndex + request.entries.length));
  } else if (request.prevIndex > log.lastIndex()) {
    reject(raft, request, asTerm(0), asIndex(log.lastIndex() + 1));
    return;
  } else {
    const ourTerm = log.term(request.prevIndex)!;
    if (ourTerm !== request.prevTerm) {
      const first = log.firstIndexOfTermAt(request.prevIndex);
      reject(raft, request, ourTerm, asIndex(Math.max(first, raft.commit + 1)));
      return;
    }
    log.merge(request.entries, raft.commit);
    matchIndex = asIndex(request.prevIndex + request.entries.length);
  }
  advanceCommit(raft, Math.min(request.commit, matchIndex));
  raft.send({
    type: "appendAccepted",
    from: raft.id,
    to: request.from,
    term: raft.term,
    matchIndex,
  });
}

/** Heartbeat: the leader is alive; its commit index (bounded by our match) is safe to adopt. */
export function onHeartbeat(raft: Raft, request: HeartbeatRequest): void {
  advanceCommit(raft, Math.min(request.commit, raft.log.lastIndex()));
  raft.send({
    type: "heartbeatResponse",
    from: raft.id,
    to: request.from,
    term: raft.term,
    round: request.round,
  });
}

/** One InstallSnapshot chunk; the last one installs the snapshot into the log (§7). */
export function onInstallSnapshot(raft: Raft, request: InstallSnapshotRequest): void {
  const respond = (nextOffset: number, installed: boolean) =>
    raft.send({
      type: "installSnapshotResponse",
      from: raft.id,
      to: request.from,
      term: raft.term,
      snapshotIndex: request.snapshotIndex,
      nextOffset,
      installed,
    });
  if (request.snapshotIndex <= raft.commit) {
    // We already hold everything the snapshot covers; the leader can probe from here.
    raft.receiver.reset();
    respond(request.totalBytes, true);
    return;
  }
  const result = raft.receiver.receive(request);
  if ("nextOffset" in result) {
    respond(result.nextOffset, false);
    return;
  }
  const snapshot = result.complete;
  raft.log.restore(snapshot.meta);
  raft.commit = snapshot.meta.index;
  raft.applying = asIndex(Math.max(raft.applying, snapshot.meta.index));
  raft.snapshot = snapshot;
  raft.pendingSnapshot = snapshot;
  respond(request.totalBytes, true);
}

function advanceCommit(raft: Raft, candidate: number): void {
  if (candidate > raft.commit) raft.commit = asIndex(candidate);
}

function reject(
  raft: Raft,
  request: AppendRequest,
  conflictTerm: ReturnType<typeof asTerm>,
  conflictIndex: Index,
): void {
  raft.send({
    type: "appendRejected",
    from: raft.id,
    to: request.from,
    term: raft.term,
    rejectedIndex: request.prevIndex,
    conflictTerm,
    conflictIndex,
  });
}
