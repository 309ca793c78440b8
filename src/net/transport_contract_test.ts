/**
 * Runs the shared transport contract against TcpTransport: two nodes on loopback, each
 * with a NetServer that records deliveries and a TcpTransport pointed at the other.
 */

import { silentLogger } from "../util/logger.ts";
import type { Message } from "../raft/core/messages.ts";
import { asNodeId, type NodeId } from "../raft/core/types.ts";
import { NetServer } from "./server.ts";
import { TcpTransport } from "./tcp_transport.ts";
import { TEST_CLUSTER, TEST_SECRET, waitUntil } from "./test_support.ts";
import { runTransportContract, type TransportHarness } from "./transport_contract.ts";

const GROUP = 1;

async function tcpPair(): Promise<TransportHarness> {
  const a = asNodeId(1);
  const b = asNodeId(2);
  const delivered = new Map<NodeId, Message[]>([[a, []], [b, []]]);
  const servers: NetServer[] = [];
  const transports: TcpTransport[] = [];
  const listen = (selfId: NodeId, peer: NodeId) =>
    NetServer.listen({
      host: "127.0.0.1",
      port: 0,
      clusterName: TEST_CLUSTER,
      secret: TEST_SECRET,
      groupId: GROUP,
      selfId,
      allowedPeers: new Set([peer]),
      onPeerMessages: (messages) => delivered.get(selfId)!.push(...messages),
      onClientRequest: () => Promise.resolve(null),
      logger: silentLogger,
    });
  const connect = (selfId: NodeId, peer: NodeId, port: number) =>
    new TcpTransport({
      selfId,
      groupId: GROUP,
      clusterName: TEST_CLUSTER,
      secret: TEST_SECRET,
      peers: new Map([[peer, { host: "127.0.0.1", port }]]),
      logger: silentLogger,
    });
  servers.push(await listen(a, b), await listen(b, a));
  transports.push(connect(a, b, servers[1]!.port), connect(b, a, servers[0]!.port));
  return {
    a,
    b,
    transportA: transports[0]!,
    transportB: transports[1]!,
    delivered: (node) => delivered.get(node) ?? [],
    waitUntil,
    closeA: () => transports[0]!.close(),
    dispose: async () => {
      await Promise.all(transports.map((transport) => transport.close()));
      await Promise.all(servers.map((server) => server.close()));
    },
  };
}

runTransportContract("tcp transport contract", tcpPair);
