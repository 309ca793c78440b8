/**
 * Opening an outbound connection: TCP connect bounded by CONNECT_TIMEOUT_MS and cancellable
 * through `abort` (closing a transport or client aborts its dial), Nagle off (Raft and RPC
 * frames are small and latency-bound), wrapped in a {@link FramedConnection}. The peer link
 * and the RPC client both dial this way and differ only in how they report a failure.
 */

import { FramedConnection } from "./framed_connection.ts";
import { CONNECT_TIMEOUT_MS } from "./limits.ts";
import type { PeerAddress } from "./peer_link.ts";

/** Connects to `address`; an Error says why it could not (refused, timed out, aborted). */
export async function dialFramed(
  address: PeerAddress,
  abort: AbortController,
): Promise<FramedConnection | Error> {
  const timer = setTimeout(() => abort.abort(), CONNECT_TIMEOUT_MS);
  try {
    const conn = await Deno.connect({
      hostname: address.host,
      port: address.port,
      signal: abort.signal,
    });
    conn.setNoDelay(true);
    return new FramedConnection(conn);
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  } finally {
    clearTimeout(timer);
  }
}
