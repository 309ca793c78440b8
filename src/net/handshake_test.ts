/**
 * The handshake on real loopback sockets, both sides run by the test: peers and clients
 * with the right secret get in; a wrong secret (on either side), another cluster name, an
 * unknown node id or group, an unsupported version, a node that is not the one we meant to
 * reach, and a silent connection are all refused with their own code, and the connection
 * is closed.
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { encode } from "@msgpack/msgpack";
import { asNodeId, type NodeId } from "../raft/core/types.ts";
import { encodeFrame, FrameError } from "./frame.ts";
import { FramedConnection } from "./framed_connection.ts";
import {
  acceptHandshake,
  type AcceptHandshakeOptions,
  connectHandshake,
  type ConnectHandshakeOptions,
  type HandshakeResult,
  importClusterKey,
} from "./handshake.ts";
import { TEST_CLUSTER, TEST_SECRET } from "./test_support.ts";

const key = await importClusterKey(TEST_SECRET);
const otherKey = await importClusterKey("another-secret-0123456789");

const acceptor: AcceptHandshakeOptions = {
  clusterName: TEST_CLUSTER,
  key,
  selfId: asNodeId(1),
  groupId: 100,
  allowedPeers: new Set<NodeId>([asNodeId(2), asNodeId(3)]),
};
const peer2: ConnectHandshakeOptions = {
  clusterName: TEST_CLUSTER,
  key,
  role: { kind: "peer", nodeId: asNodeId(2), groupId: 100 },
  expectedPeer: { nodeId: asNodeId(1), groupId: 100 },
};

/** Runs the acceptor against `script` over a fresh loopback connection; closes everything. */
async function acceptAgainst<T>(
  accept: AcceptHandshakeOptions,
  script: (connection: FramedConnection) => Promise<T>,
): Promise<{ accepted: HandshakeResult; connected: T }> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let server: FramedConnection | null = null;
  let client: FramedConnection | null = null;
  try {
    const [serverConn, clientConn] = await Promise.all([
      listener.accept(),
      Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
    ]);
    server = new FramedConnection(serverConn);
    client = new FramedConnection(clientConn);
    const [accepted, connected] = await Promise.all([
      acceptHandshake(server, accept),
      script(client),
    ]);
    return { accepted, connected };
  } finally {
    server?.close();
    client?.close();
    listener.close();
  }
}

/** Runs both sides of a handshake. */
function pair(
  accept: AcceptHandshakeOptions,
  connect: ConnectHandshakeOptions,
): Promise<{ accepted: HandshakeResult; connected: HandshakeResult }> {
  return acceptAgainst(accept, (connection) => connectHandshake(connection, connect));
}

Deno.test("handshake: a listed peer with the secret is accepted, and learns whom it reached", async () => {
  const { accepted, connected } = await pair(acceptor, peer2);
  ok(accepted.ok && connected.ok);
  deepEqual(accepted.remote, { kind: "peer", nodeId: 2, groupId: 100 });
  deepEqual(connected.remote, { kind: "peer", nodeId: 1, groupId: 100 });
});

Deno.test("handshake: a client with the secret is accepted", async () => {
  const { accepted, connected } = await pair(acceptor, {
    clusterName: TEST_CLUSTER,
    key,
    role: { kind: "client" },
  });
  ok(accepted.ok && connected.ok);
  deepEqual(accepted.remote, { kind: "client" });
});

Deno.test("handshake: a connector with the wrong secret is found out, and both sides refuse", async () => {
  const { accepted, connected } = await pair(acceptor, { ...peer2, key: otherKey });
  // The connector checks the acceptor's proof first, so it is the one that notices.
  ok(!accepted.ok && !connected.ok);
  equal(connected.error.code, "authentication");
  equal(accepted.error.code, "authentication");
  ok(accepted.error.remote, "the acceptor learns the reason from the connector");
});

Deno.test("handshake: an acceptor with the wrong secret is refused by the connector", async () => {
  const { accepted, connected } = await pair({ ...acceptor, key: otherKey }, peer2);
  ok(!accepted.ok && !connected.ok);
  equal(connected.error.code, "authentication");
  ok(connected.error.message.includes("wrong secret"));
});

Deno.test("handshake: another cluster name is refused", async () => {
  const { accepted, connected } = await pair(acceptor, { ...peer2, clusterName: "other" });
  ok(!accepted.ok && !connected.ok);
  equal(accepted.error.code, "cluster");
  equal(connected.error.code, "cluster");
  ok(connected.error.remote && connected.error.message.includes("other"));
});

Deno.test("handshake: an unknown node id, or a node of another group, is refused", async () => {
  for (
    const role of [
      { kind: "peer" as const, nodeId: asNodeId(9), groupId: 100 },
      { kind: "peer" as const, nodeId: asNodeId(2), groupId: 101 },
    ]
  ) {
    const { accepted, connected } = await pair(acceptor, { ...peer2, role });
    ok(!accepted.ok && !connected.ok);
    equal(accepted.error.code, "unknownPeer");
    ok(accepted.error.message.includes(`node ${role.nodeId} of group ${role.groupId}`));
    equal(connected.error.code, "unknownPeer");
  }
});

Deno.test("handshake: reaching a different node than expected is refused by the connector", async () => {
  const { accepted, connected } = await pair(acceptor, {
    ...peer2,
    expectedPeer: { nodeId: asNodeId(3), groupId: 100 },
  });
  ok(!accepted.ok && !connected.ok);
  equal(connected.error.code, "wrongPeer");
});

Deno.test("handshake: an unsupported protocol version is refused with the supported list", async () => {
  const { accepted, connected: reply } = await acceptAgainst(acceptor, async (connection) => {
    const hello = encode({
      protocol: "shardkv",
      version: 99,
      cluster: TEST_CLUSTER,
      role: "client",
    });
    await connection.writeAll(encodeFrame(hello) as Uint8Array);
    return await connection.readFrame();
  });
  ok(!accepted.ok);
  equal(accepted.error.code, "version");
  ok(accepted.error.message.includes("supported: 1"));
  ok(reply !== null && !(reply instanceof FrameError), "the connector is told why");
});

Deno.test("handshake: garbage instead of a hello is refused as malformed", async () => {
  const { accepted } = await acceptAgainst(acceptor, async (connection) => {
    await connection.writeAll(new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n"));
    await connection.readFrame();
  });
  ok(!accepted.ok);
  equal(accepted.error.code, "malformed");
});

Deno.test("handshake: a silent connection is closed at the deadline", async () => {
  const started = Date.now();
  const { accepted } = await acceptAgainst({ ...acceptor, timeoutMs: 100 }, async (connection) => {
    equal(await connection.readFrame(), null, "the acceptor hangs up");
  });
  ok(!accepted.ok);
  equal(accepted.error.code, "timeout");
  ok(Date.now() - started < 2_000);
});
