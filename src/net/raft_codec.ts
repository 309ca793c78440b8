/**
 * The wire form of Raft messages: each message is a msgpack array that starts with a numeric
 * kind tag, then `from, to, term`, then the kind's own fields in a fixed order; entries are
 * `[type, term, index, data]` arrays (`[type, term, index]` for a no-op) with data as msgpack
 * bin. A peer frame carries a batch: an array of such messages.
 *
 * Decoding trusts nothing: every field's type and range is checked before the value is
 * branded, and anything else becomes a {@link CodecError} value; the decoder never throws.
 * Semantic checks (entries contiguous, offsets inside the snapshot) stay in the core's
 * `isWellFormed`: this layer knows shapes, not Raft rules.
 */

import { Decoder, Encoder } from "@msgpack/msgpack";
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
import { FrameError, writeFrameHeader } from "./frame.ts";
import {
  BATCH_MESSAGES_MAX,
  ENTRIES_PER_MESSAGE_MAX,
  ENTRY_OVERHEAD_BYTES,
  FRAME_BYTES_MAX,
  FRAME_HEADER_BYTES,
  MESSAGE_OVERHEAD_BYTES,
} from "./limits.ts";

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

/** Why bytes are not a valid message: not msgpack at all, or msgpack of the wrong shape. */
export type CodecErrorCode = "msgpack" | "invalid";

/** A decoding failure; the frame that caused it should close its connection. */
export class CodecError extends Error {
  override readonly name = "CodecError";
  constructor(readonly code: CodecErrorCode, message: string) {
    super(message);
  }
}

/** The outcome of decoding: a value, or why there is none. */
export type DecodeResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: CodecError };

// One encoder and one decoder for the process: encoding and decoding are synchronous, so
// sharing them is safe and spares an allocation of their buffers per message.
const encoder = new Encoder({ ignoreUndefined: false });
const decoder = new Decoder({
  maxStrLength: 0,
  maxMapLength: 0,
  maxExtLength: 0,
  maxArrayLength: Math.max(BATCH_MESSAGES_MAX, ENTRIES_PER_MESSAGE_MAX),
  maxBinLength: FRAME_BYTES_MAX,
});

/** Encodes one message. */
export function encodeMessage(message: Message): Uint8Array {
  return encoder.encode(messageToTuple(message));
}

/** Encodes a batch of messages as one msgpack array. */
export function encodeBatch(messages: readonly Message[]): Uint8Array {
  return encoder.encode(batchToTuples(messages));
}

/**
 * Encodes a batch straight into a frame (length prefix + body) with a single copy out of the
 * shared encoder's buffer. Fails with "tooLarge" when the body exceeds `frameBytesMax`.
 */
export function encodeBatchFrame(
  messages: readonly Message[],
  frameBytesMax: number = FRAME_BYTES_MAX,
): Uint8Array | FrameError {
  assert(messages.length > 0 && messages.length <= BATCH_MESSAGES_MAX, "batch size in range");
  const body = encoder.encodeSharedRef(batchToTuples(messages));
  if (body.byteLength > frameBytesMax) {
    return new FrameError(
      "tooLarge",
      `Cannot send batch of ${messages.length} messages: ${body.byteLength} bytes exceeds the ${frameBytesMax} byte frame limit`,
    );
  }
  const frame = new Uint8Array(FRAME_HEADER_BYTES + body.byteLength);
  writeFrameHeader(frame, 0, body.byteLength);
  frame.set(body, FRAME_HEADER_BYTES);
  return frame;
}

/**
 * An upper bound on the encoded size of `message`, computed without encoding it: queues
 * account with it, and a batch whose estimates fit in a frame is sure to fit once encoded.
 */
export function estimateMessageBytes(message: Message): number {
  switch (message.type) {
    case "append": {
      let bytes = MESSAGE_OVERHEAD_BYTES;
      for (const entry of message.entries) {
        bytes += ENTRY_OVERHEAD_BYTES + (entry.type === "command" ? entry.data.byteLength : 0);
      }
      return bytes;
    }
    case "installSnapshot":
      return MESSAGE_OVERHEAD_BYTES + message.chunk.byteLength;
    default:
      return MESSAGE_OVERHEAD_BYTES;
  }
}

/** Decodes and validates one message. Never throws. */
export function decodeMessage(bytes: Uint8Array): DecodeResult<Message> {
  return decodeWith(bytes, (value) => tupleToMessage(value, "message"));
}

