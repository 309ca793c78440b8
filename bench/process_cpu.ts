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

/**
 * Seconds of CPU the whole machine has spent busy so far (every core: all of /proc/stat's
 * first line but idle and iowait), or null when unknown. It shows what other programs and
 * the kernel took besides the processes measured.
 */
export function machineBusySeconds(): number | null {
  let text: string;
  try {
    text = Deno.readTextFileSync("/proc/stat");
  } catch {
    return null;
  }
  const line = text.split("\n", 1)[0] ?? "";
  if (!line.startsWith("cpu ")) return null;
  // user nice system idle iowait irq softirq steal (guest time is already in user).
  const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number);
  if (ticks.length < 8 || ticks.some((value) => !Number.isFinite(value))) return null;
  const busyTicks = ticks.reduce((sum, value) => sum + value, 0) - ticks[3]! - ticks[4]!;
  return busyTicks / USER_HZ;
}

/** The name {@link sampleCpu} gives the whole machine. */
export const MACHINE = "machine";

/** CPU seconds of some named processes (and of the whole machine) at one moment. */
export interface CpuSample {
  readonly atMs: number;
  readonly seconds: ReadonlyMap<string, number | null>;
}

/** Samples every process of `pids` (name → pid), and the machine as {@link MACHINE}, now. */
export function sampleCpu(pids: ReadonlyMap<string, number>): CpuSample {
  const seconds = new Map<string, number | null>();
  for (const [name, pid] of pids) seconds.set(name, cpuSeconds(pid));
  seconds.set(MACHINE, machineBusySeconds());
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
