/**
 * The wire form of client requests and responses on an authenticated client connection:
 * each frame body is the msgpack array `[requestId, body]`, where `requestId` is a u32 the
 * client chose and the response repeats, and `body` is any msgpack value the application
 * defines. Errors of the RPC layer itself travel as a response body of shape
 * {@link RpcErrorBody}.
 */

import { Decoder, Encoder } from "@msgpack/msgpack";
import { FrameError, writeFrameHeader } from "./frame.ts";
import { FRAME_BYTES_MAX, FRAME_HEADER_BYTES, RPC_REQUEST_ID_MAX } from "./limits.ts";
import { CodecError, type DecodeResult, describe } from "./raft_codec.ts";

/** Why the server's RPC layer (not the application) could not answer a request. */
export type RpcErrorBodyCode = "busy" | "internal" | "tooLarge";

/**
 * A response body produced by the RPC layer instead of the application's handler:
 * "busy" when the connection already has RPC_INFLIGHT_MAX requests outstanding (retry
 * later), "internal" when the handler failed, "tooLarge" when the answer does not fit in a
 * frame. Applications should not answer with a top-level `error` field of these codes.
 */
export interface RpcErrorBody {
  readonly error: RpcErrorBodyCode;
  readonly message: string;
}

const ERROR_BODY_CODES: ReadonlySet<string> = new Set(
  Object.keys(
    { busy: true, internal: true, tooLarge: true } satisfies Record<RpcErrorBodyCode, true>,
  ),
);

/** True when a response body is an {@link RpcErrorBody}. */
export function isRpcErrorBody(body: unknown): body is RpcErrorBody {
  if (typeof body !== "object" || body === null) return false;
  const fields = body as Record<string, unknown>;
  return typeof fields.error === "string" && ERROR_BODY_CODES.has(fields.error) &&
    typeof fields.message === "string";
}

/** A request or a response. */
export interface RpcEnvelope {
  readonly id: number;
  readonly body: unknown;
}

const encoder = new Encoder();
// Every element takes at least one byte, so no length in a valid frame exceeds the frame.
const decoder = new Decoder({
  maxBinLength: FRAME_BYTES_MAX,
  maxStrLength: FRAME_BYTES_MAX,
  maxArrayLength: FRAME_BYTES_MAX,
  maxMapLength: FRAME_BYTES_MAX,
  maxExtLength: FRAME_BYTES_MAX,
});

/** True when `id` can be a request id (u32). */
export function isRequestId(id: unknown): id is number {
  return typeof id === "number" && Number.isInteger(id) && id >= 0 && id <= RPC_REQUEST_ID_MAX;
}

/**
 * Encodes `[id, body]` as a frame. Fails with "tooLarge" when it does not fit, or "malformed"
 * when `body` holds something msgpack cannot carry (a function, a symbol, a cycle too deep).
 */
export function encodeRpcFrame(id: number, body: unknown): Uint8Array | FrameError {
  let encoded: Uint8Array;
  try {
    encoded = encoder.encodeSharedRef([id, body]);
  } catch (error) {
    return new FrameError("malformed", `Cannot encode RPC body: ${(error as Error).message}`);
  }
  if (encoded.byteLength > FRAME_BYTES_MAX) {
    return new FrameError(
      "tooLarge",
      `Cannot send RPC body of ${encoded.byteLength} bytes: the frame limit is ${FRAME_BYTES_MAX}`,
    );
  }
  const frame = new Uint8Array(FRAME_HEADER_BYTES + encoded.byteLength);
  writeFrameHeader(frame, 0, encoded.byteLength);
  frame.set(encoded, FRAME_HEADER_BYTES);
  return frame;
}

/** Decodes and checks `[id, body]`. Never throws. */
export function decodeRpcFrame(bytes: Uint8Array): DecodeResult<RpcEnvelope> {
  let value: unknown;
  try {
    value = decoder.decode(bytes);
  } catch (error) {
    return {
      ok: false,
      error: new CodecError("msgpack", `Not a msgpack value: ${(error as Error).message}`),
    };
  }
  if (!Array.isArray(value) || value.length !== 2 || !isRequestId(value[0])) {
    return {
      ok: false,
      error: new CodecError(
        "invalid",
        `Invalid RPC frame: expected [u32 id, body], got ${describe(value)}`,
      ),
    };
  }
  return { ok: true, value: { id: value[0], body: value[1] } };
}
