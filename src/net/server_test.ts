/**
 * NetServer as a wall: connections that fail the handshake (wrong secret, another cluster,
 * an unknown node id, garbage) and authenticated peers that then send bad frames (garbage,
 * an oversized length prefix, a truncated frame, undecodable msgpack, an invalid or forged
 * message) are each closed and logged with the remote address and the reason, and the
 * server goes on serving a good peer afterwards.
 */

import { equal, ok, rejects } from "node:assert/strict";
import { encode } from "@msgpack/msgpack";
import { memoryLogger } from "../util/logger.ts";
import type { Message } from "../raft/core/messages.ts";
import { asNodeId, type NodeId } from "../raft/core/types.ts";
import { encodeFrame } from "./frame.ts";
import { FramedConnection } from "./framed_connection.ts";
import { connectHandshake, importClusterKey } from "./handshake.ts";
import { encodeBatch } from "./raft_codec.ts";
import { RpcClient, RpcError } from "./rpc.ts";
import { NetServer } from "./server.ts";
import { TcpTransport } from "./tcp_transport.ts";
import { numberedHeartbeat, TEST_CLUSTER, TEST_SECRET, waitUntil } from "./test_support.ts";

const SERVER = asNodeId(1);
const PEER = asNodeId(2);
const GROUP = 3;

async function start() {
  const { logger, lines } = memoryLogger("debug");
  const received: Message[] = [];
  const server = await NetServer.listen({
    host: "127.0.0.1",
    port: 0,
    clusterName: TEST_CLUSTER,
    secret: TEST_SECRET,
    groupId: GROUP,
    selfId: SERVER,
    allowedPeers: new Set([PEER]),
    onPeerMessages: (messages) => received.push(...messages),
    onClientRequest: (body) => Promise.resolve(body),
    logger,
  });
  const warnings = () => lines.filter((line) => line.level === "warn");
  return { server, received, lines, warnings };
}

function peerTransport(port: number, options: { selfId?: NodeId; secret?: string } = {}) {
  const { logger, lines } = memoryLogger("debug");
  const transport = new TcpTransport({
    selfId: options.selfId ?? PEER,
    groupId: GROUP,
    clusterName: TEST_CLUSTER,
    secret: options.secret ?? TEST_SECRET,
    peers: new Map([[SERVER, { host: "127.0.0.1", port }]]),
    logger,
    random: () => 0.5,
  });
  return { transport, lines };
}

/** Checks that a good peer still gets through. */
async function assertServesGoodPeer(port: number, received: Message[]): Promise<void> {
  const { transport } = peerTransport(port);
  const before = received.length;
  try {
    transport.send([numberedHeartbeat(PEER, SERVER, 42)]);
    ok(await waitUntil(() => received.length === before + 1, 5_000), "the good peer is served");
  } finally {
    await transport.close();
  }
}

Deno.test("server: a peer with the wrong secret is refused and logged on both sides", async () => {
  const { server, received, warnings } = await start();
  const bad = peerTransport(server.port, { secret: "not-the-cluster-secret!" });
  try {
    bad.transport.send([numberedHeartbeat(PEER, SERVER, 1)]);
    ok(await waitUntil(() => warnings().length > 0, 5_000));
    const line = warnings()[0]!;
    equal(line.message, "connection refused: handshake failed");
    equal(line.fields.code, "authentication");
    ok(String(line.fields.remote).startsWith("127.0.0.1:"));
    ok(bad.lines.some((l) => l.level === "warn" && l.fields.code === "authentication"));
    equal(received.length, 0);
    equal(server.stats().handshakeFailures >= 1, true);
  } finally {
    await bad.transport.close();
  }
  try {
    await assertServesGoodPeer(server.port, received);
  } finally {
    await server.close();
  }
});

Deno.test("server: an unknown node id is refused and logged", async () => {
  const { server, received, warnings } = await start();
  const stranger = peerTransport(server.port, { selfId: asNodeId(9) });
  try {
    stranger.transport.send([numberedHeartbeat(asNodeId(9), SERVER, 1)]);
    ok(await waitUntil(() => warnings().length > 0, 5_000));
    equal(warnings()[0]!.fields.code, "unknownPeer");
    ok(String(warnings()[0]!.fields.reason).includes("node 9 of group 3"));
    equal(received.length, 0);
  } finally {
    await stranger.transport.close();
    await server.close();
  }
});

