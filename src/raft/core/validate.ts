/**
 * Semantic checks on a message that the wire decoder cannot make alone: entries are
 * contiguous, terms are ordered, offsets fit. A message that fails is dropped, as the paper
 * drops anything it cannot use; the core never throws on input.
 */

import { assertNever } from "../../util/assert.ts";
import { SNAPSHOT_BYTES_MAX } from "./limits.ts";
import type { Message } from "./messages.ts";
import { isCounter } from "./types.ts";

/** True when `message` is internally consistent. */
export function isWellFormed(message: Message): boolean {
  // Terms grow by one per election; one at the safe-integer limit could not grow further.
  if (!isCounter(message.term) || message.term >= Number.MAX_SAFE_INTEGER) return false;
  switch (message.type) {
    case "preVote":
    case "vote":
      return isCounter(message.lastIndex) && isCounter(message.lastTerm) &&
        message.lastTerm <= message.term;
    case "preVoteResponse":
    case "voteResponse":
    case "timeoutNow":
      return true;
    case "append": {
      if (
        !isCounter(message.prevIndex) || !isCounter(message.prevTerm) || !isCounter(message.commit)
      ) return false;
      if (message.prevTerm > message.term) return false;
      let index = message.prevIndex + 1;
      let term = message.prevTerm;
      for (const entry of message.entries) {
        if (entry.index !== index || !isCounter(entry.term)) return false;
        if (entry.term < term || entry.term > message.term) return false;
        index++;
        term = entry.term;
      }
      return true;
    }
    case "appendAccepted":
      return isCounter(message.matchIndex);
    case "appendRejected":
      return isCounter(message.rejectedIndex) && isCounter(message.conflictIndex) &&
        isCounter(message.conflictTerm) && message.conflictIndex >= 1;
    case "heartbeat":
      return isCounter(message.commit) && isCounter(message.round);
    case "heartbeatResponse":
      return isCounter(message.round);
    case "installSnapshot":
      return isCounter(message.snapshotIndex) && message.snapshotIndex > 0 &&
        isCounter(message.snapshotTerm) && message.snapshotTerm <= message.term &&
        isCounter(message.totalBytes) && message.totalBytes <= SNAPSHOT_BYTES_MAX &&
        isCounter(message.offset) &&
        message.offset + message.chunk.byteLength <= message.totalBytes;
    case "installSnapshotResponse":
      return isCounter(message.snapshotIndex) && isCounter(message.nextOffset);
    default:
      return assertNever(message, "message type");
  }
}
