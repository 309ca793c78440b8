/**
 * The contract every Raft {@link Transport} meets (STYLE.md #7), as a suite any
 * implementation can run: the TCP transport here, the simulated network in the simulator.
 * Under no faults: messages from A reach B intact (every kind, binary data included), and
 * messages on one link arrive in the order they were sent. Once a transport is closed,
 * nothing it is asked to send is delivered, and `send` still does not throw.
 *
 * Harnesses bring their own notion of time: `waitUntil` polls real time for TCP, and
 * advances the virtual clock for a simulated network.
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import type { Message } from "../raft/core/messages.ts";
import type { NodeId } from "../raft/core/types.ts";
import type { Transport } from "../raft/node.ts";
import { numberedHeartbeat, sampleMessages } from "./test_support.ts";

/** Two connected nodes, A and B, and a view of what each has been delivered. */
export interface TransportHarness {
  readonly a: NodeId;
  readonly b: NodeId;
  /** The transport node A sends with. */
  readonly transportA: Transport;
  /** The transport node B sends with. */
  readonly transportB: Transport;
  /** Messages delivered to `node` so far, in delivery order. */
  delivered(node: NodeId): readonly Message[];
  /** Lets time pass until `done()` holds (true) or `limitMs` of it passed (false). */
  waitUntil(done: () => boolean, limitMs: number): Promise<boolean>;
  /** Closes A's transport. */
  closeA(): Promise<void>;
  /** Releases every resource; called once, in `finally`. */
  dispose(): Promise<void>;
}

/** Builds a fresh harness for one test. */
export type MakeTransportPair = () => Promise<TransportHarness>;

/** Registers the contract's tests, named after `name`. */
export function runTransportContract(name: string, makePair: MakeTransportPair): void {
  const contract = (title: string, body: (harness: TransportHarness) => Promise<void>) =>
    Deno.test(`${name}: ${title}`, async () => {
      const harness = await makePair();
      try {
        await body(harness);
      } finally {
        await harness.dispose();
      }
    });

  contract("messages of every kind from A reach B intact, and from B reach A", async (h) => {
    const toB = sampleMessages().map((m) => ({ ...m, from: h.a, to: h.b }) as Message);
    const toA = sampleMessages().map((m) => ({ ...m, from: h.b, to: h.a }) as Message);
    h.transportA.send(toB);
    h.transportB.send(toA);
    ok(
      await h.waitUntil(
        () => h.delivered(h.b).length >= toB.length && h.delivered(h.a).length >= toA.length,
        5_000,
      ),
      "everything is delivered",
    );
    deepEqual(h.delivered(h.b), toB);
    deepEqual(h.delivered(h.a), toA);
  });

  contract("order is preserved per link under no faults", async (h) => {
    const count = 2_000;
    for (let i = 0; i < count; i += 50) {
      h.transportA.send(Array.from({ length: 50 }, (_, j) => numberedHeartbeat(h.a, h.b, i + j)));
      // Let time pass now and then, so sends interleave with deliveries.
      if (i % 500 === 0) await h.waitUntil(() => false, 1);
    }
    ok(await h.waitUntil(() => h.delivered(h.b).length >= count, 10_000), "everything arrives");
    const rounds = h.delivered(h.b).map((m) => (m.type === "heartbeat" ? m.round : -1));
    deepEqual(rounds, Array.from({ length: count }, (_, i) => i));
  });

  contract("after A's transport is closed nothing more from A is delivered", async (h) => {
    h.transportA.send([numberedHeartbeat(h.a, h.b, 0)]);
    ok(await h.waitUntil(() => h.delivered(h.b).length === 1, 5_000));
    await h.closeA();
    h.transportA.send([numberedHeartbeat(h.a, h.b, 1)]);
    equal(await h.waitUntil(() => h.delivered(h.b).length > 1, 200), false);
    equal(h.delivered(h.b).length, 1, "only the message sent before close");
  });
}
