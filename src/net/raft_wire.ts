/**
 * The wire shape of Raft messages, one level above msgpack: each message is an array that
 * starts with a numeric kind tag, then `from, to, term`, then the kind's own fields in a fixed
 * order; entries are `[1, term, index, data]` (command, data as bin) or `[2, term, index]`
 * (no-op). `messageToWire` builds that array; `messageFromWire` checks an untrusted decoded
 * value field by field (type, safe-integer range, array length, boolean, binary) and brands
 * it, or throws {@link WireShapeError}, which the codec turns into a typed error value.
 */

import { assert, assertNever } from "../util/assert.ts";
import type { Message, MessageType } from "../raft/core/messages.ts";
import {
  asIndex,
  asNodeId,
  asTerm,
  type Entry,
  type Index,
  isCounter,
  isNodeId,
  type NodeId,
  type Term,
} from "../raft/core/types.ts";
import { ENTRIES_PER_MESSAGE_MAX } from "./limits.ts";

/** The numeric tag that starts each message on the wire. Never reuse a retired number. */
export const MESSAGE_TAG = {
  preVote: 1,
  preVoteResponse: 2,
  vote: 3,
  voteResponse: 4,
  append: 5,
  appendAccepted: 6,
  appendRejected: 7,
  heartbeat: 8,
  heartbeatResponse: 9,
  installSnapshot: 10,
  installSnapshotResponse: 11,
  timeoutNow: 12,
} as const satisfies Record<MessageType, number>;

/** Array length of each kind on the wire: tag, from, to, term, then the kind's fields. */
const MESSAGE_ARITY = {
  preVote: 6,
  preVoteResponse: 5,
  vote: 7,
  voteResponse: 5,
  append: 8,
  appendAccepted: 5,
  appendRejected: 7,
  heartbeat: 6,
  heartbeatResponse: 5,
  installSnapshot: 9,
  installSnapshotResponse: 7,
  timeoutNow: 4,
} as const satisfies Record<MessageType, number>;

/** The numeric tag that starts each entry on the wire. */
export const ENTRY_TAG = { command: 1, noop: 2 } as const satisfies Record<Entry["type"], number>;

const TYPE_BY_TAG: ReadonlyMap<number, MessageType> = new Map(
  (Object.entries(MESSAGE_TAG) as [MessageType, number][]).map(([type, tag]) => [tag, type]),
);
assert(TYPE_BY_TAG.size === Object.keys(MESSAGE_TAG).length, "message tags are distinct");

/** A decoded value that does not have the shape of a message; the message names the field. */
export class WireShapeError extends Error {
  override readonly name = "WireShapeError";
}

function invalid(message: string): never {
  throw new WireShapeError(message);
}

/** The wire array of one message. */
export function messageToWire(m: Message): unknown[] {
  const tag = MESSAGE_TAG[m.type];
  switch (m.type) {
    case "preVote":
      return [tag, m.from, m.to, m.term, m.lastIndex, m.lastTerm];
    case "preVoteResponse":
    case "voteResponse":
      return [tag, m.from, m.to, m.term, m.granted];
    case "vote":
      return [tag, m.from, m.to, m.term, m.lastIndex, m.lastTerm, m.transfer];
    case "append":
      return [tag, m.from, m.to, m.term, m.prevIndex, m.prevTerm, m.commit, entriesToWire(m)];
    case "appendAccepted":
      return [tag, m.from, m.to, m.term, m.matchIndex];
    case "appendRejected":
      return [tag, m.from, m.to, m.term, m.rejectedIndex, m.conflictTerm, m.conflictIndex];
    case "heartbeat":
      return [tag, m.from, m.to, m.term, m.commit, m.round];
    case "heartbeatResponse":
      return [tag, m.from, m.to, m.term, m.round];
    case "installSnapshot":
      return [
        tag,
        m.from,
        m.to,
        m.term,
        m.snapshotIndex,
        m.snapshotTerm,
        m.totalBytes,
        m.offset,
        m.chunk,
      ];
    case "installSnapshotResponse":
      return [tag, m.from, m.to, m.term, m.snapshotIndex, m.nextOffset, m.installed];
    case "timeoutNow":
      return [tag, m.from, m.to, m.term];
    default:
      return assertNever(m, "message type");
  }
}