/** Decodes and validates a batch (1..BATCH_MESSAGES_MAX messages). Never throws. */
export function decodeBatch(bytes: Uint8Array): DecodeResult<Message[]> {
  return decodeWith(bytes, (value) => {
    if (!Array.isArray(value)) invalid(`batch: expected an array, got ${describe(value)}`);
    if (value.length === 0 || value.length > BATCH_MESSAGES_MAX) {
      invalid(`batch: ${value.length} messages is outside 1..${BATCH_MESSAGES_MAX}`);
    }
    const messages: Message[] = new Array(value.length);
    for (let i = 0; i < value.length; i++) messages[i] = tupleToMessage(value[i], `message ${i}`);
    return messages;
  });
}

/** A shape violation inside the validator; caught at the decoder boundary. */
class Invalid extends Error {}

function invalid(message: string): never {
  throw new Invalid(message);
}

function decodeWith<T>(bytes: Uint8Array, validate: (value: unknown) => T): DecodeResult<T> {
  let value: unknown;
  try {
    value = decoder.decode(bytes);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { ok: false, error: new CodecError("msgpack", `Not a msgpack value: ${reason}`) };
  }
  try {
    return { ok: true, value: validate(value) };
  } catch (error) {
    if (!(error instanceof Invalid)) throw error;
    return { ok: false, error: new CodecError("invalid", `Invalid ${error.message}`) };
  }
}

function batchToTuples(messages: readonly Message[]): unknown[] {
  const tuples: unknown[] = new Array(messages.length);
  for (let i = 0; i < messages.length; i++) tuples[i] = messageToTuple(messages[i]!);
  return tuples;
}

function messageToTuple(m: Message): unknown[] {
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
      return [tag, m.from, m.to, m.term, m.prevIndex, m.prevTerm, m.commit, entriesToTuples(m)];
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

function entriesToTuples(m: { readonly entries: readonly Entry[] }): unknown[] {
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

function tupleToMessage(value: unknown, where: string): Message {
  if (!Array.isArray(value)) invalid(`${where}: expected an array, got ${describe(value)}`);
  const tag = value[0];
  const type = typeof tag === "number" ? TYPE_BY_TAG.get(tag) : undefined;
  if (type === undefined) invalid(`${where}: unknown message tag ${describe(tag)}`);
  if (value.length !== MESSAGE_ARITY[type]) {
    invalid(`${where}: ${type} has ${value.length} fields, expected ${MESSAGE_ARITY[type]}`);
  }
  const f = new Fields(value, `${where} (${type})`);
  const from = f.nodeId(1, "from");
  const to = f.nodeId(2, "to");
  const term = f.term(3, "term");
  switch (type) {
    case "preVote":
      return {
        type,
        from,
        to,
        term,
        lastIndex: f.index(4, "lastIndex"),
        lastTerm: f.term(5, "lastTerm"),
      };
    case "preVoteResponse":
    case "voteResponse":
      return { type, from, to, term, granted: f.boolean(4, "granted") };
    case "vote":
      return {
        type,
        from,
        to,
        term,
        lastIndex: f.index(4, "lastIndex"),
        lastTerm: f.term(5, "lastTerm"),
        transfer: f.boolean(6, "transfer"),
      };
    case "append":
      return {
        type,
        from,
        to,
        term,
        prevIndex: f.index(4, "prevIndex"),
        prevTerm: f.term(5, "prevTerm"),
        commit: f.index(6, "commit"),
        entries: tuplesToEntries(value[7], f.where),
      };
    case "appendAccepted":
      return { type, from, to, term, matchIndex: f.index(4, "matchIndex") };
    case "appendRejected":
      return {
        type,
        from,
        to,
        term,
        rejectedIndex: f.index(4, "rejectedIndex"),
        conflictTerm: f.term(5, "conflictTerm"),
        conflictIndex: f.index(6, "conflictIndex"),
      };
    case "heartbeat":
      return { type, from, to, term, commit: f.index(4, "commit"), round: f.counter(5, "round") };
    case "heartbeatResponse":
      return { type, from, to, term, round: f.counter(4, "round") };
    case "installSnapshot":
      return {
        type,
        from,
        to,
        term,
        snapshotIndex: f.index(4, "snapshotIndex"),
        snapshotTerm: f.term(5, "snapshotTerm"),
        totalBytes: f.counter(6, "totalBytes"),
        offset: f.counter(7, "offset"),
        chunk: f.bytes(8, "chunk"),
      };
    case "installSnapshotResponse":
      return {
        type,
        from,
        to,
        term,
        snapshotIndex: f.index(4, "snapshotIndex"),
        nextOffset: f.counter(5, "nextOffset"),
        installed: f.boolean(6, "installed"),
      };
    case "timeoutNow":
      return { type, from, to, term };
    default:
      return assertNever(type, "message type");
  }
}

function tuplesToEntries(value: unknown, where: string): Entry[] {
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
