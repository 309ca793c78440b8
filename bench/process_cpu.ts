/**
 * CPU time of processes, read from /proc/<pid>/stat (Linux): user + system time of every
 * thread, so a process that keeps one core busy shows 100 %. Elsewhere it reads nothing and
 * the tables say "n/a".
 */

/** Linux reports utime and stime in USER_HZ ticks, which is 100 on every architecture Deno runs on. */
const USER_HZ = 100;

/** Seconds of CPU `pid` has used so far (all threads, user + system), or null when unknown. */
export function cpuSeconds(pid: number): number | null {
  let text: string;
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch {
    return null;
  }
  // The command name (field 2) may hold spaces and parentheses: fields resume after the last ")".
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // Fields 14 (utime) and 15 (stime) of the man page are at 11 and 12 once pid and comm are gone.
  const userTicks = Number(fields[11]);
  const systemTicks = Number(fields[12]);
  if (!Number.isFinite(userTicks) || !Number.isFinite(systemTicks)) return null;
  return (userTicks + systemTicks) / USER_HZ;
}

/** CPU seconds of some named processes at one moment, with the wall clock. */
export interface CpuSample {
  readonly atMs: number;
  readonly seconds: ReadonlyMap<string, number | null>;
}

/** Samples every process of `pids` (name → pid) now. */
export function sampleCpu(pids: ReadonlyMap<string, number>): CpuSample {
  const seconds = new Map<string, number | null>();
  for (const [name, pid] of pids) seconds.set(name, cpuSeconds(pid));
  return { atMs: performance.now(), seconds };
}

/** CPU % of `name` between two samples (100 = one core busy), or null when unknown. */
export function cpuPercent(before: CpuSample, after: CpuSample, name: string): number | null {
  const start = before.seconds.get(name);
  const end = after.seconds.get(name);
  const wallSeconds = (after.atMs - before.atMs) / 1000;
  if (start === null || start === undefined || end === null || end === undefined) return null;
  if (!(wallSeconds > 0)) return null;
  return (100 * (end - start)) / wallSeconds;
}