function entriesToWire(m: { readonly entries: readonly Entry[] }): unknown[] {
  const tuples: unknown[] = new Array(m.entries.length);
  for (let i = 0; i < m.entries.length; i++) {
    const entry = m.entries[i]!;
    tuples[i] = entry.type === "command"
      ? [ENTRY_TAG.command, entry.term, entry.index, entry.data]
      : [ENTRY_TAG.noop, entry.term, entry.index];
  }
  return tuples;
}

/** Reads the fields of one wire tuple, naming the field in every complaint. */
class Fields {
  constructor(readonly items: readonly unknown[], readonly where: string) {}

  counter(i: number, name: string): number {
    const value = this.items[i];
    if (!isCounter(value)) this.#wrong(name, "a non-negative safe integer", value);
    return value;
  }
  term(i: number, name: string): Term {
    return asTerm(this.counter(i, name));
  }
  index(i: number, name: string): Index {
    return asIndex(this.counter(i, name));
  }
  nodeId(i: number, name: string): NodeId {
    const value = this.items[i];
    if (!isNodeId(value)) this.#wrong(name, "a positive safe integer", value);
    return asNodeId(value);
  }
  boolean(i: number, name: string): boolean {
    const value = this.items[i];
    if (typeof value !== "boolean") this.#wrong(name, "a boolean", value);
    return value;
  }
  /** A copy of a bin field, so that a kept entry does not pin the whole frame in memory. */
  bytes(i: number, name: string): Uint8Array {
    const value = this.items[i];
    if (!(value instanceof Uint8Array)) this.#wrong(name, "binary data", value);
    return value.slice();
  }
  #wrong(name: string, expected: string, value: unknown): never {
    return invalid(`${this.where}: ${name}: expected ${expected}, got ${describe(value)}`);
  }
}

type Header = { readonly from: NodeId; readonly to: NodeId; readonly term: Term };
type KindDecoder<K extends MessageType> = (
  f: Fields,
  header: Header,
) => Extract<Message, { type: K }>;

/** How each kind's own fields are read, after the common header (positions 1..3). */
const DECODE_KIND: { readonly [K in MessageType]: KindDecoder<K> } = {
  preVote: (f, h) => ({
    type: "preVote",
    ...h,
    lastIndex: f.index(4, "lastIndex"),
    lastTerm: f.term(5, "lastTerm"),
  }),
  preVoteResponse: (f, h) => ({ type: "preVoteResponse", ...h, granted: f.boolean(4, "granted") }),
  vote: (f, h) => ({
    type: "vote",
    ...h,
    lastIndex: f.index(4, "lastIndex"),
    lastTerm: f.term(5, "lastTerm"),
    transfer: f.boolean(6, "transfer"),
  }),
  voteResponse: (f, h) => ({ type: "voteResponse", ...h, granted: f.boolean(4, "granted") }),
  append: (f, h) => ({
    type: "append",
    ...h,
    prevIndex: f.index(4, "prevIndex"),
    prevTerm: f.term(5, "prevTerm"),
    commit: f.index(6, "commit"),
    entries: entriesFromWire(f.items[7], f.where),
  }),
  appendAccepted: (f, h) => ({
    type: "appendAccepted",
    ...h,
    matchIndex: f.index(4, "matchIndex"),
  }),
  appendRejected: (f, h) => ({
    type: "appendRejected",
    ...h,
    rejectedIndex: f.index(4, "rejectedIndex"),
    conflictTerm: f.term(5, "conflictTerm"),
    conflictIndex: f.index(6, "conflictIndex"),
  }),
  heartbeat: (f, h) => ({
    type: "heartbeat",
    ...h,
    commit: f.index(4, "commit"),
    round: f.counter(5, "round"),
  }),
  heartbeatResponse: (f, h) => ({ type: "heartbeatResponse", ...h, round: f.counter(4, "round") }),
  installSnapshot: (f, h) => ({
    type: "installSnapshot",
    ...h,
    snapshotIndex: f.index(4, "snapshotIndex"),
    snapshotTerm: f.term(5, "snapshotTerm"),
    totalBytes: f.counter(6, "totalBytes"),
    offset: f.counter(7, "offset"),
    chunk: f.bytes(8, "chunk"),
  }),
  installSnapshotResponse: (f, h) => ({
    type: "installSnapshotResponse",
    ...h,
    snapshotIndex: f.index(4, "snapshotIndex"),
    nextOffset: f.counter(5, "nextOffset"),
    installed: f.boolean(6, "installed"),
  }),
  timeoutNow: (_f, h) => ({ type: "timeoutNow", ...h }),
};

