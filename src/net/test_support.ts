/**
 * Helpers for the network tests: one sample message of every kind, an independent check that
 * a value is a well-typed Raft message (so the fuzz tests do not trust the decoder's own
 * validation), loopback ports, and polling with a deadline.
 */

import { assertNever } from "../util/assert.ts";
import type { Message, MessageType } from "../raft/core/messages.ts";
import { asIndex, asNodeId, asTerm, type NodeId } from "../raft/core/types.ts";

/** A cluster secret for tests. */
export const TEST_SECRET = "test-secret-0123456789abcdef";
/** A cluster name for tests. */
export const TEST_CLUSTER = "test-cluster";

const from = asNodeId(1);
const to = asNodeId(2);
const term = asTerm(7);

/** One message of every kind, with edge values (0, 2^53 - 1, empty and non-empty bytes). */
export function sampleMessages(): Message[] {
  const big = Number.MAX_SAFE_INTEGER;
  const samples: Record<MessageType, Message> = {
    preVote: { type: "preVote", from, to, term, lastIndex: asIndex(big), lastTerm: asTerm(0) },
    preVoteResponse: { type: "preVoteResponse", from, to, term, granted: true },
    vote: { type: "vote", from, to, term, lastIndex: asIndex(3), lastTerm: term, transfer: true },
    voteResponse: { type: "voteResponse", from, to, term, granted: false },
    append: {
      type: "append",
      from,
      to,
      term,
      prevIndex: asIndex(10),
      prevTerm: asTerm(6),
      commit: asIndex(9),
      entries: [
        { type: "command", term, index: asIndex(11), data: new Uint8Array([1, 2, 3, 255]) },
        { type: "noop", term, index: asIndex(12) },
        { type: "command", term, index: asIndex(13), data: new Uint8Array(0) },
      ],
    },
    appendAccepted: { type: "appendAccepted", from, to, term, matchIndex: asIndex(big) },
    appendRejected: {
      type: "appendRejected",
      from,
      to,
      term,
      rejectedIndex: asIndex(5),
      conflictTerm: asTerm(2),
      conflictIndex: asIndex(3),
    },
    heartbeat: { type: "heartbeat", from, to, term, commit: asIndex(0), round: 123_456 },
    heartbeatResponse: { type: "heartbeatResponse", from, to, term, round: 2 ** 40 },
    installSnapshot: {
      type: "installSnapshot",
      from,
      to,
      term,
      snapshotIndex: asIndex(100),
      snapshotTerm: asTerm(5),
      totalBytes: 1000,
      offset: 500,
      chunk: new Uint8Array(300).fill(9),
    },
    installSnapshotResponse: {
      type: "installSnapshotResponse",
      from,
      to,
      term,
      snapshotIndex: asIndex(100),
      nextOffset: 800,
      installed: false,
    },
    timeoutNow: { type: "timeoutNow", from, to, term },
  };
  return Object.values(samples);
}

/** A heartbeat from `from` to `to` that carries a sequence number (in `round`). */
export function numberedHeartbeat(from: NodeId, to: NodeId, sequence: number): Message {
  return { type: "heartbeat", from, to, term: asTerm(1), commit: asIndex(0), round: sequence };
}

const KEYS: Record<MessageType, readonly string[]> = {
  preVote: ["lastIndex", "lastTerm"],
  preVoteResponse: ["granted"],
  vote: ["lastIndex", "lastTerm", "transfer"],
  voteResponse: ["granted"],
  append: ["prevIndex", "prevTerm", "commit", "entries"],
  appendAccepted: ["matchIndex"],
  appendRejected: ["rejectedIndex", "conflictTerm", "conflictIndex"],
  heartbeat: ["commit", "round"],
  heartbeatResponse: ["round"],
  installSnapshot: ["snapshotIndex", "snapshotTerm", "totalBytes", "offset", "chunk"],
  installSnapshotResponse: ["snapshotIndex", "nextOffset", "installed"],
  timeoutNow: [],
};

const counter = (n: unknown) => typeof n === "number" && Number.isSafeInteger(n) && n >= 0;
const nodeId = (n: unknown) => typeof n === "number" && Number.isSafeInteger(n) && n > 0;

/** True when `value` has exactly the fields of its kind, each of the right type and range. */
export function isValidMessage(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  const m = value as Message;
  if (!(m.type in KEYS)) return false;
  const expected = ["type", "from", "to", "term", ...KEYS[m.type]].sort();
  if (JSON.stringify(Object.keys(m).sort()) !== JSON.stringify(expected)) return false;
  if (!nodeId(m.from) || !nodeId(m.to) || !counter(m.term)) return false;
  switch (m.type) {
    case "preVote":
      return counter(m.lastIndex) && counter(m.lastTerm);
    case "vote":
      return counter(m.lastIndex) && counter(m.lastTerm) && typeof m.transfer === "boolean";
    case "preVoteResponse":
    case "voteResponse":
      return typeof m.granted === "boolean";
    case "append":
      return counter(m.prevIndex) && counter(m.prevTerm) && counter(m.commit) &&
        Array.isArray(m.entries) &&
        m.entries.every((entry) =>
          counter(entry.term) && counter(entry.index) &&
          (entry.type === "noop"
            ? Object.keys(entry).length === 3
            : entry.type === "command" && entry.data instanceof Uint8Array &&
              Object.keys(entry).length === 4)
        );
    case "appendAccepted":
      return counter(m.matchIndex);
    case "appendRejected":
      return counter(m.rejectedIndex) && counter(m.conflictTerm) && counter(m.conflictIndex);
    case "heartbeat":
      return counter(m.commit) && counter(m.round);
    case "heartbeatResponse":
      return counter(m.round);
    case "installSnapshot":
      return counter(m.snapshotIndex) && counter(m.snapshotTerm) && counter(m.totalBytes) &&
        counter(m.offset) && m.chunk instanceof Uint8Array;
    case "installSnapshotResponse":
      return counter(m.snapshotIndex) && counter(m.nextOffset) && typeof m.installed === "boolean";
    case "timeoutNow":
      return true;
    default:
      return assertNever(m, "message type");
  }
}

/** A loopback port that was free a moment ago (nothing listens on it now). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

/** Polls `done` every few ms until it holds (true) or `limitMs` passes (false). */
export async function waitUntil(done: () => boolean, limitMs: number): Promise<boolean> {
  const deadline = Date.now() + limitMs;
  while (!done()) {
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return true;
}
