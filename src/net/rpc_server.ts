/**
 * The server half of client RPC: reads `[id, body]` requests from one authenticated client
 * connection, runs the application's handler for each (many at once, up to
 * RPC_INFLIGHT_MAX per connection; past that the answer is a "busy" error body), and writes
 * each `[id, response]` as soon as it is ready, so responses may overtake one another.
 */

import { AssertionError } from "../util/assert.ts";
import type { Logger } from "../util/logger.ts";
import { FrameError } from "./frame.ts";
import type { FramedConnection } from "./framed_connection.ts";
import { FrameWriter } from "./frame_writer.ts";
import { RPC_INFLIGHT_MAX } from "./limits.ts";
import { decodeRpcFrame, encodeRpcFrame, type RpcErrorBody } from "./rpc_codec.ts";

/** Answers one client request; the resolved value is the response body. */
export type ClientRequestHandler = (body: unknown) => Promise<unknown>;

/** Counters a server keeps about its client connections. */
export interface RpcServeCounters {
  requests: number;
  busy: number;
  bytesReceived: number;
}

/** Serves requests on `connection` until it ends; a bad frame closes it with a warn line. */
export async function serveRpcConnection(
  connection: FramedConnection,
  handler: ClientRequestHandler,
  logger: Logger,
  counters: RpcServeCounters,
): Promise<void> {
  const writer = new FrameWriter(connection);
  let inflight = 0;
  const respond = (id: number, body: unknown): void => {
    let frame = encodeRpcFrame(id, body);
    if (frame instanceof FrameError) {
      logger.warn("cannot encode a response", {
        remote: connection.remoteAddress,
        reason: frame.message,
      });
      const error: RpcErrorBody = {
        error: frame.code === "tooLarge" ? "tooLarge" : "internal",
        message: frame.message,
      };
      frame = encodeRpcFrame(id, error);
      if (frame instanceof FrameError) return;
    }
    // A false return means the connection is gone (or its reader stalled): nothing to answer.
    writer.enqueue(frame);
  };
  let bytesSeen = connection.bytesRead;
  for (;;) {
    const frame = await connection.readFrame();
    counters.bytesReceived += connection.bytesRead - bytesSeen;
    bytesSeen = connection.bytesRead;
    if (frame === null) break;
    const request = frame instanceof FrameError
      ? { ok: false as const, error: frame }
      : decodeRpcFrame(frame);
    if (!request.ok) {
      logger.warn("closing client connection: bad frame", {
        remote: connection.remoteAddress,
        reason: request.error.message,
      });
      break;
    }
    counters.requests++;
    const { id, body } = request.value;
    if (inflight >= RPC_INFLIGHT_MAX) {
      counters.busy++;
      respond(
        id,
        {
          error: "busy",
          message: `more than ${RPC_INFLIGHT_MAX} requests outstanding`,
        } satisfies RpcErrorBody,
      );
      continue;
    }
    inflight++;
    handle(handler, body, logger).then((response) => {
      inflight--;
      respond(id, response);
    });
  }
  connection.close();
  await writer.idle();
}

/** Runs the handler; a failure becomes an "internal" error body, except a broken invariant. */
async function handle(
  handler: ClientRequestHandler,
  body: unknown,
  logger: Logger,
): Promise<unknown> {
  try {
    return await handler(body);
  } catch (error) {
    // A failed assertion is a bug: let it escape and stop the process (STYLE.md #3).
    if (error instanceof AssertionError) throw error;
    const message = error instanceof Error ? error.message : String(error);
    logger.error("client request handler failed", { reason: message });
    return { error: "internal", message } satisfies RpcErrorBody;
  }
}
