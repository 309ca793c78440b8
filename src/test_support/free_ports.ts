/**
 * Free loopback ports for tests that start servers, in-process or as child processes.
 *
 * Tests stop replicas and start them again on the same port, and test files run in parallel
 * (`deno test --parallel`: one process, one worker per file). A port left free between a stop
 * and a restart must not be taken meanwhile, so:
 * - ports come from 20000–32767, below the ephemeral ranges of Linux (32768–60999) and macOS
 *   (49152–65535): outgoing connections, which take ephemeral ports, never sit on them;
 * - each port is handed out at most once per test run, across every worker: it is claimed by
 *   creating a file named after it, exclusively, in a directory of this run (the test
 *   process's pid); directories of runs whose process is gone are removed on first use;
 * - a claimed port is also bound once, to be sure nothing else on the machine holds it.
 */

/** The range test ports come from (see the module comment). */
export const TEST_PORT_MIN = 20_000;
export const TEST_PORT_MAX = 32_767;
/** Random probes before giving up (the range holds 12,768 ports; a run uses a few thousand). */
const PROBES_MAX = 50_000;

const tmp = Deno.env.get("TMPDIR") ?? "/tmp";
const prefix = "shardkv-test-ports-";
const claimDir = `${tmp}/${prefix}${Deno.pid}`;
let prepared = false;

/** A function returning a new free port each call; `release()` closes the held listeners. */
export function portPicker(): { next(): number; release(): void } {
  const listeners: Deno.Listener[] = [];
  return {
    next(): number {
      const { port, listener } = claimPort();
      listeners.push(listener);
      return port;
    },
    release(): void {
      for (const listener of listeners.splice(0)) listener.close();
    },
  };
}

/** `count` distinct ports, claimed for this run and free a moment ago (listeners closed). */
export function claimFreePorts(count: number): number[] {
  const claimed = Array.from({ length: count }, () => claimPort());
  for (const { listener } of claimed) listener.close();
  return claimed.map(({ port }) => port);
}

/** Claims a port no other test of this run got, and binds it (the caller closes it). */
function claimPort(): { port: number; listener: Deno.Listener } {
  prepare();
  for (let probe = 0; probe < PROBES_MAX; probe++) {
    const port = TEST_PORT_MIN + Math.floor(Math.random() * (TEST_PORT_MAX - TEST_PORT_MIN + 1));
    if (!claim(port)) continue;
    try {
      return { port, listener: Deno.listen({ hostname: "127.0.0.1", port }) };
    } catch (error) {
      if (!(error instanceof Deno.errors.AddrInUse)) throw error; // Someone else's: next.
    }
  }
  throw new Error(
    `no free test port in ${TEST_PORT_MIN}..${TEST_PORT_MAX} after ${PROBES_MAX} probes`,
  );
}

/** Creates the file of `port` in this run's directory; false when it exists already. */
function claim(port: number): boolean {
  try {
    Deno.openSync(`${claimDir}/${port}`, { write: true, createNew: true }).close();
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) return false;
    throw error;
  }
}

/** Makes this run's directory and removes those of finished runs (Linux: /proc tells). */
function prepare(): void {
  if (prepared) return;
  prepared = true;
  Deno.mkdirSync(claimDir, { recursive: true });
  if (!exists("/proc/self")) return;
  for (const entry of Deno.readDirSync(tmp)) {
    if (!entry.isDirectory || !entry.name.startsWith(prefix)) continue;
    const pid = entry.name.slice(prefix.length);
    if (pid === String(Deno.pid) || exists(`/proc/${pid}`)) continue;
    try {
      Deno.removeSync(`${tmp}/${entry.name}`, { recursive: true });
    } catch {
      // Another worker removed it first.
    }
  }
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}
