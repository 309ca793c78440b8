/**
 * Helpers of the persistence and snapshot scenario tests (seeds and replay come from
 * scenario_helpers.ts): random command values, the lab's concurrent one() calls done
 * interleaved on the simulator's single thread, and the churn tests' clients as simulator events.
 */

import type { SimCluster } from "./cluster.ts";

/** A random command value, as the lab's rand.Int(). */
export function randomValue(cluster: SimCluster): string {
  return String(cluster.random.int(0x1_0000_0000));
}

/**
 * The lab's several concurrent one(value, expected, retry=true) calls, interleaved on the
 * simulator's single thread: each value is offered to the connected servers until one accepts,
 * then has 2 s to be applied at that index by `expected` servers, else it is offered again;
 * every value must get there within 10 s. Returns the index of each value.
 */
export function oneConcurrently(
  cluster: SimCluster,
  values: readonly string[],
  expected: number,
): number[] {
  const deadline = cluster.now + 10_000;
  const pending = values.map((value) => ({ value, index: -1, offeredAt: 0, done: false }));
  let starter = 0;
  const applied = (item: (typeof pending)[number]) => {
    if (item.index === -1) return false;
    const { count, value } = cluster.nCommitted(item.index);
    return count >= expected && value === item.value;
  };
  while (pending.some((item) => !item.done)) {
    if (cluster.now >= deadline) {
      const missing = pending.filter((item) => !item.done).map((item) => item.value);
      throw new Error(`one(${missing.join(", ")}) failed to reach agreement in 10 s`);
    }
    for (const item of pending) {
      if (item.done || (item.index !== -1 && cluster.now - item.offeredAt < 2000)) continue;
      item.index = -1;
      for (let attempt = 0; attempt < cluster.n && item.index === -1; attempt++) {
        starter = (starter + 1) % cluster.n;
        if (!cluster.connected[starter]) continue;
        const result = cluster.propose(starter, item.value);
        if (result.isLeader) {
          item.index = result.index;
          item.offeredAt = cluster.now;
        }
      }
    }
    cluster.runUntil(() => pending.some((item) => !item.done && applied(item)), 50);
    for (const item of pending) if (!item.done && applied(item)) item.done = true;
  }
  return pending.map((item) => item.index);
}

/**
 * The churn tests' clients (lab internalChurn's cfn): each proposes a random value on every
 * running server, then looks at the index it got after 0, 10, 30, 80 and 180 ms and notes the
 * value if it saw it committed there (it gives up 200 ms later); when no server accepted, it sleeps 79 + 17·me ms. The
 * clients are simulator events, so they run between Raft's own events in virtual time.
 */
export class ChurnClients {
  /** Every value a client saw committed at the index it was proposed at. */
  readonly seenCommitted: string[] = [];
  #stopped = false;
  readonly #cluster: SimCluster;

  constructor(cluster: SimCluster, clients: number) {
    this.#cluster = cluster;
    for (let me = 0; me < clients; me++) cluster.scheduler.at(0, () => this.#round(me));
  }

  stop(): void {
    this.#stopped = true;
  }

  #round(me: number): void {
    if (this.#stopped) return;
    const cluster = this.#cluster;
    const value = randomValue(cluster);
    let index = -1;
    for (let k = 0; k < cluster.n; k++) {
      const result = cluster.propose(k, value);
      if (result.isLeader) index = result.index;
    }
    if (index === -1) {
      cluster.scheduler.at(79 + me * 17, () => this.#round(me));
      return;
    }
    const sleepsMs = [10, 20, 50, 100, 200];
    const next = () => cluster.scheduler.at(0, () => this.#round(me));
    const look = (attempt: number) => {
      if (this.#stopped) return;
      if (attempt === sleepsMs.length) return next();
      const { count, value: committed } = cluster.nCommitted(index);
      if (count === 0) return cluster.scheduler.at(sleepsMs[attempt]!, () => look(attempt + 1));
      if (committed === value) this.seenCommitted.push(value);
      next();
    };
    look(0);
  }
}
