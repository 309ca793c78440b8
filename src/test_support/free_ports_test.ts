/** The test port registry: ports in the reserved range, never handed out twice in a run. */

import assert from "node:assert/strict";
import { claimFreePorts, portPicker, TEST_PORT_MAX, TEST_PORT_MIN } from "./free_ports.ts";

Deno.test("free ports: distinct across calls and pickers, below the ephemeral range, bindable", () => {
  const picker = portPicker();
  const held = Array.from({ length: 50 }, () => picker.next());
  const closed = claimFreePorts(200);
  const again = claimFreePorts(200);
  const all = [...held, ...closed, ...again];
  assert.equal(new Set(all).size, all.length, "no port is handed out twice");
  assert.ok(all.every((port) => port >= TEST_PORT_MIN && port <= TEST_PORT_MAX));
  assert.throws(
    () => Deno.listen({ hostname: "127.0.0.1", port: held[0]! }),
    Deno.errors.AddrInUse,
  );
  picker.release();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: held[0]! }); // free once released
  listener.close();
  for (const port of closed.slice(0, 5)) Deno.listen({ hostname: "127.0.0.1", port }).close();
});
