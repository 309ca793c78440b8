/**
 * Free loopback ports for e2e clusters: the shared test port registry
 * (src/test_support/free_ports.ts), so a port a killed process frees is never handed to
 * another test of the run before the process restarts on it.
 */

import { claimFreePorts } from "../../src/test_support/free_ports.ts";

/** Most ports one call hands out. */
export const PORTS_PER_CALL_MAX = 512;

/** `count` distinct ports on 127.0.0.1, claimed for this test run and free a moment ago. */
export function freeLoopbackPorts(count: number): number[] {
  if (!Number.isSafeInteger(count) || count < 0 || count > PORTS_PER_CALL_MAX) {
    throw new RangeError(`port count must be in 0..${PORTS_PER_CALL_MAX}, got ${count}`);
  }
  return claimFreePorts(count);
}
