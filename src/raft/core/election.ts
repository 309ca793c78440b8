/**
 * Leader election (§5.2, §5.4.1) with PreVote (thesis §9.6): a node first asks whether it
 * could win in term + 1 without changing its own term; only a node that a majority would
 * elect starts a real election. A node that was partitioned away therefore comes back with
 * its old term and cannot depose a healthy leader.
 */

import { asTerm } from "./types.ts";
import type { PreVoteRequest, PreVoteResponse, VoteRequest, VoteResponse } from "./messages.ts";
import type { Raft } from "./raft.ts";

/** Follower and candidate clock: campaign when no leader was heard for a randomized timeout. */
export function tickElection(raft: Raft): void {
  raft.electionElapsed++;
  if (raft.electionElapsed >= raft.randomizedElectionTimeout) {
    raft.electionElapsed = 0;
    campaign(raft, false);
    return;
  }
  if (raft.role === "candidate" || raft.role === "preCandidate") {
    // On a lossy network one lost request or answer would cost a whole election timeout.
    // Asking the silent voters again each heartbeat interval is safe: a (pre-)vote for the
    // same candidate in the same term is answered the same way (§5.2 allows retries).
    if (++raft.heartbeatElapsed >= raft.config.heartbeatTicks) {
      raft.heartbeatElapsed = 0;
      requestVotes(raft, raft.role === "preCandidate" ? "preVote" : "vote", false, true);
    }
  }
}

/** Starts a pre-election (when PreVote is on and this is not a transfer) or an election. */
export function campaign(raft: Raft, transfer: boolean): void {
  if (raft.config.preVote && !transfer) {
    raft.becomePreCandidate();
    raft.votes.set(raft.id, true);
    if (raft.quorum === 1) return startElection(raft, false);
    requestVotes(raft, "preVote", false, false);
    return;
  }
  startElection(raft, transfer);
}

function startElection(raft: Raft, transfer: boolean): void {
  raft.becomeCandidate();
  raft.votes.set(raft.id, true);
  if (raft.quorum === 1) return raft.becomeLeader();
  raft.transferCampaign = transfer;
  requestVotes(raft, "vote", transfer, false);
}

/** Sends (pre-)vote requests to every peer, or with `onlySilent` to those that have not answered. */
function requestVotes(
  raft: Raft,
  type: "preVote" | "vote",
  transfer: boolean,
  onlySilent: boolean,
): void {
  // A pre-vote asks about the term we would campaign in; a vote is for our (new) term.
  const term = type === "preVote" ? asTerm(raft.term + 1) : raft.term;
  const lastIndex = raft.log.lastIndex();
  const lastTerm = raft.log.lastTerm();
  for (const peer of raft.peers) {
    if (onlySilent && raft.votes.has(peer)) continue;
    if (type === "preVote") {
      raft.send({ type, from: raft.id, to: peer, term, lastIndex, lastTerm });
    } else {
      raft.send({
        type,
        from: raft.id,
        to: peer,
        term,
        lastIndex,
        lastTerm,
        transfer: transfer || raft.transferCampaign,
      });
    }
  }
}

/** Answers a (pre-)vote request whose term is at least ours. */
export function onVoteRequest(raft: Raft, request: PreVoteRequest | VoteRequest): void {
  const isPreVote = request.type === "preVote";
  // One vote per term (§5.2). A pre-vote for a later term is not a vote and binds nothing.
  const canVote = raft.votedFor === request.from ||
    (raft.votedFor === null && raft.leader === null) ||
    (isPreVote && request.term > raft.term);
  const granted = canVote && raft.log.isUpToDate(request.lastIndex, request.lastTerm);
  if (isPreVote) {
    raft.send({
      type: "preVoteResponse",
      from: raft.id,
      to: request.from,
      term: granted ? request.term : raft.term,
      granted,
    });
    return;
  }
  if (granted) {
    raft.votedFor = request.from;
    raft.electionElapsed = 0; // Granting a vote resets the timer (§5.2), so we do not compete.
  }
  raft.send({ type: "voteResponse", from: raft.id, to: request.from, term: raft.term, granted });
}

/** Counts a pre-vote; a majority starts the real election, a majority against ends the attempt. */
export function onPreVoteResponse(raft: Raft, response: PreVoteResponse): void {
  // A grant carries term + 1; a refusal carries the voter's term, which equals ours here.
  if (response.granted && response.term !== raft.term + 1) return;
  const outcome = tally(raft, response.from, response.granted);
  if (outcome === "won") startElection(raft, false);
  else if (outcome === "lost") raft.becomeFollower(raft.term, null);
}

/** Counts a vote; a majority makes us leader (§5.2). */
export function onVoteResponse(raft: Raft, response: VoteResponse): void {
  const outcome = tally(raft, response.from, response.granted);
  if (outcome === "won") raft.becomeLeader();
  else if (outcome === "lost") raft.becomeFollower(raft.term, null);
}

function tally(raft: Raft, from: Raft["id"], granted: boolean): "won" | "lost" | "pending" {
  if (!raft.votes.has(from)) raft.votes.set(from, granted);
  let yes = 0;
  let no = 0;
  for (const vote of raft.votes.values()) {
    if (vote) yes++;
    else no++;
  }
  if (yes >= raft.quorum) return "won";
  if (no >= raft.quorum) return "lost";
  return "pending";
}
