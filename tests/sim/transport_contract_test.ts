/**
 * The transport contract (src/net/transport_contract.ts) run against the simulated network,
 * the same suite the TCP transport passes: what the simulator's replicas rely on matches what
 * real processes get, and the harness's notion of time is the virtual clock.
 */

import type { Message } from "../../src/raft/core/messages.ts";
import { asNodeId, type NodeId } from "../../src/raft/core/types.ts";
import { runTransportContract } from "../../src/net/transport_contract.ts";
import { Prng } from "../../src/util/prng.ts";
import { SimNetwork } from "./network.ts";
import { Scheduler } from "./scheduler.ts";

runTransportContract("sim transport", () => {
  const scheduler = new Scheduler();
  const a = asNodeId(1);
  const b = asNodeId(2);
  const delivered = new Map<NodeId, Message[]>([[a, []], [b, []]]);
  const network = new SimNetwork(
    2,
    scheduler,
    new Prng(7),
    (to, message) => delivered.get(asNodeId(to + 1))!.push(message),
  );
  let closedA = false;
  return Promise.resolve({
    a,
    b,
    transportA: { send: (messages: readonly Message[]) => closedA || network.send(messages) },
    transportB: { send: (messages: readonly Message[]) => network.send(messages) },
    delivered: (node: NodeId) => delivered.get(node)!,
    waitUntil: (done: () => boolean, limitMs: number) =>
      Promise.resolve(scheduler.runUntilTrue(done, limitMs)),
    closeA: () => {
      closedA = true;
      return Promise.resolve();
    },
    dispose: () => Promise.resolve(),
  });
});
