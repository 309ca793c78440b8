/**
 * Free loopback ports for tests that start servers in-process. Every listener stays open
 * until all the ports are picked, so the operating system cannot hand the same port out
 * twice (closing each one at once let two addresses of one config collide).
 */

/** A function returning a new free port each call; `release()` closes the listeners. */
export function portPicker(): { next(): number; release(): void } {
  const listeners: Deno.Listener[] = [];
  return {
    next(): number {
      const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      listeners.push(listener);
      return (listener.addr as Deno.NetAddr).port;
    },
    release(): void {
      for (const listener of listeners.splice(0)) listener.close();
    },
  };
}
