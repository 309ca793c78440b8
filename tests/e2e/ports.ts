/**
 * Free loopback ports for e2e clusters. The operating system picks them: bind port 0,
 * read the port, close. Every listener of one call stays open until all are picked, so
 * one call never returns a port twice. A port can still be taken by someone else between
 * the close and the child's bind; E2ECluster.start retries a start that fails that way.
 */

/** Attempts at binding one port before giving up (a bind of port 0 rarely fails at all). */
const BIND_ATTEMPTS_MAX = 5;
/** Most ports one call hands out. */
export const PORTS_PER_CALL_MAX = 512;

/** `count` distinct ports on 127.0.0.1 that were free a moment ago. */
export function freeLoopbackPorts(count: number): number[] {
  if (!Number.isSafeInteger(count) || count < 0 || count > PORTS_PER_CALL_MAX) {
    throw new RangeError(`port count must be in 0..${PORTS_PER_CALL_MAX}, got ${count}`);
  }
  const listeners: Deno.Listener[] = [];
  try {
    for (let k = 0; k < count; k++) listeners.push(bindAnyPort());
    return listeners.map((listener) => (listener.addr as Deno.NetAddr).port);
  } finally {
    for (const listener of listeners) listener.close();
  }
}

function bindAnyPort(): Deno.Listener {
  for (let attempt = 1;; attempt++) {
    try {
      return Deno.listen({ hostname: "127.0.0.1", port: 0, transport: "tcp" });
    } catch (error) {
      if (!(error instanceof Deno.errors.AddrInUse) || attempt >= BIND_ATTEMPTS_MAX) throw error;
    }
  }
}
