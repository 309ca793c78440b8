/** The bench's clients: real clerks over TCP, one per concurrent client. */

import type { Config } from "../src/config/mod.ts";
import { Clerk } from "../src/kv/clerk.ts";
import { RpcKvTransport } from "../src/kv/rpc_transport.ts";
import { assert } from "../src/util/assert.ts";
import { silentLogger } from "../src/util/logger.ts";
import { Prng } from "../src/util/prng.ts";

/** `size` clerks, each with its own session and its own connections, closed on dispose. */
export class ClerkPool implements AsyncDisposable {
  readonly #clerks: Clerk[];

  constructor(config: Config, size: number, seed: number) {
    const group = config.groups[0];
    assert(group !== undefined, "the bench cluster has one group");
    assert(size >= 1, `a clerk pool needs at least one clerk, got ${size}`);
    const random = new Prng(seed);
    this.#clerks = Array.from({ length: size }, () =>
      new Clerk({
        // RpcKvTransport connects to a server on its first call to it: a clerk connects to the
        // server it tries first and to the leader that server names, not to all three.
        transport: new RpcKvTransport({
          servers: group.replicas.map((replica) => replica.raft),
          clusterName: config.cluster.name,
          secret: config.cluster.secret,
          logger: silentLogger,
        }),
        random: random.fork(),
      }));
  }

  /** The first `count` clerks (phases reuse them, so sessions and connections carry over). */
  take(count: number): Clerk[] {
    assert(count >= 1 && count <= this.#clerks.length, `cannot take ${count} clerks`);
    return this.#clerks.slice(0, count);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await Promise.all(this.#clerks.map((clerk) => clerk.close()));
  }
}
