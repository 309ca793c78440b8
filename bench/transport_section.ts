/** The transport section of `deno task bench`: the network layer alone, on loopback. */

import { benchTransport } from "../src/net/bench.ts";
import type { BenchRow } from "./table.ts";

/**
 * One row from src/net/bench.ts: sequential RPC round trips, one-way pipelined Raft appends
 * and wire bytes per append. Its message counts are fixed there, so --scale does not apply.
 */
export async function transportSection(): Promise<BenchRow[]> {
  const result = await benchTransport();
  return [{
    "RPC round trips/s (sequential)": Math.round(result.roundTripsPerSecond),
    "pipelined Raft messages/s": Math.round(result.pipelinedMessagesPerSecond),
    "bytes/message": result.bytesPerMessage,
  }];
}