Deno.test("server: a client of another cluster is refused (RpcError refused) and logged", async () => {
  const { server, warnings } = await start();
  const client = new RpcClient({
    address: { host: "127.0.0.1", port: server.port },
    clusterName: "other-cluster",
    secret: TEST_SECRET,
    logger: memoryLogger().logger,
  });
  try {
    await rejects(client.call("ping"), (error: unknown) => {
      ok(error instanceof RpcError);
      equal(error.code, "refused");
      return true;
    });
    ok(await waitUntil(() => warnings().length > 0, 5_000));
    equal(warnings()[0]!.fields.code, "cluster");
  } finally {
    await client.close();
    await server.close();
  }
});

/** Opens an authenticated peer connection by hand, so a test can send anything on it. */
async function rawPeer(port: number): Promise<FramedConnection> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const connection = new FramedConnection(conn);
  const result = await connectHandshake(connection, {
    clusterName: TEST_CLUSTER,
    key: await importClusterKey(TEST_SECRET),
    role: { kind: "peer", nodeId: PEER, groupId: GROUP },
  });
  ok(result.ok, result.ok ? "" : result.error.message);
  return connection;
}

const frame = (body: Uint8Array) => encodeFrame(body) as Uint8Array;

const BAD_STREAMS: { name: string; bytes: Uint8Array; closeAfter: boolean; reason: string }[] = [
  {
    name: "garbage bytes",
    bytes: new TextEncoder().encode("this is not a frame at all"),
    closeAfter: false,
    reason: "exceeds",
  },
  {
    name: "an oversized length prefix",
    bytes: new Uint8Array([0x7f, 0xff, 0xff, 0xff, 1, 2, 3]),
    closeAfter: false,
    reason: "exceeds the 67108864 byte limit",
  },
  {
    name: "a truncated frame, then close",
    bytes: frame(encodeBatch([numberedHeartbeat(PEER, SERVER, 1)])).subarray(0, 9),
    closeAfter: true,
    reason: "Stream ended inside a frame",
  },
  {
    name: "undecodable msgpack",
    bytes: frame(new Uint8Array([0xc1, 0xc1])),
    closeAfter: false,
    reason: "Not a msgpack value",
  },
  {
    name: "a valid msgpack value that is not a batch",
    bytes: frame(encode([[99, 2, 1, 0]])),
    closeAfter: false,
    reason: "unknown message tag 99",
  },
  {
    name: "a message forged as coming from another node",
    bytes: frame(encodeBatch([numberedHeartbeat(asNodeId(3), SERVER, 1)])),
    closeAfter: false,
    reason: "message from 3 to 1 arrived on the connection from node 2",
  },
];

for (const bad of BAD_STREAMS) {
  Deno.test(`server: ${bad.name} closes that connection, is logged, and others are still served`, async () => {
    const { server, received, warnings } = await start();
    let connection: FramedConnection | null = null;
    try {
      connection = await rawPeer(server.port);
      await connection.writeAll(bad.bytes);
      if (bad.closeAfter) connection.close();
      else equal(await connection.readFrame(), null, "the server closed the connection");
      ok(await waitUntil(() => warnings().length > 0, 5_000));
      const line = warnings()[0]!;
      equal(line.message, "closing peer connection: bad frame");
      ok(String(line.fields.remote).startsWith("127.0.0.1:"));
      ok(String(line.fields.reason).includes(bad.reason), String(line.fields.reason));
      equal(received.length, 0);
      equal(server.stats().badConnections, 1);
      await assertServesGoodPeer(server.port, received);
    } finally {
      connection?.close();
      await server.close();
    }
  });
}

Deno.test("server: close() stops accepting and closes open connections", async () => {
  const { server } = await start();
  const connection = await rawPeer(server.port);
  try {
    await server.close();
    equal(await connection.readFrame(), null);
    await rejects(Deno.connect({ hostname: "127.0.0.1", port: server.port }));
  } finally {
    connection.close();
  }
});
