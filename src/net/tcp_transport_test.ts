/**
 * TcpTransport against real NetServers on loopback: thousands of messages each way arrive
 * complete and in order; a peer that is down gets its queued messages once it comes up
 * (after backoff), and again after a restart; a full queue drops its oldest messages; and a
 * peer that is down does not hold up another. Every server and transport is closed in
 * `finally`, so the test sanitizers see no leaked ops or resources.
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { memoryLogger, silentLogger } from "../util/logger.ts";
import type { Message } from "../raft/core/messages.ts";
import { asNodeId, type NodeId } from "../raft/core/types.ts";
import type { PeerAddress } from "./peer_link.ts";
import { NetServer } from "./server.ts";
import { TcpTransport } from "./tcp_transport.ts";
import {
  freePort,
  numberedHeartbeat,
  TEST_CLUSTER,
  TEST_SECRET,
  waitUntil,
} from "./test_support.ts";

const A = asNodeId(1);
const B = asNodeId(2);
const C = asNodeId(3);
const GROUP = 7;

/** A server that records what it receives, per sender. */
async function recordingServer(
  selfId: NodeId,
  port = 0,
): Promise<{ server: NetServer; received: Message[] }> {
  const received: Message[] = [];
  const server = await NetServer.listen({
    host: "127.0.0.1",
    port,
    clusterName: TEST_CLUSTER,
    secret: TEST_SECRET,
    groupId: GROUP,
    selfId,
    allowedPeers: new Set([A, B, C].filter((id) => id !== selfId)),
    onPeerMessages: (messages) => received.push(...messages),
    onClientRequest: (body) => Promise.resolve(body),
    logger: silentLogger,
  });
  return { server, received };
}

function transport(
  selfId: NodeId,
  peers: [NodeId, PeerAddress][],
  extra: { queueMessagesMax?: number; logger?: ReturnType<typeof memoryLogger>["logger"] } = {},
): TcpTransport {
  return new TcpTransport({
    selfId,
    groupId: GROUP,
    clusterName: TEST_CLUSTER,
    secret: TEST_SECRET,
    peers: new Map(peers),
    logger: extra.logger ?? silentLogger,
    random: () => 0.5,
    ...(extra.queueMessagesMax === undefined ? {} : { queueMessagesMax: extra.queueMessagesMax }),
  });
}

const local = (port: number): PeerAddress => ({ host: "127.0.0.1", port });
const rounds = (messages: readonly Message[]) =>
  messages.map((m) => (m.type === "heartbeat" ? m.round : -1));

Deno.test("tcp transport: 10,000 messages each way arrive complete and in order", async () => {
  const a = await recordingServer(A);
  const b = await recordingServer(B);
  const toB = transport(A, [[B, local(b.server.port)]]);
  const toA = transport(B, [[A, local(a.server.port)]]);
  const count = 10_000;
  try {
    for (let i = 0; i < count; i += 100) {
      const fromA: Message[] = [];
      const fromB: Message[] = [];
      for (let j = i; j < i + 100; j++) {
        fromA.push(numberedHeartbeat(A, B, j));
        fromB.push(numberedHeartbeat(B, A, j));
      }
      toB.send(fromA);
      toA.send(fromB);
      if (i % 1000 === 0) await new Promise((resolve) => setTimeout(resolve, 0));
    }
    ok(await waitUntil(() => b.received.length === count && a.received.length === count, 10_000));
    const expected = Array.from({ length: count }, (_, i) => i);
    deepEqual(rounds(b.received), expected);
    deepEqual(rounds(a.received), expected);
    const [link] = toB.stats();
    ok(link !== undefined && link.connected);
    equal(link.messagesSent, count);
    equal(link.messagesDropped, 0);
    equal(link.reconnects, 0);
    ok(link.framesSent < count, `${link.framesSent} frames: writes were coalesced`);
    const inbound = b.server.stats().peers.find((p) => p.peer === A);
    equal(inbound?.messagesReceived, count);
    equal(inbound?.bytesReceived, link.bytesSent, "every byte after the handshake is counted");
  } finally {
    await toB.close();
    await toA.close();
    await a.server.close();
    await b.server.close();
  }
});

Deno.test("tcp transport: a peer that is down gets its messages once it is up, and after a restart", async () => {
  const port = freePort();
  const { logger, lines } = memoryLogger("debug");
  const toB = transport(A, [[B, local(port)]], { logger });
  let b: Awaited<ReturnType<typeof recordingServer>> | null = null;
  try {
    toB.send([numberedHeartbeat(A, B, 0), numberedHeartbeat(A, B, 1)]);
    ok(await waitUntil(() => toB.stats()[0]!.connectFailures >= 3, 5_000), "retries with backoff");
    equal(toB.stats()[0]!.queueLength, 2, "messages wait in the queue meanwhile");
    ok(lines.some((line) => line.level === "warn" && line.message === "cannot reach peer"));
    b = await recordingServer(B, port);
    ok(await waitUntil(() => b!.received.length === 2, 5_000), "delivered after reconnecting");
    deepEqual(rounds(b.received), [0, 1]);

    await b.server.close();
    b = null;
    ok(await waitUntil(() => !toB.stats()[0]!.connected, 5_000), "notices the close");
    b = await recordingServer(B, port);
    toB.send([numberedHeartbeat(A, B, 2)]);
    const again = b;
    ok(await waitUntil(() => again.received.length === 1, 5_000));
    equal(toB.stats()[0]!.reconnects, 1);
  } finally {
    await toB.close();
    await b?.server.close();
  }
});

Deno.test("tcp transport: a full queue drops the oldest messages and counts them", async () => {
  const port = freePort();
  const toB = transport(A, [[B, local(port)]], { queueMessagesMax: 100 });
  let b: Awaited<ReturnType<typeof recordingServer>> | null = null;
  try {
    toB.send(Array.from({ length: 250 }, (_, i) => numberedHeartbeat(A, B, i)));
    const stats = toB.stats()[0]!;
    equal(stats.queueLength, 100);
    equal(stats.messagesDropped, 150);
    b = await recordingServer(B, port);
    const up = b;
    ok(await waitUntil(() => up.received.length === 100, 5_000));
    deepEqual(rounds(up.received), Array.from({ length: 100 }, (_, i) => 150 + i));
  } finally {
    await toB.close();
    await b?.server.close();
  }
});

Deno.test("tcp transport: a dead peer does not hold up a live one", async () => {
  const c = await recordingServer(C);
  const transportA = transport(A, [[B, local(freePort())], [C, local(c.server.port)]]);
  try {
    for (let i = 0; i < 50; i++) {
      transportA.send([numberedHeartbeat(A, B, i), numberedHeartbeat(A, C, i)]);
    }
    ok(await waitUntil(() => c.received.length === 50, 5_000));
    const [toB, toC] = transportA.stats();
    equal(toB?.connected, false);
    equal(toB?.queueLength, 50);
    equal(toC?.messagesSent, 50);
  } finally {
    await transportA.close();
    await c.server.close();
  }
});

Deno.test("tcp transport: messages to a node without an address are dropped with one warning", async () => {
  const { logger, lines } = memoryLogger("warn");
  const transportA = transport(A, [], { logger });
  try {
    transportA.send([numberedHeartbeat(A, B, 0), numberedHeartbeat(A, B, 1)]);
    equal(lines.filter((line) => line.message.includes("no address")).length, 1);
    deepEqual(transportA.stats(), []);
  } finally {
    await transportA.close();
  }
});