/** Checks and brands one untrusted wire value; throws {@link WireShapeError} naming `where`. */
export function messageFromWire(value: unknown, where: string): Message {
  if (!Array.isArray(value)) invalid(`${where}: expected an array, got ${describe(value)}`);
  const tag = value[0];
  const type = typeof tag === "number" ? TYPE_BY_TAG.get(tag) : undefined;
  if (type === undefined) invalid(`${where}: unknown message tag ${describe(tag)}`);
  if (value.length !== MESSAGE_ARITY[type]) {
    invalid(`${where}: ${type} has ${value.length} fields, expected ${MESSAGE_ARITY[type]}`);
  }
  const f = new Fields(value, `${where} (${type})`);
  const header = { from: f.nodeId(1, "from"), to: f.nodeId(2, "to"), term: f.term(3, "term") };
  const decodeKind = DECODE_KIND[type] as KindDecoder<MessageType>;
  const message = decodeKind(f, header);
  assert(message.type === type, "a kind decoder builds its own kind");
  return message;
}

function entriesFromWire(value: unknown, where: string): Entry[] {
  if (!Array.isArray(value)) {
    invalid(`${where}: entries: expected an array, got ${describe(value)}`);
  }
  if (value.length > ENTRIES_PER_MESSAGE_MAX) {
    invalid(`${where}: ${value.length} entries exceeds ${ENTRIES_PER_MESSAGE_MAX}`);
  }
  const entries: Entry[] = new Array(value.length);
  for (let i = 0; i < value.length; i++) {
    const item: unknown = value[i];
    const at = `${where}: entry ${i}`;
    if (!Array.isArray(item)) invalid(`${at}: expected an array, got ${describe(item)}`);
    const f = new Fields(item, at);
    if (item[0] === ENTRY_TAG.command && item.length === 4) {
      entries[i] = {
        type: "command",
        term: f.term(1, "term"),
        index: f.index(2, "index"),
        data: f.bytes(3, "data"),
      };
    } else if (item[0] === ENTRY_TAG.noop && item.length === 3) {
      entries[i] = { type: "noop", term: f.term(1, "term"), index: f.index(2, "index") };
    } else {
      invalid(
        `${at}: expected [1, term, index, data] or [2, term, index], got tag ${
          describe(item[0])
        } with ${item.length} fields`,
      );
    }
  }
  return entries;
}

/** A short description of a wire value for error messages (never the value itself when large). */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (value instanceof Uint8Array) return `${value.byteLength} bytes of binary`;
  if (Array.isArray(value)) return `an array of ${value.length}`;
  switch (typeof value) {
    case "number":
    case "boolean":
      return String(value);
    case "string":
      return `a string of ${value.length} characters`;
    default:
      return typeof value;
  }
}
