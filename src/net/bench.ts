/**
 * A benchmark of the network layer on loopback (not a test: it asserts nothing about time).
 * Run it with `deno run -A src/net/bench.ts`.
 *
 * - round trips: sequential client RPC calls (ping → pong), one outstanding at a time;
 * - pipelined: 100,000 Raft append messages (one 64-byte command entry each) one way from a
 *   TcpTransport to a NetServer, timed from the first send to the last delivery; the sender
 *   keeps its queue below half full so that nothing is dropped;
 * - bytes per message: wire bytes (frames included) divided by messages, for those appends.
 */

import { silentLogger } from "../util/logger.ts";
import type { Message } from "../raft/core/messages.ts";
import { asIndex, asNodeId, asTerm } from "../raft/core/types.ts";
import { PEER_QUEUE_MESSAGES_MAX } from "./limits.ts";
import { RpcClient } from "./rpc.ts";
import { NetServer } from "./server.ts";
import { TcpTransport } from "./tcp_transport.ts";

/** What {@link benchTransport} measured. */
export interface TransportBenchResult {
  readonly roundTripsPerSecond: number;
  readonly pipelinedMessagesPerSecond: number;
  readonly bytesPerMessage: number;
}

const CLUSTER = "bench";
const SECRET = "bench-secret-0123456789";
const ROUND_TRIPS = 5_000;
const PIPELINED_MESSAGES = 100_000;
const SEND_CHUNK = 1_000;
const A = asNodeId(1);
const B = asNodeId(2);

/** Measures RPC round trips and one-way pipelined Raft messages between two local servers. */
export async function benchTransport(): Promise<TransportBenchResult> {
  let received = 0;
  const server = await NetServer.listen({
    host: "127.0.0.1",
    port: 0,
    clusterName: CLUSTER,
    secret: SECRET,
    groupId: 1,
    selfId: B,
    allowedPeers: new Set([A]),
    onPeerMessages: (messages) => {
      received += messages.length;
    },
    onClientRequest: (body) => Promise.resolve(body === "ping" ? "pong" : body),
    logger: silentLogger,
  });
  const client = new RpcClient({
    address: { host: "127.0.0.1", port: server.port },
    clusterName: CLUSTER,
    secret: SECRET,
    logger: silentLogger,
  });
  const transport = new TcpTransport({
    selfId: A,
    groupId: 1,
    clusterName: CLUSTER,
    secret: SECRET,
    peers: new Map([[B, { host: "127.0.0.1", port: server.port }]]),
    logger: silentLogger,
  });
  try {
    const roundTripsPerSecond = await roundTrips(client);
    const pipelinedMessagesPerSecond = await pipelined(transport, () => received);
    const link = transport.stats()[0]!;
    return {
      roundTripsPerSecond,
      pipelinedMessagesPerSecond,
      bytesPerMessage: link.bytesSent / link.messagesSent,
    };
  } finally {
    await client.close();
    await transport.close();
    await server.close();
  }
}

async function roundTrips(client: RpcClient): Promise<number> {
  await client.call("ping"); // connect and handshake outside the timing
  const started = performance.now();
  for (let i = 0; i < ROUND_TRIPS; i++) await client.call("ping");
  return ROUND_TRIPS / ((performance.now() - started) / 1000);
}

async function pipelined(transport: TcpTransport, received: () => number): Promise<number> {
  const data = new Uint8Array(64).fill(7);
  const append = (i: number): Message => ({
    type: "append",
    from: A,
    to: B,
    term: asTerm(3),
    prevIndex: asIndex(i),
    prevTerm: asTerm(3),
    commit: asIndex(i),
    entries: [{ type: "command", term: asTerm(3), index: asIndex(i + 1), data }],
  });
  const yieldToIo = () => new Promise((resolve) => setTimeout(resolve, 0));
  const started = performance.now();
  let sent = 0;
  while (sent < PIPELINED_MESSAGES) {
    if (transport.stats()[0]!.queueLength > PEER_QUEUE_MESSAGES_MAX / 2) {
      await yieldToIo();
      continue;
    }
    const batch: Message[] = [];
    for (let i = 0; i < SEND_CHUNK && sent < PIPELINED_MESSAGES; i++) batch.push(append(sent++));
    transport.send(batch);
  }
  while (received() < PIPELINED_MESSAGES) await yieldToIo();
  const seconds = (performance.now() - started) / 1000;
  const dropped = transport.stats()[0]!.messagesDropped;
  if (dropped > 0) throw new Error(`benchmark invalid: ${dropped} messages were dropped`);
  return PIPELINED_MESSAGES / seconds;
}

if (import.meta.main) {
  const result = await benchTransport();
  console.log(
    `round trips/s: ${result.roundTripsPerSecond.toFixed(0)}\n` +
      `pipelined messages/s: ${result.pipelinedMessagesPerSecond.toFixed(0)}\n` +
      `bytes/message: ${result.bytesPerMessage.toFixed(1)}`,
  );
}
