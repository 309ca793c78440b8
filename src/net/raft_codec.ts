/**
 * Raft messages to and from msgpack bytes. The array form is defined in `raft_wire.ts`; this
 * module owns the shared msgpack encoder and decoder, batches (a peer frame carries an array
 * of messages), size estimates, and the rule that decoding never throws: whatever is not
 * a valid message becomes a {@link CodecError} value. Semantic checks (entries contiguous,
 * offsets inside the snapshot) stay in the core's `isWellFormed`: this layer knows shapes,
 * not Raft rules.
 */

import { Decoder, Encoder } from "@msgpack/msgpack";
import { assert } from "../util/assert.ts";
import type { Message } from "../raft/core/messages.ts";
import { FrameError, writeFrameHeader } from "./frame.ts";
import {
  BATCH_MESSAGES_MAX,
  ENTRIES_PER_MESSAGE_MAX,
  ENTRY_OVERHEAD_BYTES,
  FRAME_BYTES_MAX,
  FRAME_HEADER_BYTES,
  MESSAGE_OVERHEAD_BYTES,
} from "./limits.ts";
import { describe, messageFromWire, messageToWire, WireShapeError } from "./raft_wire.ts";

export { describe, ENTRY_TAG, MESSAGE_TAG } from "./raft_wire.ts";

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
  return encoder.encode(messageToWire(message));
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
  return decodeWith(bytes, (value) => messageFromWire(value, "message"));
}

/** Decodes and validates a batch (1..BATCH_MESSAGES_MAX messages). Never throws. */
export function decodeBatch(bytes: Uint8Array): DecodeResult<Message[]> {
  return decodeWith(bytes, (value) => {
    if (!Array.isArray(value)) {
      throw new WireShapeError(`batch: expected an array, got ${describe(value)}`);
    }
    if (value.length === 0 || value.length > BATCH_MESSAGES_MAX) {
      throw new WireShapeError(
        `batch: ${value.length} messages is outside 1..${BATCH_MESSAGES_MAX}`,
      );
    }
    const messages: Message[] = new Array(value.length);
    for (let i = 0; i < value.length; i++) messages[i] = messageFromWire(value[i], `message ${i}`);
    return messages;
  });
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
    if (!(error instanceof WireShapeError)) throw error;
    return { ok: false, error: new CodecError("invalid", `Invalid ${error.message}`) };
  }
}

function batchToTuples(messages: readonly Message[]): unknown[] {
  const tuples: unknown[] = new Array(messages.length);
  for (let i = 0; i < messages.length; i++) tuples[i] = messageToWire(messages[i]!);
  return tuples;
}
