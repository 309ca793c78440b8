/**
 * `Raft.step`: the term rules every message passes through (§5.1, thesis §9.6 PreVote and
 * §4.2.3 disruptive servers), then the handler for its kind and our role.
 */

import { assertNever } from "../../util/assert.ts";
import { onPreVoteResponse, onVoteRequest, onVoteResponse } from "./election.ts";
import { onAppend, onHeartbeat, onInstallSnapshot } from "./follower.ts";
import {
  onAppendAccepted,
  onAppendRejected,
  onHeartbeatResponse,
  onInstallSnapshotResponse,
} from "./leader.ts";
import type { Message } from "./messages.ts";
import type { Raft } from "./raft.ts";
import { isWellFormed } from "./validate.ts";

/** Routes one message; never throws on bad input (it is dropped). */
export function dispatch(raft: Raft, message: Message): void {
  if (message.to !== raft.id || message.from === raft.id) return;
  if (!raft.peers.includes(message.from)) return; // Not a voter of this group.
  if (!isWellFormed(message)) return;
  if (message.term > raft.term) {
    if (!acceptHigherTerm(raft, message)) return;
  } else if (message.term < raft.term) {
    answerStaleTerm(raft, message);
    return;
  }
  route(raft, message);
}

/** Applies the rules for a message from a higher term; false when the message must be ignored. */
function acceptHigherTerm(raft: Raft, message: Message): boolean {
  if (message.type === "preVote" || message.type === "vote") {
    // Thesis §4.2.3: while we hear from a leader, requests to replace it are ignored, so a
    // server that was cut off cannot disrupt the cluster. A transfer is the leader's own wish.
    const transfer = message.type === "vote" && message.transfer;
    const inLease = raft.config.checkQuorum && raft.leader !== null &&
      raft.electionElapsed < raft.config.electionTicks;
    if (inLease && !transfer) return false;
  }
  if (message.type === "preVote") return true; // A pre-vote never changes our term.
  if (message.type === "preVoteResponse" && message.granted) return true; // It echoes our next term.
  const fromLeader = message.type === "append" || message.type === "heartbeat" ||
    message.type === "installSnapshot";
  raft.becomeFollower(message.term, fromLeader ? message.from : null, message.type === "vote");
  return true;
}

/** A message from an older term: tell a stale leader or pre-candidate about our term, drop the rest. */
function answerStaleTerm(raft: Raft, message: Message): void {
  switch (message.type) {
    case "append":
    case "heartbeat":
    case "installSnapshot":
      // A leader cut off by a partition learns of the newer term and steps down (etcd does the
      // same when CheckQuorum or PreVote is on: without it the stale leader would never hear).
      raft.send({
        type: "heartbeatResponse",
        from: raft.id,
        to: message.from,
        term: raft.term,
        round: 0,
      });
      return;
    case "preVote":
      raft.send({
        type: "preVoteResponse",
        from: raft.id,
        to: message.from,
        term: raft.term,
        granted: false,
      });
      return;
    default:
      return;
  }
}

function route(raft: Raft, message: Message): void {
  switch (message.type) {
    case "preVote":
    case "vote":
      onVoteRequest(raft, message);
      return;
    case "preVoteResponse":
      if (raft.role === "preCandidate") onPreVoteResponse(raft, message);
      return;
    case "voteResponse":
      if (raft.role === "candidate") onVoteResponse(raft, message);
      return;
    case "append":
    case "heartbeat":
    case "installSnapshot":
    case "timeoutNow":
      if (raft.role === "leader") return; // Two leaders in one term cannot happen; drop it.
      if (raft.role !== "follower" || raft.leader !== message.from) {
        raft.becomeFollower(raft.term, message.from);
      }
      raft.electionElapsed = 0;
      if (message.type === "append") onAppend(raft, message);
      else if (message.type === "heartbeat") onHeartbeat(raft, message);
      else if (message.type === "installSnapshot") onInstallSnapshot(raft, message);
      else raft.campaign(true); // TimeoutNow: campaign at once, skipping PreVote (thesis §3.10).
      return;
    case "appendAccepted":
      if (raft.role === "leader") onAppendAccepted(raft, message);
      return;
    case "appendRejected":
      if (raft.role === "leader") onAppendRejected(raft, message);
      return;
    case "heartbeatResponse":
      if (raft.role === "leader") onHeartbeatResponse(raft, message);
      return;
    case "installSnapshotResponse":
      if (raft.role === "leader") onInstallSnapshotResponse(raft, message);
      return;
    default:
      assertNever(message, "message type");
  }
}
